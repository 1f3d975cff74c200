package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// importFileOf writes a hand-written import file of n rows on the 126
// lines of 2025 (63 provinces, two sources): an allocation on each, then
// disbursements on each in turn, as a year's movements interleave.
func importFileOf(t *testing.T, n int) string {
	t.Helper()
	var lines []string
	for _, p := range domain.Provinces(domain.Scheme63) {
		lines = append(lines, p.Code+",national", p.Code+",local")
	}
	var b bytes.Buffer
	b.WriteString("type,fiscal_year,province,source,amount,decision,voucher,beneficiary,effective_date\n")
	for i := range n {
		line := lines[i%len(lines)]
		if i < len(lines) {
			fmt.Fprintf(&b, "allocate,2025,%s,900000000000,%d/QĐ-BCT,,,2025-02-01\n", line, i+1)
		} else {
			fmt.Fprintf(&b, "disburse,2025,%s,1.000.000,,KB-%d,Cơ sở CNNT số %d,2025-03-01\n", line, i, i%97)
		}
	}
	path := filepath.Join(t.TempDir(), "past-years.csv")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o600))
	return path
}

// streamKeys reads every event of the stream and counts its keys.
func streamKeys(t *testing.T, p *serveProc) (events int, keys map[string]int) {
	t.Helper()
	nc, err := nats.Connect(p.nats, p.serviceUser(t))
	require.NoError(t, err)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rd, err := eventstore.OpenReader(ctx, nc, eventstore.DefaultStream)
	require.NoError(t, err)
	st, err := rd.State(ctx)
	require.NoError(t, err)
	keys = map[string]int{}
	require.NoError(t, rd.ScanFilter(ctx, eventstore.Filter(0, "", ""), st.LastSeq, func(se eventstore.StoredEvent) (bool, error) {
		require.NoError(t, se.Err)
		events++
		keys[se.Recorded.Event.IdempotencyKey]++
		return true, nil
	}))
	return events, keys
}

// TestImportKilledAndRunAgain kills `kcledger import` (SIGKILL) in the
// middle of a file and runs it again: each row is in the stream exactly
// once. KCLEDGER_IMPORT_ROWS sets the file's size (the measurement of
// docs runs it with 100000 and prints the rate).
func TestImportKilledAndRunAgain(t *testing.T) {
	n := 12000
	if v := os.Getenv("KCLEDGER_IMPORT_ROWS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	p := startServe(t)
	env := natsAuditor(t, p)
	file := importFileOf(t, n)

	cmd := exec.Command(binary(t), "import", file)
	cmd.Env = append(os.Environ(), "KCLEDGER_SERVER="+p.http, "KCLEDGER_TOKEN=", "KCLEDGER_DATA="+os.DevNull)
	cmd.Env = append(cmd.Env, env...)
	stderr := &lockedBuffer{} // read while the import writes it
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	nc, err := nats.Connect(p.nats, p.serviceUser(t))
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	deadline := time.Now().Add(2 * time.Minute)
	killed := false
	for time.Now().Before(deadline) {
		if info, err := js.StreamInfo(eventstore.DefaultStream); err == nil && info.State.Msgs >= 300 {
			require.NoError(t, cmd.Process.Kill())
			killed = true
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the import ended before it was killed (%v): %s", err, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	require.True(t, killed, "the import recorded nothing within 2 minutes: %s", stderr.String())
	<-done
	before, _ := streamKeys(t, p)
	require.Less(t, before, n, "killed in the middle")

	start := time.Now()
	code, out, errs := cliEnv(t, p.http, env, "import", file)
	elapsed := time.Since(start)
	require.Equal(t, exitOK, code, errs)
	m := regexp.MustCompile(`(\d+) rows: (\d+) recorded, (\d+) already recorded`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assert.Equal(t, strconv.Itoa(n), m[1])
	recorded, _ := strconv.Atoi(m[2])
	already, _ := strconv.Atoi(m[3])
	// A batch in flight when the import was killed may have landed
	// since: counted with those already recorded.
	assert.GreaterOrEqual(t, already, before, "the rows the killed import recorded")
	assert.Equal(t, n, recorded+already)
	events, keys := streamKeys(t, p)
	assert.Equal(t, n, events)
	assert.Len(t, keys, n)
	for k, c := range keys {
		if c != 1 {
			t.Errorf("key %s: %d events", k, c)
		}
		assert.True(t, strings.HasPrefix(k, "import-"), k)
	}
	// Chains, signatures and rules hold, and the served balances equal
	// those recomputed from the stream.
	code, out, errs = cliEnv(t, p.http, env, "verify", "--keys", pinKeys(t, p.http), "--compare")
	require.Equal(t, exitOK, code, "%s\n%s", out, errs)
	assert.Contains(t, out, "events on 126 budget lines")
	assert.Contains(t, out, "equal those recomputed")
	assert.Contains(t, out, "No problem found")
	t.Logf("import: %d rows after a kill at %d: the rest in %s, %.0f rows/s", n, before, elapsed, float64(n-before)/elapsed.Seconds())
}
