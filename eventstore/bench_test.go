package eventstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// The benchmarks run on an embedded server that fsyncs every write, as
// `kcledger serve` does by default. scripts/bench compares the same
// figures with `nats bench` on a standalone server.

func benchServer(b *testing.B) (*nats.Conn, *eventstore.JetStream) {
	b.Helper()
	s, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: b.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(b, err)
	b.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	require.NoError(b, err)
	b.Cleanup(nc.Close)
	log, err := eventstore.Open(context.Background(), nc, eventstore.StreamConfig{})
	require.NoError(b, err)
	b.Cleanup(log.Close)
	return nc, log
}

// BenchmarkRawPublish is the baseline: a synchronous JetStream publish of
// a 400-byte message, with no expectation.
func BenchmarkRawPublish(b *testing.B) {
	nc, _ := benchServer(b)
	js, err := jetstream.New(nc)
	require.NoError(b, err)
	_, err = js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage})
	require.NoError(b, err)
	data := make([]byte, 400)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := js.Publish(context.Background(), "raw.x", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend is one event appended with its line's expectation and
// its key as message id: the event store alone, no rules.
func BenchmarkAppend(b *testing.B) {
	_, log := benchServer(b)
	ctx := context.Background()
	line := domain.LineKey{FiscalYear: 2024, Province: "01", Source: domain.SourceLocal}
	var last uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := benchEvent(line, i)
		seq, err := log.Append(ctx, domain.Proposal{Event: e, ExpectedSeq: last})
		if err != nil {
			b.Fatal(err)
		}
		last = seq
	}
}

// BenchmarkRecord is a validated disbursement through the domain ledger:
// rules, hash chain, key check and append.
func BenchmarkRecord(b *testing.B) {
	_, log := benchServer(b)
	ctx := context.Background()
	ledger := domain.NewLedger(log, domain.Policy{})
	now := time.Now().UTC()
	cmd := func(kind domain.CommandKind, key string) domain.Command {
		return eventstoretest.Command(kind, "01", key, now)
	}
	_, err := ledger.Record(ctx, cmd(domain.Allocate, "alloc"))
	require.NoError(b, err)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ledger.Record(ctx, cmd(domain.Disburse, fmt.Sprint("pay-", i))); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEvent(line domain.LineKey, i int) domain.Event {
	e := domain.Event{
		ID: uuid.Must(uuid.NewV7()).String(), Type: domain.TypeAllocated,
		FiscalYear: line.FiscalYear, Province: line.Province, Source: line.Source,
		Amount: domain.AmountFromInt64(1000), Decision: "1/QĐ-BCT",
		EffectiveDate: domain.Date{Year: line.FiscalYear, Month: time.March, Day: 1},
		RecordedAt:    time.Now().UTC(), Actor: "bench", IdempotencyKey: fmt.Sprint("bench-", i),
		PrevHash: domain.GenesisHash,
	}
	e.Hash = e.ComputeHash()
	return e
}

// BenchmarkRecord16 is BenchmarkRecord with 16 concurrent writers spread
// over the 63 provinces, one line each at a time.
func BenchmarkRecord16(b *testing.B) { benchRecordConcurrent(b, 16, 0) }

// BenchmarkRecord64 is the same with 64 writers, where group commit
// (on by default) gathers batches; BenchmarkRecord64Off without it.
// Profile with -cpuprofile: the client and the server share the
// process.
func BenchmarkRecord64(b *testing.B)    { benchRecordConcurrent(b, 64, 0) }
func BenchmarkRecord64Off(b *testing.B) { benchRecordConcurrent(b, 64, 1) }

func benchRecordConcurrent(b *testing.B, writers, maxBatch int) {
	s, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: b.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(b, err)
	b.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	require.NoError(b, err)
	b.Cleanup(nc.Close)
	log, err := eventstore.Open(context.Background(), nc, eventstore.StreamConfig{MaxBatch: maxBatch})
	require.NoError(b, err)
	b.Cleanup(log.Close)
	ctx := context.Background()
	ledger := domain.NewLedger(log, domain.Policy{})
	now := time.Now().UTC()
	provinces := domain.Provinces(domain.Scheme63)
	cmd := func(kind domain.CommandKind, province, key string) domain.Command {
		return eventstoretest.Command(kind, province, key, now)
	}
	for _, p := range provinces {
		_, err := ledger.Record(ctx, cmd(domain.Allocate, p.Code, "alloc-"+p.Code))
		require.NoError(b, err)
	}
	before := log.CommitStats()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += writers {
				p := provinces[i%len(provinces)]
				if _, err := ledger.Record(ctx, cmd(domain.Disburse, p.Code, fmt.Sprint("pay-", i))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	after := log.CommitStats()
	if batches := after.Batches - before.Batches; batches > 0 {
		b.ReportMetric(float64(after.Batched-before.Batched)/float64(batches), "msgs/batch")
	}
	b.ReportMetric(float64(after.Singles-before.Singles)/float64(b.N), "singles/op")
}
