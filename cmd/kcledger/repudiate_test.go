package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/projections/export"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// getJSON asks the API for path with the admin's token; it returns the
// status and the body.
func getJSON(t *testing.T, base, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tokenFor(base))
	resp, err := apitest.CheckedClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// publishAsOperator publishes a message onto a ledger subject with the
// operator's NATS credentials (the service user, whose password the data
// directory holds) and returns the sequence the stream stored it at.
func publishAsOperator(t *testing.T, p *serveProc, m *nats.Msg) uint64 {
	t.Helper()
	nc, err := nats.Connect(p.nats, p.serviceUser(t))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ack, err := js.PublishMsg(t.Context(), m)
	require.NoError(t, err)
	return ack.Sequence
}

// requireStalledAt checks that a running serve stands stopped before the
// message at seq: alive, not ready, no live balances, no recording.
func requireStalledAt(t *testing.T, p *serveProc, seq uint64) {
	t.Helper()
	want := fmt.Sprintf("seq %d", seq)
	waitUntil(t, 20*time.Second, func() bool {
		code, body := getJSON(t, p.http, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, want)
	}, func() string { _, body := getJSON(t, p.http, "/readyz"); return body + "\n" + p.stderr.String() })
	code, body := getJSON(t, p.http, "/healthz")
	require.Equal(t, http.StatusOK, code, "alive: %s", body)
	code, body = getJSON(t, p.http, "/v1/balances")
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.Contains(t, body, `"code":"unavailable"`)
	require.Contains(t, body, want)
	// Up to the last sound message, the past is answered, and says so.
	code, body = getJSON(t, p.http, fmt.Sprintf("/v1/balances?until_seq=%d", seq-1))
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, seq-1, reportIn(t, body).AsOfSeq, body)
	code, _, stderr := cli(t, p.http, "disburse", "--amount", "1 triệu", "--voucher", "KB-9", "--beneficiary", "HTX", "--date", "2025-03-03",
		"--year", "2025", "--province", "01", "--source", "national")
	require.Equal(t, exitFailure, code, stderr)
	require.Contains(t, stderr, "unavailable")
	// The log names it once, at error level.
	p.waitLog(t, fmt.Sprintf("seq=%d", seq))
	errs := 0
	for _, l := range p.stderr.lines() {
		if strings.Contains(l, "level=ERROR") && strings.Contains(l, "the balances stopped") && strings.Contains(l, fmt.Sprintf("seq=%d ", seq)) {
			errs++
		}
	}
	require.Equal(t, 1, errs, p.stderr.String())
	select {
	case <-p.done:
		t.Fatalf("serve exited:\n%s", p.stderr.String())
	default:
	}
}

func requireReady(t *testing.T, p *serveProc) {
	t.Helper()
	waitUntil(t, 20*time.Second, func() bool {
		code, _ := getJSON(t, p.http, "/readyz")
		return code == http.StatusOK
	}, func() string { _, body := getJSON(t, p.http, "/readyz"); return body + "\n" + p.stderr.String() })
}

func available(t *testing.T, p *serveProc) string {
	t.Helper()
	code, body := getJSON(t, p.http, "/v1/balances")
	require.Equal(t, http.StatusOK, code, body)
	var rep projections.Report
	require.NoError(t, json.Unmarshal([]byte(body), &rep))
	require.Len(t, rep.Lines, 1, body)
	return rep.Lines[0].Totals.Balance.Available().String()
}

