package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// streamState reads, as serve's service user, the stream's last sequence
// and the events of the given lines.
func streamState(t *testing.T, p *serveProc, lines []domain.LineKey) (uint64, map[domain.LineKey][]domain.Recorded) {
	t.Helper()
	nc, err := nats.Connect(p.nats, p.serviceUser(t))
	require.NoError(t, err)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx, eventstore.DefaultStream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	log, err := eventstore.Open(ctx, nc, eventstore.StreamConfig{})
	require.NoError(t, err)
	defer log.Close()
	out := map[domain.LineKey][]domain.Recorded{}
	for _, k := range lines {
		recs, err := log.Load(ctx, k, 0)
		require.NoError(t, err)
		out[k] = recs
	}
	return info.State.LastSeq, out
}

var progressLine = regexp.MustCompile(`^\[(\d+) of (\d+)\] `)

// kill -9 the server in the middle of a bulk succession, restart it, run
// the succession again: every line and project is transferred exactly
// once, and the country's available money is what it was.
func TestYearEndSuccessionSurvivesAKill(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data", data)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Every merged province's 2025 lines, both sources; every third with
	// a project.
	var sources, successors []domain.LineKey
	seen := map[domain.LineKey]bool{}
	for i, k := range (domain.YearEnd{Op: domain.OpSuccession, FiscalYear: 2025}).Lines() {
		body := map[string]any{"fiscal_year": 2025, "province": k.Province, "source": k.Source, "amount": fmt.Sprint((100 + i) * 1_000_000),
			"decision": "12/QĐ-BCT", "effective_date": "2025-03-01"}
		if i%3 == 0 {
			body["project"] = "DA-" + k.Province
		}
		status, res, err := post(ctx, p.http, "/v1/allocations", "alloc-"+k.String(), body)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, status, "%v", res)
		sources = append(sources, k)
		s, _ := domain.Successor(k.Province)
		if to := (domain.LineKey{FiscalYear: 2025, Province: s.Code, Source: k.Source}); !seen[to] {
			seen[to] = true
			successors = append(successors, to)
		}
	}
	all := append(append([]domain.LineKey(nil), sources...), successors...)
	availableOf := func(lines map[domain.LineKey][]domain.Recorded) (domain.Amount, map[domain.LineKey]*domain.LineState) {
		sum := domain.ZeroAmount
		states := map[domain.LineKey]*domain.LineState{}
		for k, recs := range lines {
			st := domain.NewLineState(k)
			for _, r := range recs {
				require.NoError(t, st.Apply(r))
			}
			states[k] = st
			sum = sum.Add(st.Balance.Available())
		}
		return sum, states
	}
	_, before := streamState(t, p, all)
	totalBefore, _ := availableOf(before)

	args := []string{"succession", "--date", "2025-07-01", "--decision", "1234/QĐ-UBND"}
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "KCLEDGER_SERVER="+p.http, "KCLEDGER_TOKEN=", "KCLEDGER_DATA="+os.DevNull, "KCLEDGER_TOKEN_FILE="+p.tokenFile(), "KCLEDGER_JSON=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	const killAt = 5
	var m, last int
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if g := progressLine.FindStringSubmatch(sc.Text()); g != nil {
			fmt.Sscan(g[1], &last)
			fmt.Sscan(g[2], &m)
			if last == killAt {
				p.kill()
			}
		}
	}
	err = cmd.Wait()
	require.Error(t, err, "the succession went on after its server was killed")
	assert.Equal(t, exitFailure, cmd.ProcessState.ExitCode(), stderr.String())
	assert.Contains(t, stderr.String(), "run the same command again to finish")
	require.Equal(t, len(sources), m, "a transfer per line: a line with a project has nothing without it")
	t.Logf("killed at item %d of %d; the CLI printed %d", killAt, m, last)

	q := startServe(t, "--data", data)
	code, out, errs := cli(t, q.http, args...)
	require.Equal(t, 0, code, "%s\n%s", out, errs)
	require.Contains(t, out, "Done: ")
	t.Log(out[strings.LastIndex(out, "Done: "):])
	code, out, errs = cli(t, q.http, args...)
	require.Equal(t, 0, code, "%s\n%s", out, errs)
	assert.Contains(t, out, "Nothing to do", "a third run finds everything done")

	_, after := streamState(t, q, all)
	totalAfter, states := availableOf(after)
	apitest.RequireAmount(t, totalBefore.String(), totalAfter, "successions move money between lines; the country's total is unchanged")
	moved := map[string]int{}
	for _, k := range sources {
		apitest.RequireAmount(t, "0", states[k].Balance.Available(), k.String())
		for _, r := range after[k] {
			if r.Event.Type == domain.TypeTransferredOut {
				moved[k.String()+" "+r.Event.Project]++
			}
		}
	}
	require.Len(t, moved, m)
	for k, n := range moved {
		assert.Equal(t, 1, n, "%s transferred %d times", k, n)
	}
	ins := 0
	for _, k := range successors {
		for _, r := range after[k] {
			if r.Event.Type == domain.TypeTransferredIn {
				ins++
			}
		}
	}
	assert.Equal(t, m, ins, "each transfer has its other side")
}

