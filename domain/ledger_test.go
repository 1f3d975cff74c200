package domain_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// ledgerNow is the recorded time of the commands: every date of fiscal year
// 2025 is in the past.
var ledgerNow = time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)

// Two lines of fiscal year 2025, in provinces that exist in both schemes.
var (
	lineHaNoi = domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}
	lineHCM   = domain.LineKey{FiscalYear: 2025, Province: "79", Source: domain.SourceLocal}
)

const million = 1_000_000

// newCommand returns a valid command of kind k on line, dated 2025-03-15,
// with fresh event id and idempotency key, as the ledger's edge makes them.
func newCommand(k domain.CommandKind, line domain.LineKey, amount int64, project string) domain.Command {
	c := domain.Command{
		Kind:           k,
		FiscalYear:     line.FiscalYear,
		Province:       line.Province,
		Source:         line.Source,
		Project:        project,
		Amount:         domain.AmountFromInt64(amount),
		EffectiveDate:  domain.Date{Year: 2025, Month: time.March, Day: 15},
		EventID:        uuid.Must(uuid.NewV7()).String(),
		Actor:          "tester",
		IdempotencyKey: uuid.Must(uuid.NewV7()).String(),
		Now:            ledgerNow,
	}
	switch k {
	case domain.Allocate:
		c.Decision = "3536/QĐ-BCT"
	case domain.Adjust:
		c.Decision = "120/QĐ-BCT"
		c.Reason = "điều chỉnh kế hoạch"
	case domain.Disburse:
		c.Voucher = "KB-2025-000123"
		c.Beneficiary = "Cơ sở mây tre đan Phú Vinh"
	case domain.Refund:
		c.Voucher = "KB-2025-000456"
		c.Reason = "nộp trả ngân sách nhà nước"
	}
	return c
}

// retry is cmd as a client's retry reaches the ledger: same content and
// idempotency key, but a new event id and recorded time from the edge.
func retry(cmd domain.Command) domain.Command {
	cmd.EventID = uuid.Must(uuid.NewV7()).String()
	cmd.Now = cmd.Now.Add(time.Minute)
	return cmd
}

// requireVND fails unless got is the amount want in the machine form,
// compared with Cmp.
func requireVND(t *testing.T, want string, got domain.Amount) {
	t.Helper()
	w, err := domain.ParseAmount(want)
	require.NoError(t, err)
	require.Truef(t, w.Cmp(got) == 0, "amount: want %s, got %s", want, got)
}

// requireErrorCode fails unless err matches sentinel and names field.
func requireErrorCode(t *testing.T, err error, sentinel error, field string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, sentinel)
	var e *domain.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, field, e.Field)
}

func mustRecord(t *testing.T, l *domain.Ledger, cmd domain.Command) domain.Result {
	t.Helper()
	res, err := l.Record(context.Background(), cmd)
	require.NoErrorf(t, err, "record %s %s", cmd.Kind, cmd.Amount)
	require.False(t, res.Replayed)
	return res
}