// A bad message published with the operator's credentials does not take
// the ledger down, across restarts, and an admin's repudiation lets it go
// on without editing history; verify, replay and export say so.
func TestBadMessagesAreRepudiated(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data", data, "--log-level", "info")
	code, out, stderr := cli(t, p.http, "allocate", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10",
		"--year", "2025", "--province", "01", "--source", "national", "--json")
	require.Equal(t, 0, code, stderr)
	var alloc webapi.RecordResponse
	require.NoError(t, json.Unmarshal([]byte(out), &alloc))
	lineSubject := eventstore.EventSubject(&alloc.Event)

	// (1) A message that does not decode, on the line's subject.
	bad1 := publishAsOperator(t, p, &nats.Msg{Subject: lineSubject, Data: []byte(`{"id": "not an event`)})
	require.Equal(t, uint64(2), bad1)
	requireStalledAt(t, p, bad1)

	// Restarts, with and without --rebuild, stay up in the same state.
	p.stop(t)
	p = startServe(t, "--data", data, "--log-level", "info")
	requireStalledAt(t, p, bad1)
	p.stop(t)
	p = startServe(t, "--data", data, "--log-level", "info", "--rebuild")
	requireStalledAt(t, p, bad1)

	// Only that message may be repudiated, once; by an admin.
	for _, tc := range []struct {
		seq  string
		code int
		says string
	}{
		{"1", exitRefused, "not_repudiable"},
		{"3", exitRefused, "no message at seq 3"},
	} {
		code, _, stderr := cli(t, p.http, "repudiate", "--seq", tc.seq, "--reason", "không phải sự kiện", "--decision", "12/QĐ-TTKC")
		require.Equal(t, tc.code, code, stderr)
		require.Contains(t, stderr, tc.says)
	}
	code, out, stderr = cli(t, p.http, "repudiate", "--seq", "2", "--reason", "tin nhắn không đọc được", "--decision", "12/QĐ-TTKC")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "Repudiated the message at seq 2: recorded at seq 3")
	code, _, stderr = cli(t, p.http, "repudiate", "--seq", "2", "--reason", "lần nữa", "--decision", "12/QĐ-TTKC")
	require.Equal(t, exitRefused, code, stderr)
	require.Contains(t, stderr, "already repudiated")
	requireReady(t, p)
	require.Equal(t, "5000000000", available(t, p))

	// (2) A well-formed event that breaks a rule: correctly chained to
	// the line's last sound event, with a fresh expectation, unsigned,
	// disbursing beyond what is available.
	over := domain.Event{
		ID: "01970a6e-8000-7000-8000-00000000bad2", Type: domain.TypeDisbursed, FiscalYear: 2025, Province: "01",
		Source: domain.SourceNational, Amount: domain.AmountFromInt64(9_000_000_000), Voucher: "KB-FAKE",
		Beneficiary: "Công ty ma", EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 4},
		RecordedAt: time.Now().UTC(), Actor: "admin", IdempotencyKey: "bad-2", PrevHash: alloc.Event.Hash,
	}
	over.Hash = over.ComputeHash()
	m, err := eventstore.NewMessage(domain.Proposal{Event: over, ExpectedSeq: bad1})
	require.NoError(t, err)
	bad2 := publishAsOperator(t, p, m)
	require.Equal(t, uint64(4), bad2)
	requireStalledAt(t, p, bad2)
	code, _, stderr = cli(t, p.http, "repudiate", "--seq", "4", "--reason", "chi vượt số khả dụng, không do kcledger ghi", "--decision", "13/QĐ-TTKC", "--date", "2025-03-05")
	require.Equal(t, 0, code, stderr)
	requireReady(t, p)

	// Later good events count; the bad ones never do.
	code, _, stderr = cli(t, p.http, "disburse", "--amount", "1 tỷ", "--voucher", "KB-1", "--beneficiary", "HTX Gốm", "--date", "2025-03-03",
		"--year", "2025", "--province", "01", "--source", "national")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "4000000000", available(t, p))
	p.stop(t)
	p = startServe(t, "--data", data, "--log-level", "info")
	requireReady(t, p)
	require.Equal(t, "4000000000", available(t, p))
	p.stop(t)
	p = startServe(t, "--data", data, "--log-level", "info", "--rebuild")
	requireReady(t, p)
	require.Equal(t, "4000000000", available(t, p))

	// The auditor's tools.
	code, out, stderr = cli(t, p.http, "nats-user", "add", "kiem-toan-2", "--role", "auditor", "--json")
	require.Equal(t, 0, code, stderr)
	var creds webapi.NewNATSUserResponse
	require.NoError(t, json.Unmarshal([]byte(out), &creds))
	keysFile := pinKeys(t, p.http)
	auditor := []string{"KCLEDGER_NATS_URL=" + creds.URL, "KCLEDGER_NATS_USER=" + creds.User, "KCLEDGER_NATS_PASSWORD=" + creds.Password}

	code, out, stderr = cliEnv(t, p.http, auditor, "verify", "--keys", keysFile)
	require.Equal(t, 0, code, "%s\n%s", out, stderr)
	require.Contains(t, out, "REPUDIATED: seq 2, by seq 3 (admin, 12/QĐ-TTKC): tin nhắn không đọc được")
	require.Contains(t, out, "REPUDIATED: seq 4, by seq 5 (admin, 13/QĐ-TTKC)")
	require.Contains(t, out, "No problem found but the 2 repudiated messages")

	code, out, stderr = cliEnv(t, p.http, auditor, "replay", "--keys", keysFile, "--json")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "skipped the message at seq 2: repudiated by seq 3")
	require.Contains(t, stderr, "skipped the message at seq 4: repudiated by seq 5")
	require.Contains(t, out, `"available": "4000000000"`)

	code, out, stderr = cliEnv(t, p.http, auditor, "export", "--format", "jsonl")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, `"type":"ledger.repudiated.v1"`)
	require.Contains(t, out, `"repudiated_seq":4`)
	require.NotContains(t, out, "KB-FAKE")
	code, out, stderr = cliEnv(t, p.http, auditor, "export", "--format", "csv")
	require.Equal(t, 0, code, stderr)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "\uFEFF"))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 5, "a header, the allocation, two repudiations, the disbursement")
	require.Equal(t, []string{"3", string(domain.TypeRepudiated), "2"}, []string{rows[2][0], rows[2][10], rows[2][slices.Index(export.CSVHeader, "repudiated_seq")]})
	code, out, stderr = cli(t, p.http, "audit")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "seq 2 repudiated: 12/QĐ-TTKC (tin nhắn không đọc được)")
	code, out, stderr = cliEnv(t, p.http, auditor, "export", "--format", "beancount")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "; 2025-03-05 ledger.repudiated.v1: seq 5 repudiates the message at seq 4")
}

