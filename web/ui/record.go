package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/i18n"
)

// The recording forms: one per kind of movement, each with exactly the
// fields its API route's body takes. The page reads what was typed, turns
// a typed amount ("1,5 tỷ") into the exact đồng with the domain's parser,
// and posts the body to the API as the visitor's account; every rule,
// scope and refusal is the API's. A form's idempotency key is fixed when
// the form is drawn and sits in its address, so a double click, a refresh
// or the back button sends the same key again and the ledger records the
// movement once.

// recordKind is a form: the API route it posts to and its fields, in the
// order the form shows them.
type recordKind struct {
	kind   domain.CommandKind
	path   string
	fields []string
}

// recordKinds are the forms, by the name in their address (the command's
// kind). The fields are those of the API's body for that kind (the CLI's
// flags say the same): api.DecodeMovement reads them.
var recordKinds = map[string]recordKind{
	"allocate": {domain.Allocate, "/v1/allocations", []string{
		"fiscal_year", "province", "source", "category", "amount", "decision", "effective_date",
		"project", "project_name", "implementing_unit", "counterpart"}},
	"adjust": {domain.Adjust, "/v1/adjustments", []string{
		"fiscal_year", "province", "source", "project", "category", "delta", "decision", "reason", "effective_date"}},
	"disburse": {domain.Disburse, "/v1/disbursements", []string{
		"fiscal_year", "province", "source", "project", "category", "amount", "voucher", "beneficiary", "effective_date"}},
	"refund": {domain.Refund, "/v1/refunds", []string{
		"fiscal_year", "province", "source", "project", "category", "amount", "voucher", "reason", "effective_date"}},
	"transfer": {domain.Transfer, "/v1/transfers", []string{
		"transfer_kind", "fiscal_year", "province", "source", "to_fiscal_year", "to_province", "to_source",
		"project", "category", "amount", "decision", "reason", "effective_date"}},
	"lapse": {domain.Lapse, "/v1/lapses", []string{
		"fiscal_year", "province", "source", "project", "category", "amount", "decision", "reason", "effective_date"}},
}

// recordMenu is the list page's order: each entry a form, a transfer's
// two kinds each an entry of their own.
var recordMenu = []struct{ kind, transferKind string }{
	{"allocate", ""}, {"adjust", ""}, {"disburse", ""}, {"refund", ""},
	{"transfer", string(domain.TransferSuccession)}, {"transfer", string(domain.TransferCarryOver)}, {"lapse", ""},
}

// Fields read in particular ways: years are numbers, amounts are typed
// the Vietnamese way, long texts get a text area.
var (
	yearFields   = map[string]bool{"fiscal_year": true, "to_fiscal_year": true}
	amountFields = map[string]bool{"amount": true, "delta": true, "counterpart": true}
	longFields   = map[string]bool{"reason": true}
)

// maxTypedAmount bounds the typed amount a confirmation's address repeats
// for its reading.
const maxTypedAmount = 64

type recordEntry struct {
	Href, Title, About string
}

// recordListPage lists the forms the visitor may open.
type recordListPage struct {
	Entries []recordEntry
}

func (s *Server) recordList(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := v.account.MayRecordAny(); err != nil {
		s.problem(w, r, v, err)
		return
	}
	var p recordListPage
	for _, m := range recordMenu {
		e := recordEntry{Href: "/record/" + m.kind, Title: v.l.T("kind." + m.kind), About: v.l.T("record.about." + m.kind)}
		if m.transferKind != "" {
			e.Href += "?transfer_kind=" + m.transferKind
			e.Title = v.l.T("transfer_kind." + m.transferKind)
			e.About = v.l.T("record.about." + m.transferKind)
		}
		p.Entries = append(p.Entries, e)
	}
	s.render(w, r, v, http.StatusOK, "record", "record.title", p)
}

// option is one choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

// formField is one field of a recording form as drawn: its JSON name
// (also the input's name), its label, what the visitor typed, and the
// refusal that names it.
type formField struct {
	Name, Label string
	// Widget is "select", "text", "number", "amount", "date" or "textarea".
	Widget  string
	Value   string
	Options []option
	// Reading is what the ledger understood of a typed amount, shown
	// below it (and kept up to date by app.js as the visitor types).
	Reading string
	// ReadingState is "ok" or "bad" once something is typed.
	ReadingState string
	Err          error
}

