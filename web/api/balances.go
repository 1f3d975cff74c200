package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
)

func (a *Server) getBalances(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := checkParams(q, "year", "province", "source", "as_of", "until_seq", "effective_until"); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	f, err := a.readFilter(r)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if q.Has("as_of") || q.Has("until_seq") || q.Has("effective_until") {
		a.pastBalances(w, r, f)
		return
	}
	if err := a.sound(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if err := a.waitForWrites(r.Context()); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, a.balances.Report(f))
}

// parseFilter reads ?year=&province=&source=, all optional.
func parseFilter(r *http.Request) (projections.Filter, error) {
	q := r.URL.Query()
	var f projections.Filter
	if y := q.Get("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < domain.MinFiscalYear || n > domain.MaxFiscalYear {
			return f, domain.Errorf(domain.CodeInvalidYear, "year", "year %q must be a fiscal year from %d to %d", y, domain.MinFiscalYear, domain.MaxFiscalYear)
		}
		f.FiscalYear = n
	}
	if p := q.Get("province"); p != "" {
		if _, ok := domain.LookupProvince(domain.Scheme63, p); !ok {
			if _, ok := domain.LookupProvince(domain.Scheme34, p); !ok {
				return f, domain.Errorf(domain.CodeUnknownProvince, "province", "unknown province code %q", p)
			}
		}
		f.Province = p
	}
	if s := q.Get("source"); s != "" {
		src, err := domain.ParseSource(s)
		if err != nil {
			return f, err
		}
		f.Source = src
	}
	return f, nil
}

// ProvincesResponse is the body of GET /v1/provinces.
type ProvincesResponse struct {
	Date      domain.Date       `json:"date"`
	Scheme    domain.Scheme     `json:"scheme"`
	Provinces []domain.Province `json:"provinces"`
}

func (a *Server) getProvinces(w http.ResponseWriter, r *http.Request) {
	if err := accountOf(r).MayRead(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	d := domain.DateOf(a.now().In(vietnam))
	if s := r.URL.Query().Get("date"); s != "" {
		var err error
		if d, err = domain.ParseDate(s); err != nil {
			WriteError(w, r, a.log, withField(err, "date"))
			return
		}
	}
	s := domain.SchemeOn(d)
	writeJSON(w, http.StatusOK, ProvincesResponse{Date: d, Scheme: s, Provinces: domain.Provinces(s)})
}

// HistoryReader is what the API needs of eventstore.Reader: views of the
// past are rebuilt from the stream itself, read with a subject filter so
// that the server skips other years, provinces and sources.
type HistoryReader interface {
	State(ctx context.Context) (eventstore.StreamState, error)
	ScanFilter(ctx context.Context, filter string, last uint64, fn func(eventstore.StoredEvent) (bool, error)) error
	// ScanFilterFrom is ScanFilter from sequence from on.
	ScanFilterFrom(ctx context.Context, filter string, from, last uint64, fn func(eventstore.StoredEvent) (bool, error)) error
	// Digest is the domain.MessageDigest of the message at seq ("" when
	// the stream lacks it): what a repudiation names.
	Digest(ctx context.Context, seq uint64) (string, error)
	// Event is the message at seq as a scan delivers it, false when the
	// stream lacks it (GET /v1/events/{seq}).
	Event(ctx context.Context, seq uint64) (eventstore.StoredEvent, bool, error)
}

// CutView is a Cut as the API shows it.
type CutView struct {
	UntilSeq       uint64       `json:"until_seq,omitempty"`
	AsOf           *time.Time   `json:"as_of,omitempty"`
	EffectiveUntil *domain.Date `json:"effective_until,omitempty"`
}

func viewOfCut(c projections.Cut) *CutView {
	if c.IsZero() {
		return nil
	}
	v := &CutView{UntilSeq: c.UntilSeq}
	if !c.AsOf.IsZero() {
		v.AsOf = &c.AsOf
	}
	if !c.EffectiveUntil.IsZero() {
		v.EffectiveUntil = &c.EffectiveUntil
	}
	return v
}

// cutOfStream reads the request's cut (parseCut) against the stream as it
// stands now, and returns it with the stream's last sequence.
func (a *Server) cutOfStream(r *http.Request, q url.Values) (projections.Cut, uint64, error) {
	state, err := a.history.State(r.Context())
	if err != nil {
		return projections.Cut{}, 0, err
	}
	cut, err := parseCut(q, a.now(), state.LastSeq)
	return cut, state.LastSeq, err
}

// parseCut reads ?as_of=&until_seq=&effective_until=, all optional, and
// checks them against the stream, whose last sequence is last.
func parseCut(q url.Values, now time.Time, last uint64) (projections.Cut, error) {
	var c projections.Cut
	if s := q.Get("as_of"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return c, domain.Errorf(domain.CodeInvalidField, "as_of", "as_of %q is not a time with its zone, such as 2025-06-30T17:00:00+07:00", s)
		}
		if t.After(now) {
			return c, domain.Errorf(domain.CodeInvalidField, "as_of", "as_of %s is in the future", s)
		}
		c.AsOf = t
	}
	if s := q.Get("until_seq"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return c, domain.Errorf(domain.CodeInvalidField, "until_seq", "until_seq %q is not a stream sequence (1, 2, …)", s)
		}
		if n > last {
			return c, domain.Errorf(domain.CodeInvalidField, "until_seq", "until_seq %d is beyond the stream, which ends at %d", n, last)
		}
		c.UntilSeq = n
	}
	if s := q.Get("effective_until"); s != "" {
		d, err := domain.ParseDate(s)
		if err != nil {
			return c, withField(err, "effective_until")
		}
		c.EffectiveUntil = d
	}
	return c, nil
}

