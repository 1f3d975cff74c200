package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/projections/export"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// These tests run the real binary as separate processes.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds kcledger once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kcledger-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "kcledger")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// serveProc is a running `kcledger serve`.
type serveProc struct {
	cmd    *exec.Cmd
	http   string // http://127.0.0.1:port
	nats   string // nats://127.0.0.1:port
	data   string // its --data directory
	stderr *lockedBuffer
	done   chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the complete lines written so far.
func (l *lockedBuffer) lines() []string {
	s := strings.TrimSuffix(l.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var readyLine = regexp.MustCompile(`HTTP API and web console on (https?://\S+), NATS on ((?:nats|tls)://\S+),`)

// startServe runs `kcledger serve` with args on free loopback ports and
// waits for its ready line.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	data := ""
	for i, a := range args {
		if a == "--data" && i+1 < len(args) {
			data = args[i+1]
		}
	}
	if data == "" {
		data = t.TempDir()
		args = append(args, "--data", data)
	}
	args = append([]string{"serve", "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--log-level", "warn"}, args...)
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "KCLEDGER_SERVER=")
	p := &serveProc{cmd: cmd, data: data, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })

	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case m := <-ready:
		p.http, p.nats = m[1], m[2]
		if _, err := os.Stat(p.tokenFile()); err == nil {
			useTokenFile(p.http, p.tokenFile())
		}
	case <-p.done:
		t.Fatalf("kcledger serve exited before it was ready:\n%s", p.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("kcledger serve not ready after 60s:\n%s", p.stderr.String())
	}
	return p
}

// tokenFile is where serve wrote the first admin's token, if it made
// the first admin.
func (p *serveProc) tokenFile() string { return filepath.Join(p.data, adminTokenFile) }

// serviceUser is the NATS option to connect as the embedded server's
// service user, with the password serve keeps in its data directory.
func (p *serveProc) serviceUser(t *testing.T) nats.Option {
	t.Helper()
	pw, err := readSecretFile(filepath.Join(p.data, natsServiceFile))
	require.NoError(t, err)
	return nats.UserInfo(eventstore.ServiceUser, pw)
}

// tokenFiles maps a serve's HTTP URL to the admin token file that post
// and cli use with it.
var tokenFiles sync.Map

func useTokenFile(server, path string) { tokenFiles.Store(server, path) }

func tokenFor(server string) string {
	path, ok := tokenFiles.Load(server)
	if !ok {
		return ""
	}
	tok, err := readSecretFile(path.(string))
	if err != nil {
		panic(err)
	}
	return tok
}

// kill stops the process with SIGKILL: no clean shutdown, no flush.
func (p *serveProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// cli runs a kcledger subcommand and returns its exit code and output.
func cli(t *testing.T, server string, args ...string) (int, string, string) {
	t.Helper()
	var env []string
	if path, ok := tokenFiles.Load(server); ok {
		env = append(env, "KCLEDGER_TOKEN_FILE="+path.(string))
	}
	return cliEnv(t, server, env, args...)
}

// cliEnv is cli with more environment variables.
func cliEnv(t *testing.T, server string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "KCLEDGER_SERVER="+server, "KCLEDGER_TOKEN=", "KCLEDGER_TOKEN_FILE=", "KCLEDGER_DATA="+os.DevNull)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, stdout.String(), stderr.String()
}

// post sends one recording request; it returns the status and the body.
func post(ctx context.Context, base, path, key string, body any) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Authorization", "Bearer "+tokenFor(base))
	resp, err := apitest.CheckedClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, out, nil
}

func eventID(body map[string]any) string {
	ev, _ := body["event"].(map[string]any)
	id, _ := ev["id"].(string)
	return id
}

var testLine = domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}

func allocationBody(amount string) map[string]any {
	return map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "amount": amount,
		"decision": "3536/QĐ-BCT", "effective_date": "2025-01-10"}
}

func disbursementBody(amount string) map[string]any {
	return map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "amount": amount,
		"voucher": "KB-1", "beneficiary": "HTX Gốm Bát Tràng", "effective_date": "2025-03-03"}
}

// pinKeys writes the ledger's public signing keys, as kcledger keys
// prints them through server, to a file an auditor pins, and returns it.
func pinKeys(t *testing.T, server string) string {
	t.Helper()
	code, keys, stderr := cli(t, server, "keys")
	require.Equal(t, 0, code, stderr)
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(keysFile, []byte(keys), 0o600))
	return keysFile
}

// natsAuditor adds a read-only NATS auditor to p and returns the
// environment a CLI command runs with as that auditor.
func natsAuditor(t *testing.T, p *serveProc) []string {
	t.Helper()
	code, out, stderr := cli(t, p.http, "nats-user", "add", "kiem-toan", "--role", "auditor", "--json")
	require.Equal(t, 0, code, stderr)
	var creds webapi.NewNATSUserResponse
	require.NoError(t, json.Unmarshal([]byte(out), &creds))
	env := []string{"KCLEDGER_NATS_URL=" + creds.URL, "KCLEDGER_NATS_USER=" + creds.User, "KCLEDGER_NATS_PASSWORD=" + creds.Password}
	if path, ok := tokenFiles.Load(p.http); ok {
		env = append(env, "KCLEDGER_TOKEN_FILE="+path.(string))
	}
	return env
}

