package projections

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/kcledger/kcledger/domain"
)

// checkpointVersion names the checkpoint format; a checkpoint of another
// version is not read, and the balances are rebuilt from the stream.
// Version 2 keeps the lines closed by a lapse, and the transfers' and
// lapses' totals.
const checkpointVersion = 2

// Checkpoint is the balances as they stood after one event of the stream,
// so that a restart resumes after it instead of replaying everything.
type Checkpoint struct {
	Version int `json:"version"`
	// AppliedSeq and AppliedHash are the sequence and hash of the last
	// event applied: a checkpoint is only used when the stream still holds
	// that event at that sequence.
	AppliedSeq  uint64           `json:"applied_seq"`
	AppliedHash string           `json:"applied_hash"`
	Lines       []CheckpointLine `json:"lines"`
	// Skipped lists the repudiated messages passed over, in order.
	Skipped []uint64 `json:"skipped,omitempty"`
}

// CheckpointLine is one line's state in a checkpoint.
type CheckpointLine struct {
	Key      domain.LineKey            `json:"key"`
	Balance  domain.Balance            `json:"balance"`
	Projects map[string]domain.Balance `json:"projects,omitempty"`
	Events   int                       `json:"events"`
	LastSeq  uint64                    `json:"last_seq"`
	LastHash string                    `json:"last_hash"`
	// Closed is domain.LineState.Closed: the line lapsed as a whole.
	Closed bool `json:"closed,omitempty"`
}

// Checkpoint returns the balances as they stand, encoded.
func (b *Balances) Checkpoint() ([]byte, uint64) {
	b.mu.RLock()
	c := Checkpoint{Version: checkpointVersion, AppliedSeq: b.applied, AppliedHash: b.appliedHash, Lines: make([]CheckpointLine, 0, len(b.lines))}
	for _, st := range b.lines {
		l := CheckpointLine{Key: st.Key, Balance: st.Balance, Events: st.Events, LastSeq: st.LastSeq, LastHash: st.LastHash, Closed: st.Closed}
		if len(st.Projects) > 0 {
			l.Projects = make(map[string]domain.Balance, len(st.Projects))
			for p, pb := range st.Projects {
				l.Projects[p] = pb
			}
		}
		c.Lines = append(c.Lines, l)
	}
	for seq := range b.skipped {
		c.Skipped = append(c.Skipped, seq)
	}
	b.mu.RUnlock()
	slices.Sort(c.Skipped)
	slices.SortFunc(c.Lines, func(x, y CheckpointLine) int {
		return cmp.Or(cmp.Compare(x.Key.FiscalYear, y.Key.FiscalYear), cmp.Compare(x.Key.Province, y.Key.Province), cmp.Compare(x.Key.Source, y.Key.Source))
	})
	data, err := json.Marshal(&c)
	if err != nil {
		panic(fmt.Sprintf("projections: encode checkpoint: %v", err)) // plain data: cannot fail
	}
	return data, c.AppliedSeq
}

