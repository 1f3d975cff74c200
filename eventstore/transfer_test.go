package eventstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// Lines of the transfer tests: 02 Hà Giang's 2025 national line and its
// successor's, 08 Tuyên Quang.
var (
	transferFrom = domain.LineKey{FiscalYear: 2025, Province: "02", Source: domain.SourceNational}
	transferTo   = domain.LineKey{FiscalYear: 2025, Province: "08", Source: domain.SourceNational}
	transferNow  = time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)
)

func transferCmd(kind domain.CommandKind, k domain.LineKey, key string, amount int64, date string) domain.Command {
	d, err := domain.ParseDate(date)
	if err != nil {
		panic(err)
	}
	c := domain.Command{Kind: kind, FiscalYear: k.FiscalYear, Province: k.Province, Source: k.Source,
		Amount: domain.AmountFromInt64(amount), EffectiveDate: d, EventID: uuid.Must(uuid.NewV7()).String(),
		Actor: "tester", IdempotencyKey: key, Now: transferNow}
	switch kind {
	case domain.Allocate:
		c.Decision = "1/QĐ-UBND"
	case domain.Disburse:
		c.Voucher, c.Beneficiary = "KB-1", "Cơ sở dệt thổ cẩm"
	case domain.Transfer:
		c.TransferKind, c.To, c.Decision = domain.TransferSuccession, transferTo, "1234/QĐ-UBND"
		c.InEventID = uuid.Must(uuid.NewV7()).String()
	}
	return c
}

// staleOnce is an event log on which, just before the first atomic
// append, another writer appends to the destination line: the transfer
// the ledger decided no longer fits it.
type staleOnce struct {
	*eventstore.JetStream
	intrude  func()
	attempts atomic.Int32
	refused  atomic.Int32
	lastSeqs func() (uint64, uint64)
	seen     [2]uint64 // the lines' last sequences right after the refusal
}

func (l *staleOnce) AppendAll(ctx context.Context, ps []domain.Proposal) ([]uint64, error) {
	if l.attempts.Add(1) == 1 {
		l.intrude()
	}
	seqs, err := l.JetStream.AppendAll(ctx, ps)
	if err != nil {
		l.refused.Add(1)
		l.seen[0], l.seen[1] = l.lastSeqs()
	}
	return seqs, err
}

// A transfer whose destination line moved on between the decision and the
// append is refused as a whole (nothing on either line), and the ledger
// decides it again on the lines as they are.
func TestTransferRefusedWholeWhenTheDestinationMovedOn(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	js := openLog(t, s, eventstore.StreamConfig{DuplicateWindow: time.Minute})
	other := domain.NewLedger(js, domain.Policy{})
	_, err := other.Record(ctx, transferCmd(domain.Allocate, transferFrom, "alloc-02", 10_000_000, "2025-03-01"))
	require.NoError(t, err)
	_, err = other.Record(ctx, transferCmd(domain.Allocate, transferTo, "alloc-08", 1_000_000, "2025-07-02"))
	require.NoError(t, err)

	lastOf := func(k domain.LineKey) uint64 {
		recs, err := js.Load(ctx, k, 0)
		require.NoError(t, err)
		return recs[len(recs)-1].Seq
	}
	log := &staleOnce{JetStream: js, lastSeqs: func() (uint64, uint64) { return lastOf(transferFrom), lastOf(transferTo) }}
	ledger := domain.NewLedger(log, domain.Policy{})
	_, err = ledger.State(ctx, transferFrom) // cached, so the intrusion makes the cache stale
	require.NoError(t, err)
	_, err = ledger.State(ctx, transferTo)
	require.NoError(t, err)
	log.intrude = func() {
		_, err := other.Record(ctx, transferCmd(domain.Allocate, transferTo, "alloc-08-again", 2_000_000, "2025-07-03"))
		require.NoError(t, err)
	}
	fromBefore := lastOf(transferFrom)
	res, err := ledger.Transfer(ctx, transferCmd(domain.Transfer, transferFrom, "succession-02", 10_000_000, "2025-07-01"))
	require.NoError(t, err)
	assert.EqualValues(t, 2, log.attempts.Load(), "decided again after the refusal")
	assert.EqualValues(t, 1, log.refused.Load())
	assert.Equal(t, fromBefore, log.seen[0], "the refused transfer appended nothing on the source line")
	assert.Less(t, log.seen[1], res.In.Seq, "nor on the destination")
	assert.Equal(t, res.Out.Seq+1, res.In.Seq)
	assert.Equal(t, "13000000", res.To.Balance.Available().String(), "the second decision saw the intruding allocation")
	assert.Equal(t, "0", res.From.Balance.Available().String())
}