func TestLedgerRecord(t *testing.T) {
	ctx := context.Background()
	mem := eventstore.NewMemory()
	l := domain.NewLedger(mem, domain.Policy{})

	a := mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 10*million, "DA-01"))
	assert.Equal(t, domain.TypeAllocated, a.Recorded.Event.Type)
	assert.Equal(t, domain.GenesisHash, a.Recorded.Event.PrevHash)
	assert.NotZero(t, a.Recorded.Seq)
	requireVND(t, "10000000", a.Line.Balance.Allocated)
	requireVND(t, "10000000", a.Line.Project("DA-01").Allocated)

	cmd := newCommand(domain.Disburse, lineHaNoi, 4*million, "DA-01")
	d := mustRecord(t, l, cmd)
	e := d.Recorded.Event
	assert.Equal(t, domain.TypeDisbursed, e.Type)
	assert.Equal(t, cmd.EventID, e.ID)
	assert.Equal(t, cmd.IdempotencyKey, e.IdempotencyKey)
	assert.Equal(t, "tester", e.Actor)
	requireVND(t, "4000000", e.Amount)
	assert.Equal(t, a.Recorded.Event.Hash, e.PrevHash)
	assert.Equal(t, e.ComputeHash(), e.Hash)
	assert.Greater(t, d.Recorded.Seq, a.Recorded.Seq)

	// Result.Line is the state after the event.
	assert.Equal(t, 2, d.Line.Events)
	assert.Equal(t, d.Recorded.Seq, d.Line.LastSeq)
	assert.Equal(t, e.Hash, d.Line.LastHash)
	requireVND(t, "4000000", d.Line.Balance.Disbursed)
	requireVND(t, "6000000", d.Line.Balance.Available())
	requireVND(t, "6000000", d.Line.Project("DA-01").Available())
	requireVND(t, "10000000", a.Line.Balance.Available()) // an earlier result is a snapshot

	r := mustRecord(t, l, newCommand(domain.Refund, lineHaNoi, million, "DA-01"))
	requireVND(t, "3000000", r.Line.Balance.NetDisbursed())
	requireVND(t, "7000000", r.Line.Balance.Available())
	adj := newCommand(domain.Adjust, lineHaNoi, -2*million, "DA-01")
	j := mustRecord(t, l, adj)
	requireVND(t, "-2000000", j.Recorded.Event.Amount)
	requireVND(t, "8000000", j.Line.Balance.Allocated)
	requireVND(t, "5000000", j.Line.Project("DA-01").Available())

	events := mem.Events()
	require.Len(t, events, 4)
	for i, want := range []domain.Result{a, d, r, j} {
		assert.Equal(t, want.Recorded.Event.ID, events[i].Event.ID)
		assert.Equal(t, want.Recorded.Seq, events[i].Seq)
	}

	// State agrees with the last result, from this ledger and from a new one.
	for _, ledger := range []*domain.Ledger{l, domain.NewLedger(mem, domain.Policy{})} {
		s, err := ledger.State(ctx, lineHaNoi)
		require.NoError(t, err)
		assert.Equal(t, j.Line.LastHash, s.LastHash)
		assert.Equal(t, 4, s.Events)
		requireVND(t, "5000000", s.Balance.Available())
	}
	empty, err := l.State(ctx, lineHCM)
	require.NoError(t, err)
	assert.Equal(t, 0, empty.Events)
	assert.Equal(t, domain.GenesisHash, empty.LastHash)
}

func TestLedgerRefusalAppendsNothing(t *testing.T) {
	ctx := context.Background()
	mem := eventstore.NewMemory()
	l := domain.NewLedger(mem, domain.Policy{})
	mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 10*million, ""))

	over := newCommand(domain.Disburse, lineHaNoi, 10*million+1, "")
	_, err := l.Record(ctx, over)
	requireErrorCode(t, err, domain.ErrInsufficientFunds, "amount")

	invalid := newCommand(domain.Disburse, lineHaNoi, million, "")
	invalid.Beneficiary = ""
	_, err = l.Record(ctx, invalid)
	require.Error(t, err)
	assert.Equal(t, domain.CodeMissingField, domain.ErrorCode(err))

	_, err = l.Record(ctx, newCommand(domain.Refund, lineHaNoi, 1, ""))
	requireErrorCode(t, err, domain.ErrRefundExceedsDisbursed, "amount")
	_, err = l.Record(ctx, newCommand(domain.Adjust, lineHaNoi, -10*million-1, ""))
	requireErrorCode(t, err, domain.ErrAllocationBelowDisbursed, "delta")
	require.Len(t, mem.Events(), 1)

	// A refused command claimed nothing: once the money is there, the same
	// request goes through.
	mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 1, ""))
	res := mustRecord(t, l, retry(over))
	requireVND(t, "0", res.Line.Balance.Available())
	require.Len(t, mem.Events(), 3)
}

func TestLedgerReplaysRetry(t *testing.T) {
	ctx := context.Background()
	mem := eventstore.NewMemory()
	l := domain.NewLedger(mem, domain.Policy{})
	mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 10*million, ""))
	cmd := newCommand(domain.Disburse, lineHaNoi, 4*million, "")
	first := mustRecord(t, l, cmd)

	for name, ledger := range map[string]*domain.Ledger{
		"same ledger":                  l,
		"another ledger, e.g. restart": domain.NewLedger(mem, domain.Policy{}),
	} {
		t.Run(name, func(t *testing.T) {
			for _, again := range []domain.Command{cmd, retry(cmd)} {
				res, err := ledger.Record(ctx, again)
				require.NoError(t, err)
				assert.True(t, res.Replayed)
				assert.Equal(t, first.Recorded.Event.ID, res.Recorded.Event.ID)
				assert.Equal(t, first.Recorded.Seq, res.Recorded.Seq)
				assert.Equal(t, first.Recorded.Event.Hash, res.Recorded.Event.Hash)
				requireVND(t, "6000000", res.Line.Balance.Available())
				require.Len(t, mem.Events(), 2, "a replay appends nothing")
			}
		})
	}
}

