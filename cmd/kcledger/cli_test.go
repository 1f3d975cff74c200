package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// These tests run the CLI in this process, with no ledger: what they check
// is decided before anything is sent.

// everyCommand is the words of every command and subcommand, from the
// commands list itself, so that a new one cannot be left out.
func everyCommand() [][]string {
	var out [][]string
	for _, c := range commands {
		out = append(out, []string{c.name})
		for _, s := range subcommandsOf[c.name] {
			out = append(out, []string{c.name, s.name})
		}
	}
	return out
}

// runIn runs the CLI in this process.
func runIn(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = run(args, &out, &errs)
	return code, out.String(), errs.String()
}

// silentLedger is a loopback address that counts the connections made to
// it and answers none: a command that must send nothing leaves it at 0.
type silentLedger struct {
	addr  string
	conns atomic.Int32
}

func newSilentLedger(t *testing.T) *silentLedger {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	s := &silentLedger{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			c.Close()
		}
	}()
	return s
}

// cliTestEnv points every command at s, with no token and no NATS
// credentials from the machine's own environment.
func cliTestEnv(t *testing.T, s *silentLedger) {
	t.Helper()
	t.Setenv("KCLEDGER_SERVER", "http://"+s.addr)
	t.Setenv("KCLEDGER_NATS_URL", "nats://"+s.addr)
	t.Setenv("KCLEDGER_DATA", t.TempDir())
	for _, v := range []string{"KCLEDGER_TOKEN", "KCLEDGER_TOKEN_FILE", "KCLEDGER_NATS_USER", "KCLEDGER_NATS_PASSWORD", "KCLEDGER_NATS_TOKEN", "KCLEDGER_NATS_CREDS", "KCLEDGER_JSON", "KCLEDGER_KEYS", "KCLEDGER_DURABLE"} {
		t.Setenv(v, "")
	}
}

func TestEveryCommandRefusesABadFlag(t *testing.T) {
	s := newSilentLedger(t)
	cliTestEnv(t, s)
	for _, words := range everyCommand() {
		name := strings.Join(words, " ")
		code, stdout, stderr := runIn(append(words, "--no-such-flag")...)
		assert.Equal(t, exitUsage, code, "%s --no-such-flag: %s", name, stderr)
		assert.Empty(t, stdout, name)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if assert.Len(t, lines, 2, "%s --no-such-flag: the error and one line pointing to --help:\n%s", name, stderr) {
			assert.Contains(t, lines[0], "no-such-flag", name)
			assert.Contains(t, lines[1], `"kcledger `+name+` --help"`, name)
		}
	}
	require.Zero(t, s.conns.Load(), "a command with a bad flag connected to the ledger or NATS")
}

func TestEveryCommandHasHelp(t *testing.T) {
	s := newSilentLedger(t)
	cliTestEnv(t, s)
	for _, words := range everyCommand() {
		name := strings.Join(words, " ")
		code, _, stderr := runIn(append(words, "--help")...)
		assert.Equal(t, exitOK, code, name)
		assert.Contains(t, stderr, "kcledger "+name, name)
		assert.Greater(t, strings.Count(stderr, "\n"), 3, "%s --help prints the whole help", name)
	}
	require.Zero(t, s.conns.Load())
}

func TestHelpNeverPrintsASecret(t *testing.T) {
	s := newSilentLedger(t)
	cliTestEnv(t, s)
	const marker = "s3cr3t-marker-4f1c"
	for _, v := range []string{"KCLEDGER_NATS_PASSWORD", "KCLEDGER_TOKEN", "KCLEDGER_NATS_TOKEN"} {
		t.Setenv(v, marker)
	}
	t.Setenv("KCLEDGER_NATS_URL", "nats://kho-bac:"+marker+"@"+s.addr)
	t.Setenv("KCLEDGER_SERVER", "http://admin:"+marker+"@"+s.addr)
	for _, words := range everyCommand() {
		for _, last := range []string{"--help", "--no-such-flag"} {
			_, stdout, stderr := runIn(append(words, last)...)
			assert.NotContains(t, stdout+stderr, marker, "%s %s", strings.Join(words, " "), last)
		}
	}
	require.Zero(t, s.conns.Load())
}