// lineEvents reads every event of the test line from the stream.
func lineEvents(t *testing.T, natsURL string, opts ...nats.Option) []domain.Recorded {
	t.Helper()
	return loadLine(t, natsURL, testLine, opts...)
}

// loadLine reads every event of line k from the stream.
func loadLine(t *testing.T, natsURL string, k domain.LineKey, opts ...nats.Option) []domain.Recorded {
	t.Helper()
	nc, err := nats.Connect(natsURL, opts...)
	require.NoError(t, err)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log, err := eventstore.Open(ctx, nc, eventstore.StreamConfig{})
	require.NoError(t, err)
	defer log.Close()
	recs, err := log.Load(ctx, k, 0)
	require.NoError(t, err)
	return recs
}

func TestCLIEndToEnd(t *testing.T) {
	p := startServe(t, "--data", t.TempDir())

	for _, c := range commands {
		code, _, stderr := cli(t, p.http, c.name, "--help")
		require.Equal(t, 0, code, "%s --help", c.name)
		require.Contains(t, stderr, "kcledger "+c.name, "%s --help names the command", c.name)
	}
	code, out, _ := cli(t, p.http, "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "disburse")

	code, out, stderr := cli(t, p.http, "allocate", "--year", "2025", "--province", "01", "--source", "kcqg",
		"--amount", "1,5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "1.500.000.000 ₫")
	require.Regexp(t, `idempotency key: \S+`, stderr, "the CLI prints the key it generated")

	code, out, stderr = cli(t, p.http, "disburse", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "250 triệu", "--voucher", "KB-0001", "--beneficiary", "HTX Gốm Bát Tràng", "--date", "2025-03-03", "--id", "pay-1")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "available 1.250.000.000 ₫")

	// The same key again: the original event, nothing new.
	code, out, stderr = cli(t, p.http, "disburse", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "250 triệu", "--voucher", "KB-0001", "--beneficiary", "HTX Gốm Bát Tràng", "--date", "2025-03-03", "--id", "pay-1")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "Already recorded")

	// Overspending is refused with exit 1 and the server's reason.
	code, _, stderr = cli(t, p.http, "disburse", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "2 tỷ", "--voucher", "KB-0002", "--beneficiary", "X", "--date", "2025-03-04")
	require.Equal(t, exitRefused, code)
	require.Contains(t, stderr, "insufficient_funds")

	// A malformed amount never reaches the server: usage error.
	code, _, stderr = cli(t, p.http, "disburse", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "1,500", "--voucher", "KB-0003", "--beneficiary", "X", "--date", "2025-03-04")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "1,500")

	code, out, stderr = cli(t, p.http, "balances", "--year", "2025")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "01 Hà Nội")
	require.Contains(t, out, "1.500.000.000 ₫")
	require.Contains(t, out, "1.250.000.000 ₫")

	code, out, stderr = cli(t, p.http, "balances", "--json")
	require.Equal(t, 0, code, stderr)
	var report struct {
		Lines []struct {
			Totals struct {
				Balance domain.Balance `json:"balance"`
				Events  int            `json:"events"`
			} `json:"totals"`
		} `json:"lines"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &report))
	require.Len(t, report.Lines, 1)
	require.Equal(t, 2, report.Lines[0].Totals.Events)
	require.True(t, report.Lines[0].Totals.Balance.Available().Equal(domain.AmountFromInt64(1_250_000_000)))

	code, out, _ = cli(t, p.http, "provinces", "--date", "2025-07-01")
	require.Equal(t, 0, code)
	require.Contains(t, out, "34 provinces")

	// Nothing listening: exit 3.
	code, _, _ = cli(t, "http://127.0.0.1:1", "balances")
	require.Equal(t, exitFailure, code)
}

// startTwoServes starts a nats-server and two serve processes of one
// ledger on it, and returns them and the server.
func startTwoServes(t *testing.T) (a, b *serveProc, ns *server.Server) {
	t.Helper()
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)
	a, b = startServePair(t, "--nats-url", ns.ClientURL())
	return a, b, ns
}

// startServePair starts two serve processes of one ledger with args
// (which name the NATS server), each with its own data directory.
func startServePair(t *testing.T, args ...string) (a, b *serveProc) {
	t.Helper()
	a = startServe(t, args...)
	// A second process of the same ledger is given a copy of the ledger
	// root, which endorses its signing key: each takes the other's events.
	bData := t.TempDir()
	root, err := os.ReadFile(filepath.Join(a.data, ledgerRootFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bData, ledgerRootFile), root, 0o600))
	b = startServe(t, append(append([]string{}, args...), "--data", bData)...)
	// They share the accounts: the first admin, made by one of them.
	for _, p := range []*serveProc{a, b} {
		if _, err := os.Stat(p.tokenFile()); err == nil {
			useTokenFile(a.http, p.tokenFile())
			useTokenFile(b.http, p.tokenFile())
		}
	}
	return a, b
}

// Two serve processes share one nats-server; 32 clients try to overspend
// one line through both. No invariant may rely on either process's memory.
func TestTwoProcessesCannotOverspend(t *testing.T) {
	a, b, ns := startTwoServes(t)
	servers := []string{a.http, b.http}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const allocated, each, clients, perClient = 10_000_000, 1_000_000, 32, 2
	status, _, err := post(ctx, a.http, "/v1/allocations", "alloc", allocationBody(fmt.Sprint(allocated)))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)

	var (
		mu       sync.Mutex
		accepted = map[string]string{} // key → event id
		refused  int
		wg       sync.WaitGroup
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				key := fmt.Sprintf("client-%d-%d", c, i)
				srv := servers[(c+i)%2]
				status, body, err := post(ctx, srv, "/v1/disbursements", key, disbursementBody(fmt.Sprint(each)))
				if err != nil {
					t.Errorf("%s: %v", key, err)
					return
				}
				switch status {
				case http.StatusCreated:
					// Retry through the other process: the original event.
					other := servers[(c+i+1)%2]
					rs, rbody, err := post(ctx, other, "/v1/disbursements", key, disbursementBody(fmt.Sprint(each)))
					if err != nil || rs != http.StatusOK || eventID(rbody) != eventID(body) {
						t.Errorf("%s: retry through the other process: status %d, event %q, want 200 and %q (%v)", key, rs, eventID(rbody), eventID(body), err)
					}
					mu.Lock()
					accepted[key] = eventID(body)
					mu.Unlock()
				case http.StatusUnprocessableEntity:
					if body["code"] != string(domain.CodeInsufficientFunds) {
						t.Errorf("%s: refused with %v, want insufficient_funds", key, body["code"])
					}
					mu.Lock()
					refused++
					mu.Unlock()
				default:
					t.Errorf("%s: status %d: %v", key, status, body)
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, accepted, allocated/each, "exactly the allocated amount can be paid out")
	require.Equal(t, clients*perClient-allocated/each, refused)

	recs := lineEvents(t, ns.ClientURL())
	st := domain.NewLineState(testLine)
	seen := map[string]int{}
	for _, r := range recs {
		require.NoError(t, st.Apply(r), "the stream replays without breaking a rule or the hash chain")
		if r.Event.Type == domain.TypeDisbursed {
			seen[r.Event.ID]++
			require.Equal(t, accepted[r.Event.IdempotencyKey], r.Event.ID, "every disbursement in the stream was acknowledged to its client")
		}
	}
	for key, id := range accepted {
		require.Equal(t, 1, seen[id], "accepted disbursement %s (%s) is in the stream exactly once", id, key)
	}
	require.True(t, st.Balance.NetDisbursed().Cmp(st.Balance.Allocated) <= 0)
	require.True(t, st.Balance.Available().IsZero())

	// Both processes' balances agree with the stream.
	for _, srv := range servers {
		code, out, stderr := cli(t, srv, "balances", "--json")
		require.Equal(t, 0, code, stderr)
		require.Contains(t, out, `"net_disbursed": "10000000"`)
	}
}

// kill -9 during a stream of writes: every acknowledged write survives,
// nothing is duplicated, retries of the unanswered ones land exactly once,
// and the balances equal a rebuild from the stream.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data", data)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	status, _, err := post(ctx, p.http, "/v1/allocations", "alloc", allocationBody("1000000000000"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)

	const writers, maxPerWriter, killAfter = 8, 500, 150
	var (
		mu      sync.Mutex
		acked   = map[string]string{} // key → event id
		unknown []string              // keys whose request got no answer
		wg      sync.WaitGroup
		once    sync.Once
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range maxPerWriter {
				key := fmt.Sprintf("w%d-%d", w, i)
				status, body, err := post(ctx, p.http, "/v1/disbursements", key, disbursementBody("1000"))
				mu.Lock()
				if err == nil && status == http.StatusCreated {
					acked[key] = eventID(body)
				} else {
					unknown = append(unknown, key)
				}
				n := len(acked)
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
				if n >= killAfter {
					once.Do(p.kill)
				}
			}
		}()
	}
	wg.Wait()
	once.Do(p.kill)
	require.GreaterOrEqual(t, len(acked), killAfter)
	t.Logf("killed after %d acknowledged writes; %d requests unanswered", len(acked), len(unknown))

	q := startServe(t, "--data", data)
	for _, key := range unknown {
		status, body, err := post(ctx, q.http, "/v1/disbursements", key, disbursementBody("1000"))
		require.NoError(t, err)
		require.Contains(t, []int{http.StatusCreated, http.StatusOK}, status, "retry of %s: %v", key, body)
		acked[key] = eventID(body)
	}

	recs := lineEvents(t, q.nats, q.serviceUser(t))
	st := domain.NewLineState(testLine)
	byKey := map[string]string{}
	for _, r := range recs {
		require.NoError(t, st.Apply(r))
		if r.Event.Type != domain.TypeDisbursed {
			continue
		}
		_, dup := byKey[r.Event.IdempotencyKey]
		require.False(t, dup, "key %s recorded twice", r.Event.IdempotencyKey)
		byKey[r.Event.IdempotencyKey] = r.Event.ID
	}
	require.Equal(t, acked, byKey, "the stream holds exactly the acknowledged writes")

	code, out, stderr := cli(t, q.http, "balances", "--json")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, fmt.Sprintf(`"disbursed": "%s"`, st.Balance.Disbursed), "balances after restart equal a rebuild from the stream")
	require.Equal(t, domain.AmountFromInt64(int64(1000*len(acked))).String(), st.Balance.Disbursed.String())
	require.False(t, strings.Contains(q.stderr.String(), "level=ERROR"), q.stderr.String())
}

// An admin manages accounts with the CLI; an officer records with its own
// token, is refused outside its province, and is locked out once disabled.
func TestCLIUserManagement(t *testing.T) {
	p := startServe(t, "--log-level", "debug") // everything it logs is checked for secrets below
	code, out, stderr := cli(t, p.http, "user", "add", "can-bo-ha-noi", "--role", "officer", "--provinces", "01", "--sources", "national")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(token, "kcl_can-bo-ha-noi_"), out)
	tokenFile := filepath.Join(t.TempDir(), "officer.token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	officer := []string{"KCLEDGER_TOKEN_FILE=" + tokenFile}

	code, _, stderr = cli(t, p.http, "allocate", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10")
	require.Equal(t, 0, code, stderr)
	code, out, stderr = cliEnv(t, p.http, officer, "disburse", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "1 tỷ", "--voucher", "KB-1", "--beneficiary", "HTX Gốm", "--date", "2025-03-03")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "by can-bo-ha-noi")

	code, _, stderr = cliEnv(t, p.http, officer, "allocate", "--year", "2025", "--province", "79", "--source", "national",
		"--amount", "5 tỷ", "--decision", "1/QĐ", "--date", "2025-01-10")
	require.Equal(t, exitRefused, code)
	require.Contains(t, stderr, "forbidden")

	code, out, stderr = cli(t, p.http, "user", "list")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "can-bo-ha-noi")
	require.NotContains(t, out, token)

	code, _, stderr = cli(t, p.http, "user", "disable", "can-bo-ha-noi")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = cliEnv(t, p.http, officer, "balances")
	require.Equal(t, exitRefused, code)
	require.Contains(t, stderr, "unauthenticated")

	// No token at all: refused, with where to find one.
	code, _, stderr = cliEnv(t, p.http, nil, "balances")
	require.Equal(t, exitRefused, code)
	require.Contains(t, stderr, "--token-file")

	// The first admin's token file is the owner's alone.
	st, err := os.Stat(p.tokenFile())
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// No secret ever reaches the server's log.
	admin, err := readSecretFile(p.tokenFile())
	require.NoError(t, err)
	for _, secret := range []string{token, admin, strings.TrimPrefix(token, "kcl_can-bo-ha-noi_")} {
		require.NotContains(t, p.stderr.String(), secret)
	}
}

// natsCLI returns the path of the real nats CLI: $KCLEDGER_NATS_CLI, then
// .tools/bin/nats (scripts/test installs it there), then $PATH. When
// KCLEDGER_REQUIRE_TOOLS is set, as scripts/test sets it, a missing CLI
// fails the test instead of skipping it.
func natsCLI(t *testing.T) string {
	t.Helper()
	return eventstoretest.Tool(t, "nats", "KCLEDGER_NATS_CLI")
}

// A subscriber's NATS user, made with `kcledger nats-user add`, reads the
// stream with the real nats CLI, and is refused when it publishes onto a
// ledger subject, purges or deletes the stream.
func TestNATSSubscriberWithTheNATSCLI(t *testing.T) {
	natsBin := natsCLI(t)
	p := startServe(t)
	code, _, stderr := cli(t, p.http, "allocate", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10")
	require.Equal(t, 0, code, stderr)
	code, out, stderr := cli(t, p.http, "nats-user", "add", "kho-bac", "--role", "subscriber", "--json")
	require.Equal(t, 0, code, stderr)
	var creds webapi.NewNATSUserResponse
	require.NoError(t, json.Unmarshal([]byte(out), &creds))
	require.Equal(t, p.nats, creds.URL)

	natsCmd := func(args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args = append([]string{"--server", creds.URL, "--user", creds.User, "--password", creds.Password, "--timeout", "2s"}, args...)
		cmd := exec.CommandContext(ctx, natsBin, args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no nats contexts of the machine's user
		b, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(b)
		}
		require.NoError(t, err, "%s", b)
		return 0, string(b)
	}

	code, out = natsCmd("stream", "info", "KCLEDGER")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "kcledger.events.>")

	// The documented filter for one fiscal year.
	code, out = natsCmd("sub", "--stream", "KCLEDGER", "kcledger.events.2025.>", "--all", "--count", "1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"type":"funds.allocated.v1"`)

	// The NATS service: discovered, and answering a reader's request as
	// the account whose token it carries.
	code, out = natsCmd("micro", "ls")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "kcledger")
	code, out = natsCmd("micro", "info", "kcledger")
	require.Equal(t, 0, code, out)
	for _, e := range []string{"allocations", "adjustments", "disbursements", "refunds", "balances"} {
		require.Contains(t, out, "kcledger.api.v1."+e)
	}
	code, out = natsCmd("request", "kcledger.api.v1.balances", `{"year": 2025, "province": "01"}`, "-H", "Authorization:Bearer "+tokenFor(p.http))
	require.Equal(t, 0, code, out)
	rep := reportIn(t, out)
	require.Len(t, rep.Lines, 1, out)
	apitest.RequireAmount(t, "5000000000", rep.Lines[0].Totals.Balance.Allocated)
	code, out = natsCmd("request", "kcledger.api.v1.disbursements", string(apitest.MustJSON(t, disbursementBody("1000"))), "-H", "Authorization:Bearer "+tokenFor(p.http))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "invalid_idempotency_key")

	// A reply aimed at a ledger subject: the service answers as a user
	// that may only publish to inboxes, so nothing is stored.
	seqBefore := len(lineEvents(t, p.nats, p.serviceUser(t)))
	rnc, err := nats.Connect(creds.URL, nats.UserInfo(creds.User, creds.Password))
	require.NoError(t, err)
	for _, subject := range []string{"$SRV.PING", "$SRV.INFO.kcledger", "kcledger.api.v1.nope"} {
		require.NoError(t, rnc.PublishRequest(subject, "kcledger.events.2025.01.national.allocated.v1", []byte(`{}`)))
	}
	require.NoError(t, rnc.Flush())
	rnc.Close()
	time.Sleep(300 * time.Millisecond)
	require.Len(t, lineEvents(t, p.nats, p.serviceUser(t)), seqBefore, "no reply landed on the ledger")

	code, out = natsCmd("pub", "kcledger.events.2025.01.national.disbursed.v1", `{"forged":true}`)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, `Permissions Violation for Publish to "kcledger.events.2025.01.national.disbursed.v1"`)

	code, out = natsCmd("stream", "purge", "KCLEDGER", "-f")
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, `Permissions Violation for Publish to "$JS.API.STREAM.PURGE.KCLEDGER"`)

	code, out = natsCmd("stream", "rm", "KCLEDGER", "-f")
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, `Permissions Violation for Publish to "$JS.API.STREAM.DELETE.KCLEDGER"`)

	// Nothing changed: the one event is there, under the service user.
	recs := lineEvents(t, p.nats, p.serviceUser(t))
	require.Len(t, recs, 1)

	// Disabled, it can no longer connect.
	code, _, stderr = cli(t, p.http, "user", "disable", "kho-bac")
	require.Equal(t, 0, code, stderr)
	code, out = natsCmd("stream", "info", "KCLEDGER")
	require.NotEqual(t, 0, code, out)
	require.Contains(t, strings.ToLower(out), "authorization violation")
}