// TestLedgerReplaysRetryThatWouldNowBeRefused retries a disbursement of
// everything available: deciding it again would refuse it, but it already
// happened, so the client must get the original event.
func TestLedgerReplaysRetryThatWouldNowBeRefused(t *testing.T) {
	ctx := context.Background()
	mem := eventstore.NewMemory()
	l := domain.NewLedger(mem, domain.Policy{})
	mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 10*million, "DA-01"))

	for _, step := range []struct {
		cmd domain.Command
		// refused is true when the same content under a new key is refused.
		refused bool
	}{
		{newCommand(domain.Disburse, lineHaNoi, 10*million, "DA-01"), true},
		{newCommand(domain.Refund, lineHaNoi, 10*million, "DA-01"), true},
		{newCommand(domain.Disburse, lineHaNoi, 10*million, "DA-01"), true},
		{newCommand(domain.Allocate, lineHaNoi, 1, ""), false},
		{newCommand(domain.Adjust, lineHaNoi, -1, ""), true},
	} {
		cmd := step.cmd
		first := mustRecord(t, l, cmd)
		n := len(mem.Events())
		for _, ledger := range []*domain.Ledger{l, domain.NewLedger(mem, domain.Policy{})} {
			res, err := ledger.Record(ctx, retry(cmd))
			require.NoErrorf(t, err, "retry of %s %s must replay", cmd.Kind, cmd.Amount)
			assert.True(t, res.Replayed)
			assert.Equal(t, first.Recorded.Event.ID, res.Recorded.Event.ID)
			require.Len(t, mem.Events(), n)
		}
		if step.refused {
			// The same content under a new key is a new movement.
			_, err := l.Record(ctx, retry(withKey(cmd, uuid.NewString())))
			require.Error(t, err)
			assert.Contains(t, []domain.Code{domain.CodeInsufficientFunds, domain.CodeRefundExceedsDisbursed, domain.CodeAllocationBelowDisbursed}, domain.ErrorCode(err))
			require.Len(t, mem.Events(), n)
		}
	}
}

func withKey(cmd domain.Command, key string) domain.Command {
	cmd.IdempotencyKey = key
	return cmd
}

func TestLedgerRefusesReusedKey(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(c *domain.Command)
	}{
		{"different amount", func(c *domain.Command) { c.Amount = domain.AmountFromInt64(3 * million) }},
		{"amount that would be refused", func(c *domain.Command) { c.Amount = domain.AmountFromInt64(100 * million) }},
		{"different line", func(c *domain.Command) { c.Province, c.Source = lineHCM.Province, lineHCM.Source }},
		{"different project", func(c *domain.Command) { c.Project = "DA-02" }},
		{"different beneficiary", func(c *domain.Command) { c.Beneficiary = "Công ty khác" }},
		{"different date", func(c *domain.Command) { c.EffectiveDate = domain.Date{Year: 2025, Month: time.March, Day: 16} }},
		{"different actor", func(c *domain.Command) { c.Actor = "someone-else" }},
		{"different kind", func(c *domain.Command) {
			c.Kind, c.Voucher, c.Beneficiary, c.Decision = domain.Allocate, "", "", "1/QĐ-BCT"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := eventstore.NewMemory()
			l := domain.NewLedger(mem, domain.Policy{})
			mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 10*million, ""))
			mustRecord(t, l, newCommand(domain.Allocate, lineHCM, 10*million, ""))
			cmd := newCommand(domain.Disburse, lineHaNoi, 4*million, "")
			first := mustRecord(t, l, cmd)

			other := retry(cmd)
			tc.change(&other)
			require.NoError(t, other.Validate(domain.Policy{}), "the changed command is valid")
			for _, ledger := range []*domain.Ledger{l, domain.NewLedger(mem, domain.Policy{})} {
				_, err := ledger.Record(ctx, other)
				requireErrorCode(t, err, domain.ErrIdempotencyKeyReused, "idempotency_key")
				require.Len(t, mem.Events(), 3, "nothing appended")
			}
			// The key still answers the original command.
			res, err := l.Record(ctx, retry(cmd))
			require.NoError(t, err)
			assert.True(t, res.Replayed)
			assert.Equal(t, first.Recorded.Event.ID, res.Recorded.Event.ID)
		})
	}
}

