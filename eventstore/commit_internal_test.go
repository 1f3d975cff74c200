package eventstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

func openGroupCommit(t *testing.T, maxBatch int) *JetStream {
	t.Helper()
	s, err := StartServer(ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown)
	nc, err := ConnectEmbedded(s, "group-commit-test", "")
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	log, err := Open(context.Background(), nc, StreamConfig{MaxBatch: maxBatch})
	require.NoError(t, err)
	t.Cleanup(log.Close)
	return log
}

// openTuned opens a log on nc whose committer tune has adjusted first.
func openTuned(t *testing.T, nc *nats.Conn, tune func(*JetStream)) *JetStream {
	t.Helper()
	log, err := Open(context.Background(), nc, StreamConfig{MaxBatch: 1})
	require.NoError(t, err)
	t.Cleanup(log.Close)
	log.maxBatch = DefaultMaxBatch
	tune(log)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // before Close, which waits for the committer
	log.startCommitter(ctx)
	return log
}

// Group commit is on by default, and a lone append is not delayed by it:
// appends one after the other are each published at once on their own,
// by their caller, never queued for the committer, never gathered and
// never held while a commit was in flight.
func TestGroupCommitDoesNotDelayALoneAppend(t *testing.T) {
	log := openGroupCommit(t, 0) // the default
	require.NotNil(t, log.queue, "group commit is on by default")
	ctx := context.Background()
	const n = 50
	var last uint64
	for i := range n {
		seq, err := log.Append(ctx, domain.Proposal{Event: eventstoretest.Event(province(0), fmt.Sprint("lone-", i), 1), ExpectedSeq: last})
		require.NoError(t, err)
		last = seq
	}
	assert.Equal(t, CommitStats{Singles: n}, log.CommitStats(), "n single publishes from the callers, none through the committer, no batch, no wait")
	assert.Zero(t, log.stats.deferred.Load())
}

