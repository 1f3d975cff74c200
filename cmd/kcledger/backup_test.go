package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

var tokenRE = regexp.MustCompile(`kcl_[a-z0-9-]+_[0-9a-f]{64}`)

// lateBody is a movement on a line of 2026, which the 2025 report and
// balances never see: the writes the backup races with.
func lateBody(key int) map[string]any {
	return map[string]any{"fiscal_year": 2026, "province": "79", "source": "local", "amount": "1000",
		"voucher": fmt.Sprintf("KB-LATE-%d", key), "beneficiary": "HTX Thủ Đức", "effective_date": "2026-03-03"}
}

// A backup taken while the ledger records is the ledger up to the
// manifest's sequence, whole, and nothing after it; restored into a new
// directory it runs: verify passes with the keys pinned before, every
// message is the same, balances and reports are equal, accounts log in,
// and a retried old command is answered as a replay.
func TestBackupUnderWritesRestoresTheLedger(t *testing.T) {
	ctx := t.Context()
	p := startServe(t)
	status, _, err := post(ctx, p.http, "/v1/allocations", "alloc-2025", allocationBody("5000000000"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)
	for i := range 5 {
		status, _, err := post(ctx, p.http, "/v1/disbursements", fmt.Sprintf("pay-%d", i), disbursementBody("1000000"))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, status)
	}
	status, _, err = post(ctx, p.http, "/v1/allocations", "alloc-2026", map[string]any{"fiscal_year": 2026, "province": "79", "source": "local",
		"amount": "5000000000", "decision": "12/QĐ-UBND", "effective_date": "2026-01-10"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)
	code, out, stderr := cli(t, p.http, "user", "add", "can-bo-ha-noi", "--role", "officer", "--provinces", "01", "--sources", "national")
	require.Equal(t, 0, code, stderr)
	officerToken := tokenRE.FindString(out)
	require.NotEmpty(t, officerToken, out)
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("một câu dễ nhớ của kế toán\n"), 0o600))
	code, _, stderr = cli(t, p.http, "user", "passwd", "can-bo-ha-noi", "--password-file", pwFile)
	require.Equal(t, 0, code, stderr)
	keysFile := pinKeys(t, p.http)

	// Writes go on through the backup.
	var (
		mu    sync.Mutex
		acked []uint64
		werr  error
	)
	ackedNow := func() []uint64 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(acked)
	}
	wctx, stopWrites := context.WithCancel(ctx)
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for i := 0; wctx.Err() == nil; i++ {
			status, body, err := post(wctx, p.http, "/v1/disbursements", fmt.Sprintf("late-%d", i), lateBody(i))
			if wctx.Err() != nil {
				return
			}
			mu.Lock()
			if err == nil && status != http.StatusCreated {
				err = fmt.Errorf("status %d: %v", status, body)
			}
			if err != nil {
				werr = err
				mu.Unlock()
				return
			}
			acked = append(acked, uint64(body["seq"].(float64)))
			mu.Unlock()
		}
	}()
	defer func() { stopWrites(); <-writing }()
	waitUntil(t, 30*time.Second, func() bool { return len(ackedNow()) >= 3 }, func() string { return fmt.Sprint(werr) })
	before := slices.Max(ackedNow())

	dir := filepath.Join(t.TempDir(), "backup")
	code, out, stderr = cli(t, p.http, "backup", "--output", dir, "--data", p.data, "--nats-url", p.nats)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "Backed up ledger")
	ackedAtEnd := len(ackedNow())
	waitUntil(t, 30*time.Second, func() bool { return len(ackedNow()) >= ackedAtEnd+3 }, func() string { return fmt.Sprint(werr) })
	stopWrites()
	<-writing
	require.NoError(t, werr)

	m := readManifest(t, dir)
	n := m.LastSeq
	assert.GreaterOrEqual(t, n, before, "a write acknowledged before the backup began is not in it")
	for _, seq := range ackedNow()[ackedAtEnd:] {
		assert.Greater(t, seq, n, "a write acknowledged after the backup ended is in it")
	}
	for _, f := range m.Files {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Path)))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f.Path)
	}
	for _, d := range []string{dir, filepath.Join(dir, secretsDir), filepath.Join(dir, streamsDir)} {
		st, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), d)
	}
	var secrets []string
	for _, f := range m.Files {
		if f.Secret {
			secrets = append(secrets, f.Path)
		}
	}
	assert.ElementsMatch(t, []string{"secrets/ledger-root.key", "secrets/signing.key", "secrets/nats-service.password", "secrets/admin.token"}, secrets)

	target := filepath.Join(t.TempDir(), "restored")
	code, out, stderr = cli(t, p.http, "restore", "--input", dir, "--data", target, "--keys", keysFile)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, fmt.Sprintf("up to seq %d", n))
	r := startServe(t, "--data", target)

	// The same messages, sequence by sequence, and nothing after n.
	src, dst := streamOf(t, p), streamOf(t, r)
	info, err := dst.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, n, info.State.LastSeq)
	eventstoretest.RequireSameMessages(ctx, t, src, dst, n)

	code, out, stderr = cliEnv(t, r.http, natsAuditor(t, r), "verify", "--keys", keysFile)
	require.Equal(t, 0, code, "%s\n%s", out, stderr)
	assert.Contains(t, out, "No problem found")

	code, want, stderr := cli(t, p.http, "balances", "--json", "--until-seq", fmt.Sprint(n))
	require.Equal(t, 0, code, stderr)
	code, got, stderr := cli(t, r.http, "balances", "--json")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, withoutKeys(t, want, "cut"), withoutKeys(t, got), "the balances restored are not those at seq %d", n)
	code, want, stderr = cli(t, p.http, "report", "--year", "2025", "--format", "json")
	require.Equal(t, 0, code, stderr)
	code, got, stderr = cli(t, r.http, "report", "--year", "2025", "--format", "json")
	require.Equal(t, 0, code, stderr)
	// The ledger backed up went on recording, on 2026's lines only.
	assert.Equal(t, withoutKeys(t, want, "as_of_seq"), withoutKeys(t, got, "as_of_seq"))

	// Accounts log in: the admin (every call above), an officer with its
	// token, and in the console with its password.
	code, _, stderr = cliEnv(t, r.http, []string{"KCLEDGER_TOKEN=" + officerToken}, "balances")
	require.Equal(t, 0, code, stderr)
	c := consoleClient(t)
	_, _, body := consoleGet(t, c, r.http+"/login")
	tok := formToken.FindStringSubmatch(body)
	require.NotNil(t, tok, body)
	st, h := consolePost(t, c, r.http, "/login", url.Values{"token": {tok[2]}, "name": {"can-bo-ha-noi"}, "password": {"một câu dễ nhớ của kế toán"}})
	require.Equal(t, http.StatusSeeOther, st)
	require.Equal(t, "/password", h.Get("Location"), "the password set before the backup is not taken")

	// An old command retried is a replay, not a second payment.
	status, res, err := post(ctx, r.http, "/v1/disbursements", "pay-3", disbursementBody("1000000"))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, res)
	assert.Equal(t, true, res["replayed"])
	info, err = dst.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, info.State.LastSeq, "the retry was recorded again")
}

