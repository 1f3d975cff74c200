package projections

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/kcledger/kcledger/domain"
)

// Feed delivers recorded events in stream order: every event after the
// given sequence, then new ones as they arrive, until ctx ends.
// eventstore.JetStream implements it.
type Feed interface {
	Follow(ctx context.Context, after uint64, fn func(domain.Recorded) error) error
}

// Balances is the live balance read model.
type Balances struct {
	mu      sync.RWMutex
	lines   map[domain.LineKey]*domain.LineState
	applied uint64
	// appliedHash is the hash of the event at applied: it ties a
	// checkpoint to the stream it was taken from.
	appliedHash string
	// skipped holds the repudiated messages passed over: a repudiation
	// must name one of them, never an event applied as sound.
	skipped map[uint64]bool
	changed chan struct{} // closed and replaced after every apply
}

// projectsAvailable returns what each project of line k has available,
// those with nothing left out.
func (b *Balances) projectsAvailable(k domain.LineKey) map[string]domain.Amount {
	b.mu.RLock()
	defer b.mu.RUnlock()
	st := b.lines[k]
	if st == nil {
		return nil
	}
	var out map[string]domain.Amount
	for code, pb := range st.Projects {
		if a := pb.Available(); a.Sign() > 0 {
			if out == nil {
				out = map[string]domain.Amount{}
			}
			out[code] = a
		}
	}
	return out
}

// NewBalances returns an empty model.
func NewBalances() *Balances {
	return &Balances{lines: map[domain.LineKey]*domain.LineState{}, skipped: map[uint64]bool{}, changed: make(chan struct{})}
}

// Apply adds one event. Events at or below the last applied sequence are
// ignored, so a feed that redelivers is harmless. An event that breaks the
// hash chain or an invariant returns an error wrapping domain.ErrCorrupt
// and leaves the model unchanged.
//
// A repudiated message (r.Repudiated) is passed over: it changes nothing,
// not even the applied sequence, which always names a sound event. A
// repudiation event goes on the ledger's own line (LineKey{}), which no
// report shows, and must name a message passed over before it.
func (b *Balances) Apply(r domain.Recorded) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Seq <= b.applied {
		return nil
	}
	if r.Repudiated {
		b.skipped[r.Seq] = true
		return nil
	}
	k := r.Event.Line()
	if r.Event.Type == domain.TypeRepudiated {
		if n := r.Event.RepudiatedSeq; !b.skipped[n] {
			return fmt.Errorf("projections: balances: %w: repudiation %s at seq %d names seq %d, which is no message passed over as repudiated (a sound event is never repudiated)", domain.ErrCorrupt, r.Event.ID, r.Seq, n)
		}
	} else if k == (domain.LineKey{}) {
		return fmt.Errorf("projections: balances: %w: event %s at seq %d of type %q is on no budget line", domain.ErrCorrupt, r.Event.ID, r.Seq, r.Event.Type)
	}
	st := b.lines[k]
	if st == nil {
		st = domain.NewLineState(k)
	}
	if err := st.Apply(r); err != nil {
		return fmt.Errorf("projections: balances: %w", err)
	}
	b.lines[k] = st
	b.applied = r.Seq
	b.appliedHash = r.Event.Hash
	close(b.changed)
	b.changed = make(chan struct{})
	return nil
}

// PassedOver says whether the message at seq was passed over as
// repudiated.
func (b *Balances) PassedOver(seq uint64) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.skipped[seq]
}

// Applied returns the sequence of the last event applied.
func (b *Balances) Applied() uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.applied
}

// WaitFor blocks until the event at seq (or a later one) has been applied,
// or ctx ends.
func (b *Balances) WaitFor(ctx context.Context, seq uint64) error {
	for {
		b.mu.RLock()
		applied, changed := b.applied, b.changed
		b.mu.RUnlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("projections: waiting for seq %d (applied %d): %w", seq, applied, ctx.Err())
		}
	}
}

// Run replays feed from the start into b, then follows it until ctx ends.
// It returns the first apply error (corruption), or the feed's error.
func (b *Balances) Run(ctx context.Context, feed Feed) error {
	return feed.Follow(ctx, b.Applied(), b.Apply)
}

// Filter selects lines; zero fields match everything.
type Filter struct {
	FiscalYear int
	Province   string
	Source     domain.Source
	// Allow, when set, further limits the lines to those it accepts (an
	// officer's provinces and sources).
	Allow func(domain.LineKey) bool
}