// Property: ledgers in several processes (here: one connection and one
// event log each, on one server), group commit on, record disbursements
// on shared lines at once, and retry some of them, through the same or
// another process. Every line's chain replays with every invariant (so
// nothing overspends), the stream holds each accepted command exactly
// once, at the sequence its caller was given, and nothing else.
func TestGroupCommitPropertyConcurrentProcesses(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	s, err := StartServer(ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown)
	const processes, writersEach, rounds, lines, piece = 4, 8, 12, 12, 1_000
	provinces := domain.Provinces(domain.Scheme63)[:lines]
	logs := make([]*JetStream, processes)
	ledgers := make([]*domain.Ledger, processes)
	for i := range processes {
		nc, err := ConnectEmbedded(s, fmt.Sprint("process-", i), "")
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		// Half of them batch from two appends under way, one of them with
		// two batches in flight, so that batches, and their refusals, are
		// exercised as well as the single publishes of the others.
		logs[i] = openTuned(t, nc, func(l *JetStream) {
			if i < 2 {
				l.batchFrom, l.minBatch, l.maxInFlight = 2, 2, 1+i
			}
		})
		ledgers[i] = domain.NewLedger(logs[i], domain.Policy{})
	}
	now := time.Now().UTC()
	// Budgets so small that the lines run dry under the load: refusals
	// for insufficient funds must hold under concurrency too.
	budget := make(map[string]int64)
	for i, p := range provinces {
		c := eventstoretest.Command(domain.Allocate, p.Code, "alloc-"+p.Code, now)
		budget[p.Code] = int64(20+5*i) * piece
		c.Amount = domain.AmountFromInt64(budget[p.Code])
		_, err := ledgers[i%processes].Record(ctx, c)
		require.NoError(t, err)
	}

	type accepted struct {
		seq      uint64
		province string
		amount   int64
	}
	var mu sync.Mutex
	got := map[string]accepted{} // idempotency key → its event
	type plan struct {
		process, retryProcess int
		province              string
		amount                int64
		retry                 bool
	}
	plans := make([][]plan, processes*writersEach)
	for w := range plans {
		for range rounds {
			plans[w] = append(plans[w], plan{
				process: w % processes, retryProcess: rng.IntN(processes),
				province: provinces[rng.IntN(lines)].Code, amount: int64(1+rng.IntN(3)) * piece,
				retry: rng.IntN(4) == 0,
			})
		}
	}
	var wg sync.WaitGroup
	for w, ps := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, p := range ps {
				key := fmt.Sprintf("w%d-%d", w, i)
				cmd := eventstoretest.Command(domain.Disburse, p.province, key, now)
				cmd.Amount = domain.AmountFromInt64(p.amount)
				res, err := ledgers[p.process].Record(ctx, cmd)
				if errors.Is(err, domain.ErrInsufficientFunds) {
					continue
				}
				if !assert.NoError(t, err, "%s", key) {
					return
				}
				assert.False(t, res.Replayed, "%s", key)
				mu.Lock()
				got[key] = accepted{res.Recorded.Seq, p.province, p.amount}
				mu.Unlock()
				if p.retry {
					again := cmd
					again.EventID = uuid.Must(uuid.NewV7()).String()
					res2, err := ledgers[p.retryProcess].Record(ctx, again)
					if assert.NoError(t, err, "retry of %s", key) {
						assert.True(t, res2.Replayed, "retry of %s", key)
						assert.Equal(t, res.Recorded.Seq, res2.Recorded.Seq, "retry of %s", key)
					}
				}
			}
		}()
	}
	wg.Wait()

	var batches uint64
	for _, l := range logs {
		batches += l.CommitStats().Batches
	}
	assert.NotZero(t, batches, "no atomic batch was committed: group commit was not exercised")
	t.Logf("%d disbursements accepted; commits: %+v %+v %+v %+v", len(got), logs[0].CommitStats(), logs[1].CommitStats(), logs[2].CommitStats(), logs[3].CommitStats())

	seen := map[string]int{}
	for _, p := range provinces {
		k := domain.LineKey{FiscalYear: 2024, Province: p.Code, Source: domain.SourceLocal}
		recs, err := logs[0].Load(ctx, k, 0)
		require.NoError(t, err)
		st := domain.NewLineState(k)
		var paid int64
		for _, r := range recs {
			require.NoError(t, st.Apply(r), "line %s replays, chain and invariants, at seq %d", k, r.Seq)
			seen[r.Event.IdempotencyKey]++
			if r.Event.Type != domain.TypeDisbursed {
				continue
			}
			a, ok := got[r.Event.IdempotencyKey]
			if assert.True(t, ok, "seq %d: %s was never acknowledged", r.Seq, r.Event.IdempotencyKey) {
				assert.Equal(t, a.seq, r.Seq, "%s is where its caller was told", r.Event.IdempotencyKey)
				assert.Equal(t, a.province, p.Code)
			}
			paid += r.Event.Amount.Decimal().IntPart()
		}
		assert.GreaterOrEqual(t, st.Balance.Available().Sign(), 0, "line %s overspent", k)
		assert.LessOrEqual(t, paid, budget[p.Code], "line %s", k)
	}
	for key := range got {
		assert.Equal(t, 1, seen[key], "%s is in the stream exactly once", key)
	}
	for key, n := range seen {
		assert.Equal(t, 1, n, "%s", key)
	}
}

func province(i int) domain.LineKey {
	return domain.LineKey{FiscalYear: 2024, Province: fmt.Sprintf("%02d", i+1), Source: domain.SourceLocal}
}

