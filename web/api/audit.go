package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
)

// Limits of the audit route, which the CLI's flags also name.
const (
	DefaultAuditPage = 100
	MaxAuditPage     = 1000
)

// AuditResponse is a page of an audit trail.
type AuditResponse struct {
	Entries []projections.TrailEntry `json:"entries"`
	// NextAfterSeq, when set, asks for the next page: ?after_seq=N.
	NextAfterSeq uint64   `json:"next_after_seq,omitempty"`
	Cut          *CutView `json:"cut,omitempty"`
}

func (a *Server) getAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := checkParams(q, "year", "province", "source", "project", "as_of", "until_seq", "effective_until", "after_seq", "limit"); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	f, err := a.readFilter(r)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	project := q.Get("project")
	if project != "" {
		if err := domain.ValidateProject(project); err != nil {
			WriteError(w, r, a.log, err)
			return
		}
	}
	limit := DefaultAuditPage
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > MaxAuditPage {
			WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidField, "limit", "limit %q: want 1 to %d entries a page", s, MaxAuditPage))
			return
		}
	}
	var after uint64
	if s := q.Get("after_seq"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidField, "after_seq", "after_seq %q is not a stream sequence", s))
			return
		}
	}
	cut, last, err := a.cutOfStream(r, q)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	trail := projections.NewTrail(f, project, cut, after, limit)
	from := a.resumeTrail(trail, f, cut, after+1)
	if err := a.scanTrail(r.Context(), eventstore.Filter(f.FiscalYear, f.Province, f.Source), from, last, cut, trail, limit); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	res := AuditResponse{Entries: trail.Entries, Cut: viewOfCut(cut)}
	if trail.More {
		res.NextAfterSeq = trail.Entries[len(trail.Entries)-1].Seq
	}
	writeJSON(w, http.StatusOK, res)
}

// Trail marks: a line's totals every trailMarkEvery of its movements, at
// most maxTrailMarks of them (projections.TrailMarks): a few megabytes
// for a stream of millions.
const (
	trailMarkEvery = 256
	maxTrailMarks  = 100_000
)

// resumeTrail lets trail note its lines' marks, and starts a trail of one
// line without a cut from the line's latest mark before seq before. It
// returns the sequence to scan from.
func (a *Server) resumeTrail(trail *projections.Trail, f projections.Filter, cut projections.Cut, before uint64) uint64 {
	trail.WithMarks(a.marks)
	if !cut.IsZero() || f.FiscalYear == 0 || f.Province == "" || f.Source == "" {
		return 1
	}
	seq, st := a.marks.Before(domain.LineKey{FiscalYear: f.FiscalYear, Province: f.Province, Source: f.Source}, before)
	if st == nil {
		return 1
	}
	trail.Resume(st)
	return seq + 1
}

// scanTrail feeds trail, in order, the messages of filter from seq from
// up to last within cut: a repudiated message passed over in its place, and a
// refusal, naming it, at a message that is not sound (or past the one the
// live balances stopped before) unless the page of limit entries is whole
// before it.
func (a *Server) scanTrail(ctx context.Context, filter string, from, last uint64, cut projections.Cut, trail *projections.Trail, limit int) error {
	stalled := a.health.Stalled()
	var prev domain.Recorded
	return a.history.ScanFilterFrom(ctx, filter, from, last, func(se eventstore.StoredEvent) (bool, error) {
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
}