// DescribedBy is the ids that describe the field's input.
func (f formField) DescribedBy() string {
	var ids []string
	if f.Widget == "amount" {
		ids = append(ids, "reading-"+f.Name)
	}
	if f.Err != nil {
		ids = append(ids, "err-"+f.Name)
	}
	return strings.Join(ids, " ")
}

// recordFormPage is a recording form, fresh or refilled after a refusal.
type recordFormPage struct {
	Kind   string
	Title  string
	Key    string
	Fields []formField
	// Err is the refusal, and Other the same when it names no field of
	// the form (shown above it).
	Err, Other error
}

// recordForm draws a fresh form. Its idempotency key is fixed now and
// kept in the address: a visitor who comes back to this form (the back
// button) sends the same key, and a movement already recorded with it is
// not recorded again.
func (s *Server) recordForm(w http.ResponseWriter, r *http.Request, v *visit) {
	name := r.PathValue("kind")
	k, ok := recordKinds[name]
	if !ok {
		s.notFound(w, r, v)
		return
	}
	if err := v.account.MayRecordAny(); err != nil {
		s.problem(w, r, v, err)
		return
	}
	q := r.URL.Query()
	key := q.Get("key")
	if !validKey(key) {
		q.Set("key", uuid.Must(uuid.NewV7()).String())
		http.Redirect(w, r, "/record/"+name+"?"+q.Encode(), http.StatusSeeOther)
		return
	}
	year := strconv.Itoa(i18n.DateOf(s.now()).Year)
	typed := url.Values{"fiscal_year": {year}, "to_fiscal_year": {year}}
	if tk := q.Get("transfer_kind"); k.kind == domain.Transfer && (tk == string(domain.TransferSuccession) || tk == string(domain.TransferCarryOver)) {
		typed.Set("transfer_kind", tk)
		if tk == string(domain.TransferCarryOver) {
			// A carry-over is dated in the next year's first weeks:
			// the one that can be recorded now leaves last year.
			typed.Set("fiscal_year", strconv.Itoa(i18n.DateOf(s.now()).Year-1))
		}
	}
	s.drawRecordForm(w, r, v, http.StatusOK, name, k, key, typed, nil)
}

// validKey tells whether a form's key is one the console drew: a UUID in
// its canonical spelling.
func validKey(key string) bool {
	u, err := uuid.Parse(key)
	return err == nil && u.String() == key
}

func (s *Server) drawRecordForm(w http.ResponseWriter, r *http.Request, v *visit, status int, name string, k recordKind, key string, typed url.Values, err error) {
	p := recordFormPage{Kind: name, Title: "kind." + name, Key: key, Err: err}
	if tk := typed.Get("transfer_kind"); k.kind == domain.Transfer && tk != "" {
		if transferKinds[tk] {
			p.Title = "transfer_kind." + tk
		}
	}
	var named string
	var de *domain.Error
	if errors.As(err, &de) {
		named = de.Field
	}
	for _, f := range k.fields {
		ff := formField{Name: f, Label: v.l.Field(f), Widget: "text", Value: typed.Get(f)}
		if f == named {
			ff.Err = err
		}
		switch {
		case yearFields[f]:
			ff.Widget = "number"
		case amountFields[f]:
			ff.Widget = "amount"
			var ok bool
			ff.Reading, ok = i18n.Reading(v.lang, ff.Value)
			if ff.Value != "" {
				ff.ReadingState = map[bool]string{true: "ok", false: "bad"}[ok]
			}
		case longFields[f]:
			ff.Widget = "textarea"
		case f == "effective_date":
			ff.Widget = "date"
		case f == "province" || f == "to_province":
			ff.Widget, ff.Options = "select", s.provinceOptions(v, k.kind, f, ff.Value)
		case f == "source" || f == "to_source":
			ff.Widget, ff.Options = "select", sourceOptions(v, f, ff.Value)
		case f == "category":
			ff.Widget, ff.Options = "select", categoryOptions(v, ff.Value)
		case f == "transfer_kind":
			ff.Widget, ff.Options = "select", transferKindOptions(v, ff.Value)
		}
		p.Fields = append(p.Fields, ff)
	}
	if err != nil && !slices.Contains(k.fields, named) {
		p.Other = err
	}
	s.render(w, r, v, status, "record_form", p.Title, p)
}