// The API's limits on headers and on slow clients, on the real server.
func TestServeRefusesOversizedHeadersAndSlowClients(t *testing.T) {
	p := startServe(t)
	addr := strings.TrimPrefix(p.http, "http://")

	// Headers over maxHeaderBytes: 431, and no handler runs.
	req, err := http.NewRequest(http.MethodGet, p.http+"/v1/balances", nil)
	require.NoError(t, err)
	req.Header.Set("X-Padding", strings.Repeat("a", 2*maxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)

	// A client that starts a request and never finishes its headers is
	// cut off after readHeaderTimeout.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET /v1/balances HTTP/1.1\r\nHost: x\r\n"))
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(readHeaderTimeout+10*time.Second)))
	_, err = io.ReadAll(conn)
	require.NoError(t, err, "the server closes the connection (EOF), rather than the client's deadline passing")
	require.Less(t, time.Since(start), readHeaderTimeout+5*time.Second)
}

// With a certificate, the API speaks HTTPS and the embedded NATS server
// TLS, even on a public address; the CLI trusts the certificate through
// the system's usual SSL_CERT_FILE.
func TestServeOverTLS(t *testing.T) {
	cert, key := eventstoretest.SelfSignedCert(t)
	p := startServe(t, "--tls-cert", cert, "--tls-key", key, "--nats-tls-cert", cert, "--nats-tls-key", key)
	require.True(t, strings.HasPrefix(p.http, "https://"), p.http)
	require.True(t, strings.HasPrefix(p.nats, "tls://"), p.nats)

	code, out, stderr := cliEnv(t, p.http, []string{"SSL_CERT_FILE=" + cert, "KCLEDGER_TOKEN_FILE=" + p.tokenFile()}, "balances", "--json")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, `"as_of_seq"`)

	// Plain HTTP to the TLS port is refused.
	resp, err := http.Get("http://" + strings.TrimPrefix(p.http, "https://") + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// NATS clients must trust the certificate.
	nc, err := nats.Connect(p.nats, p.serviceUser(t), nats.RootCAs(cert))
	require.NoError(t, err)
	nc.Close()
	_, err = nats.Connect(p.nats, p.serviceUser(t), nats.MaxReconnects(0))
	require.Error(t, err)
}

