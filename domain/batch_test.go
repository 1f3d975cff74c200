package domain_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// appendCounter counts the atomic writes a ledger makes.
type appendCounter struct {
	*eventstore.Memory
	atomic int
}

func (c *appendCounter) AppendAll(ctx context.Context, ps []domain.Proposal) ([]uint64, error) {
	c.atomic++
	return c.Memory.AppendAll(ctx, ps)
}

func TestRecordBatch(t *testing.T) {
	ctx := context.Background()
	mem := &appendCounter{Memory: eventstore.NewMemory()}
	l := domain.NewLedger(mem, domain.Policy{})
	batch := []domain.Command{
		newCommand(domain.Allocate, lineHaNoi, 10*million, ""),
		newCommand(domain.Allocate, lineHCM, 5*million, ""),
	}
	res, err := l.RecordBatch(ctx, batch)
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, 1, mem.atomic, "one atomic write")
	assert.Equal(t, res[0].Recorded.Seq+1, res[1].Recorded.Seq)
	requireVND(t, "5000000", res[1].Line.Balance.Allocated)

	// The same batch again (a retry of an import): answered, not recorded.
	res, err = l.RecordBatch(ctx, []domain.Command{retry(batch[0]), retry(batch[1])})
	require.NoError(t, err)
	assert.True(t, res[0].Replayed && res[1].Replayed)
	assert.Len(t, mem.Events(), 2)
	assert.Equal(t, 1, mem.atomic)

	// Half of it recorded, a line moved on under another ledger: each
	// command is still recorded once.
	other := domain.NewLedger(mem, domain.Policy{})
	d1 := newCommand(domain.Disburse, lineHaNoi, million, "")
	mustRecord(t, other, d1)
	d2 := newCommand(domain.Disburse, lineHCM, million, "")
	res, err = l.RecordBatch(ctx, []domain.Command{retry(d1), d2})
	require.NoError(t, err)
	assert.True(t, res[0].Replayed)
	assert.False(t, res[1].Replayed)
	assert.Len(t, mem.Events(), 4)
	d3, d4 := newCommand(domain.Disburse, lineHaNoi, million, ""), newCommand(domain.Disburse, lineHCM, million, "")
	mustRecord(t, other, newCommand(domain.Disburse, lineHaNoi, million, ""))
	res, err = l.RecordBatch(ctx, []domain.Command{d3, d4})
	require.NoError(t, err, "a stale line: recorded one by one")
	assert.Equal(t, 3, mem.atomic, "the refused atomic write, then one by one")
	assert.False(t, res[0].Replayed || res[1].Replayed)
	assert.Len(t, mem.Events(), 7)
	st, err := other.State(ctx, lineHaNoi)
	require.NoError(t, err)
	requireVND(t, "7000000", st.Balance.Available())

	// Refusals name the command, and record nothing.
	for name, cmds := range map[string][]domain.Command{
		"two on one line": {newCommand(domain.Disburse, lineHCM, 1, ""), newCommand(domain.Disburse, lineHCM, 1, "")},
		"overspent":       {newCommand(domain.Disburse, lineHaNoi, 1, ""), newCommand(domain.Disburse, lineHCM, 100*million, "")},
	} {
		_, err := l.RecordBatch(ctx, cmds)
		var be *domain.BatchError
		require.ErrorAs(t, err, &be, name)
		assert.Equal(t, 1, be.Index, name)
		assert.Len(t, mem.Events(), 7, name)
	}
}