// Go's flag package takes back-quoted text in a flag's usage as the name
// of its value: "see `kcledger provinces`" printed as
// "-province kcledger provinces".
func TestHelpPlaceholdersAreOneWord(t *testing.T) {
	s := newSilentLedger(t)
	cliTestEnv(t, s)
	var sets []*flag.FlagSet
	onNewFlags = func(fs *flag.FlagSet) { sets = append(sets, fs) }
	t.Cleanup(func() { onNewFlags = nil })
	for _, words := range everyCommand() {
		runIn(append(words, "--help")...)
	}
	require.NotEmpty(t, sets)
	for _, fs := range sets {
		fs.VisitAll(func(f *flag.Flag) {
			placeholder, _ := flag.UnquoteUsage(f)
			assert.NotContains(t, placeholder, " ", "%s -%s", fs.Name(), f.Name)
			assert.NotContains(t, f.Usage, "`", "%s -%s: a back quote makes a placeholder", fs.Name(), f.Name)
		})
	}
}

// without returns args less the flag named and its value.
func without(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == name {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func with(args []string, more ...string) []string {
	return append(append([]string(nil), args...), more...)
}

// Usage and input errors found before anything is sent exit 2, whatever
// the command; the silent ledger shows nothing was sent.
func TestInputErrorsExitTwoBeforeSending(t *testing.T) {
	s := newSilentLedger(t)
	cliTestEnv(t, s)
	alloc := []string{"allocate", "--year", "2025", "--province", "01", "--source", "national", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10"}
	disb := []string{"disburse", "--year", "2025", "--province", "01", "--source", "national", "--amount", "1 tỷ", "--voucher", "KB-1", "--beneficiary", "HTX Gốm", "--date", "2025-03-03"}
	refund := []string{"refund", "--year", "2025", "--province", "01", "--source", "national", "--amount", "1 triệu", "--voucher", "KB-2", "--reason", "thu hồi", "--date", "2025-03-04"}
	adjust := []string{"adjust", "--year", "2025", "--province", "01", "--source", "national", "--delta", "-1 triệu", "--decision", "1/QĐ", "--reason", "điều chỉnh", "--date", "2025-03-04"}
	cases := []struct {
		name   string
		noNATS bool
		args   []string
		want   string
	}{
		{"verify without --nats-url", true, []string{"verify"}, "--nats-url"},
		{"replay without --nats-url", true, []string{"replay"}, "--nats-url"},
		{"export without --nats-url", true, []string{"export"}, "--nats-url"},
		{"subscribe without --nats-url", true, []string{"subscribe"}, "--nats-url"},
		{"balances --as-of without zone", false, []string{"balances", "--as-of", "2025-06-30"}, "--as-of"},
		{"audit --as-of in the future", false, []string{"audit", "--as-of", "2999-01-01T00:00:00Z"}, "--as-of"},
		{"replay --as-of bad", false, []string{"replay", "--as-of", "yesterday"}, "--as-of"},
		{"balances --effective-until bad", false, []string{"balances", "--effective-until", "30/6/2025"}, "--effective-until"},
		{"audit --effective-until bad", false, []string{"audit", "--effective-until", "2025-02-30"}, "--effective-until"},
		{"balances --source bad", false, []string{"balances", "--source", "bogus"}, "--source"},
		{"allocate --amount 0", false, with(without(alloc, "--amount"), "--amount", "0"), "--amount"},
		{"allocate --amount 1.5", false, with(without(alloc, "--amount"), "--amount", "1.5"), "--amount"},
		{"allocate without --amount", false, without(alloc, "--amount"), "--amount"},
		{"allocate without --decision", false, without(alloc, "--decision"), "--decision"},
		{"allocate --year 1999", false, with(without(alloc, "--year"), "--year", "1999"), "--year"},
		{"allocate unknown province", false, with(without(alloc, "--province"), "--province", "99"), "--province"},
		{"allocate --project bad", false, with(alloc, "--project", "đề án 1"), "--project"},
		{"adjust --delta 0", false, with(without(adjust, "--delta"), "--delta", "0"), "--delta"},
		{"adjust without --reason", false, without(adjust, "--reason"), "--reason"},
		{"disburse without --beneficiary", false, without(disb, "--beneficiary"), "--beneficiary"},
		{"disburse without --province", false, without(disb, "--province"), "--province"},
		{"disburse without --source", false, without(disb, "--source"), "--source"},
		{"disburse without --voucher", false, without(disb, "--voucher"), "--voucher"},
		{"disburse --date bad", false, with(without(disb, "--date"), "--date", "3/3/2025"), "--date"},
		{"refund without --reason", false, without(refund, "--reason"), "--reason"},
		{"refund --id with a space", false, with(refund, "--id", "pay 1"), "--id"},
		{"user add without --role", false, []string{"user", "add", "kiem-toan"}, "--role"},
		{"user add bad name", false, []string{"user", "add", "Kiem Toan", "--role", "auditor"}, "Kiem Toan"},
		{"user add officer without provinces", false, []string{"user", "add", "can-bo", "--role", "officer"}, "--provinces"},
		{"nats-user add --role admin", false, []string{"nats-user", "add", "kho-bac", "--role", "admin"}, "--role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.conns.Store(0)
			if tc.noNATS {
				t.Setenv("KCLEDGER_NATS_URL", "")
			}
			code, stdout, stderr := runIn(tc.args...)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tc.want)
			assert.Zero(t, s.conns.Load(), "something was sent")
		})
	}
}

// fakeLedger answers every request 401, as the API does to a bad token,
// and keeps the Authorization headers it was sent.
func fakeLedger(t *testing.T) (url string, auths func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		webapi.WriteError(w, r, slog.New(slog.DiscardHandler), domain.Errorf(domain.CodeUnauthenticated, "Authorization", "the token is not valid, or its account is disabled"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// The CLI looks for the first admin's token in serve's data directory,
// --data or KCLEDGER_DATA, and says which token it used when refused.
func TestTokenFromTheDataDirectory(t *testing.T) {
	s := newSilentLedger(t)
	cliTestEnv(t, s)
	url, auths := fakeLedger(t)
	t.Setenv("KCLEDGER_SERVER", url)
	data := t.TempDir()
	tokenPath := filepath.Join(data, adminTokenFile)
	require.NoError(t, os.WriteFile(tokenPath, []byte("kcl_admin_0123\n"), 0o600))

	code, _, stderr := runIn("balances", "--data", data)
	require.Equal(t, exitRefused, code, stderr)
	require.Equal(t, []string{"Bearer kcl_admin_0123"}, auths(), "the token in --data was sent")
	require.Contains(t, stderr, "token used: the first admin's token file "+tokenPath)
	require.Contains(t, stderr, "KCLEDGER_DATA")

	t.Setenv("KCLEDGER_DATA", data)
	code, _, stderr = runIn("balances")
	require.Equal(t, exitRefused, code, stderr)
	require.Equal(t, "Bearer kcl_admin_0123", auths()[1], "the token in $KCLEDGER_DATA was sent")

	empty := t.TempDir()
	code, _, stderr = runIn("balances", "--data", empty)
	require.Equal(t, exitRefused, code, stderr)
	require.Equal(t, "", auths()[2], "no token sent")
	require.Contains(t, stderr, "no token: "+filepath.Join(empty, adminTokenFile))
	require.Contains(t, stderr, "KCLEDGER_DATA")

	other := filepath.Join(t.TempDir(), "officer.token")
	require.NoError(t, os.WriteFile(other, []byte("kcl_can-bo_0456\n"), 0o600))
	code, _, stderr = runIn("balances", "--token-file", other)
	require.Equal(t, exitRefused, code, stderr)
	require.Contains(t, stderr, "token used: the token file "+other)
	require.Zero(t, s.conns.Load())
}

// cliAgainst points the CLI run in this process at ta, as its first admin.
func cliAgainst(t *testing.T, ta *testAPI) {
	t.Helper()
	s := newSilentLedger(t)
	cliTestEnv(t, s)
	t.Setenv("KCLEDGER_SERVER", ta.URL)
	t.Setenv("KCLEDGER_TOKEN", ta.Token)
}

// runAs runs the CLI in this process with another account's token.
func runAs(t *testing.T, token string, args ...string) (int, string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(path, []byte(token+"\n"), 0o600))
	return runIn(append(args, "--token", "", "--token-file", path)...)
}

func TestUserEnableRestoresTheSameAccount(t *testing.T) {
	ta := newTestAPI(t)
	cliAgainst(t, ta)
	code, out, stderr := runIn("user", "add", "kiem-toan", "--role", "auditor")
	require.Equal(t, exitOK, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(token, "kcl_kiem-toan_"), out)
	before, _, err := ta.accounts.Account(t.Context(), "kiem-toan")
	require.NoError(t, err)

	code, _, stderr = runAs(t, token, "balances")
	require.Equal(t, exitOK, code, stderr)

	code, _, stderr = runIn("user", "disable", "kiem-toan")
	require.Equal(t, exitOK, code, stderr)
	code, _, stderr = runAs(t, token, "balances")
	require.Equal(t, exitRefused, code, stderr)
	require.Contains(t, stderr, "unauthenticated")

	code, out, stderr = runIn("user", "enable", "kiem-toan")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "kiem-toan is enabled")
	code, _, stderr = runAs(t, token, "balances")
	require.Equal(t, exitOK, code, "the same token works again: %s", stderr)

	after, _, err := ta.accounts.Account(t.Context(), "kiem-toan")
	require.NoError(t, err)
	require.False(t, after.Disabled)
	require.Equal(t, before.TokenHash, after.TokenHash, "the same account, not a new one")
	require.True(t, before.CreatedAt.Equal(after.CreatedAt))

	code, out, stderr = runIn("user", "list")
	require.Equal(t, exitOK, code, stderr)
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "kiem-toan ") {
			require.Empty(t, row, "one account kiem-toan:\n%s", out)
			row = l
		}
	}
	require.Contains(t, row, "enabled")
	require.NotContains(t, row, "disabled")

	// Enabling an enabled account changes nothing; an unknown one is refused.
	code, _, stderr = runIn("user", "enable", "kiem-toan")
	require.Equal(t, exitOK, code, stderr)
	code, _, stderr = runIn("user", "enable", "nobody")
	require.Equal(t, exitRefused, code, stderr)
	require.Contains(t, stderr, "not_found")
	code, _, _ = runIn("user", "enable")
	require.Equal(t, exitUsage, code)
}

