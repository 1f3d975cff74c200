package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// The fault tests of a ledger on a cluster of real processes: three
// nats-server processes (the pinned binary scripts/test installs) on one
// R3 stream, two `kcledger serve --replicas 3` in front of them, and 16
// HTTP clients writing disbursements through both. A client whose write
// has an unknown outcome (an error, a 5xx, a dead process) retries it with
// the same Idempotency-Key through the other serve until it is
// acknowledged. After the faults, Jepsen-style: every acknowledged write
// in the stream once and as the event it was acknowledged as, nothing
// there unacknowledged, every chain intact, the lines' sums those of the
// acknowledged set; verify clean against both serves; both serves'
// balances, caught up, equal to replay's.
//
// The default run injects a few faults; FAULTS=N injects N in each test
// and logs how long writes were unavailable after each, e.g.
// FAULTS=20 go test -run 'TestCluster' ./cmd/kcledger

// clusterProvinces are the lines the clients write to, each allocated
// far more than they spend.
var clusterProvinces = []string{"01", "79", "48", "31"}

// clusterLedger is the ledger of a fault test, on a cluster of real
// nats-server processes.
type clusterLedger struct {
	nats  *eventstoretest.Cluster
	js    jetstream.JetStream // the test's own connection, to any node
	args  []string            // serve's, but --data
	token string              // the first admin's token file
	mu    sync.Mutex
	serve [2]*serveProc
	setup []eventstoretest.Ack // the allocations
	w     *eventstoretest.Writers
}

// startClusterLedger starts the cluster and the two serves, allocates
// the lines, and returns once the 16 writers have 20 writes acknowledged.
func startClusterLedger(t *testing.T) *clusterLedger {
	t.Helper()
	return startClusterLedgerVia(t, (*eventstoretest.Cluster).URLs)
}

// startClusterLedgerVia is startClusterLedger with the serves given the
// --nats-url that urls returns.
func startClusterLedgerVia(t *testing.T, urls func(*eventstoretest.Cluster) string) *clusterLedger {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a 3-node nats-server cluster and two serves; -short skips it")
	}
	cl := eventstoretest.StartCluster(t, 3)
	l := &clusterLedger{nats: cl, args: []string{"--nats-url", urls(cl), "--replicas", "3"}}
	l.serve[0], l.serve[1] = startServePair(t, l.args...)
	l.token = tokenFileOf(l.serve[0].http)
	nc := cl.Connect()
	t.Cleanup(nc.Close)
	var err error
	l.js, err = jetstream.New(nc)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const allocated = 1_000_000_000_000
	for _, p := range clusterProvinces {
		key := "alloc-" + p
		status, res, err := post(ctx, l.serve[0].http, "/v1/allocations", key, map[string]any{
			"fiscal_year": 2025, "province": p, "source": "national", "amount": fmt.Sprint(allocated),
			"decision": "3536/QĐ-BCT", "effective_date": "2025-01-10"})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, status, "%v", res)
		l.setup = append(l.setup, eventstoretest.Ack{Key: key, EventID: eventID(res), Type: domain.TypeAllocated,
			Line: clusterLine(p), Amount: domain.AmountFromInt64(allocated)})
	}
	l.w = eventstoretest.StartWriters(t, 16, l.disburse)
	l.w.WaitFor(t, 20)
	return l
}

func clusterLine(province string) domain.LineKey {
	return domain.LineKey{FiscalYear: 2025, Province: province, Source: domain.SourceNational}
}

// addr is serve i's HTTP address now (a restarted serve has a new one).
func (l *clusterLedger) addr(i int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.serve[i].http
}

// disburse is client c's i-th write: a disbursement, retried through the
// other serve each time while its outcome is unknown.
func (l *clusterLedger) disburse(c, i int) (eventstoretest.Ack, error) {
	p := clusterProvinces[c%len(clusterProvinces)]
	key := fmt.Sprintf("c%d-%d", c, i)
	amount := int64(1000 + c)
	body := map[string]any{"fiscal_year": 2025, "province": p, "source": "national", "amount": fmt.Sprint(amount),
		"voucher": "KB-" + key, "beneficiary": "HTX Gốm Bát Tràng", "effective_date": "2025-03-03"}
	return eventstoretest.Retry(func(attempt int) (eventstoretest.Ack, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		status, res, err := post(ctx, l.addr((c+attempt)%2), "/v1/disbursements", key, body)
		switch {
		case err != nil:
			return eventstoretest.Ack{}, err
		case status == http.StatusCreated || status == http.StatusOK:
			return eventstoretest.Ack{Key: key, EventID: eventID(res), Type: domain.TypeDisbursed, Line: clusterLine(p),
				Amount: domain.AmountFromInt64(amount), Replayed: status == http.StatusOK}, nil
		case status >= 500 || status == http.StatusConflict && res["code"] == string(domain.CodeConflict):
			return eventstoretest.Ack{}, fmt.Errorf("%s: status %d: %v", key, status, res)
		default:
			return eventstoretest.Ack{}, eventstoretest.Final(fmt.Errorf("%s: status %d: %v", key, status, res))
		}
	})
}