// With an external server that requires authentication, serve connects
// with the credentials it is given, and fails clearly without them.
func TestServeWithExternalServerCredentials(t *testing.T) {
	const password = "external-service-password"
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1", Auth: eventstore.NewNATSAuth(password, "")})
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)

	t.Setenv("KCLEDGER_NATS_PASSWORD", password) // the environment, not the command line
	p := startServe(t, "--nats-url", ns.ClientURL(), "--nats-user", eventstore.ServiceUser)
	code, _, stderr := cli(t, p.http, "allocate", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "1 tỷ", "--decision", "1/QĐ-UBND", "--date", "2025-01-10")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = cli(t, p.http, "nats-user", "add", "reader", "--role", "subscriber")
	require.Equal(t, exitRefused, code, "an external server's users are its operator's")
	require.Contains(t, stderr, "unsupported")

	t.Setenv("KCLEDGER_NATS_PASSWORD", "wrong")
	code, _, stderr = cliEnv(t, "", nil, "serve", "--nats-url", ns.ClientURL(), "--nats-user", eventstore.ServiceUser,
		"--http", "127.0.0.1:0", "--data", t.TempDir())
	require.Equal(t, exitFailure, code)
	require.Contains(t, strings.ToLower(stderr), "authorization violation")
}

// An auditor checks the stream with its own read-only NATS user and the
// signing keys it pinned: an honest history passes and matches the served
// balances; an event published straight onto a ledger subject by someone
// holding NATS publish rights, however well chained, is named.
func TestVerifyAndReplayAsAnAuditor(t *testing.T) {
	p := startServe(t)
	for _, args := range [][]string{
		{"allocate", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10"},
		{"disburse", "--amount", "1 tỷ", "--voucher", "KB-1", "--beneficiary", "HTX Gốm", "--date", "2025-03-03"},
	} {
		code, _, stderr := cli(t, p.http, append(args, "--year", "2025", "--province", "01", "--source", "national")...)
		require.Equal(t, 0, code, stderr)
	}
	keysFile := pinKeys(t, p.http)
	auditor := natsAuditor(t, p)
	code, out, stderr := cliEnv(t, p.http, auditor, "verify", "--keys", keysFile, "--compare")
	require.Equal(t, 0, code, "%s\n%s", out, stderr)
	require.Contains(t, out, "Checked 2 events on 1 budget line")
	require.Contains(t, out, "equal those recomputed")

	code, out, stderr = cliEnv(t, p.http, auditor, "replay", "--keys", keysFile, "--json")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, `"net_disbursed": "1000000000"`)
	code, out, stderr = cliEnv(t, p.http, auditor, "replay", "--keys", keysFile, "--until-seq", "1", "--json")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, `"net_disbursed": "0"`, "as of seq 1, only the allocation")
	code, _, stderr = cliEnv(t, p.http, auditor, "replay", "--keys", keysFile, "--until-seq", "99")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "beyond the stream")

	// The trail and the past, through the API.
	code, out, stderr = cli(t, p.http, "audit")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "KB-1 → HTX Gốm")
	require.Contains(t, out, "3536/QĐ-BCT")
	require.Contains(t, out, "4.000.000.000 ₫", "available after the disbursement")
	code, out, stderr = cli(t, p.http, "balances", "--until-seq", "1", "--json")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, `"net_disbursed": "0"`)
	require.Contains(t, out, `"until_seq": 1`)

	// A forger with the server's own NATS credentials (but not a signing
	// key) extends line 01's chain correctly.
	recs := lineEvents(t, p.nats, p.serviceUser(t))
	lastEv := recs[len(recs)-1].Event
	forged := domain.Event{
		ID: "01970a6e-8000-7000-8000-00000000f00d", Type: domain.TypeDisbursed, FiscalYear: 2025, Province: "01",
		Source: domain.SourceNational, Amount: domain.AmountFromInt64(1_000_000), Voucher: "KB-FAKE",
		Beneficiary: "Công ty ma", EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 4},
		RecordedAt: time.Now().UTC(), Actor: "admin", IdempotencyKey: "forged-1", PrevHash: lastEv.Hash,
	}
	forged.Hash = forged.ComputeHash()
	nc, err := nats.Connect(p.nats, p.serviceUser(t))
	require.NoError(t, err)
	defer nc.Close()
	// A well-formed message too: CloudEvents headers that agree with the
	// body, and the line's expectation.
	m, err := eventstore.NewMessage(domain.Proposal{Event: forged, ExpectedSeq: recs[len(recs)-1].Seq})
	require.NoError(t, err)
	require.NoError(t, nc.PublishMsg(m))
	require.NoError(t, nc.Flush())
	// serve refuses it (TestForgedEventsAreRefused); the auditor reads
	// the store as it is.
	p.waitLog(t, "seq 3")
	url := storeOf(t, p)
	require.Len(t, lineEvents(t, url), 3)

	auditor[0] = "KCLEDGER_NATS_URL=" + url
	code, out, stderr = cliEnv(t, p.http, auditor, "verify", "--keys", keysFile)
	require.Equal(t, exitRefused, code, "%s\n%s", out, stderr)
	require.Contains(t, out, "the first at seq 3")
	require.Contains(t, out, "event 01970a6e-8000-7000-8000-00000000f00d is not signed")
}

