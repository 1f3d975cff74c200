package api

import (
	"net/http"
	"strconv"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
)

// getEvent answers GET /v1/events/{seq}: the audit trail's entry of the
// event at that stream sequence (the event as recorded, with its hash,
// previous hash and signing key; when the server stored it; its line's and
// project's totals right after it), to whoever the audit trail would show
// it. A sequence the stream lacks, or whose message was repudiated, is not
// found; another province's or source's event is forbidden to an officer.
func (a *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	acc := accountOf(r)
	if err := acc.MayRead(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if err := checkParams(r.URL.Query()); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	s := r.PathValue("seq")
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil || seq == 0 {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidField, "seq", "seq %q is not a stream sequence (1, 2, …)", s))
		return
	}
	se, ok, err := a.history.Event(r.Context(), seq)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if !ok || a.repudiations.Has(seq) && a.repudiations.Covers(seq, se.Digest()) {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeNotFound, "seq", "no event at seq %d", seq))
		return
	}
	if st := a.health.Stalled(); st != nil && seq >= st.Seq {
		WriteError(w, r, a.log, st.unavailable())
		return
	}
	if se.Err != nil {
		WriteError(w, r, a.log, unsoundAt(seq, se.Err))
		return
	}
	if se.Unsigned != nil {
		WriteError(w, r, a.log, unsoundAt(seq, se.Unsigned))
		return
	}
	k := se.Recorded.Event.Line()
	if err := acc.MayReadProvince(k.Province); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if !acc.Sees(k) {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeForbidden, "source", "account %s may not read the line of seq %d", acc.Name, seq))
		return
	}
	// The totals after it: its line's trail up to it, one entry long,
	// from the line's latest mark before it.
	f := projections.Filter{FiscalYear: k.FiscalYear, Province: k.Province, Source: k.Source}
	trail := projections.NewTrail(f, "", projections.Cut{}, seq-1, 1)
	from := a.resumeTrail(trail, f, projections.Cut{}, seq)
	if err := a.scanTrail(r.Context(), eventstore.LineFilter(k), from, seq, projections.Cut{}, trail, 1); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if len(trail.Entries) == 0 || trail.Entries[0].Seq != seq {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeNotFound, "seq", "no event at seq %d", seq))
		return
	}
	writeJSON(w, http.StatusOK, trail.Entries[0])
}