// While the balances stand stopped before a bad message, the API refuses
// what would need them, answers the past before it, and takes a
// repudiation of that message only: from an admin, once.
func TestAPIWhileStalled(t *testing.T) {
	ta := newTestAPI(t)
	r := ta.Post(t, apitest.PathAllocations, "alloc-1", apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	require.Equal(t, http.StatusOK, ta.Get(t, "/readyz").Status)

	// A bad message at seq 2 stops the balances.
	js, err := jetstream.New(ta.nc)
	require.NoError(t, err)
	ack, err := js.Publish(t.Context(), "kcledger.events.2025.01.national.disbursed.v1", []byte("{"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), ack.Sequence)
	waitUntil(t, 10*time.Second, func() bool { return ta.health.Stalled() != nil }, func() string { return "the balances did not stop" })

	p := apitest.RequireProblem(t, ta.Get(t, "/readyz"), http.StatusServiceUnavailable, domain.CodeUnavailable, "")
	require.Contains(t, p.Detail, "seq 2")
	require.Contains(t, p.Detail, "unexpected end of JSON input")
	require.Equal(t, http.StatusOK, ta.Get(t, "/healthz").Status)
	p = apitest.RequireProblem(t, ta.Get(t, "/v1/balances"), http.StatusServiceUnavailable, domain.CodeUnavailable, "")
	require.Contains(t, p.Detail, "seq 2")
	r = ta.Get(t, "/v1/balances?until_seq=1")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, uint64(1), reportIn(t, string(r.Body)).AsOfSeq, "%s", r.Body)
	apitest.RequireProblem(t, ta.Get(t, "/v1/balances?until_seq=2"), http.StatusServiceUnavailable, domain.CodeUnavailable, "")
	r = ta.Get(t, "/v1/audit?limit=1")
	require.Equal(t, http.StatusOK, r.Status, "a page before it: %s", r.Body)
	var page struct {
		NextAfterSeq uint64 `json:"next_after_seq"`
	}
	require.NoError(t, decodeAnswer(string(r.Body), &page), "%s", r.Body)
	require.Equal(t, uint64(1), page.NextAfterSeq, "%s", r.Body)
	apitest.RequireProblem(t, ta.Get(t, "/v1/audit?after_seq=1"), http.StatusServiceUnavailable, domain.CodeUnavailable, "")
	apitest.RequireProblem(t, ta.Post(t, apitest.PathAllocations, "alloc-2", apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations))), http.StatusServiceUnavailable, domain.CodeUnavailable, "")
	apitest.RequireProblem(t, ta.Do(t, http.MethodPost, "/v1/rebuild", nil, nil), http.StatusServiceUnavailable, domain.CodeUnavailable, "")
	// The NATS service's balances, and its recording, alike.
	svc := newNATSService(t, ta)
	a := svc.Request(t, "kcledger.api.v1.balances", nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, a.Status, "%s", a.Body)
	require.Equal(t, string(domain.CodeUnavailable), a.ErrCode)
	require.Contains(t, a.Problem(t).Detail, "seq 2")
	a = svc.Request(t, "kcledger.api.v1.balances", nil, []byte(`{"until_seq": 1}`))
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	a = svc.Record(t, "allocations", "nats-alloc", apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)))
	require.Equal(t, http.StatusServiceUnavailable, a.Status, "%s", a.Body)

	body := func(seq int) []byte {
		return apitest.MustJSON(t, map[string]any{"seq": seq, "reason": "tin nhắn không đọc được", "decision": "12/QĐ-TTKC"})
	}
	auditor := ta.as(ta.AddAccount(t, "kiem-toan", domain.RoleAuditor, nil, nil))
	apitest.RequireProblem(t, auditor.Post(t, "/v1/repudiations", "rep-0", body(2)), http.StatusForbidden, domain.CodeForbidden, "")
	apitest.RequireProblem(t, ta.Post(t, "/v1/repudiations", "rep-1", body(1)), http.StatusUnprocessableEntity, domain.CodeNotRepudiable, "seq")
	apitest.RequireProblem(t, ta.Post(t, "/v1/repudiations", "rep-2", body(9)), http.StatusNotFound, domain.CodeNotFound, "seq")
	apitest.RequireProblem(t, ta.Post(t, "/v1/repudiations", "rep-3", apitest.MustJSON(t, map[string]any{"seq": 2, "reason": "x"})), http.StatusBadRequest, domain.CodeMissingField, "decision")
	apitest.RequireProblem(t, ta.Post(t, "/v1/repudiations", "rep-4", apitest.MustJSON(t, map[string]any{"seq": 2, "reason": "x", "decision": "y", "amount": "1"})), http.StatusBadRequest, domain.CodeUnknownField, "amount")

	r = ta.Post(t, "/v1/repudiations", "rep-5", body(2))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var res webapi.RepudiationResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	require.Equal(t, domain.TypeRepudiated, res.Event.Type)
	require.Equal(t, uint64(2), res.Event.RepudiatedSeq)
	require.Equal(t, firstAdmin, res.Event.Actor)
	require.True(t, ta.repudiations.Has(2))
	// A retry replays; another repudiation of it is refused.
	r = ta.Post(t, "/v1/repudiations", "rep-5", body(2))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	apitest.RequireProblem(t, ta.Post(t, "/v1/repudiations", "rep-6", body(2)), http.StatusConflict, domain.CodeConflict, "seq")

	// The projection resumes; the past across the bad message counts
	// without it.
	waitUntil(t, 10*time.Second, func() bool { return ta.health.Stalled() == nil }, func() string { return "the balances did not resume" })
	require.Equal(t, http.StatusOK, ta.Get(t, "/readyz").Status)
	r = ta.Get(t, "/v1/balances")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r = ta.Do(t, http.MethodPost, "/v1/rebuild", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "a rebuild passes the repudiated message over: %s", r.Body)
	r = ta.Get(t, "/v1/balances?until_seq=3")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	apitest.RequireProblem(t, ta.Post(t, "/v1/repudiations", "rep-7", body(3)), http.StatusUnprocessableEntity, domain.CodeNotRepudiable, "seq")
}

