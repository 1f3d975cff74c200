package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The profiles are served on loopback only, and never the command line
// (it may hold --nats-password).
func TestPprofLoopbackOnlyNoCommandLine(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	_, err := startPprof("0.0.0.0:0", log)
	require.ErrorContains(t, err, "loopback only")

	// Find a free port, then serve on it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	stop, err := startPprof(addr, log)
	require.NoError(t, err)
	t.Cleanup(stop)
	get := func(path string) int {
		resp, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, get("/debug/pprof/block"))
	assert.NotEqual(t, http.StatusOK, get("/debug/pprof/cmdline"))
}