var transferKinds = map[string]bool{string(domain.TransferSuccession): true, string(domain.TransferCarryOver): true}

// provinceOptions are the provinces the visitor may choose: an officer's
// own, an admin's every province in force today and, on the forms that
// may move money of a merged province's line (a refund, a lapse, a
// transfer out of it), the codes of before the 2025 merger too. A value
// posted outside them is kept, so that the form shows what was sent.
func (s *Server) provinceOptions(v *visit, kind domain.CommandKind, field, value string) []option {
	today := i18n.DateOf(s.now())
	var codes []string
	if v.account.Role == domain.RoleOfficer {
		codes = slices.Clone(v.account.Provinces)
	} else {
		for _, p := range domain.Provinces(domain.SchemeOn(today)) {
			codes = append(codes, p.Code)
		}
		if field == "province" && (kind == domain.Refund || kind == domain.Lapse || kind == domain.Transfer) {
			for _, p := range domain.Provinces(domain.Scheme63) {
				if !slices.Contains(codes, p.Code) {
					codes = append(codes, p.Code)
				}
			}
		}
	}
	if value != "" && !slices.Contains(codes, value) {
		codes = append(codes, value)
	}
	opts := make([]option, 0, len(codes)+1)
	if len(codes) > 1 {
		opts = append(opts, option{Value: "", Label: v.l.T("record.choose")})
	}
	for _, c := range codes {
		label := c
		if p, ok := domain.ProvinceName(c, today.Year); ok {
			label = c + " · " + p.Name
		} else if p, ok := domain.LookupProvince(domain.Scheme63, c); ok {
			label = c + " · " + p.Name
		}
		opts = append(opts, option{Value: c, Label: label, Selected: c == value})
	}
	return opts
}

// sourceOptions are an officer's sources, or both; a transfer's
// destination may also be left to its source's.
func sourceOptions(v *visit, field, value string) []option {
	srcs := domain.Sources()
	if v.account.Role == domain.RoleOfficer {
		srcs = v.account.Sources
	}
	var opts []option
	if field == "to_source" {
		opts = append(opts, option{Value: "", Label: v.l.T("record.same_source")})
	} else if len(srcs) > 1 {
		opts = append(opts, option{Value: "", Label: v.l.T("record.choose")})
	}
	known := false
	for _, src := range srcs {
		s := string(src)
		known = known || s == value
		label, short := v.l.T("source."+s+".name"), v.l.T("source."+s)
		if !strings.Contains(label, short) {
			label = short + " · " + label
		}
		opts = append(opts, option{Value: s, Label: label, Selected: s == value})
	}
	if value != "" && !known {
		opts = append(opts, option{Value: value, Label: value, Selected: true})
	}
	return opts
}

func categoryOptions(v *visit, value string) []option {
	opts := []option{{Value: "", Label: v.l.T("record.no_category")}}
	known := value == ""
	for _, c := range domain.Categories() {
		known = known || string(c) == value
		opts = append(opts, option{Value: string(c), Label: v.l.T("category." + string(c)), Selected: string(c) == value})
	}
	if !known {
		opts = append(opts, option{Value: value, Label: value, Selected: true})
	}
	return opts
}

func transferKindOptions(v *visit, value string) []option {
	opts := []option{{Value: "", Label: v.l.T("record.choose")}}
	known := value == ""
	for _, tk := range []domain.TransferKind{domain.TransferSuccession, domain.TransferCarryOver} {
		known = known || string(tk) == value
		opts = append(opts, option{Value: string(tk), Label: v.l.T("transfer_kind." + string(tk)), Selected: string(tk) == value})
	}
	if !known {
		opts = append(opts, option{Value: value, Label: value, Selected: true})
	}
	return opts
}