// TestLedgerStaleCache runs two ledgers over one log, as two processes
// would: each caches the line, and neither may act on a stale cache.
func TestLedgerStaleCache(t *testing.T) {
	ctx := context.Background()

	t.Run("no overspend", func(t *testing.T) {
		mem := eventstore.NewMemory()
		a := domain.NewLedger(mem, domain.Policy{})
		b := domain.NewLedger(mem, domain.Policy{})
		mustRecord(t, b, newCommand(domain.Allocate, lineHaNoi, 10*million, "")) // b caches 10 available

		mustRecord(t, a, newCommand(domain.Disburse, lineHaNoi, 7*million, ""))

		_, err := b.Record(ctx, newCommand(domain.Disburse, lineHaNoi, 5*million, ""))
		requireErrorCode(t, err, domain.ErrInsufficientFunds, "amount")
		res := mustRecord(t, b, newCommand(domain.Disburse, lineHaNoi, 3*million, ""))
		requireVND(t, "0", res.Line.Balance.Available())
		assert.Equal(t, 3, res.Line.Events, "b caught up with a's event")

		_, err = a.Record(ctx, newCommand(domain.Disburse, lineHaNoi, 1, ""))
		requireErrorCode(t, err, domain.ErrInsufficientFunds, "amount")
		requireVND(t, "10000000", sumOf(mem.Events(), lineHaNoi, domain.TypeDisbursed))
	})

	// b caches the line after given, a then records elsewhere, and b's
	// command must be judged on the line as the log has it.
	for _, tc := range []struct {
		name      string
		given     []domain.Command // through b
		elsewhere domain.Command   // through a
		when      domain.Command   // through b
		want      error
		field     string
	}{
		{
			name: "no overspend of a project",
			given: []domain.Command{
				newCommand(domain.Allocate, lineHaNoi, 10*million, "DA-01"),
				newCommand(domain.Allocate, lineHaNoi, 10*million, ""),
			},
			elsewhere: newCommand(domain.Disburse, lineHaNoi, 6*million, "DA-01"),
			when:      newCommand(domain.Disburse, lineHaNoi, 6*million, "DA-01"),
			want:      domain.ErrInsufficientFunds, field: "amount",
		},
		{
			name: "no refund of a refund",
			given: []domain.Command{
				newCommand(domain.Allocate, lineHaNoi, 10*million, ""),
				newCommand(domain.Disburse, lineHaNoi, 4*million, ""),
			},
			elsewhere: newCommand(domain.Refund, lineHaNoi, 3*million, ""),
			when:      newCommand(domain.Refund, lineHaNoi, 2*million, ""),
			want:      domain.ErrRefundExceedsDisbursed, field: "amount",
		},
		{
			name:      "no adjustment below what was spent elsewhere",
			given:     []domain.Command{newCommand(domain.Allocate, lineHaNoi, 10*million, "")},
			elsewhere: newCommand(domain.Disburse, lineHaNoi, 8*million, ""),
			when:      newCommand(domain.Adjust, lineHaNoi, -3*million, ""),
			want:      domain.ErrAllocationBelowDisbursed, field: "delta",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := eventstore.NewMemory()
			a := domain.NewLedger(mem, domain.Policy{})
			b := domain.NewLedger(mem, domain.Policy{})
			for _, c := range tc.given {
				mustRecord(t, b, c)
			}
			mustRecord(t, a, tc.elsewhere)
			_, err := b.Record(ctx, tc.when)
			requireErrorCode(t, err, tc.want, tc.field)
		})
	}

	t.Run("no refusal on a stale cache", func(t *testing.T) {
		mem := eventstore.NewMemory()
		a := domain.NewLedger(mem, domain.Policy{})
		b := domain.NewLedger(mem, domain.Policy{})
		mustRecord(t, b, newCommand(domain.Allocate, lineHaNoi, 10*million, ""))
		mustRecord(t, b, newCommand(domain.Disburse, lineHaNoi, 10*million, "")) // b caches 0 available

		mustRecord(t, a, newCommand(domain.Allocate, lineHaNoi, 5*million, ""))

		// b's cache says nothing is available, but the line has 5 triệu.
		res := mustRecord(t, b, newCommand(domain.Disburse, lineHaNoi, 5*million, ""))
		requireVND(t, "0", res.Line.Balance.Available())
		assert.Equal(t, 4, res.Line.Events)

		mustRecord(t, a, newCommand(domain.Refund, lineHaNoi, 2*million, ""))
		mustRecord(t, b, newCommand(domain.Disburse, lineHaNoi, 2*million, ""))
	})

	t.Run("key claimed by the other ledger", func(t *testing.T) {
		mem := eventstore.NewMemory()
		a := domain.NewLedger(mem, domain.Policy{})
		b := domain.NewLedger(mem, domain.Policy{})
		mustRecord(t, b, newCommand(domain.Allocate, lineHaNoi, 10*million, ""))
		cmd := newCommand(domain.Disburse, lineHaNoi, 10*million, "")
		first := mustRecord(t, a, cmd)

		res, err := b.Record(ctx, retry(cmd))
		require.NoError(t, err)
		assert.True(t, res.Replayed)
		assert.Equal(t, first.Recorded.Event.ID, res.Recorded.Event.ID)
		requireVND(t, "0", res.Line.Balance.Available())

		other := retry(cmd)
		other.Amount = domain.AmountFromInt64(million)
		_, err = b.Record(ctx, other)
		requireErrorCode(t, err, domain.ErrIdempotencyKeyReused, "idempotency_key")
		require.Len(t, mem.Events(), 2)
	})
}