// withoutKeys decodes a JSON object and drops some of its keys.
func withoutKeys(t *testing.T, data string, keys ...string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(data), &m), data)
	for _, k := range keys {
		delete(m, k)
	}
	return m
}

// readManifest reads a backup's manifest, as restore does.
func readManifest(t *testing.T, dir string) backupManifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, manifestFile))
	require.NoError(t, err)
	m, err := parseManifest(data)
	require.NoError(t, err)
	return m
}

// streamOf opens p's event stream as its service user.
func streamOf(t *testing.T, p *serveProc) jetstream.Stream {
	t.Helper()
	nc, err := nats.Connect(p.nats, p.serviceUser(t))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(t.Context(), eventstore.DefaultStream)
	require.NoError(t, err)
	return s
}

// With serve stopped, backup opens the data directory's store itself,
// and lets it go: serve starts again on it afterwards. The checkpoints
// backed up are taken up by the restored ledger.
func TestBackupOfAStoppedLedger(t *testing.T) {
	p := startServe(t)
	dir, keys := backupOf(t, p)
	require.NoError(t, os.RemoveAll(dir))
	p.stop(t)

	code, out, stderr := runIn("backup", "--output", dir, "--data", p.data, "--nats-url", "nats://127.0.0.1:1")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "no serve holds")
	assert.Contains(t, out, "up to seq 1")

	again := startServe(t, "--data", p.data)
	code, _, stderr = cli(t, again.http, "balances")
	require.Equal(t, 0, code, stderr)

	target := filepath.Join(t.TempDir(), "restored")
	code, out, stderr = runIn("restore", "--input", dir, "--data", target, "--keys", keys)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "up to seq 1")

	// serve stopped saved its checkpoints, sealed with its key: the
	// restored ledger resumes from them, its keys and signers restored.
	again.stop(t)
	r := startServe(t, "--data", target, "--log-level", "info")
	r.waitLog(t, "balances resumed from their checkpoint")
	r.waitLog(t, "idempotency key index resumed from its checkpoint")
}

// Long copies report their advance, against the size when it is known,
// at most every progressEvery, and nothing off a terminal.
func TestByteProgress(t *testing.T) {
	var b strings.Builder
	p := byteProgress{w: &b, what: "restoring KCLEDGER", total: 2_000_000}
	p.at(500_000)
	p.at(600_000) // too soon after the last
	assert.Equal(t, "kcledger: restoring KCLEDGER: 500.000 of 2.000.000 bytes (25%)\n", b.String())
	b.Reset()
	p = byteProgress{w: &b, what: "backing up KCLEDGER"}
	p.at(1_234_567)
	assert.Equal(t, "kcledger: backing up KCLEDGER: 1.234.567 bytes\n", b.String())
	(&byteProgress{total: 1}).at(1) // no terminal: nothing, no panic
}
