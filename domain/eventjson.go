package domain

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// UnmarshalEvent decodes an event's JSON into e exactly as json.Unmarshal
// does, several times faster on the JSON kcledger writes: a replay
// decodes every event of the stream, and encoding/json's reflection was
// most of its time.
//
// The fast path takes a flat object of the event's own keys, spelt as
// the contract spells them, each once, with string values free of
// escapes and numbers in plain digits; anything else (an unknown or
// differently cased key, an escape, invalid UTF-8, null, a repeated key,
// an exponent) goes to json.Unmarshal, whose answer then stands. A fuzz
// test holds the two to the same results on any input.
func UnmarshalEvent(data []byte, e *Event) error {
	fast := *e // as json.Unmarshal, keep the fields the JSON leaves out
	if decodeEventFast(data, &fast) {
		*e = fast
		return nil
	}
	return json.Unmarshal(data, e)
}

var errEventSlowPath = errors.New("not the fast path's JSON")

// decodeEventFast reports whether data was decoded on the fast path; when
// it is false, e holds nothing useful.
func decodeEventFast(data []byte, e *Event) bool {
	// One copy of the whole JSON: every string field is a slice of it.
	d := eventDecoder{data: data, str: string(data)}
	if !d.consume('{') {
		return false
	}
	var seen uint32
	if d.peek() == '}' {
		d.i++
		return d.end()
	}
	for {
		key, ok := d.plainString()
		if !ok || !d.consume(':') {
			return false
		}
		bit := eventFieldBit(key)
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		if err := d.field(key, e); err != nil {
			return false
		}
		switch d.next() {
		case ',':
			continue
		case '}':
			return d.end()
		default:
			return false
		}
	}
}

// eventFieldBit is the bit of a key of the contract, 0 for any other.
func eventFieldBit(key string) uint32 {
	switch key {
	case "id":
		return 1 << 0
	case "type":
		return 1 << 1
	case "fiscal_year":
		return 1 << 2
	case "province":
		return 1 << 3
	case "source":
		return 1 << 4
	case "project":
		return 1 << 5
	case "category":
		return 1 << 6
	case "amount":
		return 1 << 7
	case "decision":
		return 1 << 8
	case "voucher":
		return 1 << 9
	case "beneficiary":
		return 1 << 10
	case "reason":
		return 1 << 11
	case "effective_date":
		return 1 << 12
	case "recorded_at":
		return 1 << 13
	case "actor":
		return 1 << 14
	case "idempotency_key":
		return 1 << 15
	case "prev_hash":
		return 1 << 16
	case "hash":
		return 1 << 17
	case "signed_by":
		return 1 << 18
	case "signature":
		return 1 << 19
	case "repudiated_seq":
		return 1 << 20
	case "repudiated_digest":
		return 1 << 21
	case "project_name":
		return 1 << 22
	case "implementing_unit":
		return 1 << 23
	case "counterpart":
		return 1 << 24
	case "imported_by":
		return 1 << 25
	}
	return 0
}

// byteClass sorts the bytes of a JSON string: plain, its closing quote, a
// backslash or control character (the slow path's), or the start of
// non-ASCII UTF-8.
var byteClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = classSlow
	}
	t['"'], t['\\'] = classQuote, classSlow
	for c := 0x80; c < 0x100; c++ {
		t[c] = classHigh
	}
	return t
}()

const (
	classPlain = iota
	classQuote
	classSlow
	classHigh
)

type eventDecoder struct {
	data []byte
	str  string // data as a string
	i    int
}

func (d *eventDecoder) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *eventDecoder) peek() byte {
	d.skipSpace()
	if d.i >= len(d.data) {
		return 0
	}
	return d.data[d.i]
}

func (d *eventDecoder) next() byte {
	c := d.peek()
	if c != 0 {
		d.i++
	}
	return c
}

func (d *eventDecoder) consume(c byte) bool { return d.next() == c }

// end reports whether nothing but white space follows.
func (d *eventDecoder) end() bool {
	d.skipSpace()
	return d.i == len(d.data)
}