// The scenario of issue 13, end to end through the CLI: 2 tỷ allocated to
// 02 Hà Giang in March 2025, part paid in May, the rest carried to its
// successor 08 Tuyên Quang by the bulk succession (first as a dry run),
// spent there in August, and part of the May payment refunded against 02
// in November 2026.
func TestYearEndScenarioThroughTheCLI(t *testing.T) {
	p := startServe(t)
	haGiang := domain.LineKey{FiscalYear: 2025, Province: "02", Source: domain.SourceNational}
	tuyenQuang := domain.LineKey{FiscalYear: 2025, Province: "08", Source: domain.SourceNational}
	line := func(k domain.LineKey) []string {
		return []string{"--year", "2025", "--province", k.Province, "--source", "national", "--project", "DA-01"}
	}
	mustRun := func(args ...string) string {
		t.Helper()
		code, out, stderr := cli(t, p.http, args...)
		require.Equal(t, 0, code, "kcledger %s:\n%s\n%s", strings.Join(args, " "), out, stderr)
		return out
	}
	mustRun(append([]string{"allocate", "--amount", "2 tỷ", "--decision", "12/QĐ-BCT", "--date", "2025-03-01"}, line(haGiang)...)...)
	mustRun(append([]string{"disburse", "--amount", "500 triệu", "--voucher", "KB-0510", "--beneficiary", "HTX Chè Shan tuyết", "--date", "2025-05-10"}, line(haGiang)...)...)

	seq, _ := streamState(t, p, nil)
	out := mustRun("succession", "--date", "2025-07-01", "--decision", "1234/QĐ-UBND", "--dry-run")
	assert.Contains(t, out, "2025 · 02 Hà Giang · KCQG")
	assert.Contains(t, out, "DA-01")
	assert.Contains(t, out, "1.500.000.000 ₫")
	assert.Contains(t, out, "2025 · 08 Tuyên Quang · KCQG")
	assert.Contains(t, out, "nothing was recorded. 1 item,")
	after, _ := streamState(t, p, nil)
	assert.Equal(t, seq, after, "a dry run appends nothing")

	out = mustRun("succession", "--date", "2025-07-01", "--decision", "1234/QĐ-UBND")
	assert.Contains(t, out, "[1 of 1] recorded transfer 2025 · 02 Hà Giang · KCQG đề án DA-01 1.500.000.000 ₫ → 2025 · 08 Tuyên Quang · KCQG")
	assert.Contains(t, out, "Done: 1 recorded, 0 already recorded, 0 refused, of 1 item;")

	// Spending under 02 is refused after the merger; under 08 it is paid.
	code, _, stderr := cli(t, p.http, append([]string{"disburse", "--amount", "1 triệu", "--voucher", "KB-0801", "--beneficiary", "HTX Chè", "--date", "2025-08-01"}, line(haGiang)...)...)
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, stderr, "province_not_in_force")
	mustRun(append([]string{"disburse", "--amount", "1 tỷ", "--voucher", "KB-0815", "--beneficiary", "HTX Chè Shan tuyết", "--date", "2025-08-15"}, line(tuyenQuang)...)...)
	mustRun(append([]string{"refund", "--amount", "100 triệu", "--voucher", "NT-1120", "--reason", "thu hồi sau kiểm toán", "--date", "2026-11-20"}, line(haGiang)...)...)

	// Balances: 02 paid 500, got 100 back, passed 1 500 on; 08 got 1 500
	// and paid 1 000.
	out = mustRun("balances", "--year", "2025", "--json")
	var bal struct {
		Lines []struct {
			Line   domain.LineKey `json:"line"`
			Totals struct {
				Balance domain.Balance `json:"balance"`
			} `json:"totals"`
		} `json:"lines"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &bal), out)
	got := map[domain.LineKey]domain.Balance{}
	for _, l := range bal.Lines {
		got[l.Line] = l.Totals.Balance
	}
	hg, tq := got[haGiang], got[tuyenQuang]
	apitest.RequireAmount(t, "2000000000", hg.Allocated)
	apitest.RequireAmount(t, "1500000000", hg.TransferredOut)
	apitest.RequireAmount(t, "400000000", hg.NetDisbursed())
	apitest.RequireAmount(t, "100000000", hg.Available())
	apitest.RequireAmount(t, "1500000000", tq.TransferredIn)
	apitest.RequireAmount(t, "1000000000", tq.NetDisbursed())
	apitest.RequireAmount(t, "500000000", tq.Available())
	apitest.RequireAmount(t, "600000000", hg.Available().Add(tq.Available()), "the country's available: 2 tỷ less what was spent net")

	// The audit trail lists the transfer on both lines.
	out = mustRun("audit", "--year", "2025", "--json")
	assert.Contains(t, out, string(domain.TypeTransferredOut))
	assert.Contains(t, out, string(domain.TypeTransferredIn))
	assert.Contains(t, out, "1234/QĐ-UBND")

	// The reports agree: under the 34-province scheme 02 is part of 08,
	// the succession a move within it, and the country the same; under
	// the 63-province scheme, until the merger, 02 alone.
	out = mustRun("report", "--year", "2025", "--scheme", "34", "--unit", "dong", "--format", "json")
	var rep struct {
		Rows []struct {
			Key            string         `json:"key"`
			Plan           map[string]any `json:"plan"`
			Executed       map[string]any `json:"executed"`
			Available      map[string]any `json:"available"`
			TransferredOut map[string]any `json:"transferred_out"`
		} `json:"rows"`
		Total struct {
			Plan      map[string]any `json:"plan"`
			Executed  map[string]any `json:"executed"`
			Available map[string]any `json:"available"`
		} `json:"total"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Rows, 1, out)
	assert.Equal(t, "08", rep.Rows[0].Key)
	assert.Equal(t, "0", rep.Rows[0].TransferredOut["dong"], "a move within new Tuyên Quang")
	assert.Equal(t, "2000000000", rep.Total.Plan["dong"])
	assert.Equal(t, "1400000000", rep.Total.Executed["dong"])
	assert.Equal(t, "600000000", rep.Total.Available["dong"], "the balances' available over both lines")
	out = mustRun("report", "--year", "2025", "--scheme", "63", "--effective-until", "2025-06-30", "--unit", "dong", "--format", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Rows, 1, out)
	assert.Equal(t, "02", rep.Rows[0].Key)
	assert.Equal(t, "2000000000", rep.Total.Plan["dong"])
	assert.Equal(t, "500000000", rep.Total.Executed["dong"], "the May disbursement only")
	code, _, stderr = cli(t, p.http, "report", "--year", "2025", "--scheme", "63")
	assert.Equal(t, exitUsage, code, "2025 after the merger has no 63-province report")
	assert.Contains(t, stderr, "scheme")

	// verify recomputes the same balances from the stream.
	keysFile := pinKeys(t, p.http)
	pw, err := readSecretFile(filepath.Join(p.data, natsServiceFile))
	require.NoError(t, err)
	natsEnv := []string{"KCLEDGER_NATS_URL=" + p.nats, "KCLEDGER_NATS_USER=" + eventstore.ServiceUser, "KCLEDGER_NATS_PASSWORD=" + pw, "KCLEDGER_TOKEN_FILE=" + p.tokenFile()}
	code, out, stderr = cliEnv(t, p.http, natsEnv, "verify", "--keys", keysFile, "--compare")
	require.Equal(t, 0, code, "%s\n%s", out, stderr)
	assert.Contains(t, out, "on 2 budget lines")
	assert.Contains(t, out, "equal those recomputed")

	// Closing 2025 lapses what is left on both lines; 02 still takes
	// refunds.
	code, _, stderr = cli(t, p.http, "close-year", "2026", "--decision", "9/QĐ-BTC")
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "the settlement period of fiscal year 2026 ends on 2027-01-31")
	out = mustRun("close-year", "2025", "--decision", "9/QĐ-BTC", "--dry-run")
	assert.Contains(t, out, "nothing was recorded. 4 items")
	out = mustRun("close-year", "2025", "--decision", "9/QĐ-BTC")
	assert.Contains(t, out, "Done: 4 recorded")
	mustRun(append([]string{"refund", "--amount", "50 triệu", "--voucher", "NT-1201", "--reason", "thu hồi", "--date", "2026-11-30"}, line(haGiang)...)...)
}