// check stops the writers and checks the acknowledged set against the
// stream, verify against both serves, and both serves' balances against
// replay's.
func (l *clusterLedger) check(t *testing.T) {
	t.Helper()
	acks := append(append([]eventstoretest.Ack{}, l.setup...), l.w.Stop(t)...)

	// A cluster that has just taken a server back may answer "JetStream
	// system temporarily unavailable" (10008) for a moment, to readers
	// as to writers: reads are retried, for at most a minute.
	nc := l.nats.Connect()
	defer nc.Close()
	var (
		state  eventstore.StreamState
		stream []domain.Recorded
	)
	settled(t, "read the stream", func() error {
		var err error
		state, stream, err = readStream(nc)
		return err
	})
	eventstoretest.CheckHistory(t, acks, stream)

	keysFile := pinKeys(t, l.addr(0))
	env := []string{"KCLEDGER_NATS_URL=" + l.nats.URLs()}
	code, out, stderr := settledCLI(t, "", env, "replay", "--keys", keysFile, "--json")
	require.Equal(t, 0, code, stderr)
	var replayed map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &replayed))
	require.EqualValues(t, state.LastSeq, replayed["as_of_seq"], "replay read the whole stream")

	for i := range l.serve {
		srv := l.addr(i)
		served := caughtUpBalances(t, srv, state.LastSeq)
		assert.Equal(t, replayed, served, "serve %d's balances are replay's", i+1)
		code, out, stderr := settledCLI(t, srv, append(env, "KCLEDGER_TOKEN_FILE="+l.token), "verify", "--keys", keysFile, "--compare")
		require.Equal(t, 0, code, "verify against serve %d:\n%s\n%s", i+1, out, stderr)
		assert.Contains(t, out, "No problem found")
		assert.Contains(t, out, "equal those recomputed")
	}
}

// readStream reads the state of the stream and every message in it,
// within 10 seconds (a few thousand messages take under two).
func readStream(nc *nats.Conn) (eventstore.StreamState, []domain.Recorded, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rd, err := eventstore.OpenReader(ctx, nc, eventstore.DefaultStream)
	if err != nil {
		return eventstore.StreamState{}, nil, err
	}
	state, err := rd.State(ctx)
	if err != nil {
		return state, nil, err
	}
	var stream []domain.Recorded
	err = rd.Scan(ctx, state.LastSeq, func(se eventstore.StoredEvent) (bool, error) {
		if se.Err != nil {
			return false, fmt.Errorf("seq %d: %w", se.Seq, se.Err)
		}
		stream = append(stream, se.At())
		return true, nil
	})
	if err != nil {
		return state, nil, fmt.Errorf("read %d of %d messages through %s: %w", len(stream), state.LastSeq, nc.ConnectedServerName(), err)
	}
	return state, stream, nil
}

// settled calls try until it succeeds, for at most a minute.
func settled(t *testing.T, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := try()
		if err == nil {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s: %v", what, err)
		t.Logf("%s: %v; again", what, err)
		<-time.After(250 * time.Millisecond)
	}
}

// settledCLI is cliEnv, run again while it fails to reach the stream
// (exit 3), for at most a minute.
func settledCLI(t *testing.T, server string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	settled(t, args[0], func() error {
		code, stdout, stderr = cliEnv(t, server, env, args...)
		if code == exitFailure {
			return fmt.Errorf("exit %d: %s", code, stderr)
		}
		return nil
	})
	return code, stdout, stderr
}

// caughtUpBalances polls srv's GET /v1/balances until they are as of seq,
// for at most a minute, and returns them.
func caughtUpBalances(t *testing.T, srv string, seq uint64) map[string]any {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := getJSON(t, srv, "/v1/balances")
		var report map[string]any
		if code == http.StatusOK {
			require.NoError(t, json.Unmarshal([]byte(body), &report))
			if at, _ := report["as_of_seq"].(float64); uint64(at) == seq {
				return report
			}
		}
		require.True(t, time.Now().Before(deadline), "%s never caught up with seq %d: %d %s", srv, seq, code, body)
		<-time.After(50 * time.Millisecond)
	}
}

