package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/eventstore"
)

// serveOnce runs a serve that is expected to refuse to start, and fails
// the test if it is still running after within: the point is that it
// says what is in the way at once.
func serveOnce(t *testing.T, within time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), append([]string{"serve", "--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), "KCLEDGER_SERVER=")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "serve was still running after %s:\n%s", within, stderr.String())
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "serve should have refused to start: %v\n%s", err, stderr.String())
	return ee.ExitCode(), stderr.String()
}

// Two serve processes on one data directory would both take the store for
// theirs (both acknowledged "seq 1", and a restart lost one of the two
// acknowledged allocations): the second is refused, naming the first,
// and the first goes on.
func TestSecondServeOnOneDataDirIsRefused(t *testing.T) {
	p := startServe(t)
	code, out := serveOnce(t, 10*time.Second, "--data", p.data, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, out, "in use")
	assert.Contains(t, out, "pid "+strconv.Itoa(p.cmd.Process.Pid))
	assert.Contains(t, out, p.data)
	// With an external server too: the data directory is the signing key's.
	code, out = serveOnce(t, 10*time.Second, "--data", p.data, "--http", "127.0.0.1:0", "--nats-url", "nats://"+strings.TrimPrefix(p.nats, "nats://"), "--nats-user", eventstore.ServiceUser)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, out, "in use")

	code, _, stderr := cli(t, p.http, "allocate", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "1 tỷ", "--decision", "1/QĐ-UBND", "--date", "2025-01-10")
	require.Equal(t, 0, code, "the first serve still records: %s", stderr)

	// Once the first has stopped, the directory is free (the lock is the
	// OS's, not a file left behind).
	p.stop(t)
	q := startServe(t, "--data", p.data)
	code, out2, stderr := cli(t, q.http, "balances", "--year", "2025")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out2, "1.000.000.000")
}

// Ports another process holds are named at once, before the store is
// touched.
func TestServeOnTakenPortsSaysSoAtOnce(t *testing.T) {
	p := startServe(t)
	natsHostPort := strings.TrimPrefix(p.nats, "nats://")
	httpHostPort := strings.TrimPrefix(p.http, "http://")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"NATS port", []string{"--http", "127.0.0.1:0", "--nats-listen", natsHostPort}},
		{"HTTP port", []string{"--http", httpHostPort, "--nats-listen", "127.0.0.1:-1"}},
		{"both", []string{"--http", httpHostPort, "--nats-listen", natsHostPort}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := serveOnce(t, 10*time.Second, append(tc.args, "--data", t.TempDir())...)
			assert.Equal(t, exitFailure, code)
			assert.Contains(t, out, "address already in use")
		})
	}
}

// With an external server, a second serve (the first admin exists, so it
// writes no token) given a data directory that does not exist yet makes
// it, as the first did, and says what it lacks: the ledger root, which
// the operator copies there.
func TestServeMakesItsDataDir(t *testing.T) {
	const password = "external-service-password"
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1", Auth: eventstore.NewNATSAuth(password, "")})
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)
	t.Setenv("KCLEDGER_NATS_PASSWORD", password)
	first := startServe(t, "--nats-url", ns.ClientURL(), "--nats-user", eventstore.ServiceUser)
	data := filepath.Join(t.TempDir(), "not", "yet")
	code, out := serveOnce(t, 30*time.Second, "--nats-url", ns.ClientURL(), "--nats-user", eventstore.ServiceUser, "--data", data, "--http", "127.0.0.1:0")
	assert.Equal(t, exitFailure, code)
	assert.NotContains(t, out, "no such file or directory")
	assert.Contains(t, out, "ledger-root.key")
	root, err := os.ReadFile(filepath.Join(first.data, "ledger-root.key"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(data, "ledger-root.key"), root, 0o600), "the directory was made")

	second := startServe(t, "--nats-url", ns.ClientURL(), "--nats-user", eventstore.ServiceUser, "--data", data)
	_, err = os.Stat(filepath.Join(data, "signing.key"))
	require.NoError(t, err)
	code, _, stderr := cli(t, second.http, "allocate", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "1 tỷ", "--decision", "1/QĐ-UBND", "--date", "2025-01-10", "--token-file", first.tokenFile())
	require.Equal(t, 0, code, stderr)
}
