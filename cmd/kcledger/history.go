package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// Limits of the history routes.
const (
	defaultAuditPage = 100
	maxAuditPage     = 1000
)

// historyReader is what the API needs of eventstore.Reader: views of the
// past are rebuilt from the stream itself, read with a subject filter so
// that the server skips other years, provinces and sources.
type historyReader interface {
	State(ctx context.Context) (eventstore.StreamState, error)
	ScanFilter(ctx context.Context, filter string, last uint64, fn func(eventstore.StoredEvent) (bool, error)) error
	// Digest is the domain.MessageDigest of the message at seq ("" when
	// the stream lacks it): what a repudiation names.
	Digest(ctx context.Context, seq uint64) (string, error)
}

// cutView is a Cut as the API shows it.
type cutView struct {
	UntilSeq       uint64       `json:"until_seq,omitempty"`
	AsOf           *time.Time   `json:"as_of,omitempty"`
	EffectiveUntil *domain.Date `json:"effective_until,omitempty"`
}

func viewOfCut(c projections.Cut) *cutView {
	if c.IsZero() {
		return nil
	}
	v := &cutView{UntilSeq: c.UntilSeq}
	if !c.AsOf.IsZero() {
		v.AsOf = &c.AsOf
	}
	if !c.EffectiveUntil.IsZero() {
		v.EffectiveUntil = &c.EffectiveUntil
	}
	return v
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
			return c, webapi.WithField(err, "effective_until")
		}
		c.EffectiveUntil = d
	}
	return c, nil
}

// readFilter is what every read route starts with: the account may read,
// the filter parses and stays within what the account sees.
func (a *api) readFilter(r *http.Request) (projections.Filter, error) {
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
func (a *api) pastBalances(w http.ResponseWriter, r *http.Request, f projections.Filter) {
	state, err := a.history.State(r.Context())
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	cut, err := parseCut(r.URL.Query(), a.now(), state.LastSeq)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	past := projections.NewPast(cut)
	err = a.scanPast(r.Context(), eventstore.Filter(f.FiscalYear, f.Province, f.Source), state.LastSeq, cut, past.Add)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	webapi.WriteJSON(w, http.StatusOK, struct {
		projections.Report
		Cut *cutView `json:"cut"`
	}{past.Report(f), viewOfCut(cut)})
}

// scanPast feeds add, in order, the messages of filter up to last that a
// view of the past at cut counts: a repudiated message passed over (while
// it is the message repudiated), and a refusal, naming it, at a message
// that is not sound (undecodable, unsigned, breaking a rule) or past the
// one the live balances stopped before.
func (a *api) scanPast(ctx context.Context, filter string, last uint64, cut projections.Cut, add func(domain.Recorded, time.Time) (bool, error)) error {
	stalled := a.health.stalled()
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

// auditResponse is a page of an audit trail.
type auditResponse struct {
	Entries []projections.TrailEntry `json:"entries"`
	// NextAfterSeq, when set, asks for the next page: ?after_seq=N.
	NextAfterSeq uint64   `json:"next_after_seq,omitempty"`
	Cut          *cutView `json:"cut,omitempty"`
}

func (a *api) getAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := webapi.CheckParams(q, "year", "province", "source", "project", "as_of", "until_seq", "effective_until", "after_seq", "limit"); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	f, err := a.readFilter(r)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	project := q.Get("project")
	if project != "" {
		if err := domain.ValidateProject(project); err != nil {
			webapi.WriteError(w, r, a.log, err)
			return
		}
	}
	limit := defaultAuditPage
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxAuditPage {
			webapi.WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidField, "limit", "limit %q: want 1 to %d entries a page", s, maxAuditPage))
			return
		}
	}
	var after uint64
	if s := q.Get("after_seq"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			webapi.WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidField, "after_seq", "after_seq %q is not a stream sequence", s))
			return
		}
	}
	state, err := a.history.State(r.Context())
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	cut, err := parseCut(q, a.now(), state.LastSeq)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	trail := projections.NewTrail(f, project, cut, after, limit)
	stalled := a.health.stalled()
	var prev domain.Recorded
	err = a.history.ScanFilter(r.Context(), eventstore.Filter(f.FiscalYear, f.Province, f.Source), state.LastSeq, func(se eventstore.StoredEvent) (bool, error) {
		if a.repudiations.Has(se.Seq) && a.repudiations.Covers(se.Seq, se.Digest()) {
			return trail.Add(domain.Recorded{Seq: se.Seq, Repudiated: true}, se.Stored), nil
		}
		if cut.EndsAt(se.At(), prev, se.Stored) {
			return false, nil
		}
		prev = se.At()
		if (stalled != nil && se.Seq >= stalled.Seq) || se.Err != nil || se.Unsigned != nil {
			if len(trail.Entries) == limit {
				trail.More = true // the page before it is whole
				return false, nil
			}
			if stalled != nil && se.Seq >= stalled.Seq {
				return false, stalled.unavailable()
			}
			if se.Err != nil {
				return false, unsoundAt(se.Seq, se.Err)
			}
			return false, unsoundAt(se.Seq, se.Unsigned)
		}
		return trail.Add(se.Recorded, se.Stored), nil
	})
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	res := auditResponse{Entries: trail.Entries, Cut: viewOfCut(cut)}
	if trail.More {
		res.NextAfterSeq = trail.Entries[len(trail.Entries)-1].Seq
	}
	webapi.WriteJSON(w, http.StatusOK, res)
}