// RestoreBalances reads a checkpoint back. It refuses one that does not
// decode, is of another version, or holds a state the rules could never
// have produced; the caller then rebuilds from the stream.
func RestoreBalances(data []byte) (*Balances, Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, c, fmt.Errorf("projections: checkpoint does not decode: %w", err)
	}
	if c.Version != checkpointVersion {
		return nil, c, fmt.Errorf("projections: checkpoint version %d, want %d", c.Version, checkpointVersion)
	}
	if c.AppliedSeq > 0 && len(c.AppliedHash) != 64 {
		return nil, c, fmt.Errorf("projections: checkpoint at seq %d has no hash of its last event", c.AppliedSeq)
	}
	b := NewBalances()
	for _, l := range c.Lines {
		if _, dup := b.lines[l.Key]; dup {
			return nil, c, fmt.Errorf("projections: checkpoint holds line %s twice", l.Key)
		}
		if l.LastSeq > c.AppliedSeq || l.Events <= 0 || len(l.LastHash) != 64 {
			return nil, c, fmt.Errorf("projections: checkpoint line %s is inconsistent (last seq %d, %d events)", l.Key, l.LastSeq, l.Events)
		}
		if err := l.Balance.Check(); err != nil {
			return nil, c, fmt.Errorf("projections: checkpoint line %s: %v", l.Key, err)
		}
		// A lapse of the whole line takes everything available; after it
		// only refunds come, each adding to what is available.
		if l.Closed && l.Balance.Available().Cmp(l.Balance.Refunded) > 0 {
			return nil, c, fmt.Errorf("projections: checkpoint line %s lapsed but holds %s available, more than the %s ever refunded", l.Key, l.Balance.Available(), l.Balance.Refunded)
		}
		st := domain.NewLineState(l.Key)
		st.Balance, st.Events, st.LastSeq, st.LastHash, st.Closed = l.Balance, l.Events, l.LastSeq, l.LastHash, l.Closed
		for p, pb := range l.Projects {
			if err := pb.Check(); err != nil {
				return nil, c, fmt.Errorf("projections: checkpoint project %s of line %s: %v", p, l.Key, err)
			}
			st.Projects[p] = pb
		}
		b.lines[l.Key] = st
	}
	for _, seq := range c.Skipped {
		b.skipped[seq] = true
	}
	b.applied, b.appliedHash = c.AppliedSeq, c.AppliedHash
	return b, c, nil
}

// Rebuild replays feed from its start into a fresh model and, once that
// has caught up with b, replaces b's state with it: the cure for a state
// that came from a checkpoint one no longer trusts. It returns the
// sequence rebuilt to and whether the rebuilt state differed from b's.
func (b *Balances) Rebuild(ctx context.Context, feed Feed) (uint64, bool, error) {
	fresh := NewBalances()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	followErr := make(chan error, 1)
	go func() { followErr <- feed.Follow(ctx, 0, fresh.Apply) }()
	for attempt := 0; attempt < rebuildAttempts; attempt++ {
		target := b.Applied()
		waited := make(chan error, 1)
		go func() { waited <- fresh.WaitFor(ctx, target) }()
		select {
		case err := <-followErr:
			return 0, false, fmt.Errorf("projections: rebuild: %w", err)
		case err := <-waited:
			if err != nil {
				return 0, false, err
			}
		}
		// Both models follow the same stream; swap when they stand at the
		// same event, which they do whenever writes pause.
		b.mu.Lock()
		fresh.mu.Lock()
		if fresh.applied == b.applied {
			differed := !sameLines(b.lines, fresh.lines)
			b.lines, b.appliedHash, b.skipped = fresh.lines, fresh.appliedHash, fresh.skipped
			fresh.lines, fresh.skipped = map[domain.LineKey]*domain.LineState{}, map[uint64]bool{}
			fresh.mu.Unlock()
			close(b.changed)
			b.changed = make(chan struct{})
			seq := b.applied
			b.mu.Unlock()
			return seq, differed, nil
		}
		fresh.mu.Unlock()
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-time.After(rebuildRetryWait):
		}
	}
	return 0, false, fmt.Errorf("projections: rebuild: the ledger kept moving for %d attempts; try again when writes pause", rebuildAttempts)
}

// Rebuild's bounds: how often it tries to catch the live model at rest.
const (
	rebuildAttempts  = 200
	rebuildRetryWait = 10 * time.Millisecond
)

func sameLines(a, b map[domain.LineKey]*domain.LineState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y := b[k]
		if y == nil || x.Events != y.Events || x.LastSeq != y.LastSeq || x.LastHash != y.LastHash || x.Closed != y.Closed ||
			!sameTotals(x.Balance, y.Balance) || len(x.Projects) != len(y.Projects) {
			return false
		}
		for p, pb := range x.Projects {
			if !sameTotals(pb, y.Projects[p]) {
				return false
			}
		}
	}
	return true
}

// sameTotals compares every total of two balances, the transfers' and
// lapses' as well.
func sameTotals(a, b domain.Balance) bool {
	return a.Allocated.Equal(b.Allocated) && a.Disbursed.Equal(b.Disbursed) && a.Refunded.Equal(b.Refunded) &&
		a.TransferredIn.Equal(b.TransferredIn) && a.TransferredOut.Equal(b.TransferredOut) && a.Lapsed.Equal(b.Lapsed)
}
