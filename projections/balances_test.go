package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

var now = time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)

// history records commands through the real rules, so the events carry a
// valid hash chain, and returns them in order.
type history struct {
	lines map[domain.LineKey]*domain.LineState
	recs  []domain.Recorded
	seq   uint64
}

func newHistory() *history { return &history{lines: map[domain.LineKey]*domain.LineState{}} }

func (h *history) record(t *testing.T, kind domain.CommandKind, year int, province string, src domain.Source, project string, amount int64) {
	t.Helper()
	c := domain.Command{
		Kind: kind, FiscalYear: year, Province: province, Source: src, Project: project,
		Amount:        domain.AmountFromInt64(amount),
		EffectiveDate: domain.Date{Year: year, Month: time.March, Day: 1},
		EventID:       fmt.Sprintf("ev-%d", h.seq+1), Actor: "tester", IdempotencyKey: fmt.Sprintf("k-%d", h.seq+1), Now: now,
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
	st := h.lines[c.Line()]
	if st == nil {
		st = domain.NewLineState(c.Line())
		h.lines[c.Line()] = st
	}
	ev, err := domain.Decide(st, c, domain.Policy{})
	require.NoError(t, err)
	h.seq += 3 // sequences need not be contiguous
	r := domain.Recorded{Event: ev, Seq: h.seq}
	require.NoError(t, st.Apply(r))
	h.recs = append(h.recs, r)
}

func requireAmount(t *testing.T, want int64, got domain.Amount, what string) {
	t.Helper()
	require.True(t, got.Equal(domain.AmountFromInt64(want)), "%s: want %d, got %s", what, want, got)
}

func sample(t *testing.T) *history {
	h := newHistory()
	h.record(t, domain.Allocate, 2024, "01", domain.SourceNational, "", 1000)
	h.record(t, domain.Allocate, 2024, "01", domain.SourceNational, "DA-1", 400)
	h.record(t, domain.Disburse, 2024, "01", domain.SourceNational, "DA-1", 300)
	h.record(t, domain.Refund, 2024, "01", domain.SourceNational, "DA-1", 50)
	h.record(t, domain.Allocate, 2024, "01", domain.SourceLocal, "", 200)
	h.record(t, domain.Adjust, 2024, "01", domain.SourceLocal, "", -20)
	h.record(t, domain.Allocate, 2024, "79", domain.SourceLocal, "", 500)
	h.record(t, domain.Disburse, 2024, "79", domain.SourceLocal, "", 500)
	h.record(t, domain.Allocate, 2025, "01", domain.SourceNational, "", 70)
	return h
}

func TestReportTotals(t *testing.T) {
	h := sample(t)
	b := projections.NewBalances()
	for _, r := range h.recs {
		require.NoError(t, b.Apply(r))
	}
	r := b.Report(projections.Filter{})
	assert.Equal(t, h.seq, r.AsOfSeq)
	require.Len(t, r.Lines, 4)
	first := r.Lines[0]
	assert.Equal(t, domain.LineKey{FiscalYear: 2024, Province: "01", Source: domain.SourceLocal}, first.Line, "sorted by year, province, source")
	requireAmount(t, 180, first.Totals.Balance.Allocated, "local line after a -20 adjustment")

	nat := r.Lines[1]
	requireAmount(t, 1400, nat.Totals.Balance.Allocated, "national allocated")
	requireAmount(t, 250, nat.Totals.Balance.NetDisbursed(), "national net disbursed")
	requireAmount(t, 1150, nat.Totals.Balance.Available(), "national available")
	assert.Equal(t, 4, nat.Totals.Events)
	require.Len(t, nat.Projects, 1)
	assert.Equal(t, "DA-1", nat.Projects[0].Project)
	requireAmount(t, 150, nat.Projects[0].Balance.Available(), "project available")

	require.Len(t, r.Provinces, 3)
	assert.Equal(t, "01", r.Provinces[0].Province)
	requireAmount(t, 1580, r.Provinces[0].Totals.Balance.Allocated, "Hà Nội 2024, both sources")
	require.Len(t, r.Years, 2)
	requireAmount(t, 2080, r.Years[0].Totals.Balance.Allocated, "2024")
	requireAmount(t, 750, r.Years[0].Totals.Balance.NetDisbursed(), "2024 net")
	requireAmount(t, 70, r.Years[1].Totals.Balance.Allocated, "2025")
	requireAmount(t, 2150, r.Total.Balance.Allocated, "grand total")
	assert.Equal(t, len(h.recs), r.Total.Events)

	only := b.Report(projections.Filter{FiscalYear: 2024, Province: "79"})
	require.Len(t, only.Lines, 1)
	requireAmount(t, 0, only.Total.Balance.Available(), "79 spent everything")
	none := b.Report(projections.Filter{Source: domain.SourceLocal, FiscalYear: 2025})
	assert.Empty(t, none.Lines)
	assert.NotNil(t, none.Lines, "an empty selection is an empty list in JSON, not null")
}

// A feed that redelivers must not count anything twice.
func TestApplyIsIdempotentOnSequence(t *testing.T) {
	h := sample(t)
	b := projections.NewBalances()
	for _, r := range h.recs {
		require.NoError(t, b.Apply(r))
	}
	want := b.Report(projections.Filter{})
	for _, r := range h.recs {
		require.NoError(t, b.Apply(r))
	}
	got := b.Report(projections.Filter{})
	assert.Equal(t, want.Total.Events, got.Total.Events)
	requireAmount(t, 2150, got.Total.Balance.Allocated, "after redelivery")
}

// An altered event is corruption: the model refuses it and stays as it was.
func TestApplyRefusesTamperedEvent(t *testing.T) {
	h := sample(t)
	b := projections.NewBalances()
	require.NoError(t, b.Apply(h.recs[0]))
	bad := h.recs[1]
	bad.Event.Amount = domain.AmountFromInt64(999_999)
	err := b.Apply(bad)
	require.ErrorIs(t, err, domain.ErrCorrupt)
	assert.Equal(t, h.recs[0].Seq, b.Applied())
	requireAmount(t, 1000, b.Report(projections.Filter{}).Total.Balance.Allocated, "unchanged")
}

type sliceFeed []domain.Recorded

func (f sliceFeed) Follow(ctx context.Context, after uint64, fn func(domain.Recorded) error) error {
	for _, r := range f {
		if r.Seq > after {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	<-ctx.Done()
	return nil
}

func TestRunAndWaitFor(t *testing.T) {
	h := sample(t)
	b := projections.NewBalances()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, sliceFeed(h.recs)) }()

	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	require.NoError(t, b.WaitFor(wctx, h.seq))
	assert.Equal(t, h.seq, b.Applied())

	short, scancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer scancel()
	require.ErrorIs(t, b.WaitFor(short, h.seq+1), context.DeadlineExceeded, "a sequence never applied is never reached")

	cancel()
	require.NoError(t, <-done)
}
