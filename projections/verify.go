package projections

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kcledger/kcledger/domain"
)

// Verification re-checks a stream of events, message by message, against
// everything the ledger guarantees: each message is an event that passes
// the rules it was recorded under, signed by a key of the keyring, on its
// own line's hash chain, keeping every balance invariant, with no
// sequence missing. It records every problem it finds (up to a limit)
// and goes on, so that one bad message does not hide the next.
type Verification struct {
	keys   domain.Keyring
	policy domain.Policy
	lines  map[domain.LineKey]*domain.LineState
	next   uint64 // the sequence the next message should have

	// Events counts the messages checked.
	Events int
	// Problems lists what is wrong, in stream order, at most MaxProblems.
	Problems []Problem
	// More counts the problems beyond MaxProblems.
	More int
	// Repudiated lists the repudiated messages met, in stream order: not
	// problems, but never silent.
	Repudiated []Repudiated

	reps *domain.Repudiations
	// pending is the transferred-out side last met, whose transferred-in
	// side must be the very next message.
	pending *domain.Recorded
}

// Repudiated is a message that a repudiation names, as verify found it.
type Repudiated struct {
	Seq uint64 `json:"seq"`
	// BySeq is the repudiation's own sequence.
	BySeq    uint64 `json:"by_seq"`
	Actor    string `json:"actor"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	// Found is what verify itself finds wrong with the message.
	Found string `json:"found"`
}

// MaxProblems bounds the problems a verification keeps.
const MaxProblems = 100

// Problem is one thing wrong with the stream.
type Problem struct {
	Seq uint64 `json:"seq"`
	// Line is the budget line, when the message is an event.
	Line   *domain.LineKey `json:"line,omitempty"`
	Detail string          `json:"detail"`
}

// NewVerification starts a verification of a stream from its first
// sequence.
func NewVerification(keys domain.Keyring, p domain.Policy) *Verification {
	return &Verification{keys: keys, policy: p, lines: map[domain.LineKey]*domain.LineState{}, next: 1}
}

// Repudiations gives the repudiations of the stream, read before it
// (eventstore.RepudiationSubject): the messages they name are judged, and
// reported as repudiated when they are indeed unsound, but count for
// nothing.
func (v *Verification) Repudiations(r *domain.Repudiations) { v.reps = r }

func (v *Verification) problem(seq uint64, line *domain.LineKey, err error) {
	if len(v.Problems) >= MaxProblems {
		v.More++
		return
	}
	v.Problems = append(v.Problems, Problem{Seq: seq, Line: line, Detail: err.Error()})
}

// Check verifies the message at seq: r is its event, or decodeErr why it
// is none. A repudiation of seq is taken to name this message (tests of
// the verification alone); CheckMessage also checks that it does.
func (v *Verification) Check(seq uint64, r domain.Recorded, decodeErr error) {
	rep, _ := v.reps.Get(seq)
	v.CheckMessage(seq, rep.Event.RepudiatedDigest, r, decodeErr)
}

// CheckMessage is Check of the message at seq whose domain.MessageDigest
// is digest: a repudiation of seq counts only if it names that digest (a
// stream re-created in another order keeps the sequence, not the
// message), otherwise it is a problem and the message is judged.
func (v *Verification) CheckMessage(seq uint64, digest string, r domain.Recorded, decodeErr error) {
	v.CheckSigned(seq, digest, r, decodeErr, Signature{})
}

// Signature is what the keyring's Verify found of a message's event when
// it was checked ahead of the verification, out of order and on every
// core (eventstore.Reader.CheckSignatures): a signature check depends on
// the event alone.
type Signature struct {
	// Checked says that Err is the finding; when it is false the
	// verification checks the signature itself.
	Checked bool
	Err     error
}

// CheckSigned is CheckMessage of a message whose signature was checked
// ahead by the keys the verification was given: sig stands for their
// Verify of r's event, and the findings are the same as CheckMessage's,
// in the same order.
func (v *Verification) CheckSigned(seq uint64, digest string, r domain.Recorded, decodeErr error, sig Signature) {
	v.Events++
	for ; seq > v.next && v.reps.Covers(v.next, ""); v.next++ {
		// A message removed from the stream, and repudiated: listed as
		// such, never silent.
		rep, _ := v.reps.Get(v.next)
		ev := rep.Event
		v.Repudiated = append(v.Repudiated, Repudiated{Seq: v.next, BySeq: rep.Seq, Actor: ev.Actor, Decision: ev.Decision, Reason: ev.Reason,
			Found: fmt.Sprintf("the stream has no message at seq %d", v.next)})
	}
	if seq != v.next {
		if seq > v.next {
			v.problem(v.next, nil, fmt.Errorf("%w: messages %d to %d are missing from the stream (deleted?)", domain.ErrCorrupt, v.next, seq-1))
		} else {
			v.problem(seq, nil, fmt.Errorf("%w: message %d came after %d", domain.ErrCorrupt, seq, v.next-1))
		}
	}
	v.next = max(v.next, seq+1)
	if rep, ok := v.reps.Get(seq); ok {
		if rep.Event.RepudiatedDigest == digest {
			v.pair(seq, nil)
			v.repudiated(seq, r, decodeErr, rep, sig)
			return
		}
		v.problem(seq, nil, fmt.Errorf("%w: repudiation %s at seq %d names seq %d, which now holds another message than the one repudiated (digest %s, not %s): the stream was rewritten", domain.ErrCorrupt, rep.Event.ID, rep.Seq, seq, digest, rep.Event.RepudiatedDigest))
	}
	if decodeErr != nil {
		v.pair(seq, nil)
		v.problem(seq, nil, decodeErr)
		return
	}
	e := &r.Event
	k := e.Line()
	v.pair(seq, e)
	if e.Type == domain.TypeRepudiated && e.RepudiatedSeq >= seq {
		v.problem(seq, nil, fmt.Errorf("%w: repudiation %s at seq %d names seq %d, which is not before it", domain.ErrCorrupt, e.ID, seq, e.RepudiatedSeq))
	}
	if err := e.Validate(v.policy); err != nil {
		v.problem(seq, &k, fmt.Errorf("%w: event %s breaks a rule of its own command: %v", domain.ErrCorrupt, e.ID, err))
	}
	if err := v.signature(e, sig); err != nil {
		v.problem(seq, &k, err)
	}
	st := v.lines[k]
	if st == nil {
		st = domain.NewLineState(k)
		v.lines[k] = st
	}
	if err := st.Apply(r); err != nil {
		v.problem(seq, &k, err)
		// Go on from this event, so that the events after it are judged
		// on their own links rather than all failing on this one.
		st.LastSeq, st.LastHash = r.Seq, e.Hash
	}
}

// signature is the keys' finding on e's signature: sig's, when checked
// ahead.
func (v *Verification) signature(e *domain.Event, sig Signature) error {
	if sig.Checked {
		return sig.Err
	}
	return v.keys.Verify(e)
}

// pair checks that every transfer is whole: a transferred-out event is
// followed, at the next stream sequence, by its transferred-in side (the
// ledger appends both in one atomic batch), and a transferred-in event
// follows its transferred-out side. e is the event at seq, nil when the
// message counts as none (undecodable, or repudiated).
func (v *Verification) pair(seq uint64, e *domain.Event) {
	out := v.pending
	v.pending = nil
	isIn := e != nil && e.Type == domain.TypeTransferredIn
	if out != nil && (!isIn || seq != out.Seq+1) {
		v.unpaired(out)
		out = nil
	}
	if isIn {
		k := e.Line()
		switch {
		case out == nil:
			v.problem(seq, &k, fmt.Errorf("%w: transferred_in %s at seq %d (transfer %s from %s) has no transferred_out side at seq %d: the transfer is not whole",
				domain.ErrCorrupt, e.ID, seq, e.TransferID, e.FromLine, seq-1))
		default:
			if diff := sideDiff(&out.Event, e); diff != "" {
				v.problem(seq, &k, fmt.Errorf("%w: transferred_in %s at seq %d does not match the transferred_out side %s at seq %d: %s: the transfer is not whole",
					domain.ErrCorrupt, e.ID, seq, out.Event.ID, out.Seq, diff))
			}
		}
	}
	if e != nil && e.Type == domain.TypeTransferredOut {
		v.pending = &domain.Recorded{Event: *e, Seq: seq}
	}
}

// unpaired reports a transferred-out side with no transferred-in side
// after it.
func (v *Verification) unpaired(out *domain.Recorded) {
	k := out.Event.Line()
	v.problem(out.Seq, &k, fmt.Errorf("%w: transfer %s at seq %d (%s to %s) has no transferred_in side at seq %d: the transfer is not whole",
		domain.ErrCorrupt, out.Event.ID, out.Seq, out.Event.FromLine, out.Event.ToLine, out.Seq+1))
}

// sideDiff names the fields in which a transferred-in side differs from
// its transferred-out side; "" when it is the same transfer.
func sideDiff(out, in *domain.Event) string {
	var diffs []string
	differs := func(field string, a, b any) {
		if a != b {
			diffs = append(diffs, fmt.Sprintf("%s %v, not %v", field, b, a))
		}
	}
	differs("transfer_id", out.ID, in.TransferID)
	differs("idempotency_key", out.IdempotencyKey, in.IdempotencyKey)
	if !out.Amount.Equal(in.Amount) {
		diffs = append(diffs, fmt.Sprintf("amount %s, not %s", in.Amount, out.Amount))
	}
	differs("project", out.Project, in.Project)
	differs("transfer_kind", out.TransferKind, in.TransferKind)
	differs("from_line", out.FromLine, in.FromLine)
	differs("to_line", out.ToLine, in.ToLine)
	differs("category", out.Category, in.Category)
	differs("decision", out.Decision, in.Decision)
	differs("reason", out.Reason, in.Reason)
	differs("effective_date", out.EffectiveDate, in.EffectiveDate)
	differs("actor", out.Actor, in.Actor)
	return strings.Join(diffs, ", ")
}

// repudiated judges a repudiated message as if it were not: a sound event
// must never have been repudiated. It changes no line.
func (v *Verification) repudiated(seq uint64, r domain.Recorded, decodeErr error, rep domain.Recorded, sig Signature) {
	found := decodeErr
	if found == nil {
		e := &r.Event
		found = e.Validate(v.policy)
		if found == nil {
			found = v.signature(e, sig)
		}
		if found == nil {
			st := v.lines[e.Line()]
			if st == nil {
				st = domain.NewLineState(e.Line())
			} else {
				st = st.Clone()
			}
			found = st.Apply(r)
		}
	}
	ev := rep.Event
	if found == nil {
		v.problem(seq, nil, fmt.Errorf("%w: seq %d is repudiated (by seq %d, %s) but is a sound event: history is never edited, a sound event is corrected by an adjustment or a refund", domain.ErrCorrupt, seq, rep.Seq, ev.Actor))
		return
	}
	v.Repudiated = append(v.Repudiated, Repudiated{Seq: seq, BySeq: rep.Seq, Actor: ev.Actor, Decision: ev.Decision, Reason: ev.Reason, Found: found.Error()})
}

// Finish checks that the stream ends where its state says it does.
func (v *Verification) Finish(last uint64) {
	if v.pending != nil {
		v.unpaired(v.pending)
		v.pending = nil
	}
	if v.next <= last {
		v.problem(v.next, nil, fmt.Errorf("%w: messages %d to %d are missing from the stream (deleted?)", domain.ErrCorrupt, v.next, last))
	}
}

// OK says whether no problem was found.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// Lines returns the recomputed state of every budget line (not the
// ledger's own line of repudiations).
func (v *Verification) Lines() map[domain.LineKey]*domain.LineState {
	if _, ok := v.lines[domain.LineKey{}]; !ok {
		return v.lines
	}
	out := make(map[domain.LineKey]*domain.LineState, len(v.lines))
	for k, st := range v.lines {
		if k != (domain.LineKey{}) {
			out[k] = st
		}
	}
	return out
}

// ErrMismatch reports balances served by a ledger that differ from the
// recomputed ones.
var ErrMismatch = errors.New("projections: served balances differ from the stream")

// Compare checks a report served by a running ledger against the lines
// recomputed from the stream, line by line.
func Compare(served Report, recomputed map[domain.LineKey]*domain.LineState) error {
	var errs []error
	seen := map[domain.LineKey]bool{}
	for _, l := range served.Lines {
		seen[l.Line] = true
		st := recomputed[l.Line]
		if st == nil {
			errs = append(errs, fmt.Errorf("%w: line %s is served but has no event in the stream", ErrMismatch, l.Line))
			continue
		}
		if served := l.Totals.Balance; !sameBalance(served, st.Balance) || l.Totals.Events != st.Events {
			b := st.Balance
			errs = append(errs, fmt.Errorf("%w: line %s: served allocated %s, disbursed %s, refunded %s, transferred in %s, transferred out %s, lapsed %s in %d events; the stream gives %s, %s, %s, %s, %s, %s in %d",
				ErrMismatch, l.Line, served.Allocated, served.Disbursed, served.Refunded, served.TransferredIn, served.TransferredOut, served.Lapsed, l.Totals.Events,
				b.Allocated, b.Disbursed, b.Refunded, b.TransferredIn, b.TransferredOut, b.Lapsed, st.Events))
		}
	}
	for k := range recomputed {
		if !seen[k] {
			errs = append(errs, fmt.Errorf("%w: line %s is in the stream but not served", ErrMismatch, k))
		}
	}
	return errors.Join(errs...)
}

func sameBalance(a, b domain.Balance) bool {
	return a.Allocated.Equal(b.Allocated) && a.Disbursed.Equal(b.Disbursed) && a.Refunded.Equal(b.Refunded) &&
		a.TransferredIn.Equal(b.TransferredIn) && a.TransferredOut.Equal(b.TransferredOut) && a.Lapsed.Equal(b.Lapsed)
}
