package eventstore_test

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// The JSON Schemas of docs/schema describe the event body of docs/events.md
// for consumers in any language. These tests hold them to the rules of
// package domain: every event the rules accept (golden files, random
// histories, everything a test run taps) matches the schema of its type,
// and mutations the contract forbids do not.

const (
	schemaDir    = "../docs/schema"
	schemaBase   = "https://kcledger.github.io/schema/"
	goldenEvents = "../cmd/kcledger/testdata/golden/event_*.json"
	// schemaTapCheckEnv, set to 1 together with eventstore.TapEnv, makes
	// TestEveryTappedEventMatchesItsSchema check the tap directory.
	schemaTapCheckEnv = "KCLEDGER_EVENT_TAP_CHECK"
)

// eventSchemas maps each event type to its compiled schema.
type eventSchemas map[domain.EventType]*jsonschema.Schema

// schemaCache holds the schemas compiled twice: [0] as draft 2020-12
// validators do by default, formats being mere annotations, and [1] with
// formats (date, date-time) asserted as well.
var schemaCache [2]struct {
	once    sync.Once
	schemas eventSchemas
	err     error
}

// loadSchemas compiles the schemas of docs/schema once per test binary,
// asserting formats.
func loadSchemas(t testing.TB) eventSchemas { return loadSchemasWith(t, true) }

func loadSchemasWith(t testing.TB, assertFormat bool) eventSchemas {
	t.Helper()
	c := &schemaCache[0]
	if assertFormat {
		c = &schemaCache[1]
	}
	c.once.Do(func() { c.schemas, c.err = compileSchemas(schemaDir, assertFormat) })
	require.NoError(t, c.err)
	return c.schemas
}

// offlineLoader refuses every URL: each schema's $id resolves to the file
// added under it, and nothing is ever fetched. (The draft 2020-12
// metaschema is built into the library.)
type offlineLoader struct{}

func (offlineLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is not a file of %s, and schemas are never fetched", url, schemaDir)
}

