package projections

import (
	"cmp"
	"slices"
	"sync"

	"github.com/kcledger/kcledger/domain"
)

// TrailMarks remembers, for each budget line, its running totals after
// every Every-th of its movements, as audit trails met them. A later trail
// of one line without a cut starts from the nearest mark before the part
// it wants, instead of reading (and checking the signature of) every
// earlier movement of the line: an event's totals, or a late page of a
// long line, then cost at most Every movements.
//
// A mark is the sum of the line's sound movements up to its sequence,
// which never changes: the stream only grows, and a repudiation covers
// only a message no trail could read. Marks are kept in memory, at most
// Max of them; a process that starts again makes them again as trails
// read its lines.
type TrailMarks struct {
	every, max int

	mu    sync.Mutex
	lines map[domain.LineKey][]trailMark
	n     int
}

type trailMark struct {
	seq   uint64
	state *domain.LineState // after seq; never changed once noted
}

// NewTrailMarks keeps a mark every every movements of a line, at most max
// marks in all.
func NewTrailMarks(every, max int) *TrailMarks {
	return &TrailMarks{every: max1(every), max: max1(max), lines: map[domain.LineKey][]trailMark{}}
}

func max1(n int) int { return max(n, 1) }

// bySeq orders marks by sequence, for binary searches.
func bySeq(t trailMark, seq uint64) int { return cmp.Compare(t.seq, seq) }

// Before returns the latest mark of line k at a sequence below seq: its
// sequence and a copy of the line's state there, or 0 and nil.
func (m *TrailMarks) Before(k domain.LineKey, seq uint64) (uint64, *domain.LineState) {
	if m == nil {
		return 0, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	marks := m.lines[k]
	i, _ := slices.BinarySearchFunc(marks, seq, bySeq)
	if i == 0 {
		return 0, nil
	}
	mk := marks[i-1]
	return mk.seq, mk.state.Clone()
}

// note remembers st, the state of its line after its movement at seq,
// when it is a mark's place (its Events a multiple of Every) and not yet
// known.
func (m *TrailMarks) note(seq uint64, st *domain.LineState) {
	if m == nil || st.Events%m.every != 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	marks := m.lines[st.Key]
	i, found := slices.BinarySearchFunc(marks, seq, bySeq)
	if found || m.n >= m.max {
		return
	}
	m.lines[st.Key] = slices.Insert(marks, i, trailMark{seq: seq, state: st.Clone()})
	m.n++
}

// Len is how many marks are kept.
func (m *TrailMarks) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// WithMarks makes the trail note its lines' marks in m as it reads them
// (a trail with a cut notes none: its sums are not the line's).
func (t *Trail) WithMarks(m *TrailMarks) *Trail {
	if t.cut.IsZero() {
		t.marks = m
	}
	return t
}

// Resume starts the trail's line k from st, its state after its movements
// up to st.LastSeq (a mark's): the trail then reads only what follows.
func (t *Trail) Resume(st *domain.LineState) {
	t.lines[st.Key] = st.Clone()
}
