package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections/export"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// exportLedger records movements on two provinces, one of them to a
// beneficiary whose name is a formula, and returns an officer of 01.
func exportLedger(t *testing.T, ta *apitest.API) *apitest.API {
	t.Helper()
	for i, b := range []map[string]any{
		{"fiscal_year": 2025, "province": "01", "source": "national", "amount": "10000000", "decision": "3536/QĐ-BCT", "effective_date": "2025-01-10"},
		{"fiscal_year": 2025, "province": "79", "source": "local", "amount": "5000000", "decision": "9/QĐ-UBND", "effective_date": "2025-01-10"},
	} {
		r := ta.Post(t, apitest.PathAllocations, "a"+string(rune('0'+i)), apitest.MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	officer := ta.As(ta.AddAccount(t, "can-bo-01", domain.RoleOfficer, []string{"01"}, []string{"national"}))
	r := officer.Post(t, apitest.PathDisbursements, "p1", apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "01", "source": "national",
		"amount": "4000000", "voucher": "KB-77", "beneficiary": `=HYPERLINK("http://evil.example","<script>alert(1)</script>")`, "effective_date": "2025-03-03"}))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	return officer
}

// written is what the export package writes of the audit trail that
// /v1/audit answers with the same query.
func written(t *testing.T, as *apitest.API, format export.Format, query string) []byte {
	t.Helper()
	r := as.Get(t, "/v1/audit?limit=1000&"+query)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var res api.AuditResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	var buf bytes.Buffer
	w, err := export.New(&buf, format, export.Options{})
	require.NoError(t, err)
	for _, e := range res.Entries {
		require.NoError(t, w.Write(e))
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// GET /v1/export writes the audit trail through the export's writers,
// as a download, in the reader's scope.
func TestExportRoute(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	officer := exportLedger(t, ta)
	auditor := ta.As(ta.AddAccount(t, "kiem-toan", domain.RoleAuditor, nil, nil))

	for _, tc := range []struct {
		format      export.Format
		query, file string
		ctype       string
	}{
		{export.FormatCSV, "", "kcledger.csv", "text/csv; charset=utf-8"},
		{export.FormatJSONL, "year=2025", "kcledger-2025.jsonl", "application/jsonl; charset=utf-8"},
		{export.FormatBeancount, "year=2025&province=01&source=national", "kcledger-2025-01-national.beancount", "text/plain; charset=utf-8"},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			r := auditor.Get(t, api.PathExport+"?format="+string(tc.format)+"&"+tc.query)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			assert.Equal(t, `attachment; filename="`+tc.file+`"`, r.Header.Get("Content-Disposition"))
			assert.Equal(t, tc.ctype, r.Header.Get("Content-Type"))
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
			assert.Equal(t, string(written(t, auditor, tc.format, tc.query)), string(r.Body), "the audit trail, written by the export's writers")
		})
	}

	// CSV is the default; the formula is text, the script stays text.
	r := auditor.Get(t, api.PathExport)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.Body, []byte("\uFEFF")))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	col := slices.Index(export.CSVHeader, "beneficiary")
	assert.Equal(t, `'=HYPERLINK("http://evil.example","<script>alert(1)</script>")`, rows[3][col])

	// An officer's export holds its own lines only, and another
	// province's is refused.
	r = officer.Get(t, api.PathExport+"?format=jsonl")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		assert.Contains(t, l, `"province":"01"`)
		assert.NotContains(t, l, `"province":"79"`)
	}
	apitest.RequireProblem(t, officer.Get(t, api.PathExport+"?province=79"), http.StatusForbidden, domain.CodeForbidden, "province")

	// As of a moment before anything was stored: the header alone.
	r = auditor.Get(t, api.PathExport+"?as_of=2020-01-01T00:00:00%2B07:00")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	rows, err = csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.Body, []byte("\uFEFF")))).ReadAll()
	require.NoError(t, err)
	assert.Len(t, rows, 1)
	r = auditor.Get(t, api.PathExport+"?until_seq=1&format=jsonl")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, 1, strings.Count(string(r.Body), "\n"))

	// Refusals, before anything is written.
	subscriber := ta.As(ta.AddAccount(t, "kho-bac", domain.RoleSubscriber, nil, nil))
	apitest.RequireProblem(t, subscriber.Get(t, api.PathExport), http.StatusForbidden, domain.CodeForbidden, "")
	apitest.RequireProblem(t, auditor.Get(t, api.PathExport+"?format=xlsx"), http.StatusBadRequest, domain.CodeInvalidField, "format")
	apitest.RequireProblem(t, auditor.Get(t, api.PathExport+"?project=DA-1"), http.StatusBadRequest, domain.CodeUnknownField, "project")
	apitest.RequireProblem(t, auditor.Get(t, api.PathExport+"?as_of=yesterday"), http.StatusBadRequest, domain.CodeInvalidField, "as_of")
	apitest.RequireProblem(t, auditor.Get(t, api.PathExport+"?vi_numbers=perhaps"), http.StatusBadRequest, domain.CodeInvalidField, "vi_numbers")
	apitest.RequireProblem(t, auditor.Do(t, http.MethodPost, api.PathExport, nil, nil), http.StatusMethodNotAllowed, domain.CodeMethodNotAllowed, "")
}