// A copy of a real repudiation with repudiated_seq changed (hash and
// signature kept), published with the operator's credentials after the
// moment an auditor replays to, must not make replay pass over a sound
// event: replay counts a repudiation only if it is sound (pinned key,
// hash, the repudiations' chain) and was stored by the --as-of moment.
// Found by review: replay took it, and left out the 3 tỷ at seq 4.
func TestReplayRefusesATamperedRepudiation(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data", data, "--log-level", "info")
	code, _, stderr := cli(t, p.http, "allocate", "--amount", "5 tỷ", "--decision", "1/QĐ-BCT", "--date", "2025-01-10",
		"--year", "2025", "--province", "01", "--source", "national")
	require.Equal(t, 0, code, stderr)
	bad := publishAsOperator(t, p, &nats.Msg{Subject: "kcledger.events.2025.01.national.allocated.v1", Data: []byte(`garbage`)})
	requireStalledAt(t, p, bad)
	code, _, stderr = cli(t, p.http, "repudiate", "--seq", "2", "--reason", "rác", "--decision", "12/QĐ-TTKC")
	require.Equal(t, 0, code, stderr) // seq 3
	requireReady(t, p)
	code, _, stderr = cli(t, p.http, "allocate", "--amount", "3 tỷ", "--decision", "2/QĐ-BCT", "--date", "2025-01-10",
		"--year", "2025", "--province", "79", "--source", "national")
	require.Equal(t, 0, code, stderr) // seq 4
	keysFile := pinKeys(t, p.http)
	asOf := time.Now().UTC().Format(time.RFC3339Nano)

	nc, err := nats.Connect(p.nats, p.serviceUser(t))
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	st, err := js.Stream(t.Context(), eventstore.DefaultStream)
	require.NoError(t, err)
	rep, err := st.GetMsg(t.Context(), 3)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(rep.Data, &body))
	found := false
	for k := range body {
		if strings.Contains(k, "repudiated_seq") {
			body[k] = 4
			found = true
		}
	}
	require.True(t, found)
	out := nats.NewMsg(rep.Subject)
	out.Data, _ = json.Marshal(body)
	for k, v := range rep.Header {
		if !strings.HasPrefix(k, "Nats-Expected") && k != "Nats-Msg-Id" {
			out.Header[k] = v
		}
	}
	_, err = js.PublishMsg(t.Context(), out)
	require.NoError(t, err)
	nc.Close()

	store := []string{"KCLEDGER_NATS_URL=" + storeOf(t, p)}
	code, o, stderr := cliEnv(t, "", store, "replay", "--keys", keysFile, "--as-of", asOf, "--json")
	require.Equal(t, 0, code, "%s\n%s", o, stderr)
	require.Contains(t, o, "3000000000", "replay passed over the sound allocation at seq 4")
	require.NotContains(t, stderr, "skipped the message at seq 4")
	// The whole stream holds the tampered message: no balance at all.
	code, o, stderr = cliEnv(t, "", store, "replay", "--keys", keysFile, "--json")
	require.Equal(t, exitRefused, code, "%s\n%s", o, stderr)
	require.Contains(t, stderr, "seq 5")
}