// plainString reads a JSON string with no escapes, no control characters
// and valid UTF-8, and returns what is between its quotes.
func (d *eventDecoder) plainString() (string, bool) {
	d.skipSpace()
	start := d.i + 1
	if _, ok := d.plainStringBytes(); !ok {
		return "", false
	}
	return d.str[start : d.i-1], true
}

func (d *eventDecoder) plainStringBytes() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.data); j++ {
		switch byteClass[d.data[j]] {
		case classPlain:
		case classQuote:
			raw := d.data[start:j]
			if !ascii && !utf8.Valid(raw) {
				return nil, false // json.Unmarshal would replace bytes with U+FFFD
			}
			d.i = j + 1
			return raw, true
		case classSlow:
			return nil, false
		default:
			ascii = false
		}
	}
	return nil, false
}

// quoted is the last string read, with its quotes, for the UnmarshalJSON
// methods of the event's own types.
func (d *eventDecoder) quotedString() ([]byte, bool) {
	d.skipSpace()
	start := d.i
	if _, ok := d.plainStringBytes(); !ok {
		return nil, false
	}
	return d.data[start:d.i], true
}

func (d *eventDecoder) field(key string, e *Event) error {
	if key == "repudiated_seq" {
		// Plain digits with no leading zero, as encoding/json writes a
		// uint64; a sign, fraction or exponent goes slow.
		d.skipSpace()
		start := d.i
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
		}
		n := d.data[start:d.i]
		if len(n) == 0 || len(n) > 19 || (len(n) > 1 && n[0] == '0') {
			return errEventSlowPath
		}
		if d.i < len(d.data) && (d.data[d.i] == '.' || d.data[d.i] == 'e' || d.data[d.i] == 'E') {
			return errEventSlowPath
		}
		v, err := strconv.ParseUint(string(n), 10, 64)
		if err != nil {
			return errEventSlowPath
		}
		e.RepudiatedSeq = v
		return nil
	}
	if key == "fiscal_year" {
		d.skipSpace()
		start := d.i
		if d.i < len(d.data) && d.data[d.i] == '-' {
			d.i++
		}
		digits := d.i
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
		}
		n := d.data[digits:d.i]
		// JSON forbids leading zeros; fractions and exponents go slow.
		if len(n) == 0 || len(n) > 9 || (len(n) > 1 && n[0] == '0') {
			return errEventSlowPath
		}
		if d.i < len(d.data) && (d.data[d.i] == '.' || d.data[d.i] == 'e' || d.data[d.i] == 'E') {
			return errEventSlowPath
		}
		v, err := strconv.Atoi(string(d.data[start:d.i]))
		if err != nil {
			return errEventSlowPath
		}
		e.FiscalYear = v
		return nil
	}
	switch key {
	case "amount", "counterpart", "effective_date", "recorded_at":
		q, ok := d.quotedString()
		if !ok {
			return errEventSlowPath
		}
		switch key {
		case "amount":
			return e.Amount.UnmarshalJSON(q)
		case "counterpart":
			return e.Counterpart.UnmarshalJSON(q)
		case "effective_date":
			// What Date.UnmarshalJSON does with a string free of escapes.
			v, err := ParseDate(string(q[1 : len(q)-1]))
			if err != nil {
				return err
			}
			e.EffectiveDate = v
			return nil
		default:
			return e.RecordedAt.UnmarshalJSON(q)
		}
	}
	s, ok := d.plainString()
	if !ok {
		return errEventSlowPath
	}
	switch key {
	case "id":
		e.ID = s
	case "type":
		e.Type = EventType(s)
	case "province":
		e.Province = s
	case "source":
		e.Source = Source(s)
	case "project":
		e.Project = s
	case "category":
		e.Category = Category(s)
	case "decision":
		e.Decision = s
	case "voucher":
		e.Voucher = s
	case "beneficiary":
		e.Beneficiary = s
	case "reason":
		e.Reason = s
	case "project_name":
		e.ProjectName = s
	case "implementing_unit":
		e.ImplementingUnit = s
	case "actor":
		e.Actor = s
	case "imported_by":
		e.ImportedBy = s
	case "idempotency_key":
		e.IdempotencyKey = s
	case "prev_hash":
		e.PrevHash = s
	case "repudiated_digest":
		e.RepudiatedDigest = s
	case "hash":
		e.Hash = s
	case "signed_by":
		e.SignedBy = s
	case "signature":
		e.Signature = s
	}
	return nil
}