func (f Filter) match(k domain.LineKey) bool {
	return (f.FiscalYear == 0 || f.FiscalYear == k.FiscalYear) &&
		(f.Province == "" || f.Province == k.Province) &&
		(f.Source == "" || f.Source == k.Source) &&
		(f.Allow == nil || f.Allow(k))
}

// Totals is a balance with the count and position of its events.
type Totals struct {
	Balance domain.Balance `json:"balance"`
	Events  int            `json:"events"`
	LastSeq uint64         `json:"last_seq"`
}

func (t *Totals) add(b domain.Balance, events int, last uint64) {
	t.Balance = t.Balance.Plus(b)
	t.Events += events
	t.LastSeq = max(t.LastSeq, last)
}

// ProjectBalance is one project's totals within its line.
type ProjectBalance struct {
	Project string         `json:"project"`
	Balance domain.Balance `json:"balance"`
}

// LineBalance is one budget line with its projects.
type LineBalance struct {
	Line     domain.LineKey   `json:"line"`
	Totals   Totals           `json:"totals"`
	Projects []ProjectBalance `json:"projects"`
	// Closed says the line lapsed as a whole (hủy dự toán): it takes
	// refunds only.
	Closed bool `json:"closed,omitempty"`
}

// ProvinceYear groups the lines of one province in one fiscal year (both
// sources).
type ProvinceYear struct {
	FiscalYear int    `json:"fiscal_year"`
	Province   string `json:"province"`
	Totals     Totals `json:"totals"`
}

// Year groups every line of one fiscal year.
type Year struct {
	FiscalYear int    `json:"fiscal_year"`
	Totals     Totals `json:"totals"`
}

// Report is a consistent snapshot of the balances selected by a filter.
type Report struct {
	// AsOfSeq is the last sequence applied when the snapshot was taken.
	AsOfSeq   uint64         `json:"as_of_seq"`
	Lines     []LineBalance  `json:"lines"`
	Provinces []ProvinceYear `json:"provinces"`
	Years     []Year         `json:"years"`
	Total     Totals         `json:"total"`
}

// Report returns the balances selected by f, sorted by year, province and
// source.
func (b *Balances) Report(f Filter) Report {
	b.mu.RLock()
	defer b.mu.RUnlock()
	r := Report{AsOfSeq: b.applied, Lines: []LineBalance{}, Provinces: []ProvinceYear{}, Years: []Year{}}
	provinces := map[[2]string]*ProvinceYear{}
	years := map[int]*Year{}
	for k, st := range b.lines {
		if k == (domain.LineKey{}) || !f.match(k) {
			continue // the ledger's own line holds no money
		}
		lb := LineBalance{Line: k, Projects: []ProjectBalance{}, Closed: st.Closed}
		lb.Totals.add(st.Balance, st.Events, st.LastSeq)
		for code, pb := range st.Projects {
			lb.Projects = append(lb.Projects, ProjectBalance{Project: code, Balance: pb})
		}
		slices.SortFunc(lb.Projects, func(x, y ProjectBalance) int { return cmp.Compare(x.Project, y.Project) })
		r.Lines = append(r.Lines, lb)

		pk := [2]string{fmt.Sprint(k.FiscalYear), k.Province}
		py := provinces[pk]
		if py == nil {
			py = &ProvinceYear{FiscalYear: k.FiscalYear, Province: k.Province}
			provinces[pk] = py
		}
		py.Totals.add(st.Balance, st.Events, st.LastSeq)
		y := years[k.FiscalYear]
		if y == nil {
			y = &Year{FiscalYear: k.FiscalYear}
			years[k.FiscalYear] = y
		}
		y.Totals.add(st.Balance, st.Events, st.LastSeq)
		r.Total.add(st.Balance, st.Events, st.LastSeq)
	}
	slices.SortFunc(r.Lines, func(x, y LineBalance) int {
		return cmp.Or(cmp.Compare(x.Line.FiscalYear, y.Line.FiscalYear), cmp.Compare(x.Line.Province, y.Line.Province), cmp.Compare(x.Line.Source, y.Line.Source))
	})
	for _, py := range provinces {
		r.Provinces = append(r.Provinces, *py)
	}
	slices.SortFunc(r.Provinces, func(x, y ProvinceYear) int {
		return cmp.Or(cmp.Compare(x.FiscalYear, y.FiscalYear), cmp.Compare(x.Province, y.Province))
	})
	for _, y := range years {
		r.Years = append(r.Years, *y)
	}
	slices.SortFunc(r.Years, func(x, y Year) int { return cmp.Compare(x.FiscalYear, y.FiscalYear) })
	return r
}
