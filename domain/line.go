package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// LineKey identifies a budget line: a fiscal year, a province and a source.
type LineKey struct {
	FiscalYear int    `json:"fiscal_year"`
	Province   string `json:"province"`
	Source     Source `json:"source"`
}

func (k LineKey) String() string {
	return strconv.Itoa(k.FiscalYear) + "/" + k.Province + "/" + string(k.Source)
}

// Balance holds the running totals of a line or of a project within it.
type Balance struct {
	Allocated Amount `json:"allocated"`
	Disbursed Amount `json:"disbursed"`
	Refunded  Amount `json:"refunded"`
}

// NetDisbursed is disbursed minus refunded.
func (b Balance) NetDisbursed() Amount { return b.Disbursed.Sub(b.Refunded) }

// Available is allocated minus net disbursed: what may still be paid out.
func (b Balance) Available() Amount { return b.Allocated.Sub(b.NetDisbursed()) }

// Plus adds two balances, for totals over several lines or projects.
func (b Balance) Plus(o Balance) Balance {
	return Balance{Allocated: b.Allocated.Add(o.Allocated), Disbursed: b.Disbursed.Add(o.Disbursed), Refunded: b.Refunded.Add(o.Refunded)}
}

// balanceJSON is Balance on the wire, with its derived figures spelled out
// so that readers need not compute them.
type balanceJSON struct {
	Allocated    total `json:"allocated"`
	Disbursed    total `json:"disbursed"`
	Refunded     total `json:"refunded"`
	NetDisbursed total `json:"net_disbursed"`
	Available    total `json:"available"`
}

// total is an Amount on the wire as a total: written as an amount, read
// with ParseTotal, because a balance summed over many lines (a report's
// years and grand total) may pass the 19 digits of a movement's amount.
type total struct{ a Amount }

func (t total) MarshalJSON() ([]byte, error) { return t.a.MarshalJSON() }

func (t *total) UnmarshalJSON(b []byte) error {
	v, err := unmarshalTotal(b)
	if err != nil {
		return err
	}
	t.a = v
	return nil
}

// MarshalJSON includes net_disbursed and available.
func (b Balance) MarshalJSON() ([]byte, error) {
	return json.Marshal(balanceJSON{total{b.Allocated}, total{b.Disbursed}, total{b.Refunded}, total{b.NetDisbursed()}, total{b.Available()}})
}

// UnmarshalJSON reads the three totals, up to 30 digits each (ParseTotal),
// and ignores the derived figures.
func (b *Balance) UnmarshalJSON(data []byte) error {
	var w balanceJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*b = Balance{Allocated: w.Allocated.a, Disbursed: w.Disbursed.a, Refunded: w.Refunded.a}
	return nil
}

// Check reports the first invariant of domain.md that b breaks, for
// readers of balances the rules did not produce (checkpoints).
func (b Balance) Check() error { return b.check() }

// check reports the first invariant of domain.md that b breaks.
func (b Balance) check() error {
	switch {
	case b.Refunded.Sign() < 0 || b.Disbursed.Sign() < 0:
		return fmt.Errorf("negative total (disbursed %s, refunded %s)", b.Disbursed, b.Refunded)
	case b.Refunded.Cmp(b.Disbursed) > 0:
		return fmt.Errorf("refunded %s exceeds disbursed %s", b.Refunded, b.Disbursed)
	case b.Allocated.Sign() < 0:
		return fmt.Errorf("allocated %s is negative", b.Allocated)
	case b.NetDisbursed().Cmp(b.Allocated) > 0:
		return fmt.Errorf("net disbursed %s exceeds allocated %s", b.NetDisbursed(), b.Allocated)
	}
	return nil
}

// After returns b with one event's effect added, checking nothing: for
// views of history that are not a prefix of the stream (by effective
// date), where the invariants held when each event was recorded but need
// not hold in every subset.
func (b Balance) After(e *Event) Balance { return b.apply(e) }

// apply adds one event's effect to b.
func (b Balance) apply(e *Event) Balance {
	switch e.Type {
	case TypeAllocated, TypeAdjusted:
		b.Allocated = b.Allocated.Add(e.Amount)
	case TypeDisbursed:
		b.Disbursed = b.Disbursed.Add(e.Amount)
	case TypeRefunded:
		b.Refunded = b.Refunded.Add(e.Amount)
	}
	return b
}

// LineState is everything the rules need to know about a budget line: its
// totals, its projects' totals, and the position and hash of its last event.
type LineState struct {
	Key      LineKey
	Balance  Balance
	Projects map[string]Balance
	// Events counts the line's events; LastSeq and LastHash belong to the
	// newest one (0 and GenesisHash for an empty line).
	Events   int
	LastSeq  uint64
	LastHash string
}

// NewLineState returns the state of a line with no events.
func NewLineState(k LineKey) *LineState {
	return &LineState{Key: k, Projects: map[string]Balance{}, LastHash: GenesisHash}
}

// Project returns the totals of one project of the line.
func (s *LineState) Project(code string) Balance { return s.Projects[code] }

// Clone returns a deep copy, so callers can hand out snapshots.
func (s *LineState) Clone() *LineState {
	c := *s
	c.Projects = make(map[string]Balance, len(s.Projects))
	for k, v := range s.Projects {
		c.Projects[k] = v
	}
	return &c
}

// ErrCorrupt marks an event log whose content breaks the ledger's own rules
// (a broken hash chain, a balance invariant violated on replay). It cannot
// happen if every writer went through Decide, so it must be loud.
var ErrCorrupt = errors.New("domain: event log corrupt")

