package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// exampleConsumerState is the state file of docs/consumer.
type exampleConsumerState struct {
	LastSeq      uint64            `json:"last_seq"`
	NetDisbursed map[string]string `json:"net_disbursed"`
}

// exampleConsumerProc is a running docs/consumer.
type exampleConsumerProc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
}

// The example consumer in docs/consumer, built and run as another team
// would run it, with a read-only NATS user: killed with SIGKILL in the
// middle of its work and restarted, it counts every disbursement and refund
// exactly once, and its per-province net disbursed totals are kcledger's.
func TestExampleConsumerExactlyOnceAcrossKill(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "consumer")
	build := exec.Command("go", "build", "-o", bin, "./docs/consumer")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./docs/consumer: %s", out)

	// It is written from docs/events.md alone: the standard library and
	// the NATS client, no kcledger package.
	list := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "./docs/consumer")
	list.Dir = root
	out, err = list.Output()
	require.NoError(t, err)
	for _, imp := range strings.Fields(string(out)) {
		std := !strings.Contains(strings.Split(imp, "/")[0], ".")
		require.True(t, std || imp == "github.com/nats-io/nats.go" || imp == "github.com/nats-io/nats.go/jetstream",
			"docs/consumer imports %s", imp)
	}

	p := startServe(t)
	code, out2, stderr := cli(t, p.http, "nats-user", "add", "kho-bac", "--role", "subscriber", "--json")
	require.Equal(t, 0, code, stderr)
	var creds webapi.NewNATSUserResponse
	require.NoError(t, json.Unmarshal([]byte(out2), &creds))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := map[string]*big.Int{} // net disbursed per province, by the test's own count
	n := 0
	record := func(path, province, source, amount string) uint64 {
		t.Helper()
		n++
		body := map[string]any{"fiscal_year": 2025, "province": province, "source": source, "amount": amount}
		a, ok := new(big.Int).SetString(amount, 10)
		require.True(t, ok)
		switch path {
		case "/v1/allocations":
			body["decision"], body["effective_date"] = "1/QĐ-UBND", "2025-01-10"
		case "/v1/disbursements":
			body["voucher"], body["beneficiary"], body["effective_date"] = fmt.Sprint("KB-", n), "HTX Gốm Bát Tràng", "2025-03-03"
		case "/v1/refunds":
			body["voucher"], body["reason"], body["effective_date"] = fmt.Sprint("NT-", n), "thu hồi", "2025-06-01"
			a.Neg(a)
		}
		status, resp, err := post(ctx, p.http, path, fmt.Sprint("consumer-example-", n), body)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, status, "%s %v: %v", path, body, resp)
		if path != "/v1/allocations" {
			if want[province] == nil {
				want[province] = new(big.Int)
			}
			want[province].Add(want[province], a)
		}
		seq, _ := resp["seq"].(float64)
		require.NotZero(t, seq, "%v", resp)
		return uint64(seq)
	}
	streamLast := func() uint64 {
		t.Helper()
		nc, err := nats.Connect(creds.URL, nats.UserInfo(creds.User, creds.Password))
		require.NoError(t, err)
		defer nc.Close()
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		s, err := js.Stream(ctx, creds.Stream)
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		return info.State.LastSeq
	}

	const (
		alloc, disb, refund = "/v1/allocations", "/v1/disbursements", "/v1/refunds"
		nat, loc            = "national", "local"
	)
	record(alloc, "01", nat, "5000000000")
	record(alloc, "79", nat, "3000000000")
	record(alloc, "79", loc, "2000000000")
	record(alloc, "48", nat, "1000000000")
	var moved []uint64 // the sequences of the disbursements and refunds
	for _, m := range []struct{ path, province, source, amount string }{
		{disb, "01", nat, "250000000"}, {disb, "79", nat, "400000000"}, {disb, "48", nat, "100000000"},
		{disb, "01", nat, "300000000"}, {disb, "79", loc, "150000000"}, {refund, "01", nat, "50000000"},
		{disb, "48", nat, "200000000"}, {disb, "79", nat, "120000000"}, {refund, "79", nat, "20000000"},
		{disb, "01", nat, "75000000"},
	} {
		moved = append(moved, record(m.path, m.province, m.source, m.amount))
	}

	stateFile := filepath.Join(t.TempDir(), "consumer-state.json")
	readState := func() (exampleConsumerState, bool) {
		t.Helper()
		b, err := os.ReadFile(stateFile)
		if errors.Is(err, os.ErrNotExist) {
			return exampleConsumerState{}, false
		}
		require.NoError(t, err)
		var st exampleConsumerState
		require.NoError(t, json.Unmarshal(b, &st), "the state file is always whole: %q", b)
		return st, true
	}
	start := func(args ...string) *exampleConsumerProc {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-s", creds.URL, "-state", stateFile, "-stream", creds.Stream}, args...)...)
		// The credentials come from the environment, as documented.
		cmd.Env = append(os.Environ(), "NATS_USER="+creds.User, "NATS_PASSWORD="+creds.Password)
		c := &exampleConsumerProc{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = c.stderr, c.stderr
		require.NoError(t, cmd.Start())
		go func() { _ = cmd.Wait(); close(c.done) }()
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-c.done })
		return c
	}
	wait := func(c *exampleConsumerProc, d time.Duration) int {
		t.Helper()
		select {
		case <-c.done:
			return c.cmd.ProcessState.ExitCode()
		case <-time.After(d):
			t.Fatalf("the consumer did not exit within %s:\n%s", d, c.stderr.String())
			return 0
		}
	}

	// First run, slowed down so that it can be killed half-way: once it
	// has counted two movements, and well before the last.
	c := start("-delay", "100ms")
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, ok := readState()
		if ok && st.LastSeq >= moved[1] {
			break
		}
		select {
		case <-c.done:
			t.Fatalf("the consumer exited (%d):\n%s", c.cmd.ProcessState.ExitCode(), c.stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "the consumer counted nothing in 15s:\n%s", c.stderr.String())
		time.Sleep(2 * time.Millisecond)
	}
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	<-c.done
	killed, _ := readState()
	require.Less(t, killed.LastSeq, moved[len(moved)-1], "killed too late, after its last message:\n%s", c.stderr.String())
	require.Contains(t, c.stderr.String(), fmt.Sprintf("seq %d: ", moved[0]), "it reports its progress")
	t.Logf("killed at seq %d of %d", killed.LastSeq, moved[len(moved)-1])

	// More movements while it is down; the last one is a disbursement, so
	// that the consumer's last sequence can be the stream's.
	for _, m := range []struct{ path, province, source, amount string }{
		{disb, "01", nat, "500000000"}, {refund, "79", loc, "50000000"}, {disb, "48", nat, "300000000"},
		{alloc, "01", loc, "1000000000"}, {disb, "01", loc, "200000000"}, {refund, "48", nat, "25000000"},
		{disb, "79", nat, "60000000"},
	} {
		record(m.path, m.province, m.source, m.amount)
	}
	last := streamLast()

	// Restarted, it resumes after the sequence it saved and exits once
	// caught up.
	c = start("-idle", "2s", "-delay", "5ms")
	require.Equal(t, 0, wait(c, 30*time.Second), c.stderr.String())
	require.Contains(t, c.stderr.String(), fmt.Sprintf("consuming %s from seq %d", creds.Stream, killed.LastSeq+1))
	st, ok := readState()
	require.True(t, ok)
	require.Equal(t, last, st.LastSeq, "the consumer reached the stream's last sequence")

	// kcledger's own balances, summed per province over its lines.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.http+"/v1/balances", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tokenFor(p.http))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var rep projections.Report
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rep))
	require.Equal(t, last, rep.AsOfSeq)
	ledger := map[string]domain.Amount{}
	for _, l := range rep.Lines {
		sum, ok := ledger[l.Line.Province]
		if !ok {
			sum = domain.AmountFromInt64(0)
		}
		ledger[l.Line.Province] = sum.Add(l.Totals.Balance.NetDisbursed())
	}
	require.Len(t, ledger, 3)
	require.Len(t, st.NetDisbursed, len(ledger), "%v", st.NetDisbursed)
	for province, net := range ledger {
		got, err := domain.ParseAmount(st.NetDisbursed[province])
		require.NoError(t, err, "province %s: %q", province, st.NetDisbursed[province])
		require.True(t, got.Equal(net), "province %s: the consumer counted %s đồng net disbursed, kcledger %s", province, got, net)
		require.Equal(t, want[province].String(), net.String(), "province %s: kcledger's balance is what the test recorded", province)
	}

	// Run without -idle, it stops cleanly on SIGTERM and keeps its state.
	before, err := os.ReadFile(stateFile)
	require.NoError(t, err)
	c = start()
	waitUntil(t, 10*time.Second, func() bool { return strings.Contains(c.stderr.String(), "consuming ") }, c.stderr.String)
	time.Sleep(200 * time.Millisecond) // inside its wait for messages
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, wait(c, 10*time.Second), c.stderr.String())
	after, err := os.ReadFile(stateFile)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after))
}