// recordPost records the movement a form describes: its body built from
// the form's fields, posted to the API with the form's idempotency key.
// A success, or a movement already recorded with that key, goes to its
// confirmation (303, so that a refresh there posts nothing); a refusal
// redraws the form as typed, the refusal beside the field it names.
func (s *Server) recordPost(w http.ResponseWriter, r *http.Request, v *visit) {
	name := r.PathValue("kind")
	k, ok := recordKinds[name]
	if !ok {
		s.notFound(w, r, v)
		return
	}
	if err := v.account.MayRecordAny(); err != nil {
		// The API would refuse it the same; an account that records
		// nothing gets no form back.
		s.problem(w, r, v, err)
		return
	}
	typed := url.Values{}
	for _, f := range k.fields {
		if val := strings.TrimSpace(r.PostForm.Get(f)); val != "" {
			typed.Set(f, val)
		}
	}
	key := r.PostForm.Get("idempotency_key")
	body, err := recordBody(k, typed)
	if err == nil {
		err = s.recordCall(w, r, v, k, key, typed, body)
		if err == nil {
			return
		}
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		s.failed(w, r, v, err)
		return
	}
	if de.Code == domain.CodeIdempotencyKeyReused || !validKey(key) {
		// The form's key recorded another movement (or was tampered
		// with): this one gets a form of its own.
		key = uuid.Must(uuid.NewV7()).String()
	}
	s.drawRecordForm(w, r, v, statusOf(de.Code), name, k, key, typed, err)
}

// recordBody is the API's body for what was typed: the kind's fields
// only, the empty ones left out, years as numbers and amounts in the
// machine form. An amount the domain's parser cannot read is refused
// here, beside its field, and nothing is sent.
func recordBody(k recordKind, typed url.Values) (map[string]any, error) {
	body := map[string]any{}
	for _, f := range k.fields {
		val := typed.Get(f)
		if val == "" {
			continue
		}
		switch {
		case yearFields[f]:
			n, err := strconv.Atoi(val)
			if err != nil || n == 0 {
				n = -1 // not a year: the API names the field and the rule
			}
			body[f] = n
		case amountFields[f]:
			a, err := domain.ParseHumanAmount(val)
			if err != nil {
				var de *domain.Error
				if errors.As(err, &de) {
					c := *de
					c.Field = f
					return nil, &c
				}
				return nil, domain.Errorf(domain.CodeInvalidAmount, f, "%v", err)
			}
			body[f] = a.String()
		default:
			body[f] = val
		}
	}
	return body, nil
}

// recordCall posts body and, on success, sends the visitor to the
// confirmation of what the API answered.
func (s *Server) recordCall(w http.ResponseWriter, r *http.Request, v *visit, k recordKind, key string, typed url.Values, body map[string]any) error {
	q := request{method: http.MethodPost, path: k.path, header: http.Header{"Idempotency-Key": {key}}, body: body}
	rec, err := s.do(r, v, q)
	if err != nil {
		return err
	}
	done := url.Values{}
	var seq uint64
	var replayed bool
	if k.kind == domain.Transfer {
		var res api.TransferResponse
		if err := rec.decode(q, &res); err != nil {
			return err
		}
		seq, replayed = res.Out.Seq, res.Replayed
		done.Set("in_seq", strconv.FormatUint(res.In.Seq, 10))
	} else {
		var res api.RecordResponse
		if err := rec.decode(q, &res); err != nil {
			return err
		}
		seq, replayed = res.Seq, res.Replayed
	}
	if replayed {
		done.Set("again", "1")
	}
	if t := typed.Get(amountField(k.kind)); t != "" && len(t) <= maxTypedAmount {
		done.Set("typed", t)
	}
	http.Redirect(w, r, "/record/done/"+strconv.FormatUint(seq, 10)+"?"+done.Encode(), http.StatusSeeOther)
	return nil
}

// amountField is the field that carries a kind's amount.
func amountField(k domain.CommandKind) string {
	c := domain.Command{Kind: k}
	return c.AmountField()
}

// recorded is one event of a confirmation, as the audit trail has it:
// the line's (and project's) balance right after it.
type recorded struct {
	Seq     uint64
	Event   domain.Event
	Line    domain.Balance
	Project *domain.Balance
	// Kind is the form's kind; Side "out" or "in" on a transfer.
	Kind, Side   string
	ProvinceName string
}

// recordDonePage confirms a movement: its event(s) and balances, read
// from the API, never from the address.
type recordDonePage struct {
	Events []recorded
	// Replayed says the API answered that the movement was recorded
	// before.
	Replayed bool
	// Reading is what was understood of the typed amount, when it is the
	// amount recorded.
	Reading string
	// Kind is the movement's form, KindTitle the key of its name, and
	// Again the form's address for another one.
	Kind, KindTitle, Again string
}

