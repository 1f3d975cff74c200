package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// startCluster starts a JetStream cluster of n servers on loopback, each
// fsyncing every write, with stores in temporary directories. Cluster
// ports are picked free and then given to the servers, so another test's
// server may take one in between: a cluster that is not ready soon is
// shut down and started again on other ports, a bounded number of times.
func startCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	servers, _ := startClusterOpts(t, n)
	return servers
}

// startClusterOpts is startCluster that also returns each server's
// options, with its client port fixed, to start it again on its store.
func startClusterOpts(t *testing.T, n int) ([]*server.Server, []*server.Options) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		servers, opts, ok := tryCluster(t, n)
		if ok {
			for _, s := range servers {
				t.Cleanup(s.Shutdown)
			}
			for i, s := range servers {
				opts[i].Port = s.Addr().(*net.TCPAddr).Port
			}
			return servers, opts
		}
		for _, s := range servers {
			s.Shutdown()
		}
		require.Less(t, attempt, 4, "a %d-server cluster never became ready", n)
	}
}

func tryCluster(t *testing.T, n int) ([]*server.Server, []*server.Options, bool) {
	t.Helper()
	ports := make([]int, n)
	routes := make([]*url.URL, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		require.NoError(t, ln.Close())
		routes[i] = &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", ports[i])}
	}
	servers := make([]*server.Server, 0, n)
	all := make([]*server.Options, 0, n)
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("kcl-%d", i),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			SyncAlways: true,
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "kcledger-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     routes,
		}
		all = append(all, opts.Clone())
		s, err := server.NewServer(opts)
		require.NoError(t, err)
		s.Start()
		servers = append(servers, s)
		if !s.ReadyForConnections(15 * time.Second) {
			return servers, all, false
		}
	}
	return servers, all, true
}

// openReplicated opens the log with three replicas, retrying while the
// cluster elects its JetStream leader.
func openReplicated(t *testing.T, s *server.Server) *eventstore.JetStream {
	t.Helper()
	nc := connect(t, s)
	var (
		log *eventstore.JetStream
		err error
	)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		log, err = eventstore.Open(ctx, nc, eventstore.StreamConfig{Replicas: 3})
		return err == nil
	}, 60*time.Second, 250*time.Millisecond, "stream with 3 replicas never became available")
	t.Cleanup(log.Close)
	return log
}

// On a replicated stream a stale expectation comes back as 10164, and a
// republished message as a duplicate: the same suite must pass.
func TestReplicatedConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-server cluster; -short skips it")
	}
	servers := startCluster(t, 3)
	nc, err := nats.Connect(servers[1].ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	eventstoretest.Run(t, func(t *testing.T) domain.EventLog {
		// The stream's subjects are fixed: each subtest starts afresh.
		require.Eventually(t, func() bool {
			err := js.DeleteStream(context.Background(), eventstore.DefaultStream)
			return err == nil || errors.Is(err, jetstream.ErrStreamNotFound)
		}, 60*time.Second, 250*time.Millisecond, "the cluster never answered")
		return openReplicated(t, servers[0])
	})
}

// Ledgers connected to different servers of the cluster race to overspend
// one line of an R3 stream.
func TestReplicatedLedgersCannotOverspend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-server cluster; -short skips it")
	}
	ctx := context.Background()
	servers := startCluster(t, 3)
	logs := []*eventstore.JetStream{openReplicated(t, servers[0]), openReplicated(t, servers[1]), openReplicated(t, servers[2])}
	ledgers := make([]*domain.Ledger, len(logs))
	for i, l := range logs {
		ledgers[i] = domain.NewLedger(l, domain.Policy{})
	}
	_, err := ledgers[0].Record(ctx, allocation("alloc", 10_000))
	require.NoError(t, err)

	const clients = 24
	var (
		mu       sync.Mutex
		accepted = map[string]string{}
		wg       sync.WaitGroup
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("pay-", c)
			res, err := ledgers[c%3].Record(ctx, disbursement(key, 1_000))
			if err != nil {
				assert.ErrorIs(t, err, domain.ErrInsufficientFunds)
				return
			}
			// The same command again, through another server.
			again, err := ledgers[(c+1)%3].Record(ctx, disbursement(key, 1_000))
			if assert.NoError(t, err) {
				assert.True(t, again.Replayed)
				assert.Equal(t, res.Recorded.Event.ID, again.Recorded.Event.ID)
			}
			mu.Lock()
			accepted[key] = res.Recorded.Event.ID
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Len(t, accepted, 10)

	recs, err := logs[2].Load(ctx, domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}, 0)
	require.NoError(t, err)
	st := domain.NewLineState(domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational})
	for _, r := range recs {
		require.NoError(t, st.Apply(r))
		if r.Event.Type == domain.TypeDisbursed {
			assert.Equal(t, accepted[r.Event.IdempotencyKey], r.Event.ID)
		}
	}
	assert.Equal(t, 11, st.Events, "one allocation and ten disbursements, each once")
	assert.True(t, st.Balance.Available().IsZero())
}
