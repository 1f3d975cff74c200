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
// Allocated counts allocations and adjustments; TransferredIn and
// TransferredOut the two sides of transfers between lines; Lapsed what
// lapsed after the settlement period.
type Balance struct {
	Allocated      Amount `json:"allocated"`
	Disbursed      Amount `json:"disbursed"`
	Refunded       Amount `json:"refunded"`
	TransferredIn  Amount `json:"transferred_in"`
	TransferredOut Amount `json:"transferred_out"`
	Lapsed         Amount `json:"lapsed"`
}

// NetDisbursed is disbursed minus refunded.
func (b Balance) NetDisbursed() Amount { return b.Disbursed.Sub(b.Refunded) }

// Plan is allocated plus transferred in, minus transferred out: the
// money the line was given to spend in its year.
func (b Balance) Plan() Amount { return b.Allocated.Add(b.TransferredIn).Sub(b.TransferredOut) }

// Available is the plan minus net disbursed and lapsed: what may still be
// paid out (or transferred, or lapse).
func (b Balance) Available() Amount { return b.Plan().Sub(b.NetDisbursed()).Sub(b.Lapsed) }

// Plus adds two balances, for totals over several lines or projects.
func (b Balance) Plus(o Balance) Balance {
	return Balance{
		Allocated: b.Allocated.Add(o.Allocated), Disbursed: b.Disbursed.Add(o.Disbursed), Refunded: b.Refunded.Add(o.Refunded),
		TransferredIn: b.TransferredIn.Add(o.TransferredIn), TransferredOut: b.TransferredOut.Add(o.TransferredOut), Lapsed: b.Lapsed.Add(o.Lapsed),
	}
}

// balanceJSON is Balance on the wire, with its derived figures spelled out
// so that readers need not compute them.
type balanceJSON struct {
	Allocated      total `json:"allocated"`
	Disbursed      total `json:"disbursed"`
	Refunded       total `json:"refunded"`
	NetDisbursed   total `json:"net_disbursed"`
	TransferredIn  total `json:"transferred_in"`
	TransferredOut total `json:"transferred_out"`
	Lapsed         total `json:"lapsed"`
	Available      total `json:"available"`
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
	return json.Marshal(balanceJSON{total{b.Allocated}, total{b.Disbursed}, total{b.Refunded}, total{b.NetDisbursed()},
		total{b.TransferredIn}, total{b.TransferredOut}, total{b.Lapsed}, total{b.Available()}})
}