// A repudiation names a sequence and the digest of the message there.
// Re-creating the stream (operator's NATS credentials) with the messages
// reordered, every chain intact, puts a sound disbursement at the
// repudiated sequence: serve must not pass it over (found by review: it
// did, and a 3 tỷ disbursement on a line with 2 tỷ left was then
// recorded). Now the disbursement counts, and the repudiation, which no
// longer names what it repudiated, stops the balances in turn.
func TestARepudiationNamesItsMessageNotOnlyItsPlace(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data", data, "--log-level", "info")
	code, _, stderr := cli(t, p.http, "allocate", "--amount", "5 tỷ", "--decision", "1/QĐ-BCT", "--date", "2025-01-10",
		"--year", "2025", "--province", "01", "--source", "national")
	require.Equal(t, 0, code, stderr)
	bad := publishAsOperator(t, p, &nats.Msg{Subject: "kcledger.events.2025.01.national.allocated.v1", Data: []byte(`garbage`)})
	require.Equal(t, uint64(2), bad)
	requireStalledAt(t, p, bad)
	code, _, stderr = cli(t, p.http, "repudiate", "--seq", "2", "--reason", "rác", "--decision", "12/QĐ-TTKC")
	require.Equal(t, 0, code, stderr) // seq 3
	requireReady(t, p)
	code, _, stderr = cli(t, p.http, "allocate", "--amount", "3 tỷ", "--decision", "2/QĐ-BCT", "--date", "2025-01-10",
		"--year", "2025", "--province", "79", "--source", "national")
	require.Equal(t, 0, code, stderr) // seq 4
	code, _, stderr = cli(t, p.http, "disburse", "--amount", "1 tỷ", "--voucher", "KB-1", "--beneficiary", "HTX Gốm", "--date", "2025-03-03",
		"--year", "2025", "--province", "79", "--source", "national")
	require.Equal(t, 0, code, stderr) // seq 5
	p.stop(t)

	ts := tamperStore(t, data, 5)
	// New order: alloc 79, disburse 79 (now seq 2, named by the
	// repudiation), the repudiation, alloc 01. Every chain still holds.
	m := ts.msgs
	ts.recreate(t, true, m[3], m[4], m[2], m[0])
	ts.close()

	q := startServe(t, "--data", data, "--log-level", "info")
	useTokenFile(q.http, p.tokenFile())
	requireStalledAt(t, q, 3)
	code, body := getJSON(t, q.http, "/readyz")
	require.Contains(t, body, "seq 2", "the stall says what the repudiation no longer names: %s", body)
	// The sound disbursement is counted in the past that is answered.
	code, body = getJSON(t, q.http, "/v1/balances?until_seq=2&province=79")
	require.Equal(t, http.StatusOK, code, body)
	rep := reportIn(t, body)
	require.Len(t, rep.Lines, 1, body)
	apitest.RequireAmount(t, "2000000000", rep.Lines[0].Totals.Balance.Available())
}

