package projections_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

var (
	hanoi2025 = domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}
	hanoi2026 = domain.LineKey{FiscalYear: 2026, Province: "01", Source: domain.SourceNational}
)

// transfer records, after the honest history, a carry-over of amount from
// 2025/01 to 2026/01 as the ledger does: both sides decided together,
// signed, at consecutive sequences.
func (h *signedHistory) transfer(t *testing.T, amount int64) (out, in domain.Recorded) {
	t.Helper()
	n := len(h.recs) + 1
	c := domain.Command{
		Kind: domain.Transfer, FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
		Amount: domain.AmountFromInt64(amount), TransferKind: domain.TransferCarryOver, To: hanoi2026,
		Decision: "27/QĐ-BCT", EffectiveDate: domain.Date{Year: 2026, Month: time.January, Day: 20},
		EventID: fmt.Sprintf("ev-%d", n), InEventID: fmt.Sprintf("ev-%d", n+1), Actor: "tester", IdempotencyKey: fmt.Sprintf("k-%d", n), Now: now,
	}
	from, to := h.lines[hanoi2025], h.lines[hanoi2026]
	if to == nil {
		to = domain.NewLineState(hanoi2026)
		h.lines[hanoi2026] = to
	}
	oe, ie, err := domain.DecideTransfer(from, to, c, domain.Policy{})
	require.NoError(t, err)
	h.signer.Sign(&oe)
	h.signer.Sign(&ie)
	out, in = domain.Recorded{Event: oe, Seq: uint64(n)}, domain.Recorded{Event: ie, Seq: uint64(n + 1)}
	require.NoError(t, from.Apply(out))
	require.NoError(t, to.Apply(in))
	h.recs = append(h.recs, out, in)
	return out, in
}

// reseal recomputes an event's hash on its chain and signs it with the
// ledger's key: what an insider with the key can forge.
func (h *signedHistory) reseal(e *domain.Event) {
	e.Hash = e.ComputeHash()
	h.signer.Sign(e)
}

// An honest transfer is whole: verify finds nothing, and the lines it
// recomputes have moved the money.
func TestVerifyWholeTransfer(t *testing.T) {
	h, ring := honest(t)
	h.transfer(t, 2_000)
	h.transfer(t, 1_000)
	v := verify(ring, h.recs, uint64(len(h.recs)))
	require.True(t, v.OK(), "%v", v.Problems)
	requireAmountEq(t, "4000", v.Lines()[hanoi2025].Balance.Available())
	requireAmountEq(t, "3000", v.Lines()[hanoi2026].Balance.Available())
}

func requireAmountEq(t *testing.T, want string, got domain.Amount) {
	t.Helper()
	w, err := domain.ParseAmount(want)
	require.NoError(t, err)
	require.True(t, w.Equal(got), "want %s, got %s", want, got)
}

