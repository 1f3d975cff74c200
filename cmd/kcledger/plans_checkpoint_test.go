package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// planReportJSON is the report of fiscal year 2025 by project, cut and
// compared, as p answers it.
func planReportJSON(t *testing.T, p *projections.Plans) string {
	t.Helper()
	q := projections.PlanQuery{FiscalYear: 2025, By: projections.ByProject, ComparePrevious: true, EffectiveUntil: domain.Date{Year: 2025, Month: time.September, Day: 30}}
	require.NoError(t, q.Normalize(domain.Policy{}))
	rep, err := p.PlanExecution(q)
	require.NoError(t, err)
	return string(apitest.MustJSON(t, rep))
}

// caughtUp waits until the reports' model of ta holds every event of its
// stream, and returns the stream.
func caughtUp(t *testing.T, ta *testAPI) *eventstore.JetStream {
	t.Helper()
	store := ta.store
	last, err := store.LastEventSeq(t.Context())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, ta.plans.WaitFor(ctx, last))
	return store
}

// The reports' model resumes from a checkpoint that matches the stream,
// and is rebuilt from the stream, saying why, when its checkpoint does
// not decode, is of another version or of another history, and with
// --rebuild.
func TestResumePlans(t *testing.T) {
	a, b := newTestAPIWith(t, true), newTestAPIWith(t, true)
	for i, amount := range []string{"5000000000", "7000000000"} {
		body := allocationBody(amount)
		body["project"] = "DA-1"
		r := a.Post(t, apitest.PathAllocations, fmt.Sprint("a-", i), apitest.MustJSON(t, body))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		// b: as many events at the same sequences, of other amounts.
		r = b.Post(t, apitest.PathAllocations, fmt.Sprint("b-", i), apitest.MustJSON(t, allocationBody(amount+"1")))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	storeA, storeB := caughtUp(t, a), caughtUp(t, b)
	data, seq := a.plans.Checkpoint()
	require.NotZero(t, seq)
	want := planReportJSON(t, a.plans)

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	resume := func(store *eventstore.JetStream, rebuild bool) *projections.Plans {
		t.Helper()
		logs.Reset()
		return resumePlans(t.Context(), store, rebuild, log)
	}
	// No checkpoint yet: a replay, and nothing to warn about.
	require.Zero(t, resume(storeA, false).Applied())
	require.NotContains(t, logs.String(), "level=WARN")

	require.NoError(t, storeA.Checkpoints().Save(t.Context(), plansCheckpoint, data))
	p := resume(storeA, false)
	require.Contains(t, logs.String(), fmt.Sprintf(`reports' model resumed from its checkpoint" seq=%d`, seq))
	require.Equal(t, seq, p.Applied())
	require.JSONEq(t, want, planReportJSON(t, p))

	require.Zero(t, resume(storeA, true).Applied())
	require.Contains(t, logs.String(), "rebuilding the reports' model from the whole stream (--rebuild)")

	require.NoError(t, storeB.Checkpoints().Save(t.Context(), plansCheckpoint, data))
	rebuilt := resume(storeB, false)
	require.Zero(t, rebuilt.Applied())
	require.Contains(t, logs.String(), "the reports' checkpoint does not match the stream; rebuilding")
	require.Contains(t, logs.String(), fmt.Sprintf("the stream's event at seq %d has hash", seq))
	// Rebuilt from its own stream, it answers as its own.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = rebuilt.Run(ctx, storeB) }()
	require.NoError(t, rebuilt.WaitFor(t.Context(), seq))
	require.JSONEq(t, planReportJSON(t, b.plans), planReportJSON(t, rebuilt))

	for name, tc := range map[string]struct {
		data []byte
		says string
	}{
		"cut short":       {data[:len(data)-1], "does not decode"},
		"another version": {bytes.Replace(bytes.Clone(data), []byte("checkpoint\n\x02"), []byte("checkpoint\n\x03"), 1), "version 3, want 2"},
		"the balances'":   {func() []byte { d, _ := a.balances.Checkpoint(); return d }(), "it is not one"},
	} {
		require.NoError(t, storeA.Checkpoints().Save(t.Context(), plansCheckpoint, tc.data), name)
		require.Zero(t, resume(storeA, false).Applied(), name)
		require.Contains(t, logs.String(), "the reports' checkpoint is refused; rebuilding the reports' model from the stream", name)
		require.Contains(t, logs.String(), tc.says, name)
	}
}

// A restart resumes the reports' model (on by default) from the
// checkpoint saved at shutdown and answers as before; a checkpoint
// written with the operator's credentials, unsealed, is refused, and the
// model rebuilt from the stream answers the same.
func TestRestartResumesReportsModel(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data", data, "--log-level", "info")
	for i, args := range [][]string{
		{"allocate", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10", "--project", "DA-1", "--category", "training"},
		{"disburse", "--amount", "1 tỷ", "--voucher", "KB-1", "--beneficiary", "HTX Gốm", "--date", "2025-03-03", "--project", "DA-1"},
		{"refund", "--amount", "100 triệu", "--voucher", "NT-1", "--reason", "thu hồi", "--date", "2025-06-01", "--project", "DA-1"},
	} {
		code, _, stderr := cli(t, p.http, append(args, "--year", "2025", "--province", "01", "--source", "national", "--id", fmt.Sprint("m-", i))...)
		require.Equal(t, 0, code, stderr)
	}
	report := func(p *serveProc) string {
		t.Helper()
		code, out, stderr := cli(t, p.http, "report", "--year", "2025", "--by", "category", "--effective-until", "2025-09-30", "--format", "json")
		require.Equal(t, 0, code, stderr)
		var rep map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &rep))
		return out
	}
	want := report(p)
	require.Contains(t, want, `"dong": "900000000"`)
	p.stop(t)
	require.NotContains(t, p.stderr.String(), "saving a checkpoint failed")

	q := startServe(t, "--data", data, "--log-level", "info")
	q.waitLog(t, `reports' model resumed from its checkpoint" seq=3`)
	require.JSONEq(t, want, report(q))
	// It goes on from there.
	code, _, stderr := cli(t, q.http, "disburse", "--amount", "200 triệu", "--voucher", "KB-2", "--beneficiary", "HTX Gốm", "--date", "2025-07-01",
		"--project", "DA-1", "--year", "2025", "--province", "01", "--source", "national", "--id", "m-3")
	require.Equal(t, 0, code, stderr)
	want = report(q)
	require.Contains(t, want, `"dong": "1100000000"`)

	nc, err := nats.Connect(q.nats, q.serviceUser(t))
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	cps, err := eventstore.OpenCheckpoints(t.Context(), js, 1)
	require.NoError(t, err)
	require.NoError(t, cps.Save(t.Context(), plansCheckpoint, []byte("kcledger-plans-checkpoint\n\x01")))
	nc.Close()
	q.kill() // no clean shutdown: the damaged checkpoint stays

	r := startServe(t, "--data", data, "--log-level", "info")
	r.waitLog(t, "the reports' checkpoint could not be read; rebuilding the reports' model from the stream")
	r.waitLog(t, "not sealed")
	require.JSONEq(t, want, report(r))
	r.stop(t)

	s := startServe(t, "--data", data, "--log-level", "info", "--live-reports=false")
	require.JSONEq(t, want, report(s))
	require.False(t, strings.Contains(s.stderr.String(), "reports' model"), "%s", s.stderr.String())
}

// The reports' live model is on by default; --live-reports=false or
// KCLEDGER_LIVE_REPORTS=false turns it off.
func TestLiveReportsByDefault(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want bool
	}{
		{"", nil, true},
		{"", []string{"--live-reports=false"}, false},
		{"", []string{"--live-reports"}, true},
		{"false", nil, false},
		{"0", nil, false},
		{"true", nil, true},
		{"false", []string{"--live-reports=true"}, true},
	} {
		t.Setenv("KCLEDGER_LIVE_REPORTS", tc.env)
		var stderr bytes.Buffer
		c, _, ok := parseServeConfig(append(tc.args, "--data", t.TempDir()), &stderr)
		require.True(t, ok, "%s", stderr.String())
		require.Equal(t, tc.want, c.LiveReports, "KCLEDGER_LIVE_REPORTS=%q %v", tc.env, tc.args)
	}
}
