package projections_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

func TestCheckpointRoundTrip(t *testing.T) {
	h, _ := honest(t)
	b := projections.NewBalances()
	for _, r := range h.recs[:4] {
		require.NoError(t, b.Apply(r))
	}
	data, seq := b.Checkpoint()
	require.Equal(t, uint64(4), seq)

	restored, cp, err := projections.RestoreBalances(data)
	require.NoError(t, err)
	assert.Equal(t, h.recs[3].Event.Hash, cp.AppliedHash)
	assert.Equal(t, b.Report(projections.Filter{}), restored.Report(projections.Filter{}))

	// The restored model goes on from there exactly as the original.
	require.NoError(t, b.Apply(h.recs[4]))
	require.NoError(t, restored.Apply(h.recs[4]))
	assert.Equal(t, b.Report(projections.Filter{}), restored.Report(projections.Filter{}))
	// And still checks the chain: an event that does not link is refused.
	bad := h.recs[4]
	bad.Seq = 9
	require.ErrorIs(t, restored.Apply(bad), domain.ErrCorrupt)
}

func TestCheckpointRefusesImpossibleStates(t *testing.T) {
	h, _ := honest(t)
	b := projections.NewBalances()
	for _, r := range h.recs {
		require.NoError(t, b.Apply(r))
	}
	data, _ := b.Checkpoint()
	edit := func(fn func(c *projections.Checkpoint)) []byte {
		var c projections.Checkpoint
		require.NoError(t, json.Unmarshal(data, &c))
		fn(&c)
		out, err := json.Marshal(&c)
		require.NoError(t, err)
		return out
	}
	for name, bad := range map[string][]byte{
		"not JSON":          []byte("{"),
		"another version":   edit(func(c *projections.Checkpoint) { c.Version = 99 }),
		"no applied hash":   edit(func(c *projections.Checkpoint) { c.AppliedHash = "" }),
		"a line twice":      edit(func(c *projections.Checkpoint) { c.Lines = append(c.Lines, c.Lines[0]) }),
		"a line from later": edit(func(c *projections.Checkpoint) { c.Lines[0].LastSeq = c.AppliedSeq + 1 }),
		"overspent": edit(func(c *projections.Checkpoint) {
			l := &c.Lines[0].Balance
			l.Disbursed = l.Allocated.Add(l.Refunded).Add(domain.AmountFromInt64(1))
		}),
		"a bad hash": edit(func(c *projections.Checkpoint) { c.Lines[0].LastHash = strings.Repeat("x", 3) }),
	} {
		_, _, err := projections.RestoreBalances(bad)
		assert.Error(t, err, name)
	}
}

// A model resumed from a wrong (but plausible) checkpoint is put right by
// Rebuild, which says that it differed; a sound one is left as it was.
func TestRebuildReplacesAWrongState(t *testing.T) {
	h, _ := honest(t)
	good := projections.NewBalances()
	for _, r := range h.recs {
		require.NoError(t, good.Apply(r))
	}
	data, _ := good.Checkpoint()
	var c projections.Checkpoint
	require.NoError(t, json.Unmarshal(data, &c))
	c.Lines[0].Balance.Allocated = c.Lines[0].Balance.Allocated.Add(domain.AmountFromInt64(1_000_000))
	wrongData, err := json.Marshal(&c)
	require.NoError(t, err)
	wrong, _, err := projections.RestoreBalances(wrongData)
	require.NoError(t, err, "plausible, so the checkpoint checks let it through")
	require.NotEqual(t, good.Report(projections.Filter{}), wrong.Report(projections.Filter{}))

	seq, differed, err := wrong.Rebuild(context.Background(), sliceFeed(h.recs))
	require.NoError(t, err)
	assert.True(t, differed)
	assert.Equal(t, uint64(5), seq)
	assert.Equal(t, good.Report(projections.Filter{}), wrong.Report(projections.Filter{}))

	_, differed, err = good.Rebuild(context.Background(), sliceFeed(h.recs))
	require.NoError(t, err)
	assert.False(t, differed)
}
