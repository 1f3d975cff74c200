package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The CLI refuses a token file that others can read.
func TestTokenFileMustBeOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(path, []byte("kcl_x_y\n"), 0o644))
	_, err := readSecretFile(path)
	require.ErrorContains(t, err, "readable by others")

	require.NoError(t, os.Chmod(path, 0o600))
	tok, err := readSecretFile(path)
	require.NoError(t, err)
	assert.Equal(t, "kcl_x_y", tok)
}

// serve's first admin token is written owner-only, and only once.
func TestFirstAdminTokenFile(t *testing.T) {
	ta := newTestAPI(t)
	data := t.TempDir()
	require.NoError(t, ensureAdmin(t.Context(), ta.accounts, data, testNow, nil))
	_, err := os.Stat(filepath.Join(data, adminTokenFile))
	assert.ErrorIs(t, err, os.ErrNotExist, "an admin exists already: no second token")
}

// serve refuses to expose the API or the embedded NATS server beyond
// loopback without TLS, unless told --insecure.
func TestServeRefusesPublicAddressWithoutTLS(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		refused string
	}{
		{[]string{"--http", "0.0.0.0:8080"}, "--http 0.0.0.0:8080 is reachable from other machines"},
		{[]string{"--http", "192.0.2.10:8080"}, "--tls-cert"},
		{[]string{"--nats-listen", "0.0.0.0:4222"}, "--nats-listen 0.0.0.0:4222"},
		{[]string{"--http", "0.0.0.0:8080", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--http", "0.0.0.0:8080", "--insecure"}, ""},
		{[]string{"--http", "0.0.0.0:8080", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, ""},
		{[]string{"--http", "[::1]:8080"}, ""},
		{[]string{"--http", "localhost:8080"}, ""},
	} {
		var stderr strings.Builder
		_, code, ok := parseServeConfig(append(tc.args, "--data", t.TempDir()), &stderr)
		if tc.refused == "" {
			assert.True(t, ok, "%v: %s", tc.args, stderr.String())
			continue
		}
		assert.False(t, ok, "%v", tc.args)
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr.String(), tc.refused, "%v", tc.args)
	}

	// The real binary, too: it exits before listening.
	code, _, stderr := cliEnv(t, "", nil, "serve", "--http", "0.0.0.0:0", "--data", t.TempDir())
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "give --tls-cert and --tls-key, or --insecure")
}