// kcledger's own NATS users are never an account's name: an account
// named kcledger-api got a password that could not log in.
func TestServiceUserNamesAreReserved(t *testing.T) {
	ta := newTestAPI(t)
	for _, name := range []string{eventstore.ServiceUser, eventstore.ServiceAPIUser, "kcledger-replay", "kcledger-next"} {
		for _, route := range []struct{ path, role string }{{"/v1/nats-users", "subscriber"}, {"/v1/users", "auditor"}} {
			r := ta.Do(t, http.MethodPost, route.path, http.Header{"Content-Type": {"application/json"}},
				apitest.MustJSON(t, map[string]any{"name": name, "role": route.role}))
			p := apitest.RequireProblem(t, r, http.StatusBadRequest, domain.CodeInvalidField, "name")
			assert.Contains(t, p.Detail, "reserved", "%s %s", route.path, name)
			_, _, err := ta.accounts.Account(t.Context(), name)
			assert.Error(t, err, "%s was created", name)
		}
	}
	cliAgainst(t, ta)
	for _, args := range [][]string{{"user", "add", "kcledger-api", "--role", "auditor"}, {"nats-user", "add", "kcledger", "--role", "auditor"}} {
		code, _, stderr := runIn(args...)
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, "reserved")
	}
	// A name that merely contains kcledger is an ordinary name.
	r := ta.Do(t, http.MethodPost, "/v1/nats-users", http.Header{"Content-Type": {"application/json"}}, apitest.MustJSON(t, map[string]any{"name": "kho-bac-kcledger", "role": "subscriber"}))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
}

