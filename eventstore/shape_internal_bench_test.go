package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// BenchmarkPublishShape1 and BenchmarkPublishShape16 separate what a
// kcledger append costs the server beyond a raw publish: 1 or 16 writers,
// each on lines of its own, fsync on every write, publishing
//
//	raw:        400 zero bytes on one subject of a plain stream
//	event-bare: an event's JSON on its line's subject, no headers
//	event:      the message kcledger sends: the same with its headers
//	            (message id, line expectation, CloudEvents attributes)
//
// Every shape builds an event's message first, at the same cost in each,
// so the differences are the server's and the wire's. No rules, no key
// index lookups: the ledger's own work is BenchmarkRecordCPU.
func BenchmarkPublishShape1(b *testing.B) { benchPublishShape(b, 1) }

func BenchmarkPublishShape16(b *testing.B) { benchPublishShape(b, 16) }

func benchPublishShape(b *testing.B, writers int) {
	s, err := StartServer(ServerConfig{DataDir: b.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(b, err)
	b.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	require.NoError(b, err)
	b.Cleanup(nc.Close)
	log, err := Open(context.Background(), nc, StreamConfig{})
	require.NoError(b, err)
	b.Cleanup(log.Close)
	_, err = log.js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage})
	require.NoError(b, err)

	provinces := domain.Provinces(domain.Scheme63)
	// Each writer's lines, and their last sequences, kept across runs.
	lasts := make([]map[domain.LineKey]uint64, writers)
	lines := make([][]domain.LineKey, writers)
	for w := range writers {
		lasts[w] = map[domain.LineKey]uint64{}
		for i := w; i < len(provinces); i += writers {
			lines[w] = append(lines[w], domain.LineKey{FiscalYear: 2024, Province: provinces[i].Code, Source: domain.SourceLocal})
		}
	}
	run := 0
	for _, shape := range []string{"raw", "event-bare", "event"} {
		b.Run(shape, func(b *testing.B) {
			run++
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < b.N; i += writers {
						k := lines[w][i%len(lines[w])]
						key := fmt.Sprint(run, "-", i)
						m, err := message(domain.Proposal{Event: eventstoretest.Event(k, key, 1), ExpectedSeq: lasts[w][k]})
						if err != nil {
							b.Error(err)
							return
						}
						switch shape {
						case "raw":
							m = nats.NewMsg("raw.x")
							m.Data = make([]byte, 400)
						case "event-bare":
							m.Header = nats.Header{}
						}
						ack, err := log.js.PublishMsg(context.Background(), m)
						if err != nil {
							b.Error(err)
							return
						}
						if shape != "raw" {
							lasts[w][k] = ack.Sequence
							// As Append does: the key index then has
							// nothing to read back from the stream.
							log.keys.note(msgID(key), ack.Sequence)
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// BenchmarkDecodeEvent is the decoding of one event's JSON, most of a
// replay's work.
func BenchmarkDecodeEvent(b *testing.B) {
	e := eventstoretest.Event(domain.LineKey{FiscalYear: 2024, Province: "01", Source: domain.SourceLocal}, "k", 1000)
	m, err := message(domain.Proposal{Event: e})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode(m.Data, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuLog is an event log that does the client-side work of a JetStream
// append (the message, its headers and id, the key index note and lookup)
// but sends nothing: what an append costs kcledger's own process.
type cpuLog struct {
	seq  *uint64
	keys *keyIndex
}

func (l cpuLog) Load(context.Context, domain.LineKey, uint64) ([]domain.Recorded, error) {
	return nil, nil
}

func (l cpuLog) Claim(_ context.Context, key string) (domain.IdempotencyClaim, bool, error) {
	_, ok, err := l.keys.lookup(key)
	if ok {
		return domain.IdempotencyClaim{}, false, fmt.Errorf("key %q again", key)
	}
	return domain.IdempotencyClaim{}, false, err
}

func (l cpuLog) Append(_ context.Context, p domain.Proposal) (uint64, error) {
	m, err := message(p)
	if err != nil {
		return 0, err
	}
	if p.ExpectedSeq != *l.seq {
		return 0, domain.ErrStale // one line: its last event is the log's
	}
	*l.seq++
	l.keys.note(m.Header.Get(hdrMsgID), *l.seq)
	return *l.seq, nil
}

// BenchmarkRecordCPU is a validated disbursement recorded through the
// domain ledger into cpuLog: the CPU an append costs the writer before and
// after its one round trip to the server. With one writer, it adds to
// every append's latency.
func BenchmarkRecordCPU(b *testing.B) {
	ctx := context.Background()
	keys := newKeyIndex(time.Hour)
	keys.confirm(time.Now().Add(time.Hour))
	ledger := domain.NewLedger(cpuLog{new(uint64), keys}, domain.Policy{})
	now := time.Now().UTC()
	cmd := func(kind domain.CommandKind, key string) domain.Command {
		return eventstoretest.Command(kind, "01", key, now)
	}
	_, err := ledger.Record(ctx, cmd(domain.Allocate, "alloc"))
	require.NoError(b, err)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := ledger.Record(ctx, cmd(domain.Disburse, "pay-"+strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
	}
}

func (l cpuLog) AppendAll(context.Context, []domain.Proposal) ([]uint64, error) {
	return nil, errors.New("cpuLog: records single movements only")
}