// The repudiations' own subject is a ledger subject too: someone with the
// operator's credentials may publish a forged repudiation there, or a
// message that does not decode. Neither may stop an admin from recording
// the repudiations that let the balances go on (before, recording read the
// repudiations' line, met the forgery, and failed).
func TestBadMessagesOnTheRepudiationsSubjectDoNotBlockRepudiating(t *testing.T) {
	p := startServe(t, "--log-level", "info")
	code, _, stderr := cli(t, p.http, "allocate", "--amount", "5 tỷ", "--decision", "1/QĐ-BCT", "--date", "2025-01-10",
		"--year", "2025", "--province", "01", "--source", "national")
	require.Equal(t, 0, code, stderr)
	bad := publishAsOperator(t, p, &nats.Msg{Subject: "kcledger.events.2025.01.national.allocated.v1", Data: []byte(`garbage`)})
	forged := domain.Event{ID: "01970a6e-8000-7000-8000-00000000beef", Type: domain.TypeRepudiated, RepudiatedSeq: bad,
		Decision: "1/QĐ-GIẢ", Reason: "giả mạo", EffectiveDate: domain.Date{Year: 2026, Month: 1, Day: 2},
		RecordedAt: time.Now().UTC(), Actor: "admin", IdempotencyKey: "forged-rep", PrevHash: domain.GenesisHash}
	forged.Hash = forged.ComputeHash()
	m, err := eventstore.NewMessage(domain.Proposal{Event: forged})
	require.NoError(t, err)
	forgedSeq := publishAsOperator(t, p, m)
	junkSeq := publishAsOperator(t, p, &nats.Msg{Subject: eventstore.RepudiationSubject, Data: []byte(`{"not":"json"`)})
	requireStalledAt(t, p, bad)
	for _, seq := range []uint64{bad, forgedSeq, junkSeq} {
		code, out, stderr := cli(t, p.http, "repudiate", "--seq", fmt.Sprint(seq), "--reason", "không phải sự kiện", "--decision", "16/QĐ-TTKC")
		require.Equal(t, 0, code, "repudiating seq %d: %s\n%s", seq, out, stderr)
		if seq != junkSeq {
			waitUntil(t, 20*time.Second, func() bool {
				code, body := getJSON(t, p.http, "/readyz")
				return code == http.StatusServiceUnavailable && !strings.Contains(body, fmt.Sprintf("seq %d,", seq))
			}, func() string { _, body := getJSON(t, p.http, "/readyz"); return body })
		}
	}
	requireReady(t, p)
	code, _, stderr = cli(t, p.http, "allocate", "--amount", "1 tỷ", "--decision", "2/QĐ-BCT", "--date", "2025-01-11",
		"--year", "2025", "--province", "01", "--source", "national")
	require.Equal(t, 0, code, stderr)
	waitUntil(t, 20*time.Second, func() bool { return available(t, p) == "6000000000" },
		func() string { return available(t, p) + "\n" + p.stderr.String() })
}
