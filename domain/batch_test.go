package domain_test

import (
	"context"
	"fmt"
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
		"overspent on one line, given the one before": {newCommand(domain.Disburse, lineHaNoi, 7*million, ""), newCommand(domain.Disburse, lineHaNoi, 1, "")},
		"overspent": {newCommand(domain.Disburse, lineHaNoi, 1, ""), newCommand(domain.Disburse, lineHCM, 100*million, "")},
	} {
		_, err := l.RecordBatch(ctx, cmds)
		var be *domain.BatchError
		require.ErrorAs(t, err, &be, name)
		assert.Equal(t, 1, be.Index, name)
		assert.Len(t, mem.Events(), 7, name)
	}
}

// Several commands on one line in one batch, as an import of past years
// sends them: decided in order, each on the line as the ones before it
// left it, and appended in one atomic write, chained.
func TestRecordBatchOneLine(t *testing.T) {
	ctx := context.Background()
	mem := &appendCounter{Memory: eventstore.NewMemory()}
	l := domain.NewLedger(mem, domain.Policy{})
	mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, million, ""))
	batch := []domain.Command{
		newCommand(domain.Allocate, lineHaNoi, 10*million, ""),
		newCommand(domain.Allocate, lineHCM, 5*million, ""),
		newCommand(domain.Disburse, lineHaNoi, 4*million, ""),
		newCommand(domain.Disburse, lineHCM, 5*million, ""),
		newCommand(domain.Disburse, lineHaNoi, 7*million, ""),
	}
	res, err := l.RecordBatch(ctx, batch)
	require.NoError(t, err)
	require.Len(t, res, len(batch))
	assert.Equal(t, 1, mem.atomic, "one atomic write")
	for i := 1; i < len(res); i++ {
		assert.Equal(t, res[i-1].Recorded.Seq+1, res[i].Recorded.Seq)
	}
	requireVND(t, "7000000", res[2].Line.Balance.Available())
	requireVND(t, "0", res[4].Line.Balance.Available())
	requireVND(t, "0", res[3].Line.Balance.Available())
	assert.Equal(t, res[0].Recorded.Event.Hash, res[2].Recorded.Event.PrevHash, "chained in the write")
	assert.Equal(t, res[2].Recorded.Event.Hash, res[4].Recorded.Event.PrevHash)

	// The log has them as the ledger does: another ledger replays the
	// lines from it, hash chain and totals.
	other := domain.NewLedger(mem, domain.Policy{})
	st, err := other.State(ctx, lineHaNoi)
	require.NoError(t, err)
	requireVND(t, "0", st.Balance.Available())
	assert.Equal(t, 4, st.Events)
	assert.Equal(t, res[4].Recorded.Event.Hash, st.LastHash)

	// Retried whole: answered, nothing appended.
	again := make([]domain.Command, len(batch))
	for i := range batch {
		again[i] = retry(batch[i])
	}
	res, err = l.RecordBatch(ctx, again)
	require.NoError(t, err)
	for i := range res {
		assert.True(t, res[i].Replayed, "command %d", i)
	}
	assert.Equal(t, 1, mem.atomic)
	assert.Len(t, mem.Events(), 6)
}

// A batch whose line moved on under another ledger after it was read is
// recorded one by one, each command once, in order, the later commands on
// the line decided after the earlier ones.
func TestRecordBatchOneLineStale(t *testing.T) {
	ctx := context.Background()
	mem := &appendCounter{Memory: eventstore.NewMemory()}
	l := domain.NewLedger(mem, domain.Policy{})
	mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 10*million, ""))
	other := domain.NewLedger(mem, domain.Policy{})
	mustRecord(t, other, newCommand(domain.Disburse, lineHaNoi, million, ""))
	batch := []domain.Command{
		newCommand(domain.Disburse, lineHaNoi, 4*million, ""),
		newCommand(domain.Allocate, lineHCM, million, ""),
		newCommand(domain.Disburse, lineHaNoi, 5*million, ""),
	}
	res, err := l.RecordBatch(ctx, batch)
	require.NoError(t, err)
	assert.Equal(t, 1, mem.atomic, "the refused write, then one by one")
	assert.Len(t, mem.Events(), 5)
	requireVND(t, "0", res[2].Line.Balance.Available())
	assert.Less(t, res[0].Recorded.Seq, res[2].Recorded.Seq)

	// Stale, and the line as the log has it refuses the last: the
	// refusal names it, and nothing of the batch is recorded.
	mustRecord(t, other, newCommand(domain.Allocate, lineHaNoi, 2*million, ""))
	mustRecord(t, other, newCommand(domain.Disburse, lineHaNoi, million, ""))
	_, err = l.RecordBatch(ctx, []domain.Command{
		newCommand(domain.Disburse, lineHaNoi, million, ""),
		newCommand(domain.Disburse, lineHaNoi, million, ""),
	})
	var be *domain.BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 1, be.Index)
	assert.ErrorIs(t, be.Err, domain.ErrInsufficientFunds)
	assert.Len(t, mem.Events(), 7)
}

