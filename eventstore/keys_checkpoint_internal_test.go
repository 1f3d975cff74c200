package eventstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// A restarted log resumes its idempotency key index from the checkpoint
// it saved on Close, and still knows every key; a checkpoint that does not
// match the stream is thrown away and the index rebuilt.
func TestKeyIndexCheckpoint(t *testing.T) {
	s, err := StartServer(ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	ctx := context.Background()
	open := func() *JetStream {
		t.Helper()
		log, err := Open(ctx, nc, StreamConfig{DuplicateWindow: time.Second})
		require.NoError(t, err)
		return log
	}
	line := domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}

	log := open()
	resumed, problem := log.KeyIndexResumed()
	require.Zero(t, resumed)
	require.NoError(t, problem, "no checkpoint yet is no problem")
	var last uint64
	for i := range 20 {
		last, err = log.Append(ctx, domain.Proposal{Event: eventstoretest.Event(line, fmt.Sprint("k", i), 1), ExpectedSeq: last})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return log.keys.appliedSeq() == last }, 10*time.Second, 5*time.Millisecond)
	var saved atomic.Int64
	log.OnKeyIndexSaved(func(n int) { saved.Store(int64(n)) })
	log.Close()
	snap, _ := log.keys.snapshot()
	require.Equal(t, int64(len(snap)), saved.Load(), "the save on Close is told, with its size")

	claimed := func(log *JetStream, key string) uint64 {
		t.Helper()
		var c domain.IdempotencyClaim
		require.Eventually(t, func() bool {
			got, ok, err := log.Claim(ctx, key)
			c = got
			return err == nil && ok
		}, 10*time.Second, 5*time.Millisecond, "key %s", key)
		return c.Recorded.Seq
	}

	log = open()
	resumed, problem = log.KeyIndexResumed()
	require.NoError(t, problem)
	assert.Equal(t, last, resumed, "resumed from the checkpoint, not from the start")
	assert.Equal(t, uint64(1), claimed(log, "k0"), "a key from before the restart")
	data, _ := log.keys.snapshot()
	log.Close()

	for _, tc := range []struct {
		name  string
		bytes func() []byte
	}{
		{"garbage", func() []byte { return []byte("not a checkpoint") }},
		{"truncated", func() []byte { return data[:len(data)-7] }},
		{"the wrong message at its applied seq", func() []byte {
			bad := append([]byte(nil), data...)
			bad[len(keyIndexMagic)+8+1] ^= 0xff // the id at the applied seq
			return bad
		}},
		{"beyond the stream", func() []byte {
			bad := append([]byte(nil), data...)
			binary.BigEndian.PutUint64(bad[len(keyIndexMagic):], last+100)
			bad[len(keyIndexMagic)+8] = 0 // no id to match
			return bad
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cps, err := OpenCheckpoints(ctx, log.js, 1)
			require.NoError(t, err)
			require.NoError(t, cps.Save(ctx, keyIndexCheckpoint, tc.bytes()))
			log := open()
			defer log.Close()
			resumed, problem := log.KeyIndexResumed()
			assert.Zero(t, resumed, "rebuilt from the start")
			assert.Error(t, problem)
			assert.Equal(t, uint64(20), claimed(log, "k19"), "the rebuilt index knows the keys")
		})
	}
}