// Every time the CLI prints for people is in Vietnam's zone, labelled:
// the test API's clock is 03:00 UTC, 10:00 in Vietnam.
func TestHumanTimesAreVietnamsLabelled(t *testing.T) {
	ta := newTestAPI(t)
	cliAgainst(t, ta)
	const want = "2026-06-01 10:00:00 ICT"
	code, out, stderr := runIn("allocate", "--year", "2025", "--province", "01", "--source", "national", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "recorded   "+want+" by admin")
	code, out, stderr = runIn("audit")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, want)
	code, out, stderr = runIn("user", "list")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, want+" by ")
	code, out, stderr = runIn("balances", "--as-of", "2026-06-01T09:59:00+07:00")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "As the ledger knew it at 2026-06-01 09:59:00 ICT.")
	// JSON keeps RFC 3339 with its offset.
	code, out, stderr = runIn("audit", "--json")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, `"recorded_at":"2026-06-01T03:00:00Z"`)
}

// replay gives, without the server, what balances gives with it: "the
// balances at 30/6/2025" for one source.
func TestReplayEffectiveUntilAndSource(t *testing.T) {
	ta := newTestAPI(t)
	cliAgainst(t, ta)
	t.Setenv("KCLEDGER_NATS_URL", ta.natsURL)
	line := func(source string) []string {
		return []string{"--year", "2025", "--province", "01", "--source", source}
	}
	for _, args := range [][]string{
		append([]string{"allocate", "--amount", "5 tỷ", "--decision", "1/QĐ-BCT", "--date", "2025-01-10"}, line("national")...),
		append([]string{"allocate", "--amount", "2 tỷ", "--decision", "2/QĐ-UBND", "--date", "2025-02-01"}, line("local")...),
		append([]string{"disburse", "--amount", "1 tỷ", "--voucher", "KB-1", "--beneficiary", "HTX", "--date", "2025-06-30"}, line("national")...),
		append([]string{"disburse", "--amount", "300 triệu", "--voucher", "KB-2", "--beneficiary", "HTX", "--date", "2025-07-01"}, line("national")...),
	} {
		code, _, stderr := runIn(args...)
		require.Equal(t, exitOK, code, stderr)
	}
	cut := []string{"--effective-until", "2025-06-30", "--source", "national"}
	code, served, stderr := runIn(append([]string{"balances", "--json"}, cut...)...)
	require.Equal(t, exitOK, code, stderr)
	code, keys, stderr := runIn("keys")
	require.Equal(t, exitOK, code, stderr)
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(keysFile, []byte(keys), 0o600))
	t.Setenv("KCLEDGER_KEYS", keysFile)
	code, replayed, stderr := runIn(append([]string{"replay", "--json"}, cut...)...)
	require.Equal(t, exitOK, code, stderr)
	var want, got projections.Report
	require.NoError(t, json.Unmarshal([]byte(served), &want))
	require.NoError(t, json.Unmarshal([]byte(replayed), &got))
	require.Len(t, got.Lines, 1, replayed)
	require.Equal(t, domain.SourceNational, got.Lines[0].Line.Source)
	apitest.RequireAmount(t, "5000000000", got.Lines[0].Totals.Balance.Allocated)
	apitest.RequireAmount(t, "1000000000", got.Lines[0].Totals.Balance.Disbursed, "the movement dated 1 July is left out")
	apitest.SameLines(t, want, got, "replay and balances agree")

	code, out, stderr := runIn(append([]string{"replay"}, cut...)...)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "Counting only movements dated on or before 2025-06-30.")
	code, _, stderr = runIn("replay", "--effective-until", "30/6/2025")
	require.Equal(t, exitUsage, code, stderr)
	code, _, stderr = runIn("replay", "--source", "bogus")
	require.Equal(t, exitUsage, code, stderr)
}