// MarshalEvent encodes e exactly as json.Marshal does, byte for byte,
// without reflection: every append encodes its event. Events with a
// string that encoding/json would escape (a quote, a backslash, a control
// character, <, > or &, invalid UTF-8, U+2028 or U+2029), or a date or
// time it would refuse, go to json.Marshal, whose answer then stands. A
// fuzz test holds the two to the same output.
func MarshalEvent(e *Event) ([]byte, error) {
	if b, ok := appendEventFast(make([]byte, 0, 1024), e); ok {
		return b, nil
	}
	return json.Marshal(e)
}

func appendEventFast(b []byte, e *Event) ([]byte, bool) {
	if !e.EffectiveDate.valid() {
		return nil, false
	}
	at, err := e.RecordedAt.MarshalJSON()
	if err != nil {
		return nil, false
	}
	w := eventWriter{b: append(b, '{')}
	w.str("id", e.ID, false)
	w.str("type", string(e.Type), false)
	if e.FiscalYear != 0 {
		w.key("fiscal_year")
		w.b = strconv.AppendInt(w.b, int64(e.FiscalYear), 10)
	}
	w.str("province", e.Province, true)
	w.str("source", string(e.Source), true)
	w.str("project", e.Project, true)
	w.str("category", string(e.Category), true)
	if !e.Amount.IsZero() {
		w.str("amount", e.Amount.String(), false)
	}
	if e.RepudiatedSeq != 0 {
		w.key("repudiated_seq")
		w.b = strconv.AppendUint(w.b, e.RepudiatedSeq, 10)
	}
	w.str("repudiated_digest", e.RepudiatedDigest, true)
	w.str("decision", e.Decision, true)
	w.str("voucher", e.Voucher, true)
	w.str("beneficiary", e.Beneficiary, true)
	w.str("reason", e.Reason, true)
	w.str("project_name", e.ProjectName, true)
	w.str("implementing_unit", e.ImplementingUnit, true)
	if !e.Counterpart.IsZero() {
		w.str("counterpart", e.Counterpart.String(), false)
	}
	w.str("transfer_kind", string(e.TransferKind), true)
	w.str("transfer_id", e.TransferID, true)
	w.line("from_line", e.FromLine)
	w.line("to_line", e.ToLine)
	w.str("effective_date", e.EffectiveDate.String(), false)
	w.key("recorded_at")
	w.b = append(w.b, at...)
	w.str("actor", e.Actor, false)
	w.str("imported_by", e.ImportedBy, true)
	w.str("idempotency_key", e.IdempotencyKey, false)
	w.str("prev_hash", e.PrevHash, false)
	w.str("hash", e.Hash, false)
	w.str("signed_by", e.SignedBy, true)
	w.str("signature", e.Signature, true)
	if w.slow {
		return nil, false
	}
	return append(w.b, '}'), true
}

// eventWriter appends an object's members; slow is set once a string
// needs what only encoding/json does.
type eventWriter struct {
	b    []byte
	n    int
	slow bool
}

func (w *eventWriter) key(k string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// line appends a LineKey member, left out when it is zero (omitzero).
func (w *eventWriter) line(k string, v LineKey) {
	if v == (LineKey{}) {
		return
	}
	w.key(k)
	inner := eventWriter{b: append(w.b, '{')}
	inner.key("fiscal_year")
	inner.b = strconv.AppendInt(inner.b, int64(v.FiscalYear), 10)
	inner.str("province", v.Province, false)
	inner.str("source", string(v.Source), false)
	w.b = append(inner.b, '}')
	w.slow = w.slow || inner.slow
}

func (w *eventWriter) str(k, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	if !plainJSONString(v) {
		w.slow = true
		return
	}
	w.key(k)
	w.b = append(w.b, '"')
	w.b = append(w.b, v...)
	w.b = append(w.b, '"')
}

// plainJSONString reports whether encoding/json writes s as it is.
func plainJSONString(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if ascii {
		return true
	}
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}
