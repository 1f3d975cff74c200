package eventstore_test

import (
	"bytes"
	"context"
	"fmt"
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

// A snapshot restored on another server is the same stream: every
// message at its sequence, with its subject, headers, body and
// timestamp; and the idempotency keys it holds still answer.
func TestSnapshotRestoresEveryMessage(t *testing.T) {
	ctx := context.Background()
	src := startServer(t)
	log := openLog(t, src, eventstore.StreamConfig{})
	ledger := domain.NewLedger(log, domain.Policy{})
	_, err := ledger.Record(ctx, allocation("alloc-1", 5_000_000_000))
	require.NoError(t, err)
	for i := range 20 {
		_, err := ledger.Record(ctx, disbursement(fmt.Sprintf("pay-%d", i), 1_000_000))
		require.NoError(t, err)
	}

	var buf bytes.Buffer
	var told int64
	snap, err := eventstore.SnapshotStream(ctx, connect(t, src), eventstore.DefaultStream, &buf, func(n int64) { told = n })
	require.NoError(t, err)
	assert.Equal(t, uint64(21), snap.State.LastSeq)
	assert.Equal(t, uint64(21), snap.State.Messages)
	assert.Equal(t, int64(buf.Len()), told)
	assert.Contains(t, string(snap.Config), `"name":"KCLEDGER"`)

	dst := startServer(t)
	dnc := connect(t, dst)
	state, err := eventstore.RestoreStream(ctx, dnc, eventstore.DefaultStream, snap, bytes.NewReader(buf.Bytes()), nil)
	require.NoError(t, err)
	assert.True(t, state.Same(snap.State), "restored %+v, snapshot %+v", state, snap.State)

	sjs, err := jetstream.New(connect(t, src))
	require.NoError(t, err)
	djs, err := jetstream.New(dnc)
	require.NoError(t, err)
	ss, err := sjs.Stream(ctx, eventstore.DefaultStream)
	require.NoError(t, err)
	ds, err := djs.Stream(ctx, eventstore.DefaultStream)
	require.NoError(t, err)
	eventstoretest.RequireSameMessages(ctx, t, ss, ds, 21)

	// The restored stream is kcledger's: a retry of an old command is
	// answered with its event, nothing appended.
	restored := openLog(t, dst, eventstore.StreamConfig{})
	again := domain.NewLedger(restored, domain.Policy{})
	res, err := again.Record(ctx, disbursement("pay-3", 1_000_000))
	require.NoError(t, err)
	assert.True(t, res.Replayed, "an old idempotency key was recorded again")
	assert.Equal(t, uint64(21), lastSeq(t, djs))
}

// A restore onto a server that already has the stream is refused, and
// so is a snapshot cut short; neither leaves a stream behind.
func TestRestoreRefusals(t *testing.T) {
	ctx := context.Background()
	src := startServer(t)
	openLog(t, src, eventstore.StreamConfig{})
	snc := connect(t, src)
	var buf bytes.Buffer
	snap, err := eventstore.SnapshotStream(ctx, snc, eventstore.DefaultStream, &buf, nil)
	require.NoError(t, err)

	_, err = eventstore.RestoreStream(ctx, snc, eventstore.DefaultStream, snap, bytes.NewReader(buf.Bytes()), nil)
	require.Error(t, err, "restored over an existing stream")

	dst := startServer(t)
	dnc := connect(t, dst)
	_, err = eventstore.RestoreStream(ctx, dnc, eventstore.DefaultStream, snap, bytes.NewReader(buf.Bytes()[:buf.Len()/2]), nil)
	require.Error(t, err, "a truncated snapshot was restored")
	noStream(t, dnc)
}

func noStream(t *testing.T, nc *nats.Conn) {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = js.Stream(ctx, eventstore.DefaultStream)
	require.ErrorIs(t, err, jetstream.ErrStreamNotFound)
}

// A stream that does not exist cannot be snapshotted.
func TestSnapshotOfNoStream(t *testing.T) {
	_, err := eventstore.SnapshotStream(context.Background(), connect(t, startServer(t)), "NONE", &bytes.Buffer{}, nil)
	require.ErrorContains(t, err, "stream not found")
}

// A backup of a replicated stream (a cluster's) restores onto a single
// server once its configuration asks for one replica.
func TestRestoreOfAReplicatedStreamOnOneServer(t *testing.T) {
	ctx := context.Background()
	src := startServer(t)
	openLog(t, src, eventstore.StreamConfig{})
	var buf bytes.Buffer
	snap, err := eventstore.SnapshotStream(ctx, connect(t, src), eventstore.DefaultStream, &buf, nil)
	require.NoError(t, err)
	snap.Config = bytes.Replace(snap.Config, []byte(`"num_replicas":1`), []byte(`"num_replicas":3`), 1)
	require.Contains(t, string(snap.Config), `"num_replicas":3`)

	dnc := connect(t, startServer(t))
	_, err = eventstore.RestoreStream(ctx, dnc, eventstore.DefaultStream, snap, bytes.NewReader(buf.Bytes()), nil)
	require.Error(t, err, "a single server took a stream of 3 replicas")

	snap.Config, err = eventstore.WithReplicas(snap.Config, 1)
	require.NoError(t, err)
	dnc = connect(t, startServer(t))
	_, err = eventstore.RestoreStream(ctx, dnc, eventstore.DefaultStream, snap, bytes.NewReader(buf.Bytes()), nil)
	require.NoError(t, err)
	js, err := jetstream.New(dnc)
	require.NoError(t, err)
	s, err := js.Stream(ctx, eventstore.DefaultStream)
	require.NoError(t, err)
	assert.Equal(t, 1, s.CachedInfo().Config.Replicas)
}
