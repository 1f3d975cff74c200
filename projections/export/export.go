// Package export writes the ledger's movements the way auditors read
// them: CSV for Excel (UTF-8 with a BOM), JSON lines, and a Beancount
// journal. A writer takes audit-trail entries (projections.TrailEntry),
// in stream order, and writes to an io.Writer; it reads nothing itself,
// so that `kcledger export` (from the stream) and the API's /v1/export
// (in its reader's scope) write the very same bytes.
package export

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

// Writer writes trail entries in one format; Close finishes the output
// (a Beancount journal is written only then).
type Writer interface {
	Write(e projections.TrailEntry) error
	Close() error
}

var (
	_ Writer = (*CSV)(nil)
	_ Writer = (*JSONL)(nil)
	_ Writer = (*Beancount)(nil)
)

// Format is an export's format.
type Format string

// The formats.
const (
	FormatCSV       Format = "csv"
	FormatJSONL     Format = "jsonl"
	FormatBeancount Format = "beancount"
)

// Formats are the formats, in the order a form offers them.
var Formats = []Format{FormatCSV, FormatJSONL, FormatBeancount}

// ParseFormat reads a format's name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", domain.Errorf(domain.CodeInvalidField, "format", "format %q: want csv, jsonl or beancount", s)
}

// Options are what a format may be asked for.
type Options struct {
	// VINumbers writes the CSV's amounts the Vietnamese way.
	VINumbers bool
}

// New starts a writer of format f on w.
func New(w io.Writer, f Format, o Options) (Writer, error) {
	switch f {
	case FormatCSV:
		return NewCSV(w, o.VINumbers)
	case FormatJSONL:
		return NewJSONL(w), nil
	case FormatBeancount:
		return NewBeancount(w), nil
	}
	return nil, domain.Errorf(domain.CodeInvalidField, "format", "format %q: want csv, jsonl or beancount", f)
}

