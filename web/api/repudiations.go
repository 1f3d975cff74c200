package api

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/domain"
)

// repudiationRequest is the body of POST /v1/repudiations.
type repudiationRequest struct {
	Seq      uint64 `json:"seq"`
	Reason   string `json:"reason"`
	Decision string `json:"decision"`
	// EffectiveDate is the decision's date; today in Vietnam when absent.
	EffectiveDate *domain.Date `json:"effective_date"`
}

var repudiationFields = map[string]bool{"seq": true, "reason": true, "decision": true, "effective_date": true}

func decodeRepudiation(body []byte) (repudiationRequest, error) {
	return decodeBody[repudiationRequest](body, repudiationFields, "effective_date")
}

// RepudiationResponse answers POST /v1/repudiations.
type RepudiationResponse struct {
	Event    domain.Event `json:"event"`
	Seq      uint64       `json:"seq"`
	Replayed bool         `json:"replayed"`
}

// repudiate records that the message the balances stopped on is
// repudiated. Admins only. It refuses a sequence that does not exist, one
// already repudiated, and any message not found unsound: a sound event is
// corrected by a movement, never repudiated.
func (a *Server) repudiate(w http.ResponseWriter, r *http.Request) {
	acc := accountOf(r)
	if err := acc.MayManageAccounts(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	req, err := decodeRepudiation(body)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidIdempotencyKey, "Idempotency-Key",
			"the Idempotency-Key header is required: a unique key per repudiation (a UUID), reused only to retry the same request"))
		return
	}
	if req.Seq == 0 {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeMissingField, "seq", "seq is required: the stream sequence of the bad message"))
		return
	}
	now := a.now().UTC()
	date := domain.DateOf(now.In(vietnam))
	if req.EffectiveDate != nil && !req.EffectiveDate.IsZero() {
		date = *req.EffectiveDate
	}
	// One at a time, so that two admins cannot both repudiate one message.
	a.repudiating.Lock()
	defer a.repudiating.Unlock()
	if err := a.mayRepudiate(r.Context(), req.Seq, key); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	// What the repudiation names is that message, not only its place.
	digest, err := a.history.Digest(r.Context(), req.Seq)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	cmd := domain.Command{
		Kind: domain.Repudiate, RepudiatedSeq: req.Seq, RepudiatedDigest: digest, Reason: req.Reason, Decision: req.Decision, EffectiveDate: date,
		IdempotencyKey: key, EventID: uuid.Must(uuid.NewV7()).String(), Now: now, Actor: acc.Name,
	}
	res, err := a.ledger.Record(r.Context(), cmd)
	a.observeCommand(domain.TypeRepudiated, res.Replayed, err)
	if err != nil {
		if c := domain.ErrorCode(err); c == domain.CodeInvalidIdempotencyKey || c == domain.CodeIdempotencyKeyReused {
			err = withField(err, "Idempotency-Key")
		}
		WriteError(w, r, a.log, err)
		return
	}
	a.repudiations.Add(res.Recorded)
	status := http.StatusCreated
	if res.Replayed {
		status = http.StatusOK
	} else {
		a.log.Warn("message repudiated", "seq", req.Seq, "by_seq", res.Recorded.Seq, "by", acc.Name, "decision", req.Decision, "reason", req.Reason)
	}
	writeJSON(w, status, RepudiationResponse{Event: res.Recorded.Event, Seq: res.Recorded.Seq, Replayed: res.Replayed})
}

// mayRepudiate refuses what must not be repudiated; a retry of the
// repudiation already recorded under key passes, to be replayed.
func (a *Server) mayRepudiate(ctx context.Context, seq uint64, key string) error {
	if rep, ok := a.repudiations.Get(seq); ok {
		if rep.Event.IdempotencyKey == key {
			return nil
		}
		return domain.Errorf(domain.CodeConflict, "seq", "the message at seq %d is already repudiated, by seq %d (%s, %s: %s)",
			seq, rep.Seq, rep.Event.Actor, rep.Event.Decision, rep.Event.Reason)
	}
	state, err := a.history.State(ctx)
	if err != nil {
		return err
	}
	if seq > state.LastSeq {
		return domain.Errorf(domain.CodeNotFound, "seq", "there is no message at seq %d: the stream ends at seq %d", seq, state.LastSeq)
	}
	st := a.health.Stalled()
	switch {
	case st == nil:
		return domain.Errorf(domain.CodeNotRepudiable, "seq", "the message at seq %d is sound: the balances count it, and only a message found unsound may be repudiated; history is never edited, correct a movement with an adjustment or a refund", seq)
	case seq < st.Seq:
		return domain.Errorf(domain.CodeNotRepudiable, "seq", "the message at seq %d is sound: the balances counted it before stopping at seq %d; only that message is found unsound, and a sound event is corrected by an adjustment or a refund", seq, st.Seq)
	case seq > st.Seq:
		return domain.Errorf(domain.CodeNotRepudiable, "seq", "the balances stopped at seq %d, before seq %d, which is not judged yet; repudiate seq %d first if it is to be", st.Seq, seq, st.Seq)
	}
	return nil
}