// Concurrent appends on distinct lines are gathered into atomic batches,
// and every caller gets its own event's sequence.
func TestGroupCommitGathersConcurrentAppends(t *testing.T) {
	s, err := StartServer(ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown)
	nc, err := ConnectEmbedded(s, "group-commit-test", "")
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	log := openTuned(t, nc, func(l *JetStream) { l.maxBatch, l.batchFrom = 64, 2 })
	ctx := context.Background()
	const writers, each = 16, 40
	seqs := make([][]uint64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for i := range each {
				seq, err := log.Append(ctx, domain.Proposal{Event: eventstoretest.Event(province(w), fmt.Sprint(w, "-", i), 1), ExpectedSeq: last})
				if !assert.NoError(t, err) {
					return
				}
				seqs[w] = append(seqs[w], seq)
				last = seq
			}
		}()
	}
	wg.Wait()
	assert.NotZero(t, log.stats.batches.Load(), "no atomic batch was ever committed")
	assert.Zero(t, log.stats.fallbacks.Load(), "distinct lines never conflict")

	seen := map[uint64]bool{}
	for w := range writers {
		got, err := log.Load(ctx, province(w), 0)
		require.NoError(t, err)
		require.Len(t, got, each)
		for i, r := range got {
			assert.Equal(t, seqs[w][i], r.Seq, "writer %d, append %d: the sequence returned is where its event is", w, i)
			assert.Equal(t, fmt.Sprint(w, "-", i), r.Event.IdempotencyKey)
			assert.False(t, seen[r.Seq])
			seen[r.Seq] = true
		}
	}
}

// A batch the server refuses for a stale expectation stores nothing; the
// lines' heads tell which append was stale, and the others are committed
// again, in one batch.
func TestGroupCommitRefusedBatchIsSplitByTheLinesHeads(t *testing.T) {
	log := openGroupCommit(t, 64)
	ctx := context.Background()
	first, err := log.Append(ctx, domain.Proposal{Event: eventstoretest.Event(province(0), "seed", 1), ExpectedSeq: 0})
	require.NoError(t, err)

	var batch []*pendingAppend
	for i, p := range []domain.Proposal{
		{Event: eventstoretest.Event(province(1), "fresh-1", 1), ExpectedSeq: 0},
		{Event: eventstoretest.Event(province(0), "stale", 1), ExpectedSeq: 0}, // line 0 is at `first`
		{Event: eventstoretest.Event(province(2), "fresh-2", 1), ExpectedSeq: 0},
		{Event: eventstoretest.Event(province(3), "fresh-3", 1), ExpectedSeq: 0},
		{Event: eventstoretest.Event(province(4), "fresh-4", 1), ExpectedSeq: 0},
	} {
		m, err := message(p)
		require.NoError(t, err, "proposal %d", i)
		batch = append(batch, newPending(m))
	}
	require.GreaterOrEqual(t, len(batch)-1, log.minBatch, "the rest is big enough for a batch")
	log.commit(ctx, batch)
	assert.Equal(t, uint64(1), log.stats.resolved.Load())
	assert.Zero(t, log.stats.fallbacks.Load())
	assert.Equal(t, uint64(1), log.stats.batches.Load(), "the rest, again in one batch")
	assertStaleAndStored(t, log, batch, 1, first)
}

// A batch refused for another rule than a line's expectation (here: a
// message id already in the stream) is republished one by one, each
// append getting its own answer.
func TestGroupCommitRefusedBatchFallsBackToSingleAppends(t *testing.T) {
	log := openGroupCommit(t, 64)
	ctx := context.Background()
	seed := eventstoretest.Event(province(0), "seed", 1)
	first, err := log.Append(ctx, domain.Proposal{Event: seed, ExpectedSeq: 0})
	require.NoError(t, err)

	var batch []*pendingAppend
	for i, p := range []domain.Proposal{
		{Event: eventstoretest.Event(province(1), "fresh-1", 1), ExpectedSeq: 0},
		{Event: eventstoretest.Event(province(5), "seed", 1), ExpectedSeq: 0}, // the seed's key again: its message id
		{Event: eventstoretest.Event(province(2), "fresh-2", 1), ExpectedSeq: 0},
		{Event: eventstoretest.Event(province(3), "fresh-3", 1), ExpectedSeq: 0},
		{Event: eventstoretest.Event(province(4), "fresh-4", 1), ExpectedSeq: 0},
	} {
		m, err := message(p)
		require.NoError(t, err, "proposal %d", i)
		batch = append(batch, newPending(m))
	}
	log.commit(ctx, batch)
	assert.Equal(t, uint64(1), log.stats.fallbacks.Load())
	assert.Zero(t, log.stats.batches.Load())
	for i, p := range batch {
		r := <-p.done
		require.NoError(t, r.err, "append %d", i)
		if i == 1 {
			assert.True(t, r.duplicate, "the reused key is answered as a duplicate")
			assert.Equal(t, first, r.seq)
			continue
		}
		assert.Greater(t, r.seq, first)
	}
}

