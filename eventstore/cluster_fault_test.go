package eventstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// faultAck is one acknowledged write: its command and the event the
// ledger answered with.
type faultAck struct {
	cmd      domain.Command
	eventID  string
	started  time.Time
	answered time.Time
	replayed bool // acknowledged on a retry, as the original event
}

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
	faults := 1
	if v := os.Getenv("FAULTS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "FAULTS")
		require.Positive(t, n, "FAULTS")
		faults = n
	}
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
	for _, p := range provinces {
		_, err := ledgers[0].Record(context.Background(), faultCommand(domain.Allocate, p, "alloc-"+p, allocated))
		require.NoError(t, err)
	}

	const clients = 16
	var (
		mu   sync.Mutex
		acks []faultAck
		wg   sync.WaitGroup
	)
	stop := make(chan struct{})
	acked := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acks)
	}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cmd := faultCommand(domain.Disburse, provinces[c%len(provinces)], fmt.Sprintf("c%d-%d", c, i), int64(1000+c))
				ack, err := recordUntilAcknowledged(ledgers, c, cmd)
				if err != nil {
					t.Errorf("%s: never acknowledged: %v", cmd.IdempotencyKey, err)
					return
				}
				mu.Lock()
				acks = append(acks, ack)
				mu.Unlock()
			}
		}()
	}
	waitForAcks := func(n int) {
		t.Helper()
		target := acked() + n
		require.Eventually(t, func() bool { return acked() >= target }, 60*time.Second, 20*time.Millisecond,
			"fewer than %d writes acknowledged", target)
	}

	waitForAcks(20)
	for f := 1; f <= faults; f++ {
		leader := streamLeader(t, js)
		i := serverIndex(t, servers, leader)
		t0 := time.Now()
		servers[i].Shutdown()
		servers[i].WaitForShutdown()
		// Writes are unavailable until one begun after the fault is
		// acknowledged.
		var back time.Time
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, a := range acks {
				if a.started.After(t0) {
					back = a.answered
					return true
				}
			}
			return false
		}, 60*time.Second, 10*time.Millisecond, "fault %d: no write acknowledged after %s was shut down", f, leader)
		newLeader := streamLeader(t, js)
		t.Logf("fault %d: leader %s shut down; writes unavailable for %s; new leader %s",
			f, leader, back.Sub(t0).Round(time.Millisecond), newLeader)

		s, err := server.NewServer(opts[i].Clone())
		require.NoError(t, err)
		s.Start()
		t.Cleanup(s.Shutdown)
		require.True(t, s.ReadyForConnections(15*time.Second), "%s did not start again", leader)
		servers[i] = s
		waitForCurrentReplicas(t, js)
		waitForAcks(20)
	}
	close(stop)
	wg.Wait()
	require.False(t, t.Failed())

	// The acknowledged set against the stream.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	inStream := map[string][]string{} // idempotency key → event ids
	replayed := 0
	for _, a := range acks {
		if a.replayed {
			replayed++
		}
	}
	for _, p := range provinces {
		key := domain.LineKey{FiscalYear: 2025, Province: p, Source: domain.SourceNational}
		recs, err := logs[1].Load(ctx, key, 0)
		require.NoError(t, err)
		st := domain.NewLineState(key)
		for _, r := range recs {
			require.NoError(t, st.Apply(r), "line %s: chain", key)
			inStream[r.Event.IdempotencyKey] = append(inStream[r.Event.IdempotencyKey], r.Event.ID)
		}
		want := domain.AmountFromInt64(0)
		for _, a := range acks {
			if a.cmd.Province == p {
				want = want.Add(a.cmd.Amount)
			}
		}
		assert.True(t, st.Balance.Allocated.Equal(domain.AmountFromInt64(allocated)), "line %s: allocated %s", key, st.Balance.Allocated)
		assert.True(t, st.Balance.Disbursed.Equal(want), "line %s: disbursed %s in the stream, %s acknowledged", key, st.Balance.Disbursed, want)
	}
	lost, twice := 0, 0
	ackedKeys := map[string]bool{}
	for _, a := range acks {
		ackedKeys[a.cmd.IdempotencyKey] = true
		ids := inStream[a.cmd.IdempotencyKey]
		switch {
		case len(ids) == 0:
			lost++
		case len(ids) > 1:
			twice++
		default:
			assert.Equal(t, a.eventID, ids[0], "%s: acknowledged as another event", a.cmd.IdempotencyKey)
		}
	}
	unacked := 0
	for k := range inStream {
		if !ackedKeys[k] && !strings.HasPrefix(k, "alloc-") {
			unacked++
		}
	}
	t.Logf("%d faults: %d writes acknowledged (%d on a retry, as the original event), %d lost, %d duplicated, %d in the stream unacknowledged",
		faults, len(acks), replayed, lost, twice, unacked)
	assert.Zero(t, lost, "acknowledged writes lost")
	assert.Zero(t, twice, "writes in the stream twice")
	assert.Zero(t, unacked, "writes in the stream that no client saw acknowledged")
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

// recordUntilAcknowledged records cmd, and while its outcome is unknown
// records the same command again, through the next ledger each time, for
// at most a minute.
func recordUntilAcknowledged(ledgers []*domain.Ledger, c int, cmd domain.Command) (faultAck, error) {
	started := time.Now()
	deadline := started.Add(time.Minute)
	var last error
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := ledgers[(c+attempt)%len(ledgers)].Record(ctx, cmd)
		cancel()
		if err == nil {
			return faultAck{cmd: cmd, eventID: res.Recorded.Event.ID, started: started, answered: time.Now(), replayed: res.Replayed}, nil
		}
		last = err
		<-time.After(20 * time.Millisecond) // a retry's pause
	}
	return faultAck{}, last
}

// streamLeader is the name of the stream's leader, once there is one.
func streamLeader(t *testing.T, js jetstream.JetStream) string {
	t.Helper()
	var leader string
	require.Eventually(t, func() bool {
		info, err := faultStreamInfo(js)
		if err != nil || info.Cluster == nil {
			return false
		}
		leader = info.Cluster.Leader
		return leader != ""
	}, 60*time.Second, 50*time.Millisecond, "the stream has no leader")
	return leader
}

// waitForCurrentReplicas waits until the stream has a leader and two
// replicas, both online and current.
func waitForCurrentReplicas(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	require.Eventually(t, func() bool {
		info, err := faultStreamInfo(js)
		if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	}, 60*time.Second, 50*time.Millisecond, "the restarted server never caught up")
}

func faultStreamInfo(js jetstream.JetStream) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, eventstore.DefaultStream)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
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
