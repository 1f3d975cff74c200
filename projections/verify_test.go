package projections_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

func newSigner(t *testing.T) *domain.Signer {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return domain.NewSigner(key)
}

// signedHistory records commands through the real rules, signed, at
// contiguous sequences from 1: an honest stream.
type signedHistory struct {
	signer *domain.Signer
	lines  map[domain.LineKey]*domain.LineState
	recs   []domain.Recorded
}

func (h *signedHistory) command(kind domain.CommandKind, province string, amount int64) domain.Command {
	n := len(h.recs) + 1
	c := domain.Command{
		Kind: kind, FiscalYear: 2025, Province: province, Source: domain.SourceNational,
		Amount:        domain.AmountFromInt64(amount),
		EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 1},
		EventID:       fmt.Sprintf("ev-%d", n), Actor: "tester", IdempotencyKey: fmt.Sprintf("k-%d", n), Now: now,
	}
	switch kind {
	case domain.Allocate, domain.Adjust:
		c.Decision = "1/QĐ-BCT"
	default:
		c.Voucher = "KB-1"
	}
	if kind == domain.Disburse {
		c.Beneficiary = "HTX"
	}
	if kind == domain.Adjust || kind == domain.Refund {
		c.Reason = "lý do"
	}
	return c
}

func (h *signedHistory) record(t *testing.T, kind domain.CommandKind, province string, amount int64) {
	t.Helper()
	c := h.command(kind, province, amount)
	st := h.lines[c.Line()]
	if st == nil {
		st = domain.NewLineState(c.Line())
		h.lines[c.Line()] = st
	}
	ev, err := domain.Decide(st, c, domain.Policy{})
	require.NoError(t, err)
	h.signer.Sign(&ev)
	r := domain.Recorded{Event: ev, Seq: uint64(len(h.recs) + 1)}
	require.NoError(t, st.Apply(r))
	h.recs = append(h.recs, r)
}

func honest(t *testing.T) (*signedHistory, domain.Keyring) {
	t.Helper()
	h := &signedHistory{signer: newSigner(t), lines: map[domain.LineKey]*domain.LineState{}}
	h.record(t, domain.Allocate, "01", 10_000)
	h.record(t, domain.Allocate, "79", 5_000)
	h.record(t, domain.Disburse, "01", 4_000)
	h.record(t, domain.Refund, "01", 1_000)
	h.record(t, domain.Adjust, "79", -500)
	ring := domain.Keyring{}
	ring.Add(h.signer.Public())
	return h, ring
}

func verify(ring domain.Keyring, recs []domain.Recorded, last uint64) *projections.Verification {
	v := projections.NewVerification(ring, domain.Policy{})
	for _, r := range recs {
		v.Check(r.Seq, r, nil)
	}
	v.Finish(last)
	return v
}

func TestVerifyHonestHistory(t *testing.T) {
	h, ring := honest(t)
	v := verify(ring, h.recs, 5)
	require.True(t, v.OK(), "%v", v.Problems)
	assert.Equal(t, 5, v.Events)
	require.Len(t, v.Lines(), 2)
	hanoi := v.Lines()[domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}]
	assert.True(t, hanoi.Balance.Available().Equal(domain.AmountFromInt64(7_000)))
}

// next returns an event that extends line 01's chain correctly: what a
// forger who can read the stream can make.
func (h *signedHistory) next(t *testing.T, kind domain.CommandKind, amount int64) domain.Event {
	t.Helper()
	st := h.lines[domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}]
	c := h.command(kind, "01", amount)
	ev, err := domain.Decide(st, c, domain.Policy{})
	if err != nil {
		// Past the rules: build it by hand, as an insider bypassing them.
		ev = domain.Event{ID: c.EventID, Type: kind.EventType(), FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
			Amount: c.Amount, Voucher: c.Voucher, Beneficiary: c.Beneficiary, EffectiveDate: c.EffectiveDate,
			RecordedAt: now, Actor: "tester", IdempotencyKey: c.IdempotencyKey, PrevHash: st.LastHash}
		ev.Hash = ev.ComputeHash()
	}
	return ev
}

