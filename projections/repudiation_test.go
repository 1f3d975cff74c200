package projections_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

var line01 = domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}

// repudiate appends, at the next sequence, a signed repudiation of seq on
// the ledger's own chain.
func (h *signedHistory) repudiate(t *testing.T, seq uint64) domain.Recorded {
	t.Helper()
	st := h.lines[domain.LineKey{}]
	if st == nil {
		st = domain.NewLineState(domain.LineKey{})
		h.lines[domain.LineKey{}] = st
	}
	n := uint64(len(h.recs) + 1)
	c := domain.Command{
		Kind: domain.Repudiate, RepudiatedSeq: seq, Decision: "7/QĐ-TTKC", Reason: "tin nhắn giả",
		EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 1},
		EventID:       "rep-" + string(rune('0'+n)), Actor: "admin", IdempotencyKey: "rk-" + string(rune('0'+n)), Now: now,
	}
	ev, err := domain.Decide(st, c, domain.Policy{})
	require.NoError(t, err)
	h.signer.Sign(&ev)
	r := domain.Recorded{Event: ev, Seq: n}
	require.NoError(t, st.Apply(r))
	h.recs = append(h.recs, r)
	return r
}

// badHistory is an honest history with an overspending disbursement at
// seq 6, well chained but unsigned, then its repudiation at 7 and a sound
// allocation at 8.
func badHistory(t *testing.T) (*signedHistory, domain.Keyring, *domain.Repudiations) {
	h, ring := honest(t)
	bad := h.next(t, domain.Disburse, 1_000_000)
	h.recs = append(h.recs, domain.Recorded{Event: bad, Seq: 6})
	reps := domain.NewRepudiations()
	reps.Add(h.repudiate(t, 6))
	h.record(t, domain.Allocate, "01", 2_000)
	return h, ring, reps
}

func TestBalancesSkipRepudiated(t *testing.T) {
	h, _, reps := badHistory(t)
	b := projections.NewBalances()
	var stopped error
	for _, r := range h.recs {
		if reps.Has(r.Seq) {
			r = domain.Recorded{Seq: r.Seq, Repudiated: true}
		}
		if err := b.Apply(r); err != nil {
			stopped = err
			break
		}
	}
	require.NoError(t, stopped)
	rep := b.Report(projections.Filter{})
	assert.Equal(t, uint64(8), rep.AsOfSeq)
	require.Len(t, rep.Lines, 2, "the ledger's own line is no budget line")
	assert.True(t, rep.Lines[0].Totals.Balance.Available().Equal(domain.AmountFromInt64(9_000)), "the bad disbursement is out, the later allocation in")

	// Without the repudiation, the balances stop at the bad message.
	b = projections.NewBalances()
	var err error
	for _, r := range h.recs {
		if err = b.Apply(r); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, domain.ErrCorrupt)
	assert.Equal(t, uint64(5), b.Applied())

	// A checkpoint keeps what was passed over.
	b = projections.NewBalances()
	for _, r := range h.recs[:6] {
		if reps.Has(r.Seq) {
			r = domain.Recorded{Seq: r.Seq, Repudiated: true}
		}
		require.NoError(t, b.Apply(r))
	}
	data, _ := b.Checkpoint()
	b, _, err = projections.RestoreBalances(data)
	require.NoError(t, err)
	require.NoError(t, b.Apply(h.recs[6]))
	require.NoError(t, b.Apply(h.recs[7]))
}

// A repudiation of an event applied as sound stops the balances: a sound
// event is never repudiated.
func TestBalancesRefuseRepudiationOfASoundEvent(t *testing.T) {
	h, _ := honest(t)
	h.repudiate(t, 3)
	b := projections.NewBalances()
	var err error
	for _, r := range h.recs {
		if err = b.Apply(r); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, domain.ErrCorrupt)
	assert.Contains(t, err.Error(), "names seq 3")
	assert.Equal(t, uint64(5), b.Applied())
}

func TestVerifyReportsRepudiated(t *testing.T) {
	h, ring, reps := badHistory(t)
	v := projections.NewVerification(ring, domain.Policy{})
	v.Repudiations(reps)
	for _, r := range h.recs {
		v.Check(r.Seq, r, nil)
	}
	// An undecodable message at 9, repudiated at 10.
	h.recs = append(h.recs, domain.Recorded{Seq: 9})
	rep := h.repudiate(t, 9)
	reps.Add(rep)
	v.Check(9, domain.Recorded{}, errors.New("does not decode"))
	v.Check(10, rep, nil)
	v.Finish(10)
	require.True(t, v.OK(), "%v", v.Problems)
	require.Len(t, v.Repudiated, 2)
	assert.Equal(t, uint64(6), v.Repudiated[0].Seq)
	assert.Equal(t, uint64(7), v.Repudiated[0].BySeq)
	assert.Equal(t, "admin", v.Repudiated[0].Actor)
	assert.Equal(t, "tin nhắn giả", v.Repudiated[0].Reason)
	assert.Contains(t, v.Repudiated[0].Found, "not signed")
	assert.Contains(t, v.Repudiated[1].Found, "does not decode")
	assert.Len(t, v.Lines(), 2)
}

func TestVerifyRefusesRepudiationOfASoundEvent(t *testing.T) {
	h, ring := honest(t)
	reps := domain.NewRepudiations()
	reps.Add(h.repudiate(t, 3))
	v := projections.NewVerification(ring, domain.Policy{})
	v.Repudiations(reps)
	for _, r := range h.recs {
		v.Check(r.Seq, r, nil)
	}
	v.Finish(6)
	require.False(t, v.OK())
	assert.Equal(t, uint64(3), v.Problems[0].Seq)
	assert.Contains(t, v.Problems[0].Detail, "is a sound event")
}