// With a filter, the event an earlier run took and did not acknowledge
// is the filter's next event, not the one after the last acknowledged.
func TestSubscribeNamesTheEventTakenWithAFilter(t *testing.T) {
	l := newSubLedger(t)
	l.record(t, "01", 1) // seq 1, 2
	l.record(t, "02", 1) // seq 3, 4
	args := []string{"--nats-url", l.url, "--durable", "dashboard-02", "--filter", "kcledger.events.2025.02.>", "--ack-wait", "1m"}
	out, errs, stop := subscribeInProcess(t, args...)
	waitUntil(t, 10*time.Second, func() bool { return len(out.lines()) == 2 }, errs.String)
	require.Equal(t, exitOK, stop(), "%v", errs.lines())

	l.record(t, "01", 1)          // seq 5, not in the filter
	taken := l.record(t, "02", 1) // seq 6
	require.Equal(t, []uint64{6}, taken)
	// An earlier run takes seq 6 and dies without acknowledging it.
	cons, err := l.stream.Consumer(t.Context(), "dashboard-02")
	require.NoError(t, err)
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	var got []uint64
	for m := range batch.Messages() {
		meta, err := m.Metadata()
		require.NoError(t, err)
		got = append(got, meta.Sequence.Stream)
	}
	require.Equal(t, []uint64{6}, got)

	_, errs2, stop2 := subscribeInProcess(t, args...)
	waitUntil(t, 10*time.Second, func() bool { return strings.Contains(errs2.String(), "an earlier run") }, errs2.String)
	stop2()
	assert.Contains(t, errs2.String(), "an earlier run took the event at seq 6 and did not acknowledge it")
}

