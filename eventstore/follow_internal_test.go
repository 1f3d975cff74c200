package eventstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// Whoever changes the consumer a projection follows (someone with the
// operator's credentials: readers cannot, TestNATSReaderConsumers) must
// not make it skip events, starve it, or strip their bodies: Follow
// notices, reads again through a new consumer, and delivers every event
// in order.
func TestFollowReplacesAnAlteredConsumer(t *testing.T) {
	defer consumerCheckEvery.Store(consumerCheckEvery.Swap(int64(100 * time.Millisecond)))
	for _, tc := range []struct {
		name  string
		alter func(*jetstream.ConsumerConfig)
	}{
		{"filter narrowed to another line", func(c *jetstream.ConsumerConfig) {
			c.FilterSubject, c.FilterSubjects = "", []string{LineFilter(province(1))}
		}},
		{"filter moved to a future year", func(c *jetstream.ConsumerConfig) {
			c.FilterSubject, c.FilterSubjects = "", []string{"kcledger.events.2099.>"}
		}},
		{"headers only", func(c *jetstream.ConsumerConfig) { c.HeadersOnly = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := openGroupCommit(t, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			last := map[domain.LineKey]uint64{}
			appendOn := func(k domain.LineKey, key string) {
				seq, err := log.Append(ctx, domain.Proposal{Event: eventstoretest.Event(k, key, 1), ExpectedSeq: last[k]})
				require.NoError(t, err)
				last[k] = seq
			}
			for i := range 3 {
				appendOn(province(0), fmt.Sprint("a", i))
			}
			got := make(chan uint64, 64)
			followErr := make(chan error, 1)
			go func() {
				followErr <- log.Follow(ctx, 0, func(r domain.Recorded) error {
					if len(r.Event.Hash) == 0 {
						return fmt.Errorf("event at seq %d has no body", r.Seq)
					}
					got <- r.Seq
					return nil
				})
			}()
			var seqs []uint64
			wait := func(n int) {
				t.Helper()
				for len(seqs) < n {
					select {
					case s := <-got:
						seqs = append(seqs, s)
					case err := <-followErr:
						t.Fatalf("Follow stopped after %v: %v", seqs, err)
					case <-ctx.Done():
						t.Fatalf("Follow delivered %v, want %d events", seqs, n)
					}
				}
			}
			wait(3)
			// The follower's consumer: the one on the whole stream, with
			// bodies (the key index's catch-ups are headers only).
			var target *jetstream.ConsumerInfo
			for info := range log.stream.ListConsumers(ctx).Info() {
				c := info.Config
				if (c.FilterSubject == AllEvents || slices.Equal(c.FilterSubjects, []string{AllEvents})) && !c.HeadersOnly {
					target = info
				}
			}
			require.NotNil(t, target, "the follower's consumer")
			cfg := target.Config
			tc.alter(&cfg)
			_, err := log.js.UpdateConsumer(ctx, log.name, cfg)
			require.NoError(t, err)
			appendOn(province(0), "b0")
			appendOn(province(0), "b1")
			appendOn(province(1), "c0")
			wait(6)
			require.Equal(t, []uint64{1, 2, 3, 4, 5, 6}, seqs)
		})
	}
}