// UnmarshalJSON reads the totals, up to 30 digits each (ParseTotal), and
// ignores the derived figures. A total left out (a balance written before
// transfers and lapses existed) is zero.
func (b *Balance) UnmarshalJSON(data []byte) error {
	var w balanceJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*b = Balance{Allocated: w.Allocated.a, Disbursed: w.Disbursed.a, Refunded: w.Refunded.a,
		TransferredIn: w.TransferredIn.a, TransferredOut: w.TransferredOut.a, Lapsed: w.Lapsed.a}
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
	case b.TransferredIn.Sign() < 0 || b.TransferredOut.Sign() < 0 || b.Lapsed.Sign() < 0:
		return fmt.Errorf("negative total (transferred in %s, transferred out %s, lapsed %s)", b.TransferredIn, b.TransferredOut, b.Lapsed)
	case b.Refunded.Cmp(b.Disbursed) > 0:
		return fmt.Errorf("refunded %s exceeds disbursed %s", b.Refunded, b.Disbursed)
	case b.Allocated.Sign() < 0:
		return fmt.Errorf("allocated %s is negative", b.Allocated)
	case b.Available().Sign() < 0:
		return fmt.Errorf("net disbursed %s, transferred out %s and lapsed %s exceed allocated %s and transferred in %s",
			b.NetDisbursed(), b.TransferredOut, b.Lapsed, b.Allocated, b.TransferredIn)
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
	case TypeTransferredIn:
		b.TransferredIn = b.TransferredIn.Add(e.Amount)
	case TypeTransferredOut:
		b.TransferredOut = b.TransferredOut.Add(e.Amount)
	case TypeLapsed:
		b.Lapsed = b.Lapsed.Add(e.Amount)
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
	// Closed is set by a lapse of the whole line (one without a
	// project): from then on the line takes refunds only. That lapse
	// also lapses, on each project, what the project still had
	// available (Apply), so that nothing on a closed line is available
	// but refunds received after it closed.
	Closed bool
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
	if err := s.admits(e); err != nil {
		return fmt.Errorf("%w: event %s at seq %d: %v", ErrCorrupt, e.ID, r.Seq, err)
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
	if e.Type == TypeLapsed && e.Project == "" {
		s.lapseProjects()
	}
	s.Events++
	s.LastSeq = r.Seq
	s.LastHash = e.Hash
	if e.Type == TypeLapsed && e.Project == "" {
		s.Closed = true
	}
	return nil
}

// lapseProjects lapses, on each project, what it still has available:
// when the whole line lapses, no movement can reach that money any more.
func (s *LineState) lapseProjects() {
	for code, pb := range s.Projects {
		if a := pb.Available(); a.Sign() > 0 {
			pb.Lapsed = pb.Lapsed.Add(a)
			s.Projects[code] = pb
		}
	}
}

// Sum adds one event's amounts to the line and to its project, checking
// nothing, as Balance.After does for one balance: for views of history
// that are not a prefix of the stream (by effective date). A lapse of the
// whole line lapses its projects' money too, as in Apply.
func (s *LineState) Sum(e *Event) {
	s.Balance = s.Balance.apply(e)
	if e.Project != "" {
		s.Projects[e.Project] = s.Projects[e.Project].apply(e)
	}
	if e.Type == TypeLapsed && e.Project == "" {
		s.lapseProjects()
	}
}

// admits reports why a recorded event cannot be the line's next one,
// beyond its chain and totals: a movement after the line was closed other
// than a refund, or a side of a transfer that names another line as its
// own.
func (s *LineState) admits(e *Event) error {
	if s.Closed && e.Type != TypeRefunded {
		return fmt.Errorf("a %s on line %s, which lapsed (it takes refunds only)", e.Type.Kind(), s.Key)
	}
	own := e.FromLine
	if e.Type == TypeTransferredIn {
		own = e.ToLine
	}
	isTransfer := e.Type == TypeTransferredOut || e.Type == TypeTransferredIn
	if isTransfer != (e.TransferKind != "") || isTransfer && (own != s.Key || e.FromLine == e.ToLine) {
		return fmt.Errorf("a %s with transfer kind %q from line %s to line %s, recorded on line %s", e.Type.Kind(), e.TransferKind, e.FromLine, e.ToLine, s.Key)
	}
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
	if cmd.Kind == Transfer {
		return Event{}, Errorf(CodeInternal, "", "a transfer has two sides: decide it with DecideTransfer")
	}
	e := cmd.event()
	if err := decideOn(s, &e, "", "amount"); err != nil {
		return Event{}, err
	}
	if e.Type == TypeLapsed && e.Project == "" && e.Amount.Cmp(s.Balance.Available()) != 0 {
		return Event{}, Errorf(CodeInvalidAmount, "amount",
			"a lapse of line %s takes everything still available on it, %s, not %s (a lapse of one project names the project)",
			s.Key, s.Balance.Available().VND(), e.Amount.VND())
	}
	return e, nil
}

// decideOn checks e against the rules and totals of line s and its
// project, and links it to the line's chain. side prefixes the fields
// named in errors about the line ("to_" for a transfer's destination).
func decideOn(s *LineState, e *Event, side, amountField string) error {
	if s.Closed && e.Type != TypeRefunded {
		return Errorf(CodeLineLapsed, side+"province",
			"line %s lapsed (its available money was cancelled after the settlement period): it takes refunds only, not %s",
			s.Key, e.Type.noun())
	}
	if err := checkRules(s.Balance, *e, "line "+s.Key.String()); err != nil {
		return err
	}
	if e.Project != "" {
		if err := checkRules(s.Projects[e.Project], *e, fmt.Sprintf("project %s of line %s", e.Project, s.Key)); err != nil {
			return err
		}
	}
	if err := checkTotals(s.Balance, *e, "line "+s.Key.String()); err != nil {
		return err
	}
	if e.Project != "" {
		if err := checkTotals(s.Projects[e.Project], *e, fmt.Sprintf("project %s of line %s", e.Project, s.Key)); err != nil {
			return err
		}
	}
	e.PrevHash = s.LastHash
	e.Hash = e.ComputeHash()
	return nil
}

// DecideTransfer validates a transfer against the rules and the states of
// its source line (from) and destination line (to), and returns its two
// events: the transferred-out event for from and the transferred-in event
// for to, each linked to its own line's chain. It never changes either.
func DecideTransfer(from, to *LineState, cmd Command, p Policy) (out, in Event, err error) {
	if err := cmd.Validate(p); err != nil {
		return Event{}, Event{}, err
	}
	if cmd.Kind != Transfer || cmd.Line() != from.Key || cmd.To != to.Key {
		return Event{}, Event{}, Errorf(CodeInternal, "", "%s from %s to %s decided against lines %s and %s", cmd.Kind, cmd.Line(), cmd.To, from.Key, to.Key)
	}
	out = cmd.event()
	in = out
	in.ID, in.Type = cmd.InEventID, TypeTransferredIn
	in.FiscalYear, in.Province, in.Source = to.Key.FiscalYear, to.Key.Province, to.Key.Source
	if err := decideOn(from, &out, "", "amount"); err != nil {
		return Event{}, Event{}, err
	}
	if err := decideOn(to, &in, "to_", "amount"); err != nil {
		return Event{}, Event{}, err
	}
	return out, in, nil
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

// what names an event type's movement at the start of a message.
func (t EventType) what() string {
	switch t {
	case TypeTransferredOut:
		return "transfer"
	case TypeLapsed:
		return "lapse"
	}
	return "disbursement"
}

// noun names an event type's movement in a message.
func (t EventType) noun() string {
	switch t {
	case TypeAllocated:
		return "an allocation"
	case TypeAdjusted:
		return "an adjustment"
	case TypeDisbursed:
		return "a disbursement"
	case TypeTransferredOut, TypeTransferredIn:
		return "a transfer"
	case TypeLapsed:
		return "a lapse"
	}
	return "a refund"
}

// checkRules refuses an event that would break an invariant of b; where
// names the line or project in the message.
func checkRules(b Balance, e Event, where string) error {
	switch e.Type {
	case TypeAdjusted:
		after := b.Allocated.Add(e.Amount)
		if after.Sign() < 0 || e.Amount.Neg().Cmp(b.Available()) > 0 {
			return Errorf(CodeAllocationBelowDisbursed, "delta",
				"adjustment of %s would bring the allocation of %s to %s, below what it already spent or passed on (net disbursed %s, transferred out %s, lapsed %s, transferred in %s)",
				e.Amount.VND(), where, after.VND(), b.NetDisbursed().VND(), b.TransferredOut.VND(), b.Lapsed.VND(), b.TransferredIn.VND())
		}
	case TypeDisbursed, TypeTransferredOut, TypeLapsed:
		if e.Amount.Cmp(b.Available()) > 0 {
			moved := ""
			if !b.TransferredIn.IsZero() || !b.TransferredOut.IsZero() || !b.Lapsed.IsZero() {
				moved = fmt.Sprintf(", transferred in %s, transferred out %s, lapsed %s", b.TransferredIn.VND(), b.TransferredOut.VND(), b.Lapsed.VND())
			}
			return Errorf(CodeInsufficientFunds, "amount",
				"%s of %s exceeds the %s available on %s (allocated %s, net disbursed %s%s)",
				e.Type.what(), e.Amount.VND(), b.Available().VND(), where, b.Allocated.VND(), b.NetDisbursed().VND(), moved)
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