func TestSmallTexts(t *testing.T) {
	ta := newTestAPI(t)
	cliAgainst(t, ta)
	t.Setenv("KCLEDGER_NATS_URL", ta.natsURL)
	alloc := func(province, source string) []string {
		return []string{"allocate", "--year", "2025", "--province", province, "--source", source, "--amount", "5 tỷ", "--decision", "1/QĐ", "--date", "2025-01-10"}
	}

	// The retry hint is for an unknown outcome only.
	code, _, stderr := runIn(alloc("01", "national")...)
	require.Equal(t, exitOK, code, stderr)
	assert.NotContains(t, stderr, "to retry safely", "a success")
	code, _, stderr = runIn("disburse", "--year", "2025", "--province", "01", "--source", "national", "--amount", "6 tỷ", "--voucher", "KB-1", "--beneficiary", "HTX", "--date", "2025-03-03")
	require.Equal(t, exitRefused, code, stderr)
	assert.NotContains(t, stderr, "to retry safely", "a refusal")
	s := newSilentLedger(t)
	code, _, stderr = runIn(append(alloc("01", "local"), "--server", "http://"+s.addr, "--id", "alloc-7")...)
	require.Equal(t, exitFailure, code, stderr)
	assert.Contains(t, stderr, "to retry safely, repeat the command with --id alloc-7")

	// A total over one province's lines is labelled with it.
	code, _, stderr = runIn(alloc("01", "local")...)
	require.Equal(t, exitOK, code, stderr)
	code, out, stderr := runIn("balances", "--province", "01")
	require.Equal(t, exitOK, code, stderr)
	assert.NotContains(t, out, "all provinces")
	assert.Regexp(t, `2025\s+01 Hà Nội\s+all sources\s+10\.000\.000\.000 ₫`, out)
	code, _, stderr = runIn(alloc("79", "local")...)
	require.Equal(t, exitOK, code, stderr)
	code, out, stderr = runIn("balances", "--source", "local")
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `2025\s+all provinces\s+KCĐP\s+10\.000\.000\.000 ₫`, out)

	// One key is one key.
	assert.Equal(t, "1 signing key", signingKeys(1))
	assert.Equal(t, "2 signing keys", signingKeys(2))
}
