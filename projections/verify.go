package projections

import (
	"errors"
	"fmt"

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

func (v *Verification) problem(seq uint64, line *domain.LineKey, err error) {
	if len(v.Problems) >= MaxProblems {
		v.More++
		return
	}
	v.Problems = append(v.Problems, Problem{Seq: seq, Line: line, Detail: err.Error()})
}

// Check verifies the message at seq: r is its event, or decodeErr why it
// is none.
func (v *Verification) Check(seq uint64, r domain.Recorded, decodeErr error) {
	v.Events++
	if seq != v.next {
		if seq > v.next {
			v.problem(v.next, nil, fmt.Errorf("%w: messages %d to %d are missing from the stream (deleted?)", domain.ErrCorrupt, v.next, seq-1))
		} else {
			v.problem(seq, nil, fmt.Errorf("%w: message %d came after %d", domain.ErrCorrupt, seq, v.next-1))
		}
	}
	v.next = max(v.next, seq+1)
	if decodeErr != nil {
		v.problem(seq, nil, decodeErr)
		return
	}
	e := &r.Event
	k := e.Line()
	if err := e.Validate(v.policy); err != nil {
		v.problem(seq, &k, fmt.Errorf("%w: event %s breaks a rule of its own command: %v", domain.ErrCorrupt, e.ID, err))
	}
	if err := v.keys.Verify(e); err != nil {
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

// Finish checks that the stream ends where its state says it does.
func (v *Verification) Finish(last uint64) {
	if v.next <= last {
		v.problem(v.next, nil, fmt.Errorf("%w: messages %d to %d are missing from the stream (deleted?)", domain.ErrCorrupt, v.next, last))
	}
}

// OK says whether no problem was found.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// Lines returns the recomputed state of every line.
func (v *Verification) Lines() map[domain.LineKey]*domain.LineState { return v.lines }

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
		if !sameBalance(l.Totals.Balance, st.Balance) || l.Totals.Events != st.Events {
			errs = append(errs, fmt.Errorf("%w: line %s: served allocated %s, disbursed %s, refunded %s in %d events; the stream gives %s, %s, %s in %d",
				ErrMismatch, l.Line, l.Totals.Balance.Allocated, l.Totals.Balance.Disbursed, l.Totals.Balance.Refunded, l.Totals.Events,
				st.Balance.Allocated, st.Balance.Disbursed, st.Balance.Refunded, st.Events))
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
	return a.Allocated.Equal(b.Allocated) && a.Disbursed.Equal(b.Disbursed) && a.Refunded.Equal(b.Refunded)
}
