package projections

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/kcledger/kcledger/domain"
)

// checkpointVersion names the checkpoint format; a checkpoint of another
// version is not read, and the balances are rebuilt from the stream.
const checkpointVersion = 1

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
}

// CheckpointLine is one line's state in a checkpoint.
type CheckpointLine struct {
	Key      domain.LineKey            `json:"key"`
	Balance  domain.Balance            `json:"balance"`
	Projects map[string]domain.Balance `json:"projects,omitempty"`
	Events   int                       `json:"events"`
	LastSeq  uint64                    `json:"last_seq"`
	LastHash string                    `json:"last_hash"`
}

// Checkpoint returns the balances as they stand, encoded.
func (b *Balances) Checkpoint() ([]byte, uint64) {
	b.mu.RLock()
	c := Checkpoint{Version: checkpointVersion, AppliedSeq: b.applied, AppliedHash: b.appliedHash, Lines: make([]CheckpointLine, 0, len(b.lines))}
	for _, st := range b.lines {
		l := CheckpointLine{Key: st.Key, Balance: st.Balance, Events: st.Events, LastSeq: st.LastSeq, LastHash: st.LastHash}
		if len(st.Projects) > 0 {
			l.Projects = make(map[string]domain.Balance, len(st.Projects))
			for p, pb := range st.Projects {
				l.Projects[p] = pb
			}
		}
		c.Lines = append(c.Lines, l)
	}
	b.mu.RUnlock()
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
		st := domain.NewLineState(l.Key)
		st.Balance, st.Events, st.LastSeq, st.LastHash = l.Balance, l.Events, l.LastSeq, l.LastHash
		for p, pb := range l.Projects {
			if err := pb.Check(); err != nil {
				return nil, c, fmt.Errorf("projections: checkpoint project %s of line %s: %v", p, l.Key, err)
			}
			st.Projects[p] = pb
		}
		b.lines[l.Key] = st
	}
	b.applied, b.appliedHash = c.AppliedSeq, c.AppliedHash
	return b, c, nil
}