// fakeHistory is a stream of n allocations on 2025/01/national and then,
// when bad, a message that is not sound.
type fakeHistory struct {
	n   int
	bad bool
}

func (h fakeHistory) State(context.Context) (eventstore.StreamState, error) {
	return eventstore.StreamState{FirstSeq: 1, LastSeq: uint64(h.n + 1)}, nil
}

func (h fakeHistory) ScanFilter(_ context.Context, _ string, _ uint64, fn func(eventstore.StoredEvent) (bool, error)) error {
	for i := 1; i <= h.n; i++ {
		ev := domain.Event{ID: fmt.Sprintf("ev-%d", i), Type: domain.TypeAllocated, FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
			Amount: domain.AmountFromInt64(1000), Decision: strings.Repeat("Q", 200), EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 1}}
		more, err := fn(eventstore.StoredEvent{Seq: uint64(i), Stored: apitest.Now.Add(-time.Hour), Recorded: domain.Recorded{Seq: uint64(i), Event: ev}})
		if err != nil || !more {
			return err
		}
	}
	if h.bad {
		_, err := fn(eventstore.StoredEvent{Seq: uint64(h.n + 1), Stored: apitest.Now.Add(-time.Hour), Err: fmt.Errorf("%w: not an event", domain.ErrCorrupt)})
		return err
	}
	return nil
}

func (h fakeHistory) ScanFilterFrom(ctx context.Context, filter string, from, last uint64, fn func(eventstore.StoredEvent) (bool, error)) error {
	return h.ScanFilter(ctx, filter, last, func(se eventstore.StoredEvent) (bool, error) {
		if se.Seq < from {
			return true, nil
		}
		return fn(se)
	})
}

func (fakeHistory) Digest(context.Context, uint64) (string, error) { return "", nil }

func (fakeHistory) Event(context.Context, uint64) (eventstore.StoredEvent, bool, error) {
	return eventstore.StoredEvent{}, false, nil
}

// A message found unsound before anything went out is a problem answer;
// found once the download has begun, it cuts the connection, so that
// the client never takes a truncated file for a whole one.
func TestExportCutShort(t *testing.T) {
	serve := func(h fakeHistory) *httptest.Server {
		a := api.New(api.Config{History: h, Repudiations: domain.NewRepudiations(), Now: func() time.Time { return apitest.Now },
			Log: slog.New(slog.DiscardHandler)})
		auditor := &domain.Account{Name: "kiem-toan", Role: domain.RoleAuditor}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.ServeAs(w, r, auditor) }))
		t.Cleanup(srv.Close)
		return srv
	}
	get := func(srv *httptest.Server) (*http.Response, []byte, error) {
		resp, err := srv.Client().Get(srv.URL + api.PathExport + "?format=jsonl")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}

	// Whole: every line.
	resp, body, err := get(serve(fakeHistory{n: 1000}))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, 1000, bytes.Count(body, []byte("\n")))
	require.Greater(t, len(body), 64<<10, "more than the buffer, so the answer streamed")

	// Unsound early: a problem, and no download.
	resp, body, err = get(serve(fakeHistory{n: 3, bad: true}))
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s", body)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p api.Problem
	require.NoError(t, json.Unmarshal(body, &p))
	assert.Equal(t, domain.CodeUnavailable, p.Code)
	assert.Contains(t, p.Detail, "seq 4")
	assert.Empty(t, resp.Header.Get("Content-Disposition"))

	// Unsound late: the connection is cut.
	resp, body, err = get(serve(fakeHistory{n: 1000, bad: true}))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.Error(t, err, "the body ends in an error, not as a whole file (%d bytes read)", len(body))
}
