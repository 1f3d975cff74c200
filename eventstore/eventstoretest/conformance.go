// Package eventstoretest is the conformance suite every domain.EventLog
// implementation must pass.
package eventstoretest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

// Event returns a well-formed event on line k with the given idempotency
// key. The log does not judge events, but tests of it should store real
// ones.
func Event(k domain.LineKey, key string, amount int64) domain.Event {
	e := domain.Event{
		ID:             uuid.Must(uuid.NewV7()).String(),
		Type:           domain.TypeAllocated,
		FiscalYear:     k.FiscalYear,
		Province:       k.Province,
		Source:         k.Source,
		Amount:         domain.AmountFromInt64(amount),
		Decision:       "1/QĐ-BCT",
		EffectiveDate:  domain.Date{Year: k.FiscalYear, Month: time.January, Day: 2},
		RecordedAt:     time.Date(k.FiscalYear, time.January, 2, 3, 4, 5, 6, time.UTC),
		Actor:          "conformance",
		IdempotencyKey: key,
		PrevHash:       domain.GenesisHash,
	}
	e.Hash = e.ComputeHash()
	return e
}

// Command is a valid command on the local line of province in 2024: an
// allocation of the largest movement, or a disbursement of 1 000 đồng to
// a beneficiary with a Vietnamese name, recorded by "bench" at now.
func Command(kind domain.CommandKind, province, key string, now time.Time) domain.Command {
	c := domain.Command{Kind: kind, FiscalYear: 2024, Province: province, Source: domain.SourceLocal,
		EffectiveDate: domain.Date{Year: 2024, Month: time.March, Day: 1},
		EventID:       uuid.Must(uuid.NewV7()).String(), Actor: "bench", IdempotencyKey: key, Now: now}
	if kind == domain.Allocate {
		c.Amount, c.Decision = domain.MaxMovement, "1/QĐ-BENCH"
	} else {
		c.Amount, c.Voucher, c.Beneficiary = domain.AmountFromInt64(1000), "KB-BENCH", "Cơ sở CNNT thử tải"
	}
	return c
}