// sumOf adds the amounts of the events of type typ on line.
func sumOf(recs []domain.Recorded, line domain.LineKey, typ domain.EventType) domain.Amount {
	sum := domain.ZeroAmount
	for _, r := range recs {
		if r.Event.Line() == line && r.Event.Type == typ {
			sum = sum.Add(r.Event.Amount)
		}
	}
	return sum
}

// TestLedgerConcurrentDisbursements races 32 disbursements of 1 triệu, from
// two ledgers over one log, for the 10 triệu of one line.
func TestLedgerConcurrentDisbursements(t *testing.T) {
	ctx := context.Background()
	mem := eventstore.NewMemory()
	ledgers := []*domain.Ledger{domain.NewLedger(mem, domain.Policy{}), domain.NewLedger(mem, domain.Policy{})}
	mustRecord(t, ledgers[0], newCommand(domain.Allocate, lineHaNoi, 10*million, ""))
	for _, l := range ledgers { // both caches hold the 10 triệu
		_, err := l.State(ctx, lineHaNoi)
		require.NoError(t, err)
	}

	const workers = 32
	errs := make([]error, workers)
	results := make([]domain.Result, workers)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range workers {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			results[i], errs[i] = ledgers[i%2].Record(ctx, newCommand(domain.Disburse, lineHaNoi, million, ""))
		}()
	}
	start.Done()
	done.Wait()

	ok, refused := 0, 0
	ids := map[string]bool{}
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			require.False(t, results[i].Replayed)
			ids[results[i].Recorded.Event.ID] = true
			requireVND(t, "1000000", results[i].Recorded.Event.Amount)
		case errors.Is(err, domain.ErrInsufficientFunds):
			refused++
		default:
			t.Fatalf("worker %d: unexpected error %v", i, err)
		}
	}
	assert.Equal(t, 10, ok)
	assert.Equal(t, workers-10, refused)

	events := mem.Events()
	require.Len(t, events, 11)
	requireVND(t, "10000000", sumOf(events, lineHaNoi, domain.TypeDisbursed))
	s := domain.NewLineState(lineHaNoi)
	for _, r := range events {
		require.NoError(t, s.Apply(r), "the log replays as one hash chain")
		if r.Event.Type == domain.TypeDisbursed {
			assert.True(t, ids[r.Event.ID], "event %s was reported to its caller", r.Event.ID)
		}
	}
	requireVND(t, "0", s.Balance.Available())
	for _, l := range ledgers {
		st, err := l.State(ctx, lineHaNoi)
		require.NoError(t, err)
		assert.Equal(t, s.LastHash, st.LastHash)
		requireVND(t, "0", st.Balance.Available())
	}
}

// TestLedgerLinesAreIndependent records on two lines from one ledger:
// money of one line is not available to the other.
func TestLedgerLinesAreIndependent(t *testing.T) {
	ctx := context.Background()
	mem := eventstore.NewMemory()
	l := domain.NewLedger(mem, domain.Policy{})
	mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 10*million, ""))
	_, err := l.Record(ctx, newCommand(domain.Disburse, lineHCM, 1, ""))
	requireErrorCode(t, err, domain.ErrInsufficientFunds, "amount")
	first := mustRecord(t, l, newCommand(domain.Allocate, lineHCM, million, ""))
	assert.Equal(t, domain.GenesisHash, first.Recorded.Event.PrevHash, "each line has its own chain")
	requireVND(t, "1000000", first.Line.Balance.Available())
}