// compileSchemas adds every file of dir under its $id, which must be
// schemaBase and the file name, and compiles the schema of each event
// type.
func compileSchemas(dir string, assertFormat bool) (eventSchemas, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(offlineLoader{})
	if assertFormat {
		c.AssertFormat()
	}
	for _, f := range files {
		doc, err := readSchemaDoc(f)
		if err != nil {
			return nil, err
		}
		id, _ := doc["$id"].(string)
		if want := schemaBase + filepath.Base(f); id != want {
			return nil, fmt.Errorf("%s: $id is %q, want %q", f, id, want)
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	schemas := eventSchemas{}
	for _, typ := range domain.EventTypes {
		s, err := c.Compile(schemaBase + string(typ) + ".json")
		if err != nil {
			return nil, fmt.Errorf("compile the schema of %s: %w", typ, err)
		}
		schemas[typ] = s
	}
	return schemas, nil
}

func readSchemaDoc(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is not a JSON object", path)
	}
	return m, nil
}

// validate checks a JSON event body against the schema of the type it
// names.
func (ss eventSchemas) validate(data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	obj, _ := inst.(map[string]any)
	typ, _ := obj["type"].(string)
	s, ok := ss[domain.EventType(typ)]
	if !ok {
		return fmt.Errorf("no schema for type %q", typ)
	}
	return s.Validate(inst)
}

// validateAs checks a JSON event body against the schema of typ.
func (ss eventSchemas) validateAs(typ domain.EventType, data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return ss[typ].Validate(inst)
}

// schemaFailure is one keyword that failed, at a location of the event.
type schemaFailure struct {
	At      string // JSON pointer into the event; "" for the event itself
	Keyword string // the failing keyword, e.g. "pattern", "required"
	Message string
}

func (f schemaFailure) String() string {
	at := f.At
	if at == "" {
		at = "(event)"
	}
	return fmt.Sprintf("%s: %s: %s", at, f.Keyword, f.Message)
}

var schemaPrinter = message.NewPrinter(language.English)

// failures lists the keywords a validation error is made of: the leaves of
// its tree of causes.
func failures(err error) []schemaFailure {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []schemaFailure{{Keyword: "(not a validation error)", Message: err.Error()}}
	}
	var out []schemaFailure
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			at := ""
			for _, tok := range e.InstanceLocation {
				at += "/" + tok
			}
			kw := strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", e.ErrorKind), "*kind.")) // "not" has no path
			if path := e.ErrorKind.KeywordPath(); len(path) > 0 {
				kw = path[0]
			}
			out = append(out, schemaFailure{At: at, Keyword: kw, Message: e.ErrorKind.LocalizedString(schemaPrinter)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

// brief renders a validation error on one line.
func brief(err error) string {
	var parts []string
	for _, f := range failures(err) {
		parts = append(parts, f.String())
	}
	return strings.Join(parts, "; ")
}

// decodeStrict decodes a body into domain.Event, refusing fields the
// event type does not know: kcledger's own events carry none, although
// the schemas let consumers accept them.
func decodeStrict(data []byte) (domain.Event, error) {
	var ev domain.Event
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return domain.Event{}, err
	}
	if dec.More() {
		return domain.Event{}, errors.New("data after the event")
	}
	return ev, nil
}

// domainRefuses reports why the domain refuses a body: it does not decode
// into domain.Event, or the event breaks the rules its command had to
// pass. nil means the domain accepts it.
func domainRefuses(data []byte) error {
	ev, err := decodeStrict(data)
	if err != nil {
		return err
	}
	return ev.Validate(domain.Policy{})
}

// goldenFile is the golden event of a type, as a JSON object.
func goldenFile(typ domain.EventType) string {
	return filepath.Join(filepath.Dir(goldenEvents), "event_"+typ.Kind()+".json")
}

func goldenDoc(t *testing.T, typ domain.EventType) map[string]any {
	t.Helper()
	doc, err := readSchemaDoc(goldenFile(typ))
	require.NoError(t, err)
	return doc
}

func goldenEvent(t *testing.T, typ domain.EventType) domain.Event {
	t.Helper()
	data, err := os.ReadFile(goldenFile(typ))
	require.NoError(t, err)
	ev, err := decodeStrict(data)
	require.NoError(t, err)
	return ev
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// jsonFields lists the JSON names of domain.Event's fields, and which of
// them are present on every event type (no omitempty or omitzero).
func jsonFields() (all []string, always []string) {
	typ := reflect.TypeFor[domain.Event]()
	for i := range typ.NumField() {
		name, opts, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			always = append(always, name)
		}
	}
	return all, always
}

// schemaTexts are the fields each type requires beyond those of every
// type: a movement's budget line and amount and the texts it must cite,
// whose others must be absent (domain.Command's validateTexts); a
// repudiation's sequence, decision and reason.
var schemaTexts = map[domain.EventType][]string{
	domain.TypeAllocated: {"fiscal_year", "province", "source", "amount", "decision"},
	domain.TypeAdjusted:  {"fiscal_year", "province", "source", "amount", "decision", "reason"},
	domain.TypeDisbursed: {"fiscal_year", "province", "source", "amount", "voucher", "beneficiary"},
	domain.TypeRefunded:  {"fiscal_year", "province", "source", "amount", "voucher", "reason"},
	// Both sides of a transfer name it whole; a lapse's amount is absent
	// when nothing was left to lapse (zero amounts are omitted), and its
	// reason is optional.
	domain.TypeTransferredOut: {"fiscal_year", "province", "source", "amount", "transfer_kind", "transfer_id", "from_line", "to_line", "decision"},
	domain.TypeTransferredIn:  {"fiscal_year", "province", "source", "amount", "transfer_kind", "transfer_id", "from_line", "to_line", "decision"},
	domain.TypeLapsed:         {"fiscal_year", "province", "source", "decision"},
	domain.TypeRepudiated:     {"repudiated_seq", "decision", "reason"},
}

// The schema files describe every field of domain.Event, each with a
// description, require what the domain requires, and leave room for the
// fields later versions add.
func TestSchemasDescribeEveryEventField(t *testing.T) {
	loadSchemas(t) // they compile
	all, always := jsonFields()
	for _, typ := range domain.EventTypes {
		t.Run(string(typ), func(t *testing.T) {
			doc, err := readSchemaDoc(filepath.Join(schemaDir, string(typ)+".json"))
			require.NoError(t, err)
			assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc["$schema"])
			assert.Equal(t, schemaBase+string(typ)+".json", doc["$id"])
			assert.NotEqual(t, false, doc["additionalProperties"], "consumers must accept fields added later")
			assert.NotContains(t, doc, "unevaluatedProperties")

			props, ok := doc["properties"].(map[string]any)
			require.True(t, ok)
			var names []string
			for name, p := range props {
				names = append(names, name)
				desc, _ := p.(map[string]any)["description"].(string)
				assert.NotEmpty(t, strings.TrimSpace(desc), "property %s has no description", name)
			}
			assert.ElementsMatch(t, all, names, "the properties are the fields of domain.Event")
			assert.Equal(t, string(typ), props["type"].(map[string]any)["const"])

			var required []string
			for _, r := range doc["required"].([]any) {
				required = append(required, r.(string))
			}
			want := slices.Concat(always, schemaTexts[typ])
			assert.ElementsMatch(t, want, required)
		})
	}
	defs, err := readSchemaDoc(filepath.Join(schemaDir, "defs.json"))
	require.NoError(t, err)
	d := defs["$defs"].(map[string]any)
	var categories, sources []any
	for _, c := range domain.Categories() {
		categories = append(categories, string(c))
	}
	for _, s := range domain.Sources() {
		sources = append(sources, string(s))
	}
	assert.Equal(t, categories, d["category"].(map[string]any)["enum"], "the categories of domain/reference.go")
	assert.Equal(t, sources, d["source"].(map[string]any)["enum"], "the sources of domain/reference.go")
	assert.Equal(t, json.Number(fmt.Sprint(domain.MinFiscalYear)), d["fiscal_year"].(map[string]any)["minimum"])
	assert.Equal(t, json.Number(fmt.Sprint(domain.MaxFiscalYear)), d["fiscal_year"].(map[string]any)["maximum"])
}

// The golden events of cmd/kcledger match the schemas of their type.
func TestGoldenEventsMatchTheirSchemas(t *testing.T) {
	schemas := loadSchemas(t)
	files, err := filepath.Glob(goldenEvents)
	require.NoError(t, err)
	require.Len(t, files, len(domain.EventTypes))
	for _, typ := range domain.EventTypes {
		t.Run(string(typ), func(t *testing.T) {
			data, err := os.ReadFile(goldenFile(typ))
			require.NoError(t, err)
			require.NoError(t, schemas.validateAs(typ, data))
			ev, err := decodeStrict(data)
			require.NoError(t, err)
			assert.Equal(t, typ, ev.Type)
			require.NoError(t, ev.Validate(domain.Policy{}))
			for _, other := range domain.EventTypes {
				if other != typ {
					assert.Error(t, schemas.validateAs(other, data), "a %s is not a %s", typ, other)
				}
			}
		})
	}
}

// ruleHistory records random commands through domain.Decide and Apply,
// choosing amounts the rules accept, on lines of both sources and of both
// province schemes.
type ruleHistory struct {
	t      *testing.T
	rng    *rand.Rand
	signer *domain.Signer
	lines  map[domain.LineKey]*domain.LineState
	seq    uint64
}

// ruleNow is after every effective date of a ruleHistory.
var ruleNow = time.Date(2027, time.March, 1, 2, 3, 4, 0, time.UTC)

var (
	ruleLetters  = []rune("aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXYàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ0123456789/-.,()&'\"🏭")
	ruleSpaces   = []rune(" \u00a0\u3000")
	rulePrinting = []rune("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")
	ruleProject  = []rune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./")
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// text is 1 to max runes of Vietnamese text, often exactly max, with inner
// spaces but none at either end.
func (h *ruleHistory) text(max int) string {
	n := 1 + h.rng.IntN(max)
	if h.rng.IntN(4) == 0 {
		n = max
	}
	r := make([]rune, n)
	for i := range r {
		if i > 0 && i < n-1 && h.rng.IntN(6) == 0 {
			r[i] = pick(h.rng, ruleSpaces)
		} else {
			r[i] = pick(h.rng, ruleLetters)
		}
	}
	return string(r)
}

func (h *ruleHistory) ascii(alphabet []rune, max int) string {
	n := 1 + h.rng.IntN(max)
	if h.rng.IntN(4) == 0 {
		n = max
	}
	r := make([]rune, n)
	for i := range r {
		r[i] = pick(h.rng, alphabet)
	}
	return string(r)
}

// date is a random day from from to to.
func (h *ruleHistory) date(from, to domain.Date) domain.Date {
	days := 0
	for d := from; d.Before(to); d = d.AddDays(1) {
		days++
	}
	return from.AddDays(h.rng.IntN(days + 1))
}

// amount is a random number of đồng from 1 to bound (at most 10^15),
// sometimes the bound itself.
func (h *ruleHistory) amount(bound int64) int64 {
	bound = min(bound, domain.MaxMovement.Decimal().IntPart())
	switch h.rng.IntN(8) {
	case 0:
		return bound
	case 1:
		return 1 + h.rng.Int64N(min(bound, 1000))
	}
	return 1 + h.rng.Int64N(bound)
}

func int64Of(a domain.Amount) int64 { return a.Decimal().IntPart() }

// next decides one command the rules accept and returns its events, as
// proposed to the log (the two sides of a transfer, or one event), and
// records them on their lines.
func (h *ruleHistory) next() []domain.Proposal {
	kinds := []domain.CommandKind{domain.Allocate, domain.Allocate, domain.Adjust, domain.Adjust, domain.Disburse, domain.Disburse, domain.Disburse,
		domain.Refund, domain.Refund, domain.Refund, domain.Repudiate, domain.Transfer, domain.Transfer, domain.Lapse}
	kind := pick(h.rng, kinds)
	switch kind {
	case domain.Repudiate:
		if h.seq == 0 {
			return h.next()
		}
		return []domain.Proposal{h.repudiation()}
	case domain.Transfer:
		if ps := h.transfer(); ps != nil {
			return ps
		}
		return h.next()
	case domain.Lapse:
		if p, ok := h.lapse(); ok {
			return []domain.Proposal{p}
		}
		return h.next()
	}
	fy := 2024 + h.rng.IntN(3)
	p := domain.Policy{}
	from, to, open := p.Window(kind, fy)
	if today := domain.DateOf(ruleNow); open || to.After(today) {
		to = today
	}
	date := h.date(from, to)
	scheme := domain.SchemeOn(date)
	provinces := domain.Provinces(scheme)
	province := provinces[h.rng.IntN(4)].Code // a few lines get many events
	if h.rng.IntN(5) == 0 {
		province = pick(h.rng, provinces).Code
	}
	line := domain.LineKey{FiscalYear: fy, Province: province, Source: pick(h.rng, domain.Sources())}
	st := h.lines[line]
	if st == nil {
		st = domain.NewLineState(line)
		h.lines[line] = st
	}
	if st.Closed && kind != domain.Refund {
		return h.next() // a lapsed line takes refunds only
	}
	project := pick(h.rng, []string{"", "", "KC-2025-01", "DA.01/2026_b"})
	if h.rng.IntN(10) == 0 {
		project = h.ascii(ruleProject, domain.MaxProjectLen)
	}
	b := st.Balance
	pb := st.Project(project)
	bound := func(line, proj domain.Amount) int64 {
		if project == "" {
			return int64Of(line)
		}
		return min(int64Of(line), int64Of(proj))
	}
	var amount int64
	switch kind {
	case domain.Adjust:
		// Down by at most what keeps the allocation above net disbursed
		// (and what left the line), and never below zero (money moved in
		// by a transfer is not the allocation's).
		if down := min(bound(b.Available(), pb.Available()), bound(b.Allocated, pb.Allocated)); down > 0 && h.rng.IntN(2) == 0 {
			amount = -h.amount(down)
		} else {
			amount = h.amount(1_000_000_000_000)
		}
	case domain.Disburse:
		amount = bound(b.Available(), pb.Available())
	case domain.Refund:
		amount = bound(b.NetDisbursed(), pb.NetDisbursed())
	}
	if (kind == domain.Disburse || kind == domain.Refund) && amount > 0 {
		amount = h.amount(amount)
	}
	if st.Closed && amount == 0 {
		return h.next() // nothing to refund on this lapsed line
	}
	if kind == domain.Allocate || amount == 0 {
		// Nothing to pay or refund on this line yet: allocate instead,
		// sometimes the largest amount one movement may carry.
		kind = domain.Allocate
		_, to, _ := p.Window(kind, fy)
		if date.After(to) {
			date = to
		}
		if _, err := domain.ProvinceOn(province, date); err != nil {
			return h.next() // the province is not in force on that date: start again
		}
		amount = h.amount(1_000_000_000_000)
		if h.rng.IntN(10) == 0 {
			amount = int64Of(domain.MaxMovement)
		}
	}
	h.seq++
	c := domain.Command{
		Kind: kind, FiscalYear: fy, Province: province, Source: line.Source, Project: project,
		Amount: domain.AmountFromInt64(amount), EffectiveDate: date,
	}
	h.stamp(&c)
	switch kind {
	case domain.Allocate:
		c.Decision = h.text(domain.MaxReferenceLen)
		if project != "" && h.rng.IntN(2) == 0 {
			// The project facts, each present or not.
			if h.rng.IntN(2) == 0 {
				c.ProjectName = h.text(domain.MaxProjectNameLen)
			}
			if h.rng.IntN(2) == 0 {
				c.ImplementingUnit = h.text(domain.MaxImplementingUnitLen)
			}
			if h.rng.IntN(2) == 0 {
				c.Counterpart = domain.AmountFromInt64(h.amount(int64Of(domain.MaxMovement)))
			}
		}
	case domain.Adjust:
		c.Decision = h.text(domain.MaxReferenceLen)
		c.Reason = h.text(domain.MaxReasonLen)
	case domain.Disburse:
		c.Voucher = h.text(domain.MaxReferenceLen)
		c.Beneficiary = h.text(domain.MaxBeneficiaryLen)
	case domain.Refund:
		c.Voucher = h.text(domain.MaxReferenceLen)
		c.Reason = h.text(domain.MaxReasonLen)
	}
	return []domain.Proposal{h.decide(st, c)}
}

// stamp sets what the ledger's edge sets on c, at the history's current
// sequence, and sometimes a category.
func (h *ruleHistory) stamp(c *domain.Command) {
	now := ruleNow.Add(time.Duration(h.seq) * time.Second)
	switch h.rng.IntN(3) {
	case 0:
		now = now.Add(time.Duration(1 + h.rng.IntN(999_999_999)))
	case 1:
		now = now.In(time.FixedZone("ICT", 7*60*60)) // the event says UTC all the same
	}
	c.EventID, c.Actor = uuid.Must(uuid.NewV7()).String(), h.text(domain.MaxActorLen)
	c.IdempotencyKey, c.Now = h.ascii(rulePrinting, domain.MaxIdempotencyKeyLen), now
	if h.rng.IntN(2) == 0 {
		c.Category = pick(h.rng, domain.Categories())
	}
}

// decide decides c on st, signs the event or not, and records it at the
// history's current sequence.
func (h *ruleHistory) decide(st *domain.LineState, c domain.Command) domain.Proposal {
	ev, err := domain.Decide(st, c, domain.Policy{})
	require.NoError(h.t, err, "%+v", c)
	return h.record(st, ev, h.seq)
}

func (h *ruleHistory) record(st *domain.LineState, ev domain.Event, seq uint64) domain.Proposal {
	if h.rng.IntN(2) == 0 {
		h.signer.Sign(&ev)
	}
	prop := domain.Proposal{Event: ev, ExpectedSeq: st.LastSeq}
	require.NoError(h.t, st.Apply(domain.Recorded{Event: ev, Seq: seq}))
	return prop
}

// openLines lists, in order, the budget lines with events that have not
// lapsed and keep money available, and whose code was in force during
// their fiscal year. (A line of 2026 allocated in advance, before 1 July
// 2025, under a code merged that day is left out: the rules let nothing
// leave it.)
func (h *ruleHistory) openLines() []*domain.LineState {
	var out []*domain.LineState
	for _, k := range slices.SortedFunc(maps.Keys(h.lines), func(a, b domain.LineKey) int { return strings.Compare(a.String(), b.String()) }) {
		st := h.lines[k]
		if _, ok := domain.ProvinceName(k.Province, k.FiscalYear); ok && k != (domain.LineKey{}) && !st.Closed && st.Balance.Available().Sign() > 0 {
			out = append(out, st)
		}
	}
	return out
}

// line returns the state of line k, new if it has no event yet.
func (h *ruleHistory) line(k domain.LineKey) *domain.LineState {
	st := h.lines[k]
	if st == nil {
		st = domain.NewLineState(k)
		h.lines[k] = st
	}
	return st
}

// project is "" or, half the time, a project of st with money available.
func (h *ruleHistory) project(st *domain.LineState) string {
	var ps []string
	for _, p := range slices.Sorted(maps.Keys(st.Projects)) {
		if st.Projects[p].Available().Sign() > 0 {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 || h.rng.IntN(2) == 0 {
		return ""
	}
	return pick(h.rng, ps)
}

// transfer moves money available on a random open line to the line the
// rules name: a succession of a merged province's 2025 line, or a
// carry-over to the next year. It returns both sides, or nil when no line
// has money to move.
func (h *ruleHistory) transfer() []domain.Proposal {
	lines := h.openLines()
	if len(lines) == 0 {
		return nil
	}
	from := pick(h.rng, lines)
	k := from.Key
	p := domain.Policy{}
	kind := domain.TransferCarryOver
	succ, merged := domain.Successor(k.Province)
	if _, old := domain.LookupProvince(domain.Scheme63, k.Province); k.FiscalYear == 2025 && old && merged && succ.Code != k.Province && h.rng.IntN(3) != 0 {
		kind = domain.TransferSuccession
	}
	start, end := p.TransferWindow(kind, k.FiscalYear)
	if today := domain.DateOf(ruleNow); today.Before(end) {
		end = today
	}
	if end.Before(start) {
		return nil // a line of the year after the last carry-over
	}
	date := h.date(start, end)
	to := domain.LineKey{FiscalYear: k.FiscalYear + 1, Province: k.Province, Source: k.Source}
	if kind == domain.TransferSuccession {
		to = domain.LineKey{FiscalYear: k.FiscalYear, Province: succ.Code, Source: k.Source}
	} else if _, err := domain.ProvinceOn(k.Province, date); err != nil {
		to.Province = succ.Code
	}
	dest := h.line(to)
	if dest.Closed {
		return nil
	}
	project := h.project(from)
	bound := int64Of(from.Balance.Available())
	if project != "" {
		bound = min(bound, int64Of(from.Project(project).Available()))
	}
	c := domain.Command{
		Kind: domain.Transfer, FiscalYear: k.FiscalYear, Province: k.Province, Source: k.Source, Project: project,
		Amount: domain.AmountFromInt64(h.amount(bound)), EffectiveDate: date,
		TransferKind: kind, To: to, Decision: h.text(domain.MaxReferenceLen), InEventID: uuid.Must(uuid.NewV7()).String(),
	}
	if h.rng.IntN(2) == 0 {
		c.Reason = h.text(domain.MaxReasonLen)
	}
	h.seq++
	h.stamp(&c)
	out, in, err := domain.DecideTransfer(from, dest, c, p)
	require.NoError(h.t, err, "%+v", c)
	h.seq++ // both sides at consecutive sequences, as AppendAll writes them
	return []domain.Proposal{h.record(from, out, h.seq-1), h.record(dest, in, h.seq)}
}

// lapse cancels, after the settlement period, money still available on a
// random open line: all of it (which closes the line), or what one
// project keeps, or part of it (zero at times). ok is false when no line
// has money left.
func (h *ruleHistory) lapse() (p domain.Proposal, ok bool) {
	lines := h.openLines()
	if len(lines) == 0 {
		return domain.Proposal{}, false
	}
	st := pick(h.rng, lines)
	k := st.Key
	from, _, _ := domain.Policy{}.Window(domain.Lapse, k.FiscalYear)
	if domain.DateOf(ruleNow).Before(from) {
		return domain.Proposal{}, false // its settlement period is not over
	}
	c := domain.Command{
		Kind: domain.Lapse, FiscalYear: k.FiscalYear, Province: k.Province, Source: k.Source,
		Amount: st.Balance.Available(), EffectiveDate: h.date(from, domain.DateOf(ruleNow)), Decision: h.text(domain.MaxReferenceLen),
	}
	if project := h.project(st); project != "" && h.rng.IntN(4) != 0 {
		c.Project = project
		switch avail := min(int64Of(st.Project(project).Available()), int64Of(st.Balance.Available())); h.rng.IntN(4) {
		case 0:
			c.Amount = domain.Amount{} // nothing lapses: the event has no amount
		case 1:
			c.Amount = domain.AmountFromInt64(h.amount(avail))
		default:
			c.Amount = domain.AmountFromInt64(avail)
		}
	}
	if c.Amount.Cmp(domain.MaxMovement) > 0 {
		// More than one movement may carry: the rules let such a line
		// lapse only project by project.
		return domain.Proposal{}, false
	}
	if h.rng.IntN(2) == 0 {
		c.Reason = h.text(domain.MaxReasonLen)
	}
	h.seq++
	h.stamp(&c)
	return h.decide(st, c), true
}

// repudiation is a repudiation of an earlier sequence, on the ledger's own
// chain.
func (h *ruleHistory) repudiation() domain.Proposal {
	st := h.lines[domain.LineKey{}]
	if st == nil {
		st = domain.NewLineState(domain.LineKey{})
		h.lines[domain.LineKey{}] = st
	}
	seq := 1 + uint64(h.rng.Int64N(int64(h.seq)))
	h.seq++
	now := ruleNow.Add(time.Duration(h.seq)*time.Second + time.Duration(h.rng.IntN(1_000_000_000)))
	c := domain.Command{
		Kind: domain.Repudiate, RepudiatedSeq: seq, Decision: h.text(domain.MaxReferenceLen), Reason: h.text(domain.MaxReasonLen),
		EffectiveDate: h.date(domain.Date{Year: 2025, Month: time.January, Day: 1}, domain.DateOf(ruleNow)),
		EventID:       uuid.Must(uuid.NewV7()).String(), Actor: h.text(domain.MaxActorLen),
		IdempotencyKey: h.ascii(rulePrinting, domain.MaxIdempotencyKeyLen), Now: now,
	}
	ev, err := domain.Decide(st, c, domain.Policy{})
	require.NoError(h.t, err, "%+v", c)
	if h.rng.IntN(2) == 0 {
		h.signer.Sign(&ev)
	}
	prop := domain.Proposal{Event: ev, ExpectedSeq: st.LastSeq}
	require.NoError(h.t, st.Apply(domain.Recorded{Event: ev, Seq: h.seq}))
	return prop
}

// Events the rules accept, encoded as the ledger stores them, match the
// schema of their type and decode back without unknown fields; their
// CloudEvents headers agree with them.
func TestEventsOfTheRulesMatchTheirSchemas(t *testing.T) {
	schemas := loadSchemas(t)
	type coverage struct {
		types                                 map[domain.EventType]int
		project, noProject, category, noCat   int
		sources                               map[domain.Source]int
		schemes                               map[domain.Scheme]int
		signed, unsigned, maxAmount, negAdj   int
		fraction, wholeSecond, maxBeneficiary int
		transferKinds                         map[domain.TransferKind]int
		projectTransfer, lineLapse            int
		projectLapse, zeroLapse               int
	}
	cov := coverage{types: map[domain.EventType]int{}, sources: map[domain.Source]int{}, schemes: map[domain.Scheme]int{}, transferKinds: map[domain.TransferKind]int{}}
	for seed := uint64(1); seed <= 4; seed++ {
		_, key, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		h := &ruleHistory{t: t, rng: rand.New(rand.NewPCG(seed, 2025)), signer: domain.NewSigner(key), lines: map[domain.LineKey]*domain.LineState{}}
		var events []domain.Proposal
		for len(events) < 400 {
			ps := h.next()
			if len(ps) == 2 {
				out, in := ps[0].Event, ps[1].Event
				require.Equal(t, domain.TypeTransferredOut, out.Type)
				require.Equal(t, domain.TypeTransferredIn, in.Type)
				require.Equal(t, out.ID, in.TransferID)
				require.Equal(t, out.IdempotencyKey, in.IdempotencyKey)
				cov.transferKinds[out.TransferKind]++
				count := map[bool]int{true: 1}
				cov.projectTransfer += count[out.Project != ""]
			}
			events = append(events, ps...)
		}
		for _, p := range events {
			ev := p.Event
			if ev.Type == domain.TypeLapsed {
				switch {
				case ev.Project == "":
					cov.lineLapse++
				case ev.Amount.IsZero():
					cov.zeroLapse++
				default:
					cov.projectLapse++
				}
			}
			m, err := eventstore.NewMessage(p)
			require.NoError(t, err)
			require.NoError(t, schemas.validateAs(ev.Type, m.Data), "%s", m.Data)
			require.NoError(t, eventstore.CheckCloudEvents(m.Header, &ev))
			require.Equal(t, eventstore.EventSubject(&ev), m.Subject)
			back, err := decodeStrict(m.Data)
			require.NoError(t, err)
			require.Equal(t, ev.Hash, back.ComputeHash(), "the body keeps everything the hash covers")

			cov.types[ev.Type]++
			cov.sources[ev.Source]++
			cov.schemes[domain.SchemeOn(ev.EffectiveDate)]++
			count := func(cond bool, yes, no *int) {
				if cond {
					*yes++
				} else if no != nil {
					*no++
				}
			}
			count(ev.Project != "", &cov.project, &cov.noProject)
			count(ev.Category != "", &cov.category, &cov.noCat)
			count(ev.Signature != "", &cov.signed, &cov.unsigned)
			count(ev.Amount.Equal(domain.MaxMovement) || ev.Amount.Neg().Equal(domain.MaxMovement), &cov.maxAmount, nil)
			count(ev.Amount.Sign() < 0, &cov.negAdj, nil)
			count(ev.RecordedAt.Nanosecond() != 0, &cov.fraction, &cov.wholeSecond)
			count(len([]rune(ev.Beneficiary)) == domain.MaxBeneficiaryLen, &cov.maxBeneficiary, nil)
		}
	}
	t.Logf("checked %+v", cov)
	for _, typ := range domain.EventTypes {
		assert.GreaterOrEqual(t, cov.types[typ], 40, "%s events", typ)
	}
	for _, n := range []int{cov.project, cov.noProject, cov.category, cov.noCat, cov.signed, cov.unsigned, cov.maxAmount, cov.negAdj, cov.fraction, cov.wholeSecond, cov.maxBeneficiary,
		cov.sources[domain.SourceNational], cov.sources[domain.SourceLocal], cov.schemes[domain.Scheme63], cov.schemes[domain.Scheme34],
		cov.transferKinds[domain.TransferSuccession], cov.transferKinds[domain.TransferCarryOver], cov.projectTransfer,
		cov.lineLapse, cov.projectLapse, cov.zeroLapse} {
		assert.NotZero(t, n, "coverage %+v", cov)
	}
}

// schemaMutation is a change to a valid golden event.
type schemaMutation struct {
	name   string
	typ    domain.EventType // the golden event changed, and the schema used
	change func(e map[string]any)
	// at and keyword: every keyword that fails is at this location of the
	// event ("" for the event itself), one of them this keyword.
	at, keyword string
	// domain: the domain refuses the mutated event too (it does not decode,
	// or fails Event.Validate). Cases without it are what only the schema
	// and the hash chain or signature checks catch.
	domain bool
}

func set(field string, v any) func(map[string]any) {
	return func(e map[string]any) { e[field] = v }
}

func del(field string) func(map[string]any) {
	return func(e map[string]any) { delete(e, field) }
}

// Each mutation the contract forbids fails the schema, for the reason
// intended and no other, whether the validator asserts formats or not.
func TestSchemasRefuseMalformedEvents(t *testing.T) {
	plain, asserting := loadSchemasWith(t, false), loadSchemas(t)
	const (
		al, ad, di, re = domain.TypeAllocated, domain.TypeAdjusted, domain.TypeDisbursed, domain.TypeRefunded
		to, ti, la     = domain.TypeTransferredOut, domain.TypeTransferredIn, domain.TypeLapsed
	)
	line := func(field string, change func(l map[string]any)) func(map[string]any) {
		return func(e map[string]any) {
			l := map[string]any{}
			for k, v := range e[field].(map[string]any) {
				l[k] = v
			}
			change(l)
			e[field] = l
		}
	}
	for _, tc := range []schemaMutation{
		{"amount as a JSON number", di, set("amount", json.Number("250000000")), "/amount", "type", true},
		{"amount with decimals", di, set("amount", "1.5"), "/amount", "pattern", true},
		{"zero disbursement", di, set("amount", "0"), "/amount", "pattern", true},
		{"negative disbursement", di, set("amount", "-250000000"), "/amount", "pattern", true},
		{"negative refund", re, set("amount", "-50000000"), "/amount", "pattern", true},
		{"negative allocation", al, set("amount", "-1"), "/amount", "pattern", true},
		{"disbursement over 10^15", di, set("amount", "1000000000000001"), "/amount", "pattern", true},
		{"disbursement of 17 digits", di, set("amount", "10000000000000000"), "/amount", "pattern", true},
		{"adjustment over 10^15", ad, set("amount", "1000000000000001"), "/amount", "pattern", true},
		{"adjustment under -10^15", ad, set("amount", "-1000000000000001"), "/amount", "pattern", true},
		{"zero adjustment", ad, set("amount", "0"), "/amount", "pattern", true},
		{"adjustment of -0", ad, set("amount", "-0"), "/amount", "pattern", true},
		{"amount with a leading zero", di, set("amount", "0250000000"), "/amount", "pattern", true},
		{"amount with a plus sign", ad, set("amount", "+100000000"), "/amount", "pattern", true},
		{"amount grouped", al, set("amount", "1.500.000.000"), "/amount", "pattern", true},
		{"amount null", al, set("amount", nil), "/amount", "type", true},
		{"disbursement without voucher", di, del("voucher"), "", "required", true},
		{"disbursement without beneficiary", di, del("beneficiary"), "", "required", true},
		{"refund without voucher", re, del("voucher"), "", "required", true},
		{"refund without reason", re, del("reason"), "", "required", true},
		{"allocation without decision", al, del("decision"), "", "required", true},
		{"adjustment without decision", ad, del("decision"), "", "required", true},
		{"adjustment without reason", ad, del("reason"), "", "required", true},
		{"empty voucher", di, set("voucher", ""), "/voucher", "minLength", true},
		{"disbursement citing a decision", di, set("decision", "1/QĐ-BCT"), "/decision", "not", true},
		{"allocation with a reason", al, set("reason", "lý do"), "/reason", "not", true},
		{"allocation with a voucher", al, set("voucher", "UNC-1"), "/voucher", "not", true},
		{"refund with a beneficiary", re, set("beneficiary", "HTX"), "/beneficiary", "not", true},
		{"wrong type for the file (a refund's type in the disbursement schema)", di, set("type", string(re)), "/type", "const", false},
		{"unknown type", al, set("type", "funds.allocated.v2"), "/type", "const", true},
		{"fiscal year 1999", al, set("fiscal_year", json.Number("1999")), "/fiscal_year", "minimum", true},
		{"fiscal year 2101", al, set("fiscal_year", json.Number("2101")), "/fiscal_year", "maximum", true},
		{"fiscal year as a string", al, set("fiscal_year", "2025"), "/fiscal_year", "type", true},
		{"fiscal year with decimals", al, set("fiscal_year", json.Number("2025.5")), "/fiscal_year", "type", true},
		{"province of one digit", di, set("province", "1"), "/province", "pattern", true},
		{"province as a number", di, set("province", json.Number("1")), "/province", "type", true},
		{"source regional", di, set("source", "regional"), "/source", "enum", true},
		{"source as its label", di, set("source", "KCQG"), "/source", "enum", true},
		{"no source", di, del("source"), "", "required", true},
		{"hash of 63 digits", di, set("hash", strings.Repeat("a", 63)), "/hash", "pattern", false},
		{"hash in upper case", di, set("hash", strings.Repeat("A", 64)), "/hash", "pattern", false},
		{"prev_hash of 65 digits", di, set("prev_hash", strings.Repeat("0", 65)), "/prev_hash", "pattern", false},
		{"no hash", di, del("hash"), "", "required", false},
		{"effective date with a slash", di, set("effective_date", "2025/04/15"), "/effective_date", "pattern", true},
		{"effective date in month 13", di, set("effective_date", "2025-13-01"), "/effective_date", "pattern", true},
		{"effective date of day/month/year", di, set("effective_date", "15-04-2025"), "/effective_date", "pattern", true},
		// Only the date format tells 30 February from a date: asserted by
		// validators that assert formats, as this test's does.
		{"effective date 30 February", al, set("effective_date", "2025-02-30"), "/effective_date", "format", true},
		{"recorded_at with an offset", di, set("recorded_at", "2025-04-15T16:00:00+07:00"), "/recorded_at", "pattern", false},
		{"recorded_at without seconds", di, set("recorded_at", "2025-04-15T09:00Z"), "/recorded_at", "pattern", true},
		{"recorded_at with ten fractional digits", di, set("recorded_at", "2025-04-15T09:00:00.1234567890Z"), "/recorded_at", "pattern", false},
		{"unknown category", al, set("category", "marketing"), "/category", "enum", true},
		{"empty category", al, set("category", ""), "/category", "enum", false},
		{"category as its Vietnamese label", al, set("category", "Tư vấn"), "/category", "enum", true},
		{"project with a space", al, set("project", "KC 2025"), "/project", "pattern", true},
		{"project of 65 bytes", al, set("project", strings.Repeat("K", domain.MaxProjectLen+1)), "/project", "pattern", true},
		{"beneficiary of 201 characters", di, set("beneficiary", strings.Repeat("ệ", domain.MaxBeneficiaryLen+1)), "/beneficiary", "maxLength", true},
		{"decision of 101 characters", al, set("decision", strings.Repeat("Đ", domain.MaxReferenceLen+1)), "/decision", "maxLength", true},
		{"reason of 1001 characters", re, set("reason", strings.Repeat("ữ", domain.MaxReasonLen+1)), "/reason", "maxLength", true},
		{"imported_by of 129 characters", di, set("imported_by", strings.Repeat("a", domain.MaxActorLen+1)), "/imported_by", "maxLength", true},
		{"imported_by on a repudiation", domain.TypeRepudiated, set("imported_by", "admin"), "/imported_by", "not", true},
		{"imported_by on a transfer", to, set("imported_by", "admin"), "/imported_by", "not", true},
		{"actor of 129 characters", re, set("actor", strings.Repeat("a", domain.MaxActorLen+1)), "/actor", "maxLength", true},
		{"reason with a trailing space", re, set("reason", "Thu hồi "), "/reason", "pattern", true},
		{"beneficiary with a leading no-break space", di, set("beneficiary", "\u00a0HTX"), "/beneficiary", "pattern", true},
		{"beneficiary with a newline", di, set("beneficiary", "HTX\nGốm"), "/beneficiary", "pattern", true},
		{"blank reason", ad, set("reason", "   "), "/reason", "pattern", true},
		{"no actor", di, del("actor"), "", "required", true},
		{"idempotency key with a space", di, set("idempotency_key", "golden disburse"), "/idempotency_key", "pattern", true},
		{"idempotency key of 129 characters", di, set("idempotency_key", strings.Repeat("k", domain.MaxIdempotencyKeyLen+1)), "/idempotency_key", "pattern", true},
		{"id that is not a UUID", di, set("id", "fresh-1"), "/id", "pattern", false},
		{"id of a UUID v4", di, set("id", "0f8fad5b-d9cb-469f-a165-70867728950e"), "/id", "pattern", false},
		{"id in upper case", di, set("id", "01970A6E-8000-7000-8000-000000000002"), "/id", "pattern", false},
		{"signed_by without signature", di, del("signature"), "", "dependentRequired", false},
		{"signature without signed_by", di, del("signed_by"), "", "dependentRequired", false},
		{"signed_by of 15 digits", di, set("signed_by", "fe812c12f3ab4ce"), "/signed_by", "pattern", false},
		{"signature of 63 bytes", di, set("signature", strings.Repeat("A", 84)), "/signature", "pattern", false},
		{"signature without padding", di, set("signature", "3TGZyayE+n//2G+L+ZYEmkgdQTMQeK8vqAHmtDV/STxWWq+Vo8VHUHpMzYhdSvaSLA7uoQ/JFm/rBwXQNEY8Dg"), "/signature", "pattern", false},
		{"signature in URL-safe base64", di, set("signature", "3TGZyayE-n__2G-L-ZYEmkgdQTMQeK8vqAHmtDV_STxWWq-Vo8VHUHpMzYhdSvaSLA7uoQ_JFm_rBwXQNEY8Dg=="), "/signature", "pattern", false},

		// Transfers and lapses.
		{"zero transfer", to, set("amount", "0"), "/amount", "pattern", true},
		{"negative transfer in", ti, set("amount", "-1000000000"), "/amount", "pattern", true},
		{"transfer over 10^15", to, set("amount", "1000000000000001"), "/amount", "pattern", true},
		{"transfer without amount", ti, del("amount"), "", "required", true},
		{"negative lapse", la, set("amount", "-1"), "/amount", "pattern", true},
		{"lapse of -0", la, set("amount", "-0"), "/amount", "pattern", true},
		{"lapse with a leading zero", la, set("amount", "0200000000"), "/amount", "pattern", true},
		{"lapse over 10^15", la, set("amount", "1000000000000001"), "/amount", "pattern", true},
		{"lapse amount as a JSON number", la, set("amount", json.Number("200000000")), "/amount", "type", true},
		{"transfer without decision", to, del("decision"), "", "required", true},
		{"transfer in without decision", ti, del("decision"), "", "required", true},
		{"lapse without decision", la, del("decision"), "", "required", true},
		{"transfer without transfer_kind", to, del("transfer_kind"), "", "required", true},
		{"transfer in without transfer_id", ti, del("transfer_id"), "", "required", true},
		{"transfer without from_line", to, del("from_line"), "", "required", true},
		{"transfer in without to_line", ti, del("to_line"), "", "required", true},
		{"unknown transfer kind", to, set("transfer_kind", "gift"), "/transfer_kind", "enum", true},
		{"transfer kind in camel case", ti, set("transfer_kind", "carryOver"), "/transfer_kind", "enum", true},
		{"transfer_id that is not a UUID", ti, set("transfer_id", "transfer-1"), "/transfer_id", "pattern", false},
		{"from_line as a string", to, set("from_line", "2025/01/national"), "/from_line", "type", true},
		{"from_line without its province", to, line("from_line", func(l map[string]any) { delete(l, "province") }), "/from_line", "required", true},
		{"to_line of fiscal year 1999", ti, line("to_line", func(l map[string]any) { l["fiscal_year"] = json.Number("1999") }), "/to_line/fiscal_year", "minimum", true},
		{"to_line of an unknown source", to, line("to_line", func(l map[string]any) { l["source"] = "provincial" }), "/to_line/source", "enum", true},
		{"from_line with a three-digit province", ti, line("from_line", func(l map[string]any) { l["province"] = "001" }), "/from_line/province", "pattern", true},
		{"transfer with a voucher", to, set("voucher", "UNC-1"), "/voucher", "not", true},
		{"transfer in with a beneficiary", ti, set("beneficiary", "HTX"), "/beneficiary", "not", true},
		{"transfer with project facts", to, set("project_name", "Đề án"), "/project_name", "not", true},
		{"transfer in naming a sequence", ti, set("repudiated_seq", json.Number("8")), "/repudiated_seq", "not", true},
		{"transfer with a trailing space in its reason", to, set("reason", "Chuyển nguồn "), "/reason", "pattern", true},
		{"transfer decision of 101 characters", ti, set("decision", strings.Repeat("Đ", domain.MaxReferenceLen+1)), "/decision", "maxLength", true},
		{"lapse with a voucher", la, set("voucher", "UNC-1"), "/voucher", "not", true},
		{"lapse with a beneficiary", la, set("beneficiary", "HTX"), "/beneficiary", "not", true},
		{"lapse with a transfer kind", la, set("transfer_kind", "carry_over"), "/transfer_kind", "not", true},
		{"lapse with a transfer id", la, set("transfer_id", "01970a6e-8000-7000-8000-000000000007"), "/transfer_id", "not", true},
		{"lapse naming a line", la, set("to_line", map[string]any{"fiscal_year": 2026, "province": "01", "source": "national"}), "/to_line", "not", true},
		{"lapse with project facts", la, set("implementing_unit", "TTKC"), "/implementing_unit", "not", true},
		{"lapse reason of 1001 characters", la, set("reason", strings.Repeat("ữ", domain.MaxReasonLen+1)), "/reason", "maxLength", true},
		{"disbursement with a transfer id", di, set("transfer_id", "01970a6e-8000-7000-8000-000000000007"), "/transfer_id", "not", true},
		{"allocation with a from_line", al, set("from_line", map[string]any{"fiscal_year": 2025, "province": "01", "source": "national"}), "/from_line", "not", true},
		{"adjustment with a transfer kind", ad, set("transfer_kind", "succession"), "/transfer_kind", "not", true},
		{"refund with a to_line", re, set("to_line", map[string]any{"fiscal_year": 2026, "province": "01", "source": "national"}), "/to_line", "not", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := goldenDoc(t, tc.typ)
			tc.change(e)
			data := mustMarshal(t, e)
			require.Error(t, asserting.validateAs(tc.typ, data), "the schema of %s accepts %s", tc.typ, data)
			schemas := plain
			if tc.keyword == "format" { // only a validator asserting formats refuses it
				require.NoError(t, plain.validateAs(tc.typ, data), "only the format refuses it")
				schemas = asserting
			}
			err := schemas.validateAs(tc.typ, data)
			require.Error(t, err, "the schema of %s accepts %s", tc.typ, data)
			fs := failures(err)
			var keywords []string
			for _, f := range fs {
				assert.Equal(t, tc.at, f.At, "a failure elsewhere than intended: %s", f)
				keywords = append(keywords, f.Keyword)
			}
			assert.Contains(t, keywords, tc.keyword, "%s", brief(err))
			if tc.domain {
				assert.Error(t, domainRefuses(data), "the domain accepts what the schema refuses")
			}
		})
	}
}

// Fields the schemas do not know are accepted, since the contract only
// ever adds fields; kcledger's own events have none, which decoding them
// strictly checks. Bounds are accepted on both sides of the schema.
func TestSchemasAcceptWhatTheContractAllows(t *testing.T) {
	schemas := loadSchemas(t)
	for _, tc := range []struct {
		name    string
		typ     domain.EventType
		change  func(e map[string]any)
		unknown bool // a field domain.Event does not know
	}{
		{"a new string field", domain.TypeDisbursed, set("treasury_office", "KBNN Hoàn Kiếm"), true},
		{"a new object field", domain.TypeAllocated, set("x_ext", map[string]any{"n": 1, "tags": []string{"a"}}), true},
		{"a new null field", domain.TypeRefunded, set("superseded_by", nil), true},
		{"allocation of 10^15", domain.TypeAllocated, set("amount", "1000000000000000"), false},
		{"adjustment of -10^15", domain.TypeAdjusted, set("amount", "-1000000000000000"), false},
		{"adjustment of 1", domain.TypeAdjusted, set("amount", "1"), false},
		{"no project or category", domain.TypeDisbursed, func(e map[string]any) { delete(e, "project"); delete(e, "category") }, false},
		{"unsigned", domain.TypeDisbursed, func(e map[string]any) { delete(e, "signed_by"); delete(e, "signature") }, false},
		{"recorded_at on a whole second", domain.TypeAllocated, set("recorded_at", "2025-03-03T02:30:00Z"), false},
		{"recorded_at with nanoseconds", domain.TypeAllocated, set("recorded_at", "2025-03-03T02:30:00.000000001Z"), false},
		{"beneficiary of 200 characters", domain.TypeDisbursed, set("beneficiary", strings.Repeat("ệ", domain.MaxBeneficiaryLen)), false},
		{"beneficiary with an emoji and inner no-break space", domain.TypeDisbursed, set("beneficiary", "HTX\u00a0🏭 Gốm"), false},
		{"decision of 100 characters", domain.TypeAllocated, set("decision", strings.Repeat("Đ", domain.MaxReferenceLen)), false},
		{"reason of 1000 characters", domain.TypeRefunded, set("reason", strings.Repeat("ữ", domain.MaxReasonLen)), false},
		{"actor of 128 characters", domain.TypeRefunded, set("actor", strings.Repeat("ồ", domain.MaxActorLen)), false},
		{"imported on behalf of another account", domain.TypeDisbursed, set("imported_by", "admin"), false},
		{"idempotency key of 128 characters", domain.TypeRefunded, set("idempotency_key", strings.Repeat("~", domain.MaxIdempotencyKeyLen)), false},
		{"project of 64 bytes", domain.TypeAllocated, set("project", strings.Repeat("K", domain.MaxProjectLen)), false},
		{"the last category", domain.TypeAllocated, set("category", "programme_management"), false},
		{"local source", domain.TypeAllocated, set("source", "local"), false},
		{"transfer without reason", domain.TypeTransferredOut, del("reason"), false},
		{"transfer in without project or category", domain.TypeTransferredIn, func(e map[string]any) { delete(e, "project"); delete(e, "category") }, false},
		{"transfer of 10^15", domain.TypeTransferredIn, set("amount", "1000000000000000"), false},
		{"transfer of 1", domain.TypeTransferredOut, set("amount", "1"), false},
		{"lapse without amount (nothing left)", domain.TypeLapsed, del("amount"), false},
		{"lapse of 0", domain.TypeLapsed, set("amount", "0"), false},
		{"lapse of 10^15", domain.TypeLapsed, set("amount", "1000000000000000"), false},
		{"lapse of a project", domain.TypeLapsed, set("project", "KC-2025-01"), false},
		{"lapse without reason", domain.TypeLapsed, del("reason"), false},
		{"from_line with a new field", domain.TypeTransferredOut, func(e map[string]any) {
			e["from_line"] = map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "name": "Hà Nội"}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := goldenDoc(t, tc.typ)
			tc.change(e)
			data := mustMarshal(t, e)
			require.NoError(t, schemas.validateAs(tc.typ, data), "%s", data)
			ev, err := decodeStrict(data)
			if tc.unknown {
				require.Error(t, err, "kcledger's own events must have no unknown fields")
				assert.Contains(t, err.Error(), "unknown field")
				return
			}
			require.NoError(t, err)
			require.NoError(t, ev.Validate(domain.Policy{}), "the domain accepts it too")
		})
	}
}

// The schemas' amounts are exactly the domain's: a table of spellings on
// both sides of every rule, for the positive amounts and the signed delta.
func TestSchemaAmountsAgreeWithTheDomain(t *testing.T) {
	schemas := loadSchemas(t)
	tokens := []string{
		`"0"`, `"-0"`, `"1"`, `"-1"`, `"9"`, `"10"`, `"01"`, `"00"`, `"+1"`, `"1.5"`, `"1,5"`, `"1.000"`, `"1e3"`, `"0x10"`,
		`"999999999999999"`, `"1000000000000000"`, `"1000000000000001"`, `"1000000000000010"`, `"1100000000000000"`, `"2000000000000000"`,
		`"9999999999999999"`, `"10000000000000000"`, `"-999999999999999"`, `"-1000000000000000"`, `"-1000000000000001"`, `"-9999999999999999"`,
		`" 1"`, `"1 "`, `""`, `"-"`, `"٣"`, `"１"`, `1500`, `-1`, `null`, `true`, `["1"]`,
	}
	for _, typ := range domain.EventTypes {
		for _, tok := range tokens {
			e := goldenDoc(t, typ)
			e["amount"] = json.RawMessage(tok)
			if typ == domain.TypeRepudiated {
				// No amount at all: the schema refuses every one, even
				// the "0" the domain reads as none.
				assert.Error(t, schemas.validateAs(typ, mustMarshal(t, e)), "a repudiation with amount %s", tok)
				continue
			}
			data := mustMarshal(t, e)
			schemaErr := schemas.validateAs(typ, data)
			domainErr := domainRefuses(data)
			assert.Equal(t, domainErr == nil, schemaErr == nil,
				"%s amount %s: the domain says %v, the schema %v", typ, tok, domainErr, schemaErr)
		}
	}
}

// The schemas' free text is exactly the domain's: every character alone,
// inside and at either end of a beneficiary, for the characters where the
// rules differ (controls, white space, U+FFFD) and around them.
func TestSchemaTextAgreesWithTheDomain(t *testing.T) {
	schemas := loadSchemas(t)
	base := goldenEvent(t, domain.TypeDisbursed)
	var runes []rune
	for r := rune(0); r < 0x800; r++ {
		runes = append(runes, r)
	}
	for r := rune(0x2000); r < 0x2070; r++ {
		runes = append(runes, r)
	}
	runes = append(runes, 0x1680, 0x180e, 0x3000, 0x3001, 0xfeff, 0xfffc, 0xfffd, 0xfffe, 0xffff, 0x1f3ed, 0x10ffff)
	var disagree []string
	for _, r := range runes {
		for _, v := range []string{string(r), "a" + string(r) + "b", string(r) + "b", "a" + string(r)} {
			ev := base
			ev.Beneficiary = v
			data := mustMarshal(t, &ev)
			schemaErr := schemas.validateAs(domain.TypeDisbursed, data)
			domainErr := ev.Validate(domain.Policy{})
			if (schemaErr == nil) != (domainErr == nil) {
				disagree = append(disagree, fmt.Sprintf("%q (U+%04X): domain %v, schema %v", v, r, domainErr, schemaErr))
			}
		}
	}
	assert.Empty(t, disagree)
}

// checkTapped checks one tap record: its data matches the schema of its
// type, decodes into domain.Event without unknown fields, and agrees with
// the record's subject and CloudEvents headers. It returns the type.
func checkTapped(schemas eventSchemas, line []byte) (domain.EventType, error) {
	var rec eventstore.TapRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		return "", fmt.Errorf("not a tap record: %v", err)
	}
	var named struct { // for the report, even when the event does not decode
		ID   string           `json:"id"`
		Type domain.EventType `json:"type"`
	}
	_ = json.Unmarshal(rec.Data, &named)
	var problems []string
	if err := schemas.validate(rec.Data); err != nil {
		problems = append(problems, "schema: "+brief(err))
	}
	ev, err := decodeStrict(rec.Data)
	if err != nil {
		problems = append(problems, "domain.Event: "+err.Error())
	} else {
		if err := eventstore.CheckCloudEvents(nats.Header(rec.Header), &ev); err != nil {
			problems = append(problems, "CloudEvents: "+err.Error())
		}
		if want := eventstore.EventSubject(&ev); rec.Subject != want {
			problems = append(problems, fmt.Sprintf("subject %s, the event's is %s", rec.Subject, want))
		}
	}
	if len(problems) > 0 {
		return named.Type, fmt.Errorf("event %q: %s", named.ID, strings.Join(problems, "; "))
	}
	return ev.Type, nil
}

// Every event a whole test run encoded for the stream matches the schema
// of its type. scripts/test runs the suite with KCLEDGER_EVENT_TAP naming
// a directory, where each process writes every message it encodes
// (tap.go), then this test alone with KCLEDGER_EVENT_TAP_CHECK=1 as well.
func TestEveryTappedEventMatchesItsSchema(t *testing.T) {
	dir := os.Getenv(eventstore.TapEnv)
	if dir == "" || os.Getenv(schemaTapCheckEnv) != "1" {
		t.Skipf("checks the events a whole test run tapped: scripts/test runs the tests with %s=DIR, "+
			"then this test alone with %s=DIR %s=1 (go test -run TestEveryTappedEventMatchesItsSchema ./eventstore)",
			eventstore.TapEnv, eventstore.TapEnv, schemaTapCheckEnv)
	}
	schemas := loadSchemas(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no tap files in %s: did the tests run with %s=%s?", dir, eventstore.TapEnv, dir)
	sort.Strings(files)

	checked, good := map[domain.EventType]int{}, map[domain.EventType]int{}
	var bad []string
	total := 0
	for _, path := range files {
		f, err := os.Open(path)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20) // a message is at most 64 KiB, its record a few times that
		for n := 1; sc.Scan(); n++ {
			total++
			typ, err := checkTapped(schemas, sc.Bytes())
			checked[typ]++
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s:%d: %v", path, n, err))
				continue
			}
			good[typ]++
		}
		require.NoError(t, sc.Err(), path)
		require.NoError(t, f.Close())
	}
	var perType []string
	for _, typ := range domain.EventTypes {
		perType = append(perType, fmt.Sprintf("%d %s (%d bad)", checked[typ], typ, checked[typ]-good[typ]))
	}
	if n := checked[""]; n > 0 {
		perType = append(perType, fmt.Sprintf("%d without a type", n))
	}
	t.Logf("checked %d tapped events in %d files: %s", total, len(files), strings.Join(perType, ", "))
	if len(bad) > 0 {
		const shown = 10
		t.Errorf("%d of %d tapped events are bad; the first %d:\n%s", len(bad), total, min(shown, len(bad)), strings.Join(bad[:min(shown, len(bad))], "\n"))
	}
	for _, typ := range domain.EventTypes {
		assert.NotZero(t, good[typ], "no valid %s event was tapped", typ)
	}
}