// Ledgers in several processes (here, on one connection each) transfer
// out of and disburse from the same line at once: the line never pays or
// passes on more than it had, both chains replay, and every retry of a
// transfer returns its original pair.
func TestConcurrentTransfersAndDisbursementsNeverOverspend(t *testing.T) {
	for _, batch := range []int{1, 32} {
		t.Run(fmt.Sprintf("group commit %d", batch), func(t *testing.T) {
			ctx := context.Background()
			s := startServer(t)
			const budget, piece, writers, rounds = 20_000_000, 1_000_000, 4, 8
			var ledgers []*domain.Ledger
			for range writers {
				ledgers = append(ledgers, domain.NewLedger(openLog(t, s, eventstore.StreamConfig{DuplicateWindow: time.Minute, MaxBatch: batch}), domain.Policy{}))
			}
			_, err := ledgers[0].Record(ctx, transferCmd(domain.Allocate, transferFrom, "alloc", budget, "2025-03-01"))
			require.NoError(t, err)

			var wg sync.WaitGroup
			var moved, paid atomic.Int64
			for w, l := range ledgers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range rounds {
						key := fmt.Sprintf("w%d-%d", w, i)
						if (w+i)%2 == 0 {
							cmd := transferCmd(domain.Transfer, transferFrom, key, piece, "2025-07-01")
							res, err := l.Transfer(ctx, cmd)
							if err == nil {
								moved.Add(piece)
								retry := cmd
								retry.EventID, retry.InEventID = uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
								again, err := ledgers[(w+1)%writers].Transfer(ctx, retry)
								assert.NoError(t, err)
								assert.True(t, again.Replayed)
								assert.Equal(t, res.Out.Seq, again.Out.Seq)
								assert.Equal(t, res.In.Seq, again.In.Seq)
							} else {
								assert.ErrorIs(t, err, domain.ErrInsufficientFunds)
							}
						} else {
							_, err := l.Record(ctx, transferCmd(domain.Disburse, transferFrom, key, 3*piece, "2025-05-01"))
							if err == nil {
								paid.Add(3 * piece)
							} else {
								assert.ErrorIs(t, err, domain.ErrInsufficientFunds)
							}
						}
					}
				}()
			}
			wg.Wait()

			from, to := domain.NewLineState(transferFrom), domain.NewLineState(transferTo)
			for _, st := range []*domain.LineState{from, to} {
				recs, err := ledgers[0].State(ctx, st.Key) // loads through the log
				require.NoError(t, err)
				raw, err := openLog(t, s, eventstore.StreamConfig{DuplicateWindow: time.Minute}).Load(ctx, st.Key, 0)
				require.NoError(t, err)
				for _, r := range raw {
					require.NoError(t, st.Apply(r), "the chain of %s replays", st.Key)
				}
				assert.Equal(t, recs.LastSeq, st.LastSeq)
			}
			assert.Equal(t, moved.Load(), from.Balance.TransferredOut.Decimal().IntPart())
			assert.Equal(t, moved.Load(), to.Balance.TransferredIn.Decimal().IntPart())
			assert.Equal(t, paid.Load(), from.Balance.Disbursed.Decimal().IntPart())
			assert.LessOrEqual(t, moved.Load()+paid.Load(), int64(budget), "never more than the plan")
			assert.GreaterOrEqual(t, from.Balance.Available().Sign(), 0)
			t.Logf("moved %d, paid %d of %d", moved.Load(), paid.Load(), budget)
		})
	}
}

// A subscriber of the whole stream, and one of each line, sees a
// transfer's two messages in order, each on its own line's subject with
// its own CloudEvents type; a filter on the transfer kinds sees both too.
func TestSubscribersSeeBothSidesOfATransfer(t *testing.T) {
	ctx := t.Context()
	s := startServer(t)
	ledger := domain.NewLedger(openLog(t, s, eventstore.StreamConfig{DuplicateWindow: time.Minute}), domain.Policy{})
	_, err := ledger.Record(ctx, transferCmd(domain.Allocate, transferFrom, "alloc", 5_000_000, "2025-03-01"))
	require.NoError(t, err)
	res, err := ledger.Transfer(ctx, transferCmd(domain.Transfer, transferFrom, "succ", 5_000_000, "2025-07-01"))
	require.NoError(t, err)

	collect := func(filter string, n int) []*eventstore.Delivery {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		got := make(chan *eventstore.Delivery, 8)
		done := make(chan error, 1)
		go func() {
			done <- eventstore.Subscribe(ctx, connect(t, s), eventstore.SubscribeConfig{Filters: []string{filter}}, func(eventstore.SubscriptionInfo) {},
				func(_ context.Context, d *eventstore.Delivery) error { got <- d; return nil })
		}()
		var out []*eventstore.Delivery
		for len(out) < n {
			select {
			case d := <-got:
				out = append(out, d)
			case err := <-done:
				t.Fatalf("subscription to %s ended: %v", filter, err)
			case <-time.After(10 * time.Second):
				t.Fatalf("subscription to %s: %d of %d messages within 10s", filter, len(out), n)
			}
		}
		return out
	}
	all := collect(eventstore.AllEvents, 3)
	require.Equal(t, []uint64{res.Out.Seq, res.In.Seq}, []uint64{all[1].Seq, all[2].Seq}, "in order, one after the other")
	assert.Equal(t, "kcledger.events.2025.02.national.transferred_out.v1", all[1].Subject)
	assert.Equal(t, "kcledger.events.2025.08.national.transferred_in.v1", all[2].Subject)
	assert.Equal(t, string(domain.TypeTransferredOut), all[1].Header.Get("ce-type"))
	assert.Equal(t, string(domain.TypeTransferredIn), all[2].Header.Get("ce-type"))
	in := collect(eventstore.LineFilter(transferTo), 1)
	assert.Equal(t, res.In.Seq, in[0].Seq)
	var ev domain.Event
	require.NoError(t, domain.UnmarshalEvent(in[0].Data, &ev))
	assert.Equal(t, res.Out.Event.ID, ev.TransferID)
	assert.Equal(t, transferFrom, ev.FromLine)
	both := collect("kcledger.events.*.*.*.*.v1", 3)
	assert.Equal(t, all[2].Seq, both[2].Seq)
	outs := collect("kcledger.events.*.*.*.transferred_out.v1", 1)
	assert.Equal(t, res.Out.Seq, outs[0].Seq)
}
