package eventstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// startServer starts an embedded JetStream server on a random loopback port
// with its store in a temporary directory.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	s, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

func openLog(t *testing.T, s *server.Server, c eventstore.StreamConfig) *eventstore.JetStream {
	t.Helper()
	log, err := eventstore.Open(context.Background(), connect(t, s), c)
	require.NoError(t, err)
	t.Cleanup(log.Close)
	return log
}

func TestJetStreamConformance(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) domain.EventLog {
		// The stream's subjects are fixed, so each subtest gets a server.
		return openLog(t, startServer(t), eventstore.StreamConfig{DuplicateWindow: time.Minute})
	})
}

// The same suite with group commit on: concurrent appends travel in
// atomic batches.
func TestJetStreamConformanceGroupCommit(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) domain.EventLog {
		return openLog(t, startServer(t), eventstore.StreamConfig{DuplicateWindow: time.Minute, MaxBatch: 64})
	})
}