// recordDone is a movement's confirmation. The address names the event's
// sequence (and a transfer's other side); the figures are the API's
// (GET /v1/events/{seq}: the event and its line's totals right after it),
// read as the visitor's account, so a sequence edited into the address
// shows only what the visitor may see, or nothing.
func (s *Server) recordDone(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	var p recordDonePage
	p.Replayed = q.Get("again") != ""
	seqs := []string{r.PathValue("seq")}
	if in := q.Get("in_seq"); in != "" {
		seqs = append(seqs, in)
	}
	for _, seq := range seqs {
		e, err := s.recordedEvent(r, v, seq)
		if err != nil {
			s.problem(w, r, v, err)
			return
		}
		p.Events = append(p.Events, e)
	}
	first := p.Events[0]
	if len(p.Events) == 2 {
		// The two sides of one transfer, or the address was edited.
		out, in := &p.Events[0], &p.Events[1]
		if out.Event.Type != domain.TypeTransferredOut || in.Event.Type != domain.TypeTransferredIn || in.Event.TransferID != out.Event.ID {
			s.problem(w, r, v, domain.Errorf(domain.CodeNotFound, "in_seq", "seq %d is not the other side of the transfer at seq %d", in.Seq, out.Seq))
			return
		}
		out.Side, in.Side = "out", "in"
	}
	p.Kind, p.KindTitle, p.Again = first.Kind, "kind."+first.Kind, "/record/"+first.Kind
	if tk := first.Event.TransferKind; tk != "" {
		p.KindTitle = "transfer_kind." + string(tk)
		p.Again += "?transfer_kind=" + url.QueryEscape(string(tk))
	}
	if t := q.Get("typed"); t != "" && len(t) <= maxTypedAmount {
		if a, err := domain.ParseHumanAmount(t); err == nil && a.Equal(first.Event.Amount) {
			p.Reading, _ = i18n.Reading(v.lang, t)
		}
	}
	s.render(w, r, v, http.StatusOK, "record_done", "record.done_title", p)
}

// recordedEvent reads the event at seq as the audit trail shows it.
func (s *Server) recordedEvent(r *http.Request, v *visit, seq string) (recorded, error) {
	var en projections.TrailEntry
	if err := s.call(r, v, request{method: http.MethodGet, path: "/v1/events/" + url.PathEscape(seq)}, &en); err != nil {
		return recorded{}, err
	}
	rc := recorded{Seq: en.Seq, Event: en.Event, Line: en.Line, Project: en.Project, Kind: kindOfEvent(en.Event.Type)}
	if rc.Kind == "" {
		// A repudiation is no movement a form records.
		return recorded{}, domain.Errorf(domain.CodeNotFound, "", "seq %d is no movement", en.Seq)
	}
	if p, ok := domain.ProvinceName(en.Event.Province, en.Event.FiscalYear); ok {
		rc.ProvinceName = p.Name
	} else if p, ok := domain.LineCode(en.Event.Province, en.Event.FiscalYear); ok {
		rc.ProvinceName = p.Name
	}
	return rc, nil
}

// kindOfEvent is the form that records events of type t.
func kindOfEvent(t domain.EventType) string {
	for name, k := range recordKinds {
		if k.kind.EventType() == t {
			return name
		}
	}
	if t == domain.TypeTransferredIn {
		return "transfer"
	}
	return ""
}

// readingAnswer is what GET /reading answers: the reading of a typed
// amount, and whether the ledger could read it.
type readingAnswer struct {
	Text string `json:"text"`
	OK   bool   `json:"ok"`
}

// reading tells a form, as its visitor types, what the ledger reads in a
// typed amount: i18n.Reading, which reads it with the same parser the
// form posts it with. app.js asks it; without JavaScript the form shows
// the same reading on a refusal and on the confirmation.
func (s *Server) reading(w http.ResponseWriter, r *http.Request, v *visit) {
	text, ok := i18n.Reading(v.lang, r.URL.Query().Get("amount"))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", string(v.lang))
	_ = json.NewEncoder(w).Encode(readingAnswer{Text: text, OK: ok})
}