// Every event of a batch is signed, however many goroutines sign them,
// and the log holds the signed events.
func TestRecordBatchSigned(t *testing.T) {
	ctx := context.Background()
	mem := eventstore.NewMemory()
	l := domain.NewLedger(mem, domain.Policy{})
	signer := domain.NewSigner(testKey(t))
	l.SignWith(signer)
	keys := domain.Keyring{}
	keys.Add(signer.Public())
	for _, n := range []int{1, 63, 64, 65, 300} {
		batch := make([]domain.Command, n)
		for i := range batch {
			batch[i] = newCommand(domain.Allocate, []domain.LineKey{lineHaNoi, lineHCM}[i%2], 1, "")
		}
		res, err := l.RecordBatch(ctx, batch)
		require.NoError(t, err)
		for i := range res {
			require.NoError(t, keys.Verify(&res[i].Recorded.Event), "batch of %d, event %d", n, i)
		}
	}
	evs := mem.Events()
	require.Len(t, evs, 1+63+64+65+300)
	for i := range evs {
		require.NoError(t, keys.Verify(&evs[i].Event), "event %d in the log", i)
	}
}

// failingAppends refuses the atomic writes it is told to, as a line
// moved on under them would be.
type failingAppends struct {
	*eventstore.Memory
	calls  int
	refuse map[int]bool // by call, from 1
	sizes  []int
}

func (f *failingAppends) AppendAll(ctx context.Context, ps []domain.Proposal) ([]uint64, error) {
	f.calls++
	f.sizes = append(f.sizes, len(ps))
	if f.refuse[f.calls] {
		return nil, domain.ErrStale
	}
	return f.Memory.AppendAll(ctx, ps)
}

// A batch larger than one atomic write is appended in writes of
// domain.MaxAppendBatch, in order, each expecting the lines as the one
// before left them; a refused write leaves the ones before it recorded
// and the rest recorded one by one, each command once.
func TestRecordBatchInSeveralWrites(t *testing.T) {
	ctx := context.Background()
	const n = 2*domain.MaxAppendBatch + 100
	batch := func() []domain.Command {
		cmds := []domain.Command{newCommand(domain.Allocate, lineHaNoi, 10*million, ""), newCommand(domain.Allocate, lineHCM, 10*million, "")}
		for i := len(cmds); i < n; i++ {
			cmds = append(cmds, newCommand(domain.Disburse, []domain.LineKey{lineHaNoi, lineHCM}[i%2], 1000, ""))
		}
		return cmds
	}
	for name, refuse := range map[string]map[int]bool{"every write lands": nil, "the second write refused": {2: true}} {
		t.Run(name, func(t *testing.T) {
			log := &failingAppends{Memory: eventstore.NewMemory(), refuse: refuse}
			l := domain.NewLedger(log, domain.Policy{})
			l.SignWith(domain.NewSigner(testKey(t)))
			cmds := batch()
			res, err := l.RecordBatch(ctx, cmds)
			require.NoError(t, err)
			require.Len(t, res, n)
			if refuse == nil {
				assert.Equal(t, []int{domain.MaxAppendBatch, domain.MaxAppendBatch, 100}, log.sizes)
			} else {
				assert.Equal(t, []int{domain.MaxAppendBatch, domain.MaxAppendBatch}, log.sizes, "then one by one")
			}
			evs := log.Events()
			require.Len(t, evs, n, "each command once")
			for i, r := range res {
				assert.Equal(t, cmds[i].IdempotencyKey, r.Recorded.Event.IdempotencyKey)
				assert.Equal(t, evs[i].Seq, r.Recorded.Seq, "in order")
				assert.NotEmpty(t, r.Recorded.Event.Signature)
			}
			other := domain.NewLedger(log.Memory, domain.Policy{})
			for _, k := range []domain.LineKey{lineHaNoi, lineHCM} {
				st, err := other.State(ctx, k)
				require.NoError(t, err, "the chain replays")
				requireVND(t, fmt.Sprint(10*million-(n/2-1)*1000), st.Balance.Available())
			}
		})
	}
}
