package eventstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// Under writes from 16 concurrent clients through three ledgers (one
// connection each, to the whole cluster) on an R3 stream, the stream's
// leader server is shut down, a new leader is elected, and the old server
// starts again on its store. Every client retries a write whose outcome
// is unknown with the same command until it is acknowledged. Then,
// Jepsen-style, the acknowledged set against the stream: none lost, none
// twice, nothing unacknowledged, every line's chain intact, and the
// stream's balances those of the acknowledged set.
//
// One fault by default; FAULTS=N runs N in a row, e.g.
// FAULTS=20 go test -run TestClusterFaultLeaderLoss ./eventstore
func TestClusterFaultLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-server cluster; -short skips it")
	}
	faults := eventstoretest.Faults(t, 1)
	servers, opts := startClusterOpts(t, 3)
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.ClientURL()
	}

	// Three ledgers, each connected first to a different server, each
	// reconnecting to any.
	ledgers := make([]*domain.Ledger, 3)
	var logs []*eventstore.JetStream
	for i := range ledgers {
		rotated := append(append([]string{}, urls[i:]...), urls[:i]...)
		nc, err := nats.Connect(strings.Join(rotated, ","), nats.DontRandomize(),
			nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		var log *eventstore.JetStream
		require.Eventually(t, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			log, err = eventstore.Open(ctx, nc, eventstore.StreamConfig{Replicas: 3})
			return err == nil
		}, 60*time.Second, 250*time.Millisecond, "stream with 3 replicas never became available: %v", err)
		t.Cleanup(log.Close)
		logs = append(logs, log)
		ledgers[i] = domain.NewLedger(log, domain.Policy{})
	}
	admin, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	js, err := jetstream.New(admin)
	require.NoError(t, err)

	provinces := []string{"01", "79", "48", "31"}
	const allocated = 1_000_000_000_000
	var setup []eventstoretest.Ack
	for _, p := range provinces {
		cmd := faultCommand(domain.Allocate, p, "alloc-"+p, allocated)
		res, err := ledgers[0].Record(context.Background(), cmd)
		require.NoError(t, err)
		setup = append(setup, ackOf(cmd, res))
	}

	w := eventstoretest.StartWriters(t, 16, func(c, i int) (eventstoretest.Ack, error) {
		cmd := faultCommand(domain.Disburse, provinces[c%len(provinces)], fmt.Sprintf("c%d-%d", c, i), int64(1000+c))
		// While the outcome is unknown, the same command again, through
		// the next ledger each time.
		return eventstoretest.Retry(func(attempt int) (eventstoretest.Ack, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := ledgers[(c+attempt)%len(ledgers)].Record(ctx, cmd)
			if err != nil {
				return eventstoretest.Ack{}, err
			}
			return ackOf(cmd, res), nil
		})
	})

	w.WaitFor(t, 20)
	for f := 1; f <= faults; f++ {
		leader := eventstoretest.StreamLeader(t, js, eventstore.DefaultStream)
		i := serverIndex(t, servers, leader)
		t0 := time.Now()
		servers[i].Shutdown()
		servers[i].WaitForShutdown()
		// Writes are unavailable until one begun after the fault is
		// acknowledged.
		down := w.Unavailable(t, t0)
		newLeader := eventstoretest.StreamLeader(t, js, eventstore.DefaultStream)
		t.Logf("fault %d: leader %s shut down; writes unavailable for %s; new leader %s",
			f, leader, down.Round(time.Millisecond), newLeader)

		s, err := server.NewServer(opts[i].Clone())
		require.NoError(t, err)
		s.Start()
		t.Cleanup(s.Shutdown)
		require.True(t, s.ReadyForConnections(15*time.Second), "%s did not start again", leader)
		servers[i] = s
		eventstoretest.WaitCurrentReplicas(t, js, eventstore.DefaultStream, 3)
		w.WaitFor(t, 20)
	}
	acks := append(setup, w.Stop(t)...)

	// The acknowledged set against the stream.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stream []domain.Recorded
	for _, p := range provinces {
		recs, err := logs[1].Load(ctx, domain.LineKey{FiscalYear: 2025, Province: p, Source: domain.SourceNational}, 0)
		require.NoError(t, err)
		stream = append(stream, recs...)
	}
	t.Logf("%d faults", faults)
	eventstoretest.CheckHistory(t, acks, stream)
}

// ackOf is the acknowledgement of cmd, recorded as res.
func ackOf(cmd domain.Command, res domain.Result) eventstoretest.Ack {
	return eventstoretest.Ack{Key: cmd.IdempotencyKey, EventID: res.Recorded.Event.ID, Type: res.Recorded.Event.Type,
		Line: res.Recorded.Event.Line(), Amount: cmd.Amount, Replayed: res.Replayed}
}

func faultCommand(kind domain.CommandKind, province, key string, amount int64) domain.Command {
	c := domain.Command{
		Kind: kind, FiscalYear: 2025, Province: province, Source: domain.SourceNational,
		Amount:        domain.AmountFromInt64(amount),
		EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 3},
		EventID:       uuid.Must(uuid.NewV7()).String(), Actor: "tester", IdempotencyKey: key, Now: now,
	}
	if kind == domain.Allocate {
		c.Decision = "3536/QĐ-BCT"
		c.EffectiveDate.Month = time.January
	} else {
		c.Voucher, c.Beneficiary = "KB-"+key, "HTX Gốm"
	}
	return c
}

func serverIndex(t *testing.T, servers []*server.Server, name string) int {
	t.Helper()
	for i, s := range servers {
		if s.Name() == name {
			return i
		}
	}
	require.FailNow(t, "no server named "+name)
	return -1
}