// ContentType is the media type of a format's output.
func (f Format) ContentType() string {
	switch f {
	case FormatCSV:
		return "text/csv; charset=utf-8"
	case FormatJSONL:
		return "application/jsonl; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// Extension is a format's file name extension.
func (f Format) Extension() string {
	if f == FormatBeancount {
		return "beancount"
	}
	return string(f)
}

// Feed is a trail written as it grows: each message of the stream, in
// order, goes to Add, which writes the entries it makes and forgets
// them, so that an export of the whole stream holds no more than one
// entry in memory.
type Feed struct {
	trail *projections.Trail
	w     Writer
}

// NewFeed writes trail's entries to w.
func NewFeed(trail *projections.Trail, w Writer) *Feed { return &Feed{trail: trail, w: w} }

// Add takes the next message of the stream; it returns false when the
// trail needs no more.
func (f *Feed) Add(r domain.Recorded, stored time.Time) (bool, error) {
	more := f.trail.Add(r, stored)
	for _, e := range f.trail.Entries {
		if err := f.w.Write(e); err != nil {
			return false, err
		}
	}
	f.trail.Entries = f.trail.Entries[:0]
	return more, nil
}

// CSV writes one row per movement, with a BOM so that Excel reads the
// diacritics as UTF-8.
type CSV struct {
	w  *csv.Writer
	vi bool
}

// CSVHeader is the CSV's first row.
var CSVHeader = []string{
	"seq", "stored_at", "recorded_at", "effective_date", "fiscal_year", "province", "province_name", "source", "project", "category",
	"type", "amount", "decision", "voucher", "beneficiary", "reason", "actor", "idempotency_key", "event_id", "hash", "signed_by",
	"line_allocated_after", "line_net_disbursed_after", "line_available_after", "repudiated_seq",
	// Columns are only ever added, at the end.
	"project_name", "implementing_unit", "counterpart",
	// Transfers between lines (both sides) and the line's totals of
	// them: available = allocated + transferred in - transferred out -
	// net disbursed - lapsed.
	"transfer_kind", "transfer_id", "from_line", "to_line",
	"line_transferred_in_after", "line_transferred_out_after", "line_lapsed_after",
}

// NewCSV starts a CSV on w: the BOM and the header. With vi, amounts are
// written the Vietnamese way (1.500.000.000) rather than plain digits.
func NewCSV(w io.Writer, vi bool) (*CSV, error) {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return nil, err
	}
	c := &CSV{w: csv.NewWriter(w), vi: vi}
	return c, c.w.Write(CSVHeader)
}

func (c *CSV) amount(a domain.Amount) string {
	if c.vi {
		return a.Grouped()
	}
	return a.String()
}

// Write writes e's row.
func (c *CSV) Write(e projections.TrailEntry) error {
	ev := e.Event
	name := ""
	if p, err := domain.ProvinceOn(ev.Province, ev.EffectiveDate); err == nil {
		name = p.Name
	} else if p, ok := domain.ProvinceName(ev.Province, ev.FiscalYear); ok && ev.FiscalYear != 0 {
		// A refund, lapse or transfer out of a line whose province
		// merged: the code it had in its fiscal year.
		name = p.Name
	}
	return c.w.Write([]string{
		strconv.FormatUint(e.Seq, 10), e.Stored.UTC().Format(time.RFC3339Nano), ev.RecordedAt.UTC().Format(time.RFC3339Nano),
		ev.EffectiveDate.String(), fiscalYearCell(ev.FiscalYear), text(ev.Province), text(name), text(string(ev.Source)), text(ev.Project), text(string(ev.Category)),
		text(string(ev.Type)), c.amount(ev.Amount), text(ev.Decision), text(ev.Voucher), text(ev.Beneficiary), text(ev.Reason), text(ev.Actor), text(ev.IdempotencyKey),
		text(ev.ID), text(ev.Hash), text(ev.SignedBy),
		c.amount(e.Line.Allocated), c.amount(e.Line.NetDisbursed()), c.amount(e.Line.Available()), repudiatedSeqCell(ev.RepudiatedSeq),
		text(ev.ProjectName), text(ev.ImplementingUnit), counterpartCell(c, ev.Counterpart),
		text(string(ev.TransferKind)), text(ev.TransferID), lineCell(ev.FromLine), lineCell(ev.ToLine),
		c.amount(e.Line.TransferredIn), c.amount(e.Line.TransferredOut), c.amount(e.Line.Lapsed),
	})
}

// text is a cell of text that Excel must not take for a formula: one
// that starts with =, +, -, @, a tab or a carriage return (OWASP's CSV
// injection list) gets a ' before it, which Excel reads as "this is
// text". Only the cells of outside text go through it; the amounts and
// sequences, which the export writes itself, stay numbers (a negative
// adjustment starts with -).
func text(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// lineCell is a transfer's line as fiscal year/province/source
// ("2025/02/national"), empty on other events.
func lineCell(k domain.LineKey) string {
	if k == (domain.LineKey{}) {
		return ""
	}
	return k.String()
}

// counterpartCell is empty when no counterpart money was pledged.
func counterpartCell(c *CSV, a domain.Amount) string {
	if a.IsZero() {
		return ""
	}
	return c.amount(a)
}

// fiscalYearCell is empty for a repudiation, which is on no line.
func fiscalYearCell(fy int) string {
	if fy == 0 {
		return ""
	}
	return strconv.Itoa(fy)
}

// repudiatedSeqCell is a repudiation's column: empty on movements.
func repudiatedSeqCell(seq uint64) string {
	if seq == 0 {
		return ""
	}
	return strconv.FormatUint(seq, 10)
}

// Close flushes the rows.
func (c *CSV) Close() error {
	c.w.Flush()
	return c.w.Error()
}

// JSONL writes one trail entry per line, as the audit route has it.
type JSONL struct{ enc *json.Encoder }

// NewJSONL starts JSON lines on w.
func NewJSONL(w io.Writer) *JSONL { return &JSONL{enc: json.NewEncoder(w)} }

// Write writes e's line.
func (j *JSONL) Write(e projections.TrailEntry) error { return j.enc.Encode(e) }

// Close does nothing: every line is written already.
func (j *JSONL) Close() error { return nil }

// Beancount writes a Beancount journal: per budget line, the
// equity that allocations draw from the state budget, the available
// funds, the expenses paid to each beneficiary, less refunds, and the
// appropriations that lapsed. Its balances are kcledger's:
//
//	Assets:<fund>:Y<year>:P<province>:Available           = available
//	Expenses:<fund>:Y<year>:P<province>:…                 = net disbursed
//	Equity:<fund>:Y<year>:P<province>:Allocated           = − allocated
//	Equity:<fund>:Y<year>:P<province>:Lapsed              = lapsed
//
// A transfer between lines is one transaction, out of the source line's
// Available into the destination's, balancing to zero, written when its
// transferred-in side follows its transferred-out side. A side whose
// other side the export leaves out (a filter on year or province) posts
// against Equity:<fund>:Transfers, money in transit as far as the
// journal knows; both sides carry the link ^transfer-<transfer_id>.
//
// Accounts are opened before the first transaction, so the journal is
// written once every account is known.
type Beancount struct {
	w        io.Writer
	accounts map[string]bool
	// payees maps each beneficiary account to the name it was made from,
	// so that two names sharing an account fail the export instead of
	// merging their postings.
	payees map[string]string
	txns   []string
	first  domain.Date
	// pending is a transferred-out side waiting for its transferred-in
	// side, the next entry when the export has both.
	pending *projections.TrailEntry
}

// NewBeancount starts a journal, written to w at Close.
func NewBeancount(w io.Writer) *Beancount {
	return &Beancount{w: w, accounts: map[string]bool{}, payees: map[string]string{}}
}

// FundName is a source's fund in the journal's accounts: KCQG (khuyến
// công quốc gia) or KCDP (khuyến công địa phương).
func FundName(s domain.Source) string {
	if s == domain.SourceNational {
		return "KCQG"
	}
	return "KCDP"
}

func (b *Beancount) account(parts ...string) string {
	a := strings.Join(parts, ":")
	b.accounts[a] = true
	return a
}

// Write takes e into the journal.
func (b *Beancount) Write(e projections.TrailEntry) error {
	ev := e.Event
	if out := b.pending; out != nil {
		b.pending = nil
		if ev.Type == domain.TypeTransferredIn && ev.TransferID == out.Event.ID {
			b.transfer(out, &e)
			return nil
		}
		b.transfer(out, nil)
	}
	switch ev.Type {
	case domain.TypeTransferredOut:
		b.pending = &e
		return nil
	case domain.TypeTransferredIn:
		b.transfer(nil, &e)
		return nil
	}
	if ev.Type == domain.TypeRepudiated {
		// No money moves: a comment in its place, no postings.
		b.txns = append(b.txns, fmt.Sprintf("; %s %s: seq %d repudiates the message at seq %d, which counts for nothing (by %s, %s): %s; event_id %s, hash %s\n",
			ev.EffectiveDate, ev.Type, e.Seq, ev.RepudiatedSeq, ev.Actor, ev.Decision, oneLine(ev.Reason), ev.ID, ev.Hash))
		return nil
	}
	base := fmt.Sprintf("%s:Y%d:P%s", FundName(ev.Source), ev.FiscalYear, ev.Province)
	available := b.account("Assets", base, "Available")
	var from, to string
	amount := ev.Amount
	switch ev.Type {
	case domain.TypeAllocated, domain.TypeAdjusted:
		from, to = b.account("Equity", base, "Allocated"), available
	case domain.TypeDisbursed:
		part := AccountPart(ev.Beneficiary)
		name := norm.NFC.String(ev.Beneficiary)
		if prev, ok := b.payees[part]; ok && prev != name {
			return fmt.Errorf("beneficiaries %q and %q (event %s at seq %d) map to one account %s", prev, ev.Beneficiary, ev.ID, e.Seq, part)
		}
		b.payees[part] = name
		from, to = available, b.account("Expenses", base, "Beneficiary", part)
	case domain.TypeRefunded:
		from, to = b.account("Expenses", base, "Refunds"), available
	case domain.TypeLapsed:
		from, to = available, b.account("Equity", base, "Lapsed")
	default:
		return fmt.Errorf("%w: event %s at seq %d has type %q", domain.ErrCorrupt, ev.ID, e.Seq, ev.Type)
	}
	b.txn(ev.EffectiveDate, ev.Beneficiary, string(ev.Type)+" "+ev.Decision+ev.Voucher, "", b.meta(e), to, from, amount)
	return nil
}

// meta is an entry's metadata, in the journal's order.
func (b *Beancount) meta(e projections.TrailEntry) [][2]string {
	ev := e.Event
	return [][2]string{
		{"seq", strconv.FormatUint(e.Seq, 10)}, {"event_id", ev.ID}, {"recorded_at", ev.RecordedAt.UTC().Format(time.RFC3339Nano)},
		{"actor", ev.Actor}, {"decision", ev.Decision}, {"voucher", ev.Voucher}, {"reason", ev.Reason},
		{"project", ev.Project}, {"category", string(ev.Category)}, {"hash", ev.Hash},
	}
}

// txn appends a transaction of amount from one account to another, dated
// d, with a link when link is not empty and the metadata that is set.
func (b *Beancount) txn(d domain.Date, payee, narration, link string, meta [][2]string, to, from string, amount domain.Amount) {
	if b.first.IsZero() || d.Before(b.first) {
		b.first = d
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s * %s %s", d, quote(payee), quote(narration))
	if link != "" {
		fmt.Fprintf(&sb, " ^%s", link)
	}
	sb.WriteByte('\n')
	for _, m := range meta {
		if m[1] != "" {
			fmt.Fprintf(&sb, "  %s: %s\n", m[0], quote(m[1]))
		}
	}
	fmt.Fprintf(&sb, "  %s  %s VND\n  %s  %s VND\n", to, amount.String(), from, amount.Neg().String())
	b.txns = append(b.txns, sb.String())
}

// transfer appends a transfer: out and in are its two sides, either nil
// when the export does not have it, in which case the fund's transfers
// in transit stand for the other line.
func (b *Beancount) transfer(out, in *projections.TrailEntry) {
	side := out
	if side == nil {
		side = in
	}
	ev := side.Event
	var from, to string
	if out == nil || in == nil {
		transit := b.account("Equity", FundName(ev.Source), "Transfers")
		from, to = transit, transit
	}
	var meta [][2]string
	if out != nil {
		from = b.account("Assets", fmt.Sprintf("%s:Y%d:P%s", FundName(ev.Source), ev.FiscalYear, ev.Province), "Available")
		meta = b.meta(*out)
	}
	if in != nil {
		k := in.Event
		to = b.account("Assets", fmt.Sprintf("%s:Y%d:P%s", FundName(k.Source), k.FiscalYear, k.Province), "Available")
		if out == nil {
			meta = b.meta(*in)
		} else {
			meta = append(meta, [2]string{"seq_in", strconv.FormatUint(in.Seq, 10)}, [2]string{"event_id_in", k.ID}, [2]string{"hash_in", k.Hash})
		}
	}
	meta = append(meta, [2]string{"transfer_kind", string(ev.TransferKind)}, [2]string{"transfer_id", ev.TransferID},
		[2]string{"from_line", lineCell(ev.FromLine)}, [2]string{"to_line", lineCell(ev.ToLine)})
	narration := "transfer " + string(ev.TransferKind) + " " + lineCell(ev.FromLine) + " → " + lineCell(ev.ToLine) + " " + ev.Decision
	b.txn(ev.EffectiveDate, "", narration, "transfer-"+ev.TransferID, meta, to, from, ev.Amount)
}

// Close writes the journal: its options, the accounts opened, the
// transactions.
func (b *Beancount) Close() error {
	if b.pending != nil {
		b.transfer(b.pending, nil)
		b.pending = nil
	}
	if _, err := fmt.Fprintf(b.w, "; kcledger export: khuyến công movements as a Beancount journal\noption \"title\" \"kcledger\"\noption \"operating_currency\" \"VND\"\n\n"); err != nil {
		return err
	}
	open := b.first
	if open.IsZero() {
		open = domain.Date{Year: 2000, Month: time.January, Day: 1}
	}
	names := make([]string, 0, len(b.accounts))
	for a := range b.accounts {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		if _, err := fmt.Fprintf(b.w, "%s open %s VND\n", open, a); err != nil {
			return err
		}
	}
	for _, t := range b.txns {
		if _, err := fmt.Fprintf(b.w, "\n%s", t); err != nil {
			return err
		}
	}
	return nil
}

// oneLine keeps a text on a comment's line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// quote writes a Beancount string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// AccountPart turns a name into a Beancount account component: ASCII
// letters and digits joined by hyphens, starting with a capital letter,
// then, unless the name is exactly that slug, a hyphen and the first 12
// hex digits of the SHA-256 of the name in NFC: "HTX Gốm Bát Tràng" →
// "HTX-Gom-Bat-Trang-1a2b3c4d5e6f". Stripping diacritics alone would post
// "Công ty Mỹ", "Công ty My" and "Cong ty My" to one account. The hash
// is of the NFC form, so the precomposed and decomposed spellings of one
// name, which display the same, share an account. A slug used without a
// hash has no hyphen, so it never looks like a hashed one.
func AccountPart(name string) string {
	slug := AccountSlug(name)
	if slug == name && !strings.Contains(name, "-") {
		return slug
	}
	sum := sha256.Sum256([]byte(norm.NFC.String(name)))
	return slug + "-" + hex.EncodeToString(sum[:6])
}

// AccountSlug is the readable part of AccountPart: the name's letters and
// digits without diacritics, joined by hyphens.
func AccountSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFD.String(strings.ReplaceAll(strings.ReplaceAll(name, "đ", "d"), "Đ", "D")) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r):
			// a combining mark: dropped with its diacritic
		default:
			dash = true
		}
	}
	s := b.String()
	if s == "" {
		return "Unnamed"
	}
	if c := s[0]; c >= 'a' && c <= 'z' {
		s = string(c-'a'+'A') + s[1:]
	} else if c >= '0' && c <= '9' {
		s = "B" + s
	}
	return s
}
