package projections

import (
	"time"

	"github.com/kcledger/kcledger/domain"
)

// Cut bounds a view of the past; zero fields bound nothing.
type Cut struct {
	// UntilSeq ends the view after this stream sequence.
	UntilSeq uint64
	// AsOf ends it at the last message the server had stored by then:
	// what the ledger knew at that moment.
	AsOf time.Time
	// EffectiveUntil keeps only movements whose decision or voucher is
	// dated on or before it.
	EffectiveUntil domain.Date
}

// IsZero says whether the cut bounds nothing: the present.
func (c Cut) IsZero() bool { return c.UntilSeq == 0 && c.AsOf.IsZero() && c.EffectiveUntil.IsZero() }

// Ends says whether the message at seq, stored at stored, is past the
// end of the view: it and every later one are out.
func (c Cut) Ends(seq uint64, stored time.Time) bool {
	return c.UntilSeq != 0 && seq > c.UntilSeq || !c.AsOf.IsZero() && stored.After(c.AsOf)
}

// EndsAt is Ends for the message r that follows last in the stream, but
// never inside a transfer: its transferred-in side, appended in one
// write with the transferred-out side at the sequence before, is kept
// whenever that side was, wherever the cut falls between the two (an
// until_seq naming the out side, an as_of between their stored times).
func (c Cut) EndsAt(r, last domain.Recorded, stored time.Time) bool {
	if !c.Ends(r.Seq, stored) {
		return false
	}
	return !IsOtherSide(r, last)
}

// IsOtherSide says whether r is the transferred-in side of the transfer
// whose transferred-out side is last, at the sequence before.
func IsOtherSide(r, last domain.Recorded) bool {
	return !r.Repudiated && !last.Repudiated && r.Seq == last.Seq+1 &&
		r.Event.Type == domain.TypeTransferredIn && last.Event.Type == domain.TypeTransferredOut && r.Event.TransferID == last.Event.ID
}

// Keeps says whether an event inside the view's span counts.
func (c Cut) Keeps(e *domain.Event) bool {
	return c.EffectiveUntil.IsZero() || !e.EffectiveDate.After(c.EffectiveUntil)
}

// Past builds balances as they stood at a cut, from the events of the
// stream in order. A prefix of the stream (UntilSeq, AsOf) is applied with
// every check; a selection by effective date is summed as it is.
type Past struct {
	cut      Cut
	balances *Balances
	last     domain.Recorded // the last message taken
}

// NewPast starts a view of the past.
func NewPast(c Cut) *Past { return &Past{cut: c, balances: NewBalances()} }

// Add takes the next event of the stream; it returns false once the view
// has ended, and an error for a stream that is not sound.
func (p *Past) Add(r domain.Recorded, stored time.Time) (bool, error) {
	if p.cut.EndsAt(r, p.last, stored) {
		return false, nil
	}
	p.last = r
	if p.cut.EffectiveUntil.IsZero() || r.Repudiated {
		return true, p.balances.Apply(r)
	}
	// A repudiation is on no line and moves no money.
	if r.Event.Type != domain.TypeRepudiated && p.cut.Keeps(&r.Event) {
		p.balances.sum(r)
	}
	return true, nil
}

// Report is Balances.Report of the view.
func (p *Past) Report(f Filter) Report { return p.balances.Report(f) }

// sum adds an event's amounts to its line, checking nothing.
func (b *Balances) sum(r domain.Recorded) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := r.Event.Line()
	st := b.lines[k]
	if st == nil {
		st = domain.NewLineState(k)
		b.lines[k] = st
	}
	st.Sum(&r.Event)
	st.Events++
	st.LastSeq = r.Seq
	st.LastHash = r.Event.Hash
	b.applied = max(b.applied, r.Seq)
}

// TrailEntry is one movement of an audit trail, with the totals of its line
// (and project) right after it.
type TrailEntry struct {
	Seq     uint64          `json:"seq"`
	Stored  time.Time       `json:"stored_at"`
	Event   domain.Event    `json:"event"`
	Line    domain.Balance  `json:"line_after"`
	Project *domain.Balance `json:"project_after,omitempty"`
}

// Trail builds an audit trail: the movements a filter selects, in stream
// order, each with its running totals, a page at a time.
type Trail struct {
	filter  Filter
	project string
	cut     Cut
	after   uint64
	limit   int
	last    domain.Recorded // the last message taken

	lines map[domain.LineKey]*domain.LineState
	// marks, when set, is told each line's state as the trail reads it.
	marks *TrailMarks
	// Entries is the page; More says whether entries follow it.
	Entries []TrailEntry
	More    bool
}

// NewTrail starts a trail of the lines f selects (and of one project when
// project is set), within cut, of the entries after seq after, at most
// limit of them.
func NewTrail(f Filter, project string, c Cut, after uint64, limit int) *Trail {
	return &Trail{filter: f, project: project, cut: c, after: after, limit: limit, lines: map[domain.LineKey]*domain.LineState{}, Entries: []TrailEntry{}}
}

// Add takes the next event of the stream; it returns false when the trail
// needs no more.
func (t *Trail) Add(r domain.Recorded, stored time.Time) bool {
	if t.cut.EndsAt(r, t.last, stored) {
		return false
	}
	t.last = r
	if r.Repudiated {
		return true // its repudiation is listed in its place
	}
	e := &r.Event
	k := e.Line()
	if !t.filter.match(k) || !t.cut.Keeps(e) {
		return true
	}
	st := t.lines[k]
	if st == nil {
		st = domain.NewLineState(k)
		t.lines[k] = st
	}
	st.Sum(e)
	st.Events++
	st.LastSeq = r.Seq
	t.marks.note(r.Seq, st)
	var proj *domain.Balance
	if e.Project != "" {
		pb := st.Projects[e.Project]
		proj = &pb
	}
	if r.Seq <= t.after || t.project != "" && e.Project != t.project {
		return true
	}
	if len(t.Entries) == t.limit {
		t.More = true
		return false
	}
	t.Entries = append(t.Entries, TrailEntry{Seq: r.Seq, Stored: stored, Event: *e, Line: st.Balance, Project: proj})
	return true
}