// Apply adds a recorded event to the line's state. It is idempotent on the
// sequence (an event at or below LastSeq is ignored), verifies the event's
// hash and its link to the previous event, and checks every invariant after
// applying it. An error wraps ErrCorrupt and leaves s unchanged.
func (s *LineState) Apply(r Recorded) error {
	e := &r.Event
	if r.Seq != 0 && r.Seq <= s.LastSeq {
		return nil
	}
	if r.Repudiated {
		// Its position only: the next append expects it as the line's
		// last message, and the next event links to the last sound one.
		s.LastSeq = r.Seq
		return nil
	}
	if e.Line() != s.Key {
		return fmt.Errorf("%w: event %s at seq %d belongs to line %s, not %s", ErrCorrupt, e.ID, r.Seq, e.Line(), s.Key)
	}
	if e.PrevHash != s.LastHash {
		return fmt.Errorf("%w: line %s: event %s at seq %d links to %s, but the previous event's hash is %s", ErrCorrupt, s.Key, e.ID, r.Seq, e.PrevHash, s.LastHash)
	}
	if r.HashChecked {
		// Checked by the reader.
	} else if h := e.ComputeHash(); e.Hash != h {
		return fmt.Errorf("%w: line %s: event %s at seq %d has hash %s, its content hashes to %s", ErrCorrupt, s.Key, e.ID, r.Seq, e.Hash, h)
	}
	line := s.Balance.apply(e)
	if err := line.check(); err != nil {
		return fmt.Errorf("%w: line %s after event %s at seq %d: %v", ErrCorrupt, s.Key, e.ID, r.Seq, err)
	}
	var proj Balance
	if e.Project != "" {
		proj = s.Projects[e.Project].apply(e)
		if err := proj.check(); err != nil {
			return fmt.Errorf("%w: project %s of line %s after event %s at seq %d: %v", ErrCorrupt, e.Project, s.Key, e.ID, r.Seq, err)
		}
	}
	s.Balance = line
	if e.Project != "" {
		s.Projects[e.Project] = proj
	}
	s.Events++
	s.LastSeq = r.Seq
	s.LastHash = e.Hash
	return nil
}

// Decide validates cmd against the rules and the line's current state and
// returns the event to append. It never changes s.
func Decide(s *LineState, cmd Command, p Policy) (Event, error) {
	if err := cmd.Validate(p); err != nil {
		return Event{}, err
	}
	if cmd.Line() != s.Key {
		return Event{}, Errorf(CodeInternal, "", "command for line %s decided against line %s", cmd.Line(), s.Key)
	}
	e := cmd.event()
	if err := checkRules(s.Balance, e, "line "+s.Key.String()); err != nil {
		return Event{}, err
	}
	if e.Project != "" {
		if err := checkRules(s.Projects[e.Project], e, fmt.Sprintf("project %s of line %s", e.Project, s.Key)); err != nil {
			return Event{}, err
		}
	}
	if err := checkTotals(s.Balance, e, "line "+s.Key.String()); err != nil {
		return Event{}, err
	}
	if e.Project != "" {
		if err := checkTotals(s.Projects[e.Project], e, fmt.Sprintf("project %s of line %s", e.Project, s.Key)); err != nil {
			return Event{}, err
		}
	}
	e.PrevHash = s.LastHash
	e.Hash = e.ComputeHash()
	return e, nil
}

// checkTotals refuses an event that would bring a total of b past
// MaxLineTotal; where names the line or project in the message. Disbursed
// and refunded are checked as well as allocated: both only grow, even
// when refunds keep net disbursed small. Replay (Apply) does not check the
// bound, so that events recorded before it existed still read back.
func checkTotals(b Balance, e Event, where string) error {
	after := b.apply(&e)
	for _, t := range []struct {
		name          string
		before, after Amount
	}{
		{"allocated", b.Allocated, after.Allocated},
		{"disbursed", b.Disbursed, after.Disbursed},
		{"refunded", b.Refunded, after.Refunded},
	} {
		if t.after.Cmp(t.before) > 0 && t.after.Cmp(MaxLineTotal) > 0 {
			field := "amount"
			if e.Type == TypeAdjusted {
				field = "delta"
			}
			return Errorf(CodeTotalLimitExceeded, field,
				"a movement of %s would bring the %s total of %s to %s, past the limit of %s per line and per project",
				e.Amount.VND(), t.name, where, t.after.VND(), MaxLineTotal.VND())
		}
	}
	return nil
}

// checkRules refuses an event that would break an invariant of b; where
// names the line or project in the message.
func checkRules(b Balance, e Event, where string) error {
	switch e.Type {
	case TypeAdjusted:
		after := b.Allocated.Add(e.Amount)
		if after.Sign() < 0 || after.Cmp(b.NetDisbursed()) < 0 {
			return Errorf(CodeAllocationBelowDisbursed, "delta",
				"adjustment of %s would bring the allocation of %s to %s, below its net disbursed %s",
				e.Amount.VND(), where, after.VND(), b.NetDisbursed().VND())
		}
	case TypeDisbursed:
		if e.Amount.Cmp(b.Available()) > 0 {
			return Errorf(CodeInsufficientFunds, "amount",
				"disbursement of %s exceeds the %s available on %s (allocated %s, net disbursed %s)",
				e.Amount.VND(), b.Available().VND(), where, b.Allocated.VND(), b.NetDisbursed().VND())
		}
	case TypeRefunded:
		if e.Amount.Cmp(b.NetDisbursed()) > 0 {
			return Errorf(CodeRefundExceedsDisbursed, "amount",
				"refund of %s exceeds the %s net disbursed on %s",
				e.Amount.VND(), b.NetDisbursed().VND(), where)
		}
	}
	return nil
}
