package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// Two serve processes share one NATS server, each with its own account
// cache: an account disabled through one is refused by that one at its
// next request, and by the other within eventstore.AccountsMaxStale.
func TestDisableAcrossTwoServes(t *testing.T) {
	const password = "external-service-password"
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1", Auth: eventstore.NewNATSAuth(password, "")})
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)
	t.Setenv("KCLEDGER_NATS_PASSWORD", password)
	first := startServe(t, "--nats-url", ns.ClientURL(), "--nats-user", eventstore.ServiceUser)
	admin := tokenFor(first.http)

	call := func(server, token, method, path string, body any) (int, []byte) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, server+path, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := apitest.CheckedClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.Bytes()
	}
	code, body := call(first.http, admin, http.MethodPost, "/v1/users", map[string]any{"name": "kiem-toan", "role": "auditor"})
	require.Equal(t, http.StatusCreated, code, "%s", body)
	var created struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(body, &created))
	// The second serve starts once the account exists: it is in its
	// cache from the start, so only the cache's watch (or its falling
	// back to the bucket) can tell it of the disable.
	data := t.TempDir()
	root, err := os.ReadFile(filepath.Join(first.data, "ledger-root.key"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(data, "ledger-root.key"), root, 0o600))
	second := startServe(t, "--nats-url", ns.ClientURL(), "--nats-user", eventstore.ServiceUser, "--data", data)
	for _, s := range []*serveProc{first, second} {
		code, body := call(s.http, created.Token, http.MethodGet, "/v1/balances", nil)
		require.Equal(t, http.StatusOK, code, "%s", body)
	}

	code, body = call(first.http, admin, http.MethodPost, "/v1/users/kiem-toan/disable", nil)
	require.Equal(t, http.StatusOK, code, "%s", body)
	disabled := time.Now()
	code, _ = call(first.http, created.Token, http.MethodGet, "/v1/balances", nil)
	require.Equal(t, http.StatusUnauthorized, code, "refused at once by the serve that disabled it")
	require.Eventually(t, func() bool {
		code, _ := call(second.http, created.Token, http.MethodGet, "/v1/balances", nil)
		return code == http.StatusUnauthorized
	}, eventstore.AccountsMaxStale, time.Millisecond, "the other serve refuses it within the bound")
	t.Logf("the other serve refused it %s after the disable", time.Since(disabled).Round(time.Microsecond))
}