// The golden allocation with project facts matches its schema, and
// project facts without a project, or on another type, do not.
func TestProjectFactsMatchTheSchema(t *testing.T) {
	schemas := loadSchemas(t)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(goldenEvents), "facts_allocated.json"))
	require.NoError(t, err)
	require.NoError(t, schemas.validateAs(domain.TypeAllocated, data))
	ev, err := decodeStrict(data)
	require.NoError(t, err)
	require.NoError(t, ev.Validate(domain.Policy{}))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
	}{
		{"no project", func(d map[string]any) { delete(d, "project") }},
		{"counterpart as a number", func(d map[string]any) { d["counterpart"] = 95 }},
		{"counterpart zero", func(d map[string]any) { d["counterpart"] = "0" }},
		{"empty project name", func(d map[string]any) { d["project_name"] = "" }},
		{"project name of 301 characters", func(d map[string]any) { d["project_name"] = strings.Repeat("đ", domain.MaxProjectNameLen+1) }},
	} {
		d := map[string]any{}
		for k, v := range doc {
			d[k] = v
		}
		tc.change(d)
		b, err := json.Marshal(d)
		require.NoError(t, err)
		assert.Error(t, schemas.validateAs(domain.TypeAllocated, b), tc.name)
	}
	for _, other := range domain.EventTypes[1:] {
		d := goldenDoc(t, other)
		d["implementing_unit"] = "TTKC"
		b, err := json.Marshal(d)
		require.NoError(t, err)
		assert.Error(t, schemas.validateAs(other, b), "%s with project facts", other)
	}
}