// Each way a transfer can be broken into a half pair, every event well
// chained, valid and signed by the ledger's own key, is a verify problem
// at the sequence of the side left alone or unmatched.
func TestVerifyFindsHalfTransfers(t *testing.T) {
	for _, tc := range []struct {
		name string
		// forge returns the stream, given an honest history whose last
		// two messages are a transfer's sides.
		forge  func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded
		seq    uint64
		detail string
	}{
		{
			name: "an out side with no in side (the in side never written)",
			forge: func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded {
				return h.recs[:len(h.recs)-1]
			},
			seq: 6, detail: "has no transferred_in side at seq 7",
		},
		{
			name: "an out side followed by another movement",
			forge: func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded {
				recs := h.recs[:len(h.recs)-1]
				h.lines[hanoi2025].LastSeq, h.lines[hanoi2025].LastHash = out.Seq, out.Event.Hash
				ev := h.next(t, domain.Disburse, 100)
				h.signer.Sign(&ev)
				return append(recs, domain.Recorded{Event: ev, Seq: 7})
			},
			seq: 6, detail: "has no transferred_in side at seq 7",
		},
		{
			name: "an in side with no out side",
			forge: func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded {
				// The out side replaced by a disbursement on its line.
				recs := append([]domain.Recorded(nil), h.recs[:5]...)
				ev := h.next(t, domain.Disburse, 100)
				h.signer.Sign(&ev)
				return append(recs, domain.Recorded{Event: ev, Seq: 6}, in)
			},
			seq: 7, detail: "has no transferred_out side at seq 6",
		},
		{
			name: "the sides apart (a message between them)",
			forge: func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded {
				recs := append([]domain.Recorded(nil), h.recs[:5]...)
				st := h.lines[domain.LineKey{FiscalYear: 2025, Province: "79", Source: domain.SourceNational}]
				c := h.command(domain.Disburse, "79", 100)
				ev, err := domain.Decide(st, c, domain.Policy{})
				require.NoError(t, err)
				h.signer.Sign(&ev)
				in.Seq = 8
				return append(recs, out, domain.Recorded{Event: ev, Seq: 7}, in)
			},
			seq: 6, detail: "has no transferred_in side at seq 7",
		},
		{
			name: "an in side with more money than left",
			forge: func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded {
				in.Event.Amount = domain.AmountFromInt64(5_000)
				h.reseal(&in.Event)
				return append(h.recs[:6:6], in)
			},
			seq: 7, detail: "amount",
		},
		{
			name: "an in side of another transfer",
			forge: func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded {
				in.Event.TransferID = "ev-99"
				h.reseal(&in.Event)
				return append(h.recs[:6:6], in)
			},
			seq: 7, detail: "transfer_id",
		},
		{
			name: "an in side with another idempotency key",
			forge: func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded {
				in.Event.IdempotencyKey = "k-other"
				h.reseal(&in.Event)
				return append(h.recs[:6:6], in)
			},
			seq: 7, detail: "idempotency_key",
		},
		{
			name: "an in side for a project the out side did not name",
			forge: func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded {
				in.Event.Project = "DA-9"
				h.reseal(&in.Event)
				return append(h.recs[:6:6], in)
			},
			seq: 7, detail: "project",
		},
		{
			name: "an in side of another kind",
			forge: func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded {
				in.Event.TransferKind = domain.TransferSuccession
				h.reseal(&in.Event)
				return append(h.recs[:6:6], in)
			},
			seq: 7, detail: "transfer_kind",
		},
		{
			name: "an in side naming another source line",
			forge: func(t *testing.T, h *signedHistory, out, in domain.Recorded) []domain.Recorded {
				in.Event.FromLine = domain.LineKey{FiscalYear: 2025, Province: "79", Source: domain.SourceNational}
				h.reseal(&in.Event)
				return append(h.recs[:6:6], in)
			},
			seq: 7, detail: "from_line",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ring := honest(t)
			out, in := h.transfer(t, 2_000)
			recs := tc.forge(t, h, out, in)
			v := verify(ring, recs, recs[len(recs)-1].Seq)
			require.False(t, v.OK(), "a half transfer passes verify")
			var found bool
			for _, p := range v.Problems {
				if p.Seq == tc.seq && strings.Contains(p.Detail, tc.detail) && strings.Contains(p.Detail, "transfer") {
					found = true
				}
			}
			assert.True(t, found, "no problem at seq %d naming %q: %v", tc.seq, tc.detail, v.Problems)
		})
	}
}

// Served balances that leave out a transfer or a lapse differ from the
// stream's.
func TestCompareServedTransfers(t *testing.T) {
	h, _ := honest(t)
	h.transfer(t, 2_000)
	b := projections.NewBalances()
	for _, r := range h.recs {
		require.NoError(t, b.Apply(r))
	}
	rep := b.Report(projections.Filter{})
	require.NoError(t, projections.Compare(rep, h.lines))
	for i, l := range rep.Lines {
		if l.Line == hanoi2025 {
			rep.Lines[i].Totals.Balance.TransferredOut = domain.AmountFromInt64(0)
		}
	}
	err := projections.Compare(rep, h.lines)
	require.ErrorIs(t, err, projections.ErrMismatch)
	assert.Contains(t, err.Error(), "transferred out")
}