// runAudit is `kcledger audit`: the audit trail, a page at a time.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit", "list movements in stream order with who recorded them, when, under which decision or voucher, and the line's totals after each", stderr)
	server := addClientFlags(fs)
	year := fs.Int("year", 0, "only this fiscal year")
	province := fs.String("province", "", "only this province code")
	source := fs.String("source", "", "only this source: national (KCQG) or local (KCĐP)")
	project := fs.String("project", "", "only this project (đề án)")
	past := addPastFlags(fs)
	after := fs.Uint64("after-seq", 0, "start after this sequence (the next page)")
	limit := fs.Int("limit", defaultAuditPage, fmt.Sprintf("entries per page, at most %d", maxAuditPage))
	all := fs.Bool("all", false, "follow every page to the end")
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print JSON, one page per line (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger audit: %v\n", err)
		return exitUsage
	}
	q, err := lineQuery(*year, *province, *source)
	if err != nil {
		fmt.Fprintf(stderr, "kcledger audit: %v\n", err)
		return exitUsage
	}
	if err := past.set(q); err != nil {
		fmt.Fprintf(stderr, "kcledger audit: %v\n", err)
		return exitUsage
	}
	if *project != "" {
		q.Set("project", *project)
	}
	q.Set("limit", strconv.Itoa(*limit))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, auditHeader)
	}
	for {
		q.Set("after_seq", strconv.FormatUint(*after, 10))
		var res auditResponse
		if _, err := c.do(ctx, http.MethodGet, "/v1/audit?"+q.Encode(), nil, nil, &res); err != nil {
			_ = tw.Flush()
			return exitFor(err, stderr, *server.server)
		}
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(res)
		}
		for _, e := range res.Entries {
			if *asJSON {
				break
			}
			printAuditEntry(tw, e)
		}
		if res.NextAfterSeq == 0 || !*all {
			_ = tw.Flush()
			if res.NextAfterSeq != 0 && !*asJSON {
				fmt.Fprintf(stdout, "More: kcledger audit … --after-seq %d (or --all)\n", res.NextAfterSeq)
			}
			return exitOK
		}
		*after = res.NextAfterSeq
	}
}

// auditHeader heads the audit table: the line's totals after each
// movement close it, the transfers' and lapses' among them.
const auditHeader = "Seq\tRecorded\tBy\tLine\tProject\tMovement\tAmount\tEffective\tReference\tAvailable after\tTransferred in after\tTransferred out after\tLapsed after"

// printAuditEntry writes one row of the audit table.
func printAuditEntry(tw io.Writer, e projections.TrailEntry) {
	ev := e.Event
	ref := ev.Decision + ev.Voucher
	if ev.Beneficiary != "" {
		ref += " → " + ev.Beneficiary
	}
	if ev.Reason != "" {
		ref += " (" + ev.Reason + ")"
	}
	if ev.Type == domain.TypeRepudiated {
		// On no line, moving no money: what it passes over.
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t\t%s\t\t%s\tseq %d repudiated: %s\t\t\t\t\n", e.Seq, humanTime(ev.RecordedAt), ev.Actor,
			"ledger", ev.Type.Kind(), ev.EffectiveDate, ev.RepudiatedSeq, ref)
		return
	}
	b := e.Line
	fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, humanTime(ev.RecordedAt), ev.Actor,
		lineLabel(ev.Line()), ev.Project, movementLabel(&ev), ev.Amount.VND(), ev.EffectiveDate, ref,
		b.Available().VND(), b.TransferredIn.VND(), b.TransferredOut.VND(), b.Lapsed.VND())
}

// movementLabel is a movement's kind as the audit table shows it: a
// transfer's side with its kind and the other line, a lapse saying
// whether it closed the line.
func movementLabel(ev *domain.Event) string {
	switch ev.Type {
	case domain.TypeTransferredOut:
		return fmt.Sprintf("%s (%s) → %s", ev.Type.Kind(), ev.TransferKind, lineLabel(ev.ToLine))
	case domain.TypeTransferredIn:
		return fmt.Sprintf("%s (%s) ← %s", ev.Type.Kind(), ev.TransferKind, lineLabel(ev.FromLine))
	case domain.TypeLapsed:
		if ev.Project == "" {
			return ev.Type.Kind() + " (line closed: refunds only)"
		}
		return ev.Type.Kind() + " (project)"
	}
	return ev.Type.Kind()
}