// lookTool finds a program the tests drive; scripts/test installs them and
// sets KCLEDGER_REQUIRE_TOOLS, so CI never skips.
func lookTool(t *testing.T, name, how string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("KCLEDGER_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s is not installed: %s", name, how)
	}
	t.Skipf("%s is not installed (%s)", name, how)
	return ""
}

// The exports an auditor's own tools read: CSV for Excel, JSON lines, and
// a Beancount journal that the real bean-check accepts and whose balances,
// by the real bean-query, are kcledger's.
func TestExports(t *testing.T) {
	beanCheck := lookTool(t, "bean-check", "apt-get install beancount; scripts/test does it")
	beanQuery := lookTool(t, "bean-query", "apt-get install beancount; scripts/test does it")
	p := startServe(t)
	for _, args := range [][]string{
		{"allocate", "--province", "01", "--source", "national", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10"},
		{"allocate", "--province", "01", "--source", "national", "--amount", "1 tỷ", "--decision", "1/QĐ-BCT", "--date", "2025-01-11", "--project", "DA-1"},
		{"disburse", "--province", "01", "--source", "national", "--amount", "300 triệu", "--voucher", "KB-2", "--beneficiary", `HTX Gốm "Bát Tràng"`, "--date", "2025-03-04", "--project", "DA-1"},
		{"disburse", "--province", "01", "--source", "national", "--amount", "50 triệu", "--voucher", "KB-3", "--beneficiary", "Đặng Thị Ánh", "--date", "2025-03-05"},
		{"refund", "--province", "01", "--source", "national", "--amount", "100 triệu", "--voucher", "NT-1", "--reason", "thu hồi", "--date", "2025-06-01"},
		{"adjust", "--province", "79", "--source", "local", "--delta", "2 tỷ", "--decision", "9/QĐ-UBND", "--reason", "bổ sung", "--date", "2025-02-01"},
		{"adjust", "--province", "79", "--source", "local", "--delta", "-500 triệu", "--decision", "10/QĐ-UBND", "--reason", "giảm", "--date", "2025-08-01"},
	} {
		code, _, stderr := cli(t, p.http, append(args, "--year", "2025")...)
		require.Equal(t, 0, code, "%v: %s", args, stderr)
	}
	auditor := natsAuditor(t, p)
	dir := t.TempDir()

	// CSV: a BOM, a header, a row per movement, diacritics intact.
	csvFile := filepath.Join(dir, "movements.csv")
	var out string
	code, _, stderr := cliEnv(t, p.http, auditor, "export", "--format", "csv", "--vi-numbers", "--output", csvFile)
	require.Equal(t, 0, code, stderr)
	data, err := os.ReadFile(csvFile)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")), "UTF-8 BOM for Excel")
	rows, err := csv.NewReader(bytes.NewReader(data[3:])).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 8)
	require.Equal(t, export.CSVHeader, rows[0])
	require.Equal(t, "Hà Nội", rows[1][6])
	require.Equal(t, "5.000.000.000", rows[1][11])
	require.Equal(t, `HTX Gốm "Bát Tràng"`, rows[3][14])

	// JSON lines: one trail entry each.
	code, out, stderr = cliEnv(t, p.http, auditor, "export", "--format", "jsonl", "--year", "2025", "--province", "79")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	var entry projections.TrailEntry
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &entry))
	apitest.RequireAmount(t, "1500000000", entry.Line.Allocated)

	// Beancount: the real bean-check accepts it, the real bean-query's
	// balances are kcledger's.
	journal := filepath.Join(dir, "kcledger.beancount")
	code, _, stderr = cliEnv(t, p.http, auditor, "export", "--format", "beancount", "--output", journal)
	require.Equal(t, 0, code, stderr)
	out2, err := exec.Command(beanCheck, journal).CombinedOutput()
	require.NoError(t, err, "bean-check: %s", out2)
	q, err := exec.Command(beanQuery, "-f", "csv", journal, "SELECT account, sum(number) AS total GROUP BY account").Output()
	require.NoError(t, err)
	sums := map[string]domain.Amount{}
	qrows, err := csv.NewReader(bytes.NewReader(q)).ReadAll()
	require.NoError(t, err)
	for _, r := range qrows[1:] {
		a, err := domain.ParseAmount(strings.TrimSpace(r[1]))
		require.NoError(t, err, "%q", r[1])
		sums[strings.TrimSpace(r[0])] = a
	}
	// The API's /v1/export (the console's downloads) writes the very
	// same bytes as the CLI, which reads the stream itself.
	journalData, err := os.ReadFile(journal)
	require.NoError(t, err)
	code, jsonl, stderr := cliEnv(t, p.http, auditor, "export", "--format", "jsonl", "--year", "2025", "--province", "79")
	require.Equal(t, 0, code, stderr)
	for query, want := range map[string]string{
		"?format=csv&vi_numbers=true":                       string(data),
		"?format=jsonl&year=2025&province=79":               jsonl,
		"?format=beancount":                                 string(journalData),
		"?format=csv&vi_numbers=true&province=01&year=2025": "",
	} {
		status, body := getJSON(t, p.http, "/v1/export"+query)
		require.Equal(t, http.StatusOK, status, "%s: %s", query, body)
		if want == "" {
			code, want, stderr = cliEnv(t, p.http, auditor, "export", "--format", "csv", "--vi-numbers", "--province", "01", "--year", "2025")
			require.Equal(t, 0, code, stderr)
		}
		require.Equal(t, want, body, "GET /v1/export%s is what kcledger export writes", query)
	}

	code, out, stderr = cli(t, p.http, "balances", "--json")
	require.Equal(t, 0, code, stderr)
	var rep projections.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Lines, 2)
	for _, l := range rep.Lines {
		base := fmt.Sprintf("%s:Y%d:P%s", export.FundName(l.Line.Source), l.Line.FiscalYear, l.Line.Province)
		apitest.RequireAmount(t, l.Totals.Balance.Available().String(), sums["Assets:"+base+":Available"], base+" available")
		apitest.RequireAmount(t, l.Totals.Balance.Allocated.Neg().String(), sums["Equity:"+base+":Allocated"], base+" allocated")
		net := domain.AmountFromInt64(0)
		for acct, v := range sums {
			if strings.HasPrefix(acct, "Expenses:"+base+":") {
				net = net.Add(v)
			}
		}
		apitest.RequireAmount(t, l.Totals.Balance.NetDisbursed().String(), net, base+" net disbursed")
	}
}