func assertStaleAndStored(t *testing.T, log *JetStream, batch []*pendingAppend, stale int, first uint64) {
	t.Helper()
	ctx := context.Background()
	for i, p := range batch {
		r := <-p.done
		if i == stale {
			var apiErr *jetstream.APIError
			require.True(t, errors.As(r.err, &apiErr), "stale append: %v", r.err)
			assert.Equal(t, errCodeWrongLastSeq, int(apiErr.ErrorCode))
			continue
		}
		require.NoError(t, r.err, "append %d", i)
		assert.Greater(t, r.seq, first)
	}
	line0, err := log.Load(ctx, province(0), 0)
	require.NoError(t, err)
	assert.Len(t, line0, 1, "the stale event was stored")
	for k := 1; k < len(batch); k++ {
		got, err := log.Load(ctx, province(k), 0)
		require.NoError(t, err)
		assert.Len(t, got, 1, "line %d", k)
	}
}

// nats-server checks two expectations on one line within one atomic batch
// against the line as it was before the batch, so both pass. This is why
// gather never puts two appends of a line in one batch; should a server
// version ever refuse such a batch, this test says so.
func TestAtomicBatchDoesNotSerialiseOneLine(t *testing.T) {
	log := openGroupCommit(t, 64)
	var batch []*pendingAppend
	for _, key := range []string{"a", "b"} {
		m, err := message(domain.Proposal{Event: eventstoretest.Event(province(0), key, 1), ExpectedSeq: 0})
		require.NoError(t, err)
		batch = append(batch, newPending(m))
	}
	_, err := log.publishBatch(context.Background(), batch)
	require.NoError(t, err, "the server now refuses two expectations on one line in a batch; gather's guard may be relaxed")
	got, err := log.Load(context.Background(), province(0), 0)
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

// gather puts one append of a line in a batch, defers the others to the
// next batches, and goes on gathering behind them.
func TestGatherKeepsOneAppendPerLine(t *testing.T) {
	log := &JetStream{queue: make(chan *pendingAppend, 8), maxBatch: 3}
	pending := func(line, key string) *pendingAppend {
		k := province(0)
		k.Province = line
		m, err := message(domain.Proposal{Event: eventstoretest.Event(k, key, 1)})
		require.NoError(t, err)
		return newPending(m)
	}
	a1, b1, a2, c1, a3 := pending("01", "a1"), pending("79", "b1"), pending("01", "a2"), pending("48", "c1"), pending("01", "a3")
	for _, p := range []*pendingAppend{b1, a2, c1, a3} {
		log.queue <- p
	}
	batch := log.gather(a1)
	assert.Equal(t, []*pendingAppend{a1, b1, c1}, batch, "a2 does not stop the gathering")
	assert.Equal(t, []*pendingAppend{a2}, log.deferred, "the second append of line 01 waits for the next batch")
	assert.Len(t, log.queue, 1, "maxBatch: a3 stays queued")

	d1 := pending("31", "d1")
	batch = log.gather(d1)
	assert.Equal(t, []*pendingAppend{d1, a2}, batch, "the deferred come first, then the queue; a3 waits again")
	assert.Equal(t, []*pendingAppend{a3}, log.deferred)
	assert.Empty(t, log.queue)

	batch = log.gather(pending("92", "e1"))
	assert.Len(t, batch, 2)
	assert.Same(t, a3, batch[1])
	assert.Empty(t, log.deferred)
	assert.Equal(t, uint64(2), log.stats.deferred.Load())
}