// The CLI refuses before sending what it can tell is wrong.
func TestYearEndCLIInputErrors(t *testing.T) {
	s := newSilentLedger(t)
	cliTestEnv(t, s)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"succession", "--decision", "1/QĐ"}, "--date is required"},
		{[]string{"succession", "--date", "2025-07-01"}, "--decision is required"},
		{[]string{"succession", "--date", "1/7/2025", "--decision", "1/QĐ"}, "--date"},
		{[]string{"succession", "--date", "2025-07-01", "--decision", "1/QĐ", "--source", "kcx"}, "--source"},
		{[]string{"carry-over", "--decision", "1/QĐ", "--all"}, "--from-year is required"},
		{[]string{"carry-over", "--from-year", "2025", "--decision", "1/QĐ"}, "--line PROVINCE/SOURCE"},
		{[]string{"carry-over", "--from-year", "2025", "--decision", "1/QĐ", "--all", "--line", "01/national"}, "not both"},
		{[]string{"carry-over", "--from-year", "2025", "--decision", "1/QĐ", "--line", "01"}, "PROVINCE/SOURCE"},
		{[]string{"carry-over", "--from-year", "2025", "--decision", "1/QĐ", "--line", "01/kcx"}, "--line"},
		{[]string{"close-year", "--decision", "1/QĐ"}, "the fiscal year to close is required"},
		{[]string{"close-year", "20x5", "--decision", "1/QĐ"}, "not a fiscal year"},
		{[]string{"close-year", "2025"}, "--decision is required"},
		{[]string{"close-year", "2025", "--decision", "1/QĐ", "2026"}, "unexpected arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			s.conns.Store(0)
			code, stdout, stderr := runIn(tc.args...)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tc.want)
			assert.Zero(t, s.conns.Load(), "something was sent")
		})
	}
}

