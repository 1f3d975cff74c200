package eventstore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// BenchmarkPublishShape16 separates what a kcledger append costs the
// server beyond a raw publish: 16 writers, each on lines of its own, fsync
// on every write, publishing
//
//	raw:        400 zero bytes on one subject of a plain stream
//	event-bare: an event's JSON on its line's subject, no headers
//	event:      the same with its message id and line expectation
//
// No rules, no key index lookups: the store alone.
func BenchmarkPublishShape16(b *testing.B) {
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

	const writers = 16
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
						m, err := message(domain.Proposal{Event: eventstoretest.Event(k, fmt.Sprint(run, "-", i), 1), ExpectedSeq: lasts[w][k]})
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