// While the writes go on, a follower of the stream is paused with
// SIGSTOP and, once writes went on without it (or after 10 seconds),
// resumed with SIGCONT; then the leader's process is killed with
// SIGKILL, a new leader elected, and the old one started again on its
// store. Faults alternate between the two, two by default.
func TestClusterFollowerPausedLeaderKilled(t *testing.T) {
	l := startClusterLedger(t)
	faults := eventstoretest.Faults(t, 2)
	for f := 1; f <= faults; f++ {
		if f%2 == 1 {
			nd := l.nats.Node(eventstoretest.StreamFollower(t, l.js, eventstore.DefaultStream))
			t0 := time.Now()
			l.nats.Pause(nd)
			meanwhile := l.w.AckedSince(t0, 50, 10*time.Second)
			l.nats.Resume(nd)
			down := l.w.Unavailable(t, t0)
			t.Logf("fault %d: follower %s paused for %s, %d writes acknowledged meanwhile; writes unavailable for %s",
				f, nd.Name, time.Since(t0).Round(time.Millisecond), meanwhile, down.Round(time.Millisecond))
		} else {
			nd := l.nats.Node(eventstoretest.StreamLeader(t, l.js, eventstore.DefaultStream))
			t0 := time.Now()
			l.nats.Kill(nd)
			down := l.w.Unavailable(t, t0)
			t.Logf("fault %d: leader %s killed; writes unavailable for %s; new leader %s",
				f, nd.Name, down.Round(time.Millisecond), eventstoretest.StreamLeader(t, l.js, eventstore.DefaultStream))
			l.nats.Restart(nd)
		}
		eventstoretest.WaitCurrentReplicas(t, l.js, eventstore.DefaultStream, 3)
		l.w.WaitFor(t, 20)
	}
	l.check(t)
}

// While the writes go on, all three nats-server processes are killed
// with SIGKILL at once and started again on their stores: writes resume
// and nothing acknowledged is lost. One restart by default.
func TestClusterWholeRestart(t *testing.T) {
	l := startClusterLedger(t)
	faults := eventstoretest.Faults(t, 1)
	for f := 1; f <= faults; f++ {
		t0 := time.Now()
		l.nats.Kill(l.nats.Nodes...)
		l.nats.Restart(l.nats.Nodes...)
		down := l.w.Unavailable(t, t0)
		t.Logf("fault %d: the whole cluster killed and restarted; writes unavailable for %s", f, down.Round(time.Millisecond))
		eventstoretest.WaitCurrentReplicas(t, l.js, eventstore.DefaultStream, 3)
		l.w.WaitFor(t, 20)
	}
	l.check(t)
}

// While the writes go on, one serve process is killed with SIGKILL (its
// requests in flight have unknown outcomes, which the clients retry
// through the other); the other carries on alone; the killed one starts
// again on its data directory and catches up. Faults alternate between
// the two serves, one by default.
func TestClusterServeKilled(t *testing.T) {
	l := startClusterLedger(t)
	faults := eventstoretest.Faults(t, 1)
	for f := 1; f <= faults; f++ {
		i := (f - 1) % 2
		l.mu.Lock()
		p := l.serve[i]
		l.mu.Unlock()
		t0 := time.Now()
		p.kill()
		down := l.w.Unavailable(t, t0)
		l.w.WaitFor(t, 20)
		back := startServe(t, append(append([]string{}, l.args...), "--data", p.data)...)
		useTokenFile(back.http, l.token)
		l.mu.Lock()
		l.serve[i] = back
		l.mu.Unlock()
		t.Logf("fault %d: serve %d killed; writes unavailable for %s; started again in %s",
			f, i+1, down.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
		l.w.WaitFor(t, 20)
	}
	l.check(t)
}

// Both serves are given only node 0's address (they learn the others'
// from it), and node 0, a follower of the stream, is paused with SIGSTOP
// and left paused: its TCP connections stay open and nothing answers on
// them. Each serve must notice that its server hangs and go to another,
// so that writes resume while node 0 is still paused.
func TestClusterServesServerPaused(t *testing.T) {
	l := startClusterLedgerVia(t, func(cl *eventstoretest.Cluster) string { return cl.Nodes[0].URL() })
	nd := l.nats.Nodes[0]
	// Node 0 is made a follower, if it leads: the leader steps down.
	for attempt := 0; eventstoretest.StreamLeader(t, l.js, eventstore.DefaultStream) == nd.Name; attempt++ {
		require.Less(t, attempt, 5, "%s stays the stream's leader", nd.Name)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := l.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+eventstore.DefaultStream, nil)
		cancel()
		require.NoError(t, err)
		eventstoretest.WaitCurrentReplicas(t, l.js, eventstore.DefaultStream, 3)
	}
	l.w.WaitFor(t, 20)

	t0 := time.Now()
	l.nats.Pause(nd)
	meanwhile := l.w.AckedSince(t0, 20, 30*time.Second)
	t.Logf("%s paused: %d writes acknowledged within %s; writes unavailable for %s",
		nd.Name, meanwhile, time.Since(t0).Round(time.Millisecond), l.w.Unavailable(t, t0).Round(time.Millisecond))
	require.GreaterOrEqual(t, meanwhile, 20, "writes resume while the serves' server hangs")
	l.nats.Resume(nd)
	eventstoretest.WaitCurrentReplicas(t, l.js, eventstore.DefaultStream, 3)
	l.w.WaitFor(t, 20)
	l.check(t)
}