// Run runs the suite; open returns a new, empty log for each subtest.
func Run(t *testing.T, open func(t *testing.T) domain.EventLog) {
	ctx := context.Background()
	lineA := domain.LineKey{FiscalYear: 2024, Province: "01", Source: domain.SourceNational}
	lineB := domain.LineKey{FiscalYear: 2024, Province: "79", Source: domain.SourceLocal}

	t.Run("append then load and claim", func(t *testing.T) {
		log := open(t)
		e1 := Event(lineA, "k1", 100)
		s1, err := log.Append(ctx, domain.Proposal{Event: e1, ExpectedSeq: 0})
		require.NoError(t, err)
		require.NotZero(t, s1)
		e2 := Event(lineA, "k2", 200)
		s2, err := log.Append(ctx, domain.Proposal{Event: e2, ExpectedSeq: s1})
		require.NoError(t, err)
		require.Greater(t, s2, s1)

		got, err := log.Load(ctx, lineA, 0)
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Equal(t, []uint64{s1, s2}, []uint64{got[0].Seq, got[1].Seq})
		assert.Equal(t, e1.ID, got[0].Event.ID)
		assert.Equal(t, e2.Hash, got[1].Event.Hash)
		assert.True(t, got[1].Event.Amount.Equal(domain.AmountFromInt64(200)))
		assert.True(t, got[0].Event.RecordedAt.Equal(e1.RecordedAt), "recorded time survives the round trip")

		later, err := log.Load(ctx, lineA, s1)
		require.NoError(t, err)
		require.Len(t, later, 1)
		assert.Equal(t, s2, later[0].Seq)

		none, err := log.Load(ctx, lineB, 0)
		require.NoError(t, err)
		assert.Empty(t, none)

		c := eventuallyClaimed(t, log, "k2")
		assert.Equal(t, e2.Fingerprint(), c.Fingerprint)
		assert.Equal(t, s2, c.Recorded.Seq)
		assert.Equal(t, e2.ID, c.Recorded.Event.ID)

		_, ok, err := log.Claim(ctx, "never-used")
		require.NoError(t, err)
		assert.False(t, ok)
	})

	t.Run("stale expectation appends nothing", func(t *testing.T) {
		log := open(t)
		s1, err := log.Append(ctx, domain.Proposal{Event: Event(lineA, "k1", 1), ExpectedSeq: 0})
		require.NoError(t, err)
		for _, stale := range []uint64{0, s1 + 1, s1 + 100} {
			_, err = log.Append(ctx, domain.Proposal{Event: Event(lineA, fmt.Sprintf("stale-%d", stale), 2), ExpectedSeq: stale})
			require.ErrorIs(t, err, domain.ErrStale, "expected %d while the line is at %d", stale, s1)
			_, ok, err := log.Claim(ctx, fmt.Sprintf("stale-%d", stale))
			require.NoError(t, err)
			assert.False(t, ok, "a refused append must not claim its key")
		}
		got, err := log.Load(ctx, lineA, 0)
		require.NoError(t, err)
		assert.Len(t, got, 1)
	})

	t.Run("lines are independent", func(t *testing.T) {
		log := open(t)
		_, err := log.Append(ctx, domain.Proposal{Event: Event(lineA, "a1", 1), ExpectedSeq: 0})
		require.NoError(t, err)
		_, err = log.Append(ctx, domain.Proposal{Event: Event(lineB, "b1", 1), ExpectedSeq: 0})
		require.NoError(t, err, "line B is empty whatever happens on line A")
	})

	t.Run("a key already used refuses the append, on any line", func(t *testing.T) {
		log := open(t)
		first := Event(lineA, "shared", 1)
		seq, err := log.Append(ctx, domain.Proposal{Event: first, ExpectedSeq: 0})
		require.NoError(t, err)
		// Line B is empty, so only the key is in the way: the append is
		// refused, names the original, and stores nothing.
		_, err = log.Append(ctx, domain.Proposal{Event: Event(lineB, "shared", 2), ExpectedSeq: 0})
		var claimed *domain.ClaimedError
		require.ErrorAs(t, err, &claimed)
		assert.Equal(t, seq, claimed.Claim.Recorded.Seq)
		assert.Equal(t, first.ID, claimed.Claim.Recorded.Event.ID)
		assert.Equal(t, first.Fingerprint(), claimed.Claim.Fingerprint)
		got, err := log.Load(ctx, lineB, 0)
		require.NoError(t, err)
		assert.Empty(t, got, "the refused event was stored")
		c := eventuallyClaimed(t, log, "shared")
		assert.Equal(t, first.ID, c.Recorded.Event.ID)
	})

	t.Run("concurrent appends with one expectation: exactly one wins", func(t *testing.T) {
		log := open(t)
		const n = 8
		exactlyOneWins(t, n, func(i int) error {
			_, err := log.Append(ctx, domain.Proposal{Event: Event(lineA, fmt.Sprintf("race-%d", i), 1), ExpectedSeq: 0})
			return err
		})
		got, err := log.Load(ctx, lineA, 0)
		require.NoError(t, err)
		assert.Len(t, got, 1)
	})

	// A pair as the ledger appends a transfer: the same key on both
	// lines, the transferred-in side second.
	pair := func(key string) (domain.Event, domain.Event) {
		out, in := Event(lineA, key, 5), Event(lineB, key, 5)
		out.Type, in.Type = domain.TypeTransferredOut, domain.TypeTransferredIn
		for _, e := range []*domain.Event{&out, &in} {
			e.TransferKind, e.TransferID, e.FromLine, e.ToLine = domain.TransferSuccession, out.ID, lineA, lineB
			e.Hash = e.ComputeHash()
		}
		return out, in
	}

	t.Run("an atomic append stores every event, in order", func(t *testing.T) {
		log := open(t)
		sa, err := log.Append(ctx, domain.Proposal{Event: Event(lineA, "a1", 10), ExpectedSeq: 0})
		require.NoError(t, err)
		out, in := pair("pair-1")
		seqs, err := log.AppendAll(ctx, []domain.Proposal{{Event: out, ExpectedSeq: sa}, {Event: in, ExpectedSeq: 0}})
		require.NoError(t, err)
		require.Len(t, seqs, 2)
		assert.Equal(t, seqs[0]+1, seqs[1], "one write: consecutive sequences")
		gotA, err := log.Load(ctx, lineA, sa)
		require.NoError(t, err)
		require.Len(t, gotA, 1)
		assert.Equal(t, out.ID, gotA[0].Event.ID)
		assert.Equal(t, lineB, gotA[0].Event.ToLine, "the transfer's fields survive the round trip")
		gotB, err := log.Load(ctx, lineB, 0)
		require.NoError(t, err)
		require.Len(t, gotB, 1)
		assert.Equal(t, in.ID, gotB[0].Event.ID)
		assert.Equal(t, out.ID, gotB[0].Event.TransferID)
		c := eventuallyClaimed(t, log, "pair-1")
		assert.Equal(t, out.ID, c.Recorded.Event.ID, "the write's key is its first event's")
	})

	t.Run("an atomic append with one stale expectation stores nothing", func(t *testing.T) {
		log := open(t)
		sa, err := log.Append(ctx, domain.Proposal{Event: Event(lineA, "a1", 10), ExpectedSeq: 0})
		require.NoError(t, err)
		sb, err := log.Append(ctx, domain.Proposal{Event: Event(lineB, "b1", 10), ExpectedSeq: 0})
		require.NoError(t, err)
		out, in := pair("pair-stale")
		// The destination moved on (it expects the empty line).
		_, err = log.AppendAll(ctx, []domain.Proposal{{Event: out, ExpectedSeq: sa}, {Event: in, ExpectedSeq: 0}})
		require.ErrorIs(t, err, domain.ErrStale)
		// The source moved on.
		_, err = log.AppendAll(ctx, []domain.Proposal{{Event: out, ExpectedSeq: 0}, {Event: in, ExpectedSeq: sb}})
		require.ErrorIs(t, err, domain.ErrStale)
		for k, want := range map[domain.LineKey]uint64{lineA: sa, lineB: sb} {
			got, err := log.Load(ctx, k, 0)
			require.NoError(t, err)
			require.Len(t, got, 1, "line %s", k)
			assert.Equal(t, want, got[0].Seq)
		}
		_, ok, err := log.Claim(ctx, "pair-stale")
		require.NoError(t, err)
		assert.False(t, ok, "a refused write must not claim its key")
		seqs, err := log.AppendAll(ctx, []domain.Proposal{{Event: out, ExpectedSeq: sa}, {Event: in, ExpectedSeq: sb}})
		require.NoError(t, err, "with both expectations right it lands")
		assert.Len(t, seqs, 2)
	})

	t.Run("an atomic append under a taken key stores nothing", func(t *testing.T) {
		log := open(t)
		_, err := log.Append(ctx, domain.Proposal{Event: Event(lineA, "taken", 10), ExpectedSeq: 0})
		require.NoError(t, err)
		got, err := log.Load(ctx, lineA, 0)
		require.NoError(t, err)
		out, in := pair("taken")
		_, err = log.AppendAll(ctx, []domain.Proposal{{Event: out, ExpectedSeq: got[0].Seq}, {Event: in, ExpectedSeq: 0}})
		require.ErrorIs(t, err, domain.ErrKeyTaken)
		gotB, err := log.Load(ctx, lineB, 0)
		require.NoError(t, err)
		assert.Empty(t, gotB)
	})

	// Several events on one line in one write, as an import appends a
	// line's past movements: each expects the line as it was before the
	// write, and they land in order, one after the other.
	chained := func(k domain.LineKey, prefix string, n int, prev string) []domain.Event {
		evs := make([]domain.Event, n)
		for i := range evs {
			evs[i] = Event(k, fmt.Sprintf("%s-%d", prefix, i), int64(i+1))
			evs[i].PrevHash = prev
			evs[i].Hash = evs[i].ComputeHash()
			prev = evs[i].Hash
		}
		return evs
	}

	t.Run("an atomic append of several events on one line stores them in order", func(t *testing.T) {
		log := open(t)
		sa, err := log.Append(ctx, domain.Proposal{Event: Event(lineA, "a0", 10), ExpectedSeq: 0})
		require.NoError(t, err)
		onA := chained(lineA, "many-a", 3, domain.GenesisHash)
		onB := chained(lineB, "many-b", 2, domain.GenesisHash)
		ps := []domain.Proposal{
			{Event: onA[0], ExpectedSeq: sa}, {Event: onB[0], ExpectedSeq: 0}, {Event: onA[1], ExpectedSeq: sa},
			{Event: onA[2], ExpectedSeq: sa}, {Event: onB[1], ExpectedSeq: 0},
		}
		seqs, err := log.AppendAll(ctx, ps)
		require.NoError(t, err)
		require.Len(t, seqs, len(ps))
		for i := 1; i < len(seqs); i++ {
			assert.Equal(t, seqs[i-1]+1, seqs[i], "one write: consecutive sequences")
		}
		gotA, err := log.Load(ctx, lineA, sa)
		require.NoError(t, err)
		require.Len(t, gotA, 3)
		for i, r := range gotA {
			assert.Equal(t, onA[i].ID, r.Event.ID, "line A, event %d in the write's order", i)
		}
		assert.Equal(t, []uint64{seqs[0], seqs[2], seqs[3]}, []uint64{gotA[0].Seq, gotA[1].Seq, gotA[2].Seq})
		gotB, err := log.Load(ctx, lineB, 0)
		require.NoError(t, err)
		require.Len(t, gotB, 2)
		assert.Equal(t, onB[1].ID, gotB[1].Event.ID)
		for _, e := range append(onA, onB...) {
			c := eventuallyClaimed(t, log, e.IdempotencyKey)
			assert.Equal(t, e.ID, c.Recorded.Event.ID, "each event's key is claimed")
		}
		// The next write expects the line's last event, the write's last.
		next := chained(lineA, "after", 1, onA[2].Hash)
		_, err = log.AppendAll(ctx, []domain.Proposal{{Event: next[0], ExpectedSeq: seqs[2]}})
		require.ErrorIs(t, err, domain.ErrStale, "not the write's second event on the line")
		_, err = log.AppendAll(ctx, []domain.Proposal{{Event: next[0], ExpectedSeq: seqs[3]}})
		require.NoError(t, err)
	})

	t.Run("an atomic append of several events on one line expects the line once", func(t *testing.T) {
		log := open(t)
		sa, err := log.Append(ctx, domain.Proposal{Event: Event(lineA, "a0", 10), ExpectedSeq: 0})
		require.NoError(t, err)
		for name, ps := range map[string][]domain.Proposal{
			// The line as it was before: the first is right, the second
			// is not.
			"a later event expecting another sequence": {
				{Event: Event(lineB, "b-x", 1), ExpectedSeq: 0},
				{Event: Event(lineA, "x1", 1), ExpectedSeq: sa}, {Event: Event(lineA, "x2", 1), ExpectedSeq: sa + 1}},
			"every event expecting a line that moved on": {
				{Event: Event(lineA, "y1", 1), ExpectedSeq: 0}, {Event: Event(lineA, "y2", 1), ExpectedSeq: 0}},
		} {
			_, err := log.AppendAll(ctx, ps)
			require.ErrorIs(t, err, domain.ErrStale, name)
		}
		_, err = log.AppendAll(ctx, []domain.Proposal{{Event: Event(lineA, "z1", 1), ExpectedSeq: sa}, {Event: Event(lineA, "z1", 1), ExpectedSeq: sa}})
		require.ErrorIs(t, err, domain.ErrKeyTaken, "one key twice in a write")
		gotA, err := log.Load(ctx, lineA, 0)
		require.NoError(t, err)
		assert.Len(t, gotA, 1, "nothing stored")
		gotB, err := log.Load(ctx, lineB, 0)
		require.NoError(t, err)
		assert.Empty(t, gotB)
		for _, key := range []string{"x1", "x2", "y1", "y2", "b-x", "z1"} {
			_, ok, err := log.Claim(ctx, key)
			require.NoError(t, err)
			assert.False(t, ok, "a refused write must not claim key %s", key)
		}
	})

	t.Run("concurrent atomic appends on a shared line: exactly one wins", func(t *testing.T) {
		log := open(t)
		const n = 6
		exactlyOneWins(t, n, func(i int) error {
			out, in := pair(fmt.Sprintf("race-pair-%d", i))
			_, err := log.AppendAll(ctx, []domain.Proposal{{Event: out, ExpectedSeq: 0}, {Event: in, ExpectedSeq: 0}})
			return err
		})
		for _, k := range []domain.LineKey{lineA, lineB} {
			got, err := log.Load(ctx, k, 0)
			require.NoError(t, err)
			assert.Len(t, got, 1, "line %s", k)
		}
	})
}

// exactlyOneWins runs try(0) … try(n-1) at once and requires that
// exactly one succeeds and every other finds its line moved on.
func exactlyOneWins(t *testing.T, n int, try func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = try(i)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			require.ErrorIs(t, err, domain.ErrStale)
		}
	}
	assert.Equal(t, 1, wins)
}

// eventuallyClaimed polls Claim until it finds key: a log may index keys
// shortly after the append returns.
func eventuallyClaimed(t *testing.T, log domain.EventLog, key string) domain.IdempotencyClaim {
	t.Helper()
	var c domain.IdempotencyClaim
	require.Eventually(t, func() bool {
		got, ok, err := log.Claim(context.Background(), key)
		require.NoError(t, err)
		c = got
		return ok
	}, 10*time.Second, 5*time.Millisecond, "key %q never claimed", key)
	return c
}