// TestLedgerTotalBound fills a line to MaxLineTotal with maximal movements
// and checks that one more đồng is refused and appends nothing.
func TestLedgerTotalBound(t *testing.T) {
	ctx := context.Background()
	mem := eventstore.NewMemory()
	l := domain.NewLedger(mem, domain.Policy{})
	n := 0
	for total := domain.ZeroAmount; total.Cmp(domain.MaxLineTotal) < 0; total = total.Add(domain.MaxMovement) {
		cmd := newCommand(domain.Allocate, lineHaNoi, 0, "")
		cmd.Amount = domain.MaxMovement
		mustRecord(t, l, cmd)
		n++
	}
	s, err := l.State(ctx, lineHaNoi)
	require.NoError(t, err)
	require.True(t, s.Balance.Allocated.Equal(domain.MaxLineTotal), "allocated %s, want the bound %s", s.Balance.Allocated, domain.MaxLineTotal)

	for _, cmd := range []domain.Command{
		newCommand(domain.Allocate, lineHaNoi, 1, ""),
		newCommand(domain.Adjust, lineHaNoi, 1, ""),
		newCommand(domain.Allocate, lineHaNoi, 1, "DA-01"),
	} {
		_, err := l.Record(ctx, cmd)
		requireErrorCode(t, err, domain.ErrTotalLimitExceeded, cmd.AmountField())
	}
	require.Len(t, mem.Events(), n, "refusals append nothing")

	// The line stays usable: money moves out and back within the bound.
	mustRecord(t, l, newCommand(domain.Disburse, lineHaNoi, 5*million, ""))
	mustRecord(t, l, newCommand(domain.Refund, lineHaNoi, 5*million, ""))
	mustRecord(t, l, newCommand(domain.Adjust, lineHaNoi, -1, ""))
	res := mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 1, ""))
	require.True(t, res.Line.Balance.Allocated.Equal(domain.MaxLineTotal))
}

// TestLedgerReusedKeyOfAnotherAccount checks what a refusal for a reused
// key tells: an account reusing its own key learns which of its events
// holds it; another account learns only that the key is taken, not the
// line, the event or the account that recorded it.
func TestLedgerReusedKeyOfAnotherAccount(t *testing.T) {
	ctx := context.Background()
	mem := eventstore.NewMemory()
	l := domain.NewLedger(mem, domain.Policy{})
	mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 10*million, ""))
	mustRecord(t, l, newCommand(domain.Allocate, lineHCM, 10*million, ""))
	cmd := newCommand(domain.Disburse, lineHaNoi, 4*million, "")
	cmd.Actor = "officer-hanoi"
	cmd.IdempotencyKey = "k-shared" // no digits, so the message can be searched for the province
	first := mustRecord(t, l, cmd)
	ev := first.Recorded.Event

	own := retry(cmd)
	own.Amount = domain.AmountFromInt64(3 * million)
	_, err := l.Record(ctx, own)
	requireErrorCode(t, err, domain.ErrIdempotencyKeyReused, "idempotency_key")
	assert.Contains(t, err.Error(), ev.ID, "its own event is named")

	for name, other := range map[string]domain.Command{
		"same line":    withKey(newCommand(domain.Disburse, lineHaNoi, 4*million, ""), cmd.IdempotencyKey),
		"another line": withKey(newCommand(domain.Disburse, lineHCM, 4*million, ""), cmd.IdempotencyKey),
		"same content": func() domain.Command { c := retry(cmd); c.Actor = "officer-hcm"; return c }(),
	} {
		t.Run(name, func(t *testing.T) {
			if other.Actor == "tester" {
				other.Actor = "officer-hcm"
			}
			for _, ledger := range []*domain.Ledger{l, domain.NewLedger(mem, domain.Policy{})} {
				_, err := ledger.Record(ctx, other)
				requireErrorCode(t, err, domain.ErrIdempotencyKeyReused, "idempotency_key")
				msg := err.Error()
				assert.Contains(t, msg, "taken")
				for _, secret := range []string{ev.ID, ev.Line().String(), ev.Province, "officer-hanoi", ev.Hash, "seq"} {
					assert.NotContains(t, msg, secret)
				}
			}
			require.Len(t, mem.Events(), 3, "nothing appended")
		})
	}
}