// Each way of tampering with the stream is found, and named with its
// sequence.
func TestVerifyFindsTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, h *signedHistory) ([]domain.Recorded, uint64)
		seq    uint64
		detail string
	}{
		{
			name: "a well-chained event signed by another key",
			tamper: func(t *testing.T, h *signedHistory) ([]domain.Recorded, uint64) {
				ev := h.next(t, domain.Disburse, 1_000)
				newSigner(t).Sign(&ev)
				return append(h.recs, domain.Recorded{Event: ev, Seq: 6}), 6
			},
			seq: 6, detail: "not one of the ledger's",
		},
		{
			name: "a well-chained event with no signature",
			tamper: func(t *testing.T, h *signedHistory) ([]domain.Recorded, uint64) {
				return append(h.recs, domain.Recorded{Event: h.next(t, domain.Disburse, 1_000), Seq: 6}), 6
			},
			seq: 6, detail: "is not signed",
		},
		{
			name: "an amount altered after signing",
			tamper: func(t *testing.T, h *signedHistory) ([]domain.Recorded, uint64) {
				recs := append([]domain.Recorded(nil), h.recs...)
				recs[2].Event.Amount = domain.AmountFromInt64(400)
				return recs, 5
			},
			seq: 3, detail: "content hashes to",
		},
		{
			name: "a broken link, re-signed by the ledger's own key",
			tamper: func(t *testing.T, h *signedHistory) ([]domain.Recorded, uint64) {
				recs := append([]domain.Recorded(nil), h.recs...)
				ev := &recs[3].Event
				ev.PrevHash = domain.GenesisHash
				ev.Hash = ev.ComputeHash()
				h.signer.Sign(ev)
				return recs, 5
			},
			seq: 4, detail: "links to",
		},
		{
			name: "an overspend signed with the ledger's key (an insider past the rules)",
			tamper: func(t *testing.T, h *signedHistory) ([]domain.Recorded, uint64) {
				ev := h.next(t, domain.Disburse, 8_000) // 7 000 available
				h.signer.Sign(&ev)
				return append(h.recs, domain.Recorded{Event: ev, Seq: 6}), 6
			},
			seq: 6, detail: "net disbursed",
		},
		{
			name: "a deleted message",
			tamper: func(t *testing.T, h *signedHistory) ([]domain.Recorded, uint64) {
				recs := append(append([]domain.Recorded(nil), h.recs[:1]...), h.recs[2:]...)
				return recs, 5
			},
			seq: 2, detail: "messages 2 to 2 are missing",
		},
		{
			name: "the last messages deleted",
			tamper: func(t *testing.T, h *signedHistory) ([]domain.Recorded, uint64) {
				return h.recs[:3], 5
			},
			seq: 4, detail: "messages 4 to 5 are missing",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ring := honest(t)
			recs, last := tc.tamper(t, h)
			v := verify(ring, recs, last)
			require.False(t, v.OK())
			assert.Equal(t, tc.seq, v.Problems[0].Seq, "%v", v.Problems)
			assert.Contains(t, v.Problems[0].Detail, tc.detail)
		})
	}
}

func TestVerifyNamesUndecodableAndRuleBreakingMessages(t *testing.T) {
	h, ring := honest(t)
	v := projections.NewVerification(ring, domain.Policy{})
	for _, r := range h.recs {
		v.Check(r.Seq, r, nil)
	}
	v.Check(6, domain.Recorded{}, fmt.Errorf("%w: event at seq 6: invalid character", domain.ErrCorrupt))

	bad := h.next(t, domain.Disburse, 0) // zero: refused by the rules
	bad.Amount = domain.AmountFromInt64(0)
	bad.Hash = bad.ComputeHash()
	h.signer.Sign(&bad)
	v.Check(7, domain.Recorded{Event: bad, Seq: 7}, nil)
	v.Finish(7)
	require.Len(t, v.Problems, 2, "%v", v.Problems)
	assert.Equal(t, uint64(6), v.Problems[0].Seq)
	assert.Equal(t, uint64(7), v.Problems[1].Seq)
	assert.Contains(t, v.Problems[1].Detail, "breaks a rule")
}

func TestCompareServedBalances(t *testing.T) {
	h, _ := honest(t)
	b := projections.NewBalances()
	for _, r := range h.recs {
		require.NoError(t, b.Apply(r))
	}
	rep := b.Report(projections.Filter{})
	require.NoError(t, projections.Compare(rep, h.lines))

	rep.Lines[0].Totals.Balance.Disbursed = domain.AmountFromInt64(1)
	err := projections.Compare(rep, h.lines)
	require.True(t, errors.Is(err, projections.ErrMismatch), "%v", err)
	assert.Contains(t, err.Error(), rep.Lines[0].Line.String())

	rep = b.Report(projections.Filter{Province: "01"})
	require.ErrorIs(t, projections.Compare(rep, h.lines), projections.ErrMismatch, "a line missing from what is served")
}
