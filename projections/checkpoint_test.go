package projections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// TestTotalsAtTheBoundRoundTrip fills the lines of three fiscal years (each
// two-digit province code, both sources) to domain.MaxLineTotal, with a
// project at the bound too, and checks that the checkpoint, the served
// report (whose grand total has 21 digits) and verify's comparison all
// read the totals back exactly. domain's TestBalanceJSONAtTheBound does
// the same for the sum of every line the ledger can hold (23 digits),
// which would make this test take seconds.
func TestTotalsAtTheBoundRoundTrip(t *testing.T) {
	full := domain.Balance{Allocated: domain.MaxLineTotal, Disbursed: domain.MaxLineTotal, Refunded: domain.MaxLineTotal.Sub(domain.AmountFromInt64(1))}
	cp := projections.Checkpoint{Version: 2, AppliedSeq: 1, AppliedHash: strings.Repeat("a", 64)}
	recomputed := map[domain.LineKey]*domain.LineState{}
	for fy := 2024; fy <= 2026; fy++ {
		for p := 0; p < 100; p++ {
			for _, src := range []domain.Source{domain.SourceLocal, domain.SourceNational} { // in the checkpoint's order
				k := domain.LineKey{FiscalYear: fy, Province: fmt.Sprintf("%02d", p), Source: src}
				cp.Lines = append(cp.Lines, projections.CheckpointLine{
					Key: k, Balance: full, Projects: map[string]domain.Balance{"DA-01": full},
					Events: 1, LastSeq: 1, LastHash: strings.Repeat("a", 64),
				})
				st := domain.NewLineState(k)
				st.Balance, st.Events = full, 1
				recomputed[k] = st
			}
		}
	}
	data, err := json.Marshal(&cp)
	require.NoError(t, err)

	b, _, err := projections.RestoreBalances(data)
	require.NoError(t, err, "the checkpoint reads back")
	again, _ := b.Checkpoint()
	require.True(t, bytes.Equal(data, again), "the restored checkpoint encodes the same") // no diff of 300 kB

	report := b.Report(projections.Filter{})
	grand := domain.ZeroAmount
	for range cp.Lines {
		grand = grand.Add(domain.MaxLineTotal)
	}
	require.True(t, report.Total.Balance.Allocated.Equal(grand))
	require.Len(t, grand.String(), 21, "the grand total passes the 19 digits of an amount")

	served, err := json.Marshal(report)
	require.NoError(t, err)
	var back projections.Report
	require.NoError(t, json.Unmarshal(served, &back), "the served report reads back")
	assert.True(t, back.Total.Balance.Allocated.Equal(grand), "grand total %s, want %s", back.Total.Balance.Allocated, grand)
	assert.True(t, back.Total.Balance.Refunded.Equal(grand.Sub(domain.AmountFromInt64(int64(len(cp.Lines))))))
	assert.True(t, back.Years[0].Totals.Balance.Disbursed.Equal(report.Years[0].Totals.Balance.Disbursed))
	assert.True(t, back.Lines[0].Projects[0].Balance.Allocated.Equal(domain.MaxLineTotal))
	require.NoError(t, projections.Compare(back, recomputed), "verify --compare agrees")
}