// readFilter is what every read route starts with: the account may read,
// the filter parses and stays within what the account sees.
func (a *Server) readFilter(r *http.Request) (projections.Filter, error) {
	acc := accountOf(r)
	if err := acc.MayRead(); err != nil {
		return projections.Filter{}, err
	}
	f, err := parseFilter(r)
	if err != nil {
		return f, err
	}
	if f.Province != "" {
		if err := acc.MayReadProvince(f.Province); err != nil {
			return f, err
		}
	}
	f.Allow = acc.Sees
	return f, nil
}

// pastBalances answers GET /v1/balances with a cut: rebuilt from the
// stream, up to the cut.
func (a *Server) pastBalances(w http.ResponseWriter, r *http.Request, f projections.Filter) {
	state, err := a.history.State(r.Context())
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	cut, err := parseCut(r.URL.Query(), a.now(), state.LastSeq)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	past := projections.NewPast(cut)
	err = a.scanPast(r.Context(), eventstore.Filter(f.FiscalYear, f.Province, f.Source), state.LastSeq, cut, past.Add)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		projections.Report
		Cut *CutView `json:"cut"`
	}{past.Report(f), viewOfCut(cut)})
}

// scanPast feeds add, in order, the messages of filter up to last that a
// view of the past at cut counts: a repudiated message passed over (while
// it is the message repudiated), and a refusal, naming it, at a message
// that is not sound (undecodable, unsigned, breaking a rule) or past the
// one the live balances stopped before.
func (a *Server) scanPast(ctx context.Context, filter string, last uint64, cut projections.Cut, add func(domain.Recorded, time.Time) (bool, error)) error {
	stalled := a.health.Stalled()
	var prev domain.Recorded // the last message taken: a cut never ends inside a transfer
	return a.history.ScanFilter(ctx, filter, last, func(se eventstore.StoredEvent) (bool, error) {
		if cut.EndsAt(se.At(), prev, se.Stored) {
			return false, nil
		}
		prev = se.At()
		if a.repudiations.Has(se.Seq) && a.repudiations.Covers(se.Seq, se.Digest()) {
			return add(domain.Recorded{Seq: se.Seq, Repudiated: true}, se.Stored)
		}
		if stalled != nil && se.Seq >= stalled.Seq {
			return false, stalled.unavailable()
		}
		if se.Err != nil {
			return false, unsoundAt(se.Seq, se.Err)
		}
		if se.Unsigned != nil {
			return false, unsoundAt(se.Seq, se.Unsigned)
		}
		more, err := add(se.Recorded, se.Stored)
		if errors.Is(err, domain.ErrCorrupt) {
			err = unsoundAt(se.Seq, err)
		}
		return more, err
	})
}
