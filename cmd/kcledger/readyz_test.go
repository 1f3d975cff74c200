package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/eventstore"
)

// /readyz answers 503, saying why, while serve's NATS server is down,
// and 200 again once it is back and the client has reconnected; /healthz
// answers 200 throughout (the process is alive).
func TestReadyzFollowsTheNATSServer(t *testing.T) {
	dir := t.TempDir()
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: dir, Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ns.Shutdown()
		}
	})
	// The server comes back on a second port, held until then so that no
	// other test's server takes it; serve knows both addresses.
	spare, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	sparePort := spare.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { _ = spare.Close() })
	p := startServe(t, "--nats-url", fmt.Sprintf("%s,nats://127.0.0.1:%d", ns.ClientURL(), sparePort))
	code, body := getJSON(t, p.http, "/readyz")
	require.Equal(t, http.StatusOK, code, body)
	var ready struct {
		Status string `json:"status"`
	}
	require.NoError(t, decodeAnswer(body, &ready), body)
	assert.Equal(t, "ready", ready.Status)

	ns.Shutdown()
	ns.WaitForShutdown()
	stopped = true
	// Until the client notices the server is gone, readyz may first say
	// the stream is out of reach; then it names the connection.
	var last string
	require.Eventually(t, func() bool {
		code, last = getJSON(t, p.http, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(last, "NATS")
	}, 30*time.Second, 50*time.Millisecond, "readyz with the NATS server down: %s", last)
	code, _ = getJSON(t, p.http, "/healthz")
	assert.Equal(t, http.StatusOK, code, "alive, though not ready")

	require.NoError(t, spare.Close())
	back, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: dir, Listen: fmt.Sprintf("127.0.0.1:%d", sparePort)})
	require.NoError(t, err)
	t.Cleanup(back.Shutdown)
	require.Eventually(t, func() bool {
		code, last = getJSON(t, p.http, "/readyz")
		return code == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "readyz once the NATS server is back: %s", last)
}