// waitLog waits until the process has logged substr: its stderr is
// copied by another goroutine, so it may trail its ready line.
func (p *serveProc) waitLog(t *testing.T, substr string) {
	t.Helper()
	waitUntil(t, 10*time.Second, func() bool { return strings.Contains(p.stderr.String(), substr) },
		func() string { return fmt.Sprintf("serve never logged %q:\n%s", substr, p.stderr.String()) })
}

// waitUntil polls cond until it holds, failing after within with what
// explain says then (require.Eventually would format its message before
// the wait, when there is nothing to say yet).
func waitUntil(t *testing.T, within time.Duration, cond func() bool, explain func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not so after %s: %s", within, explain())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends the process cleanly (SIGTERM) and waits for it.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// A restart resumes from the checkpoints and serves the same balances as a
// full rebuild; a damaged checkpoint is noticed and rebuilt.
func TestRestartFromCheckpoints(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data", data, "--log-level", "info")
	for i, args := range [][]string{
		{"allocate", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10", "--project", "DA-1"},
		{"disburse", "--amount", "1 tỷ", "--voucher", "KB-1", "--beneficiary", "HTX Gốm", "--date", "2025-03-03", "--project", "DA-1"},
		{"refund", "--amount", "100 triệu", "--voucher", "NT-1", "--reason", "thu hồi", "--date", "2025-06-01", "--project", "DA-1"},
	} {
		code, _, stderr := cli(t, p.http, append(args, "--year", "2025", "--province", "01", "--source", "national", "--id", fmt.Sprint("m-", i))...)
		require.Equal(t, 0, code, stderr)
	}
	balances := func(p *serveProc) string {
		t.Helper()
		code, out, stderr := cli(t, p.http, "balances", "--json", "--projects")
		require.Equal(t, 0, code, stderr)
		return out
	}
	want := balances(p)
	p.stop(t)

	q := startServe(t, "--data", data, "--log-level", "info")
	q.waitLog(t, `balances resumed from their checkpoint" seq=3`)
	q.waitLog(t, `idempotency key index resumed from its checkpoint" seq=3`)
	require.JSONEq(t, want, balances(q))
	// The resumed key index still knows every key: a retry replays.
	code, out, stderr := cli(t, q.http, "refund", "--amount", "100 triệu", "--voucher", "NT-1", "--reason", "thu hồi", "--date", "2025-06-01",
		"--project", "DA-1", "--year", "2025", "--province", "01", "--source", "national", "--id", "m-2")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "Already recorded")

	// Damage the balances' checkpoint with the operator's credentials.
	nc, err := nats.Connect(q.nats, q.serviceUser(t))
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	cps, err := eventstore.OpenCheckpoints(t.Context(), js, 1)
	require.NoError(t, err)
	require.NoError(t, cps.Save(t.Context(), webapi.BalancesCheckpoint, []byte(`{"version":1,"applied_seq":3,"applied_hash":"`+strings.Repeat("0", 64)+`","lines":[]}`)))
	nc.Close()
	q.kill() // no clean shutdown: the damaged checkpoint stays

	r := startServe(t, "--data", data, "--log-level", "info")
	// Unsealed, it is refused before it is read (signing.go).
	r.waitLog(t, "the balances' checkpoint could not be read; rebuilding")
	r.waitLog(t, "not sealed")
	require.JSONEq(t, want, balances(r))
	r.stop(t)

	s := startServe(t, "--data", data, "--log-level", "info", "--rebuild")
	s.waitLog(t, "rebuilding the balances from the whole stream (--rebuild)")
	require.JSONEq(t, want, balances(s))

	// And without a restart.
	code, out, stderr = cli(t, s.http, "rebuild")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "Rebuilt the balances up to seq 3; they equal those served until now.")
	require.JSONEq(t, want, balances(s))
}