// The commands of the README's "The end of the budget year", run as
// written against a real serve that holds 2025 lines of 02 and 01.
func TestREADMEYearEnd(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(data), "\n## The end of the budget year\n")
	require.True(t, ok, "README.md has no section \"The end of the budget year\"")
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok := strings.Cut(section, "```sh\n")
	require.True(t, ok)
	block, _, _ = strings.Cut(block, "```")

	p := startServe(t)
	for _, args := range [][]string{
		{"allocate", "--province", "02", "--amount", "2 tỷ", "--project", "DA-01", "--date", "2025-03-01"},
		{"allocate", "--province", "01", "--amount", "1 tỷ", "--date", "2025-03-01"},
	} {
		code, out, stderr := cli(t, p.http, append(args, "--year", "2025", "--source", "national", "--decision", "12/QĐ-BCT")...)
		require.Equal(t, 0, code, "%s\n%s", out, stderr)
	}
	ran := 0
	for _, l := range strings.Split(block, "\n") {
		if !strings.HasPrefix(l, "./kcledger ") {
			continue
		}
		words, redirect, err := shellWords(l)
		require.NoError(t, err)
		require.Empty(t, redirect)
		code, out, stderr := cli(t, p.http, words[1:]...)
		require.Equal(t, 0, code, "%s\n%s\n%s", l, out, stderr)
		ran++
	}
	require.Equal(t, 4, ran)
	code, out, stderr := cli(t, p.http, "balances", "--year", "2026", "--json")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"transferred_in": "1000000000"`, "01's 2025 money carried over to 2026")
	code, out, stderr = cli(t, p.http, "close-year", "2025", "--decision", "78/QĐ-UBND", "--date", "2026-02-01")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "Nothing to do", "every 2025 line is closed")
}
