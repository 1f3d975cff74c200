package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// GET /v1/events/{seq} answers the audit trail's entry of one event, with
// the trail's read scope.
func TestEventBySequence(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	post := func(as *apitest.API, path, key string, body map[string]any) {
		t.Helper()
		r := as.Post(t, path, key, apitest.MustJSON(t, body))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	post(ta, apitest.PathAllocations, "a1", map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "project": "DA-1",
		"amount": "10000000", "decision": "3536/QĐ-BCT", "effective_date": "2025-01-10"})
	post(ta, apitest.PathAllocations, "b1", map[string]any{"fiscal_year": 2025, "province": "79", "source": "local",
		"amount": "5000000", "decision": "9/QĐ-UBND", "effective_date": "2025-01-10"})
	officer := ta.As(ta.AddAccount(t, "can-bo-01", domain.RoleOfficer, []string{"01"}, []string{"national"}))
	post(officer, apitest.PathDisbursements, "p1", map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "project": "DA-1",
		"amount": "4000000", "voucher": "KB-77", "beneficiary": `<script>alert(1)</script>`, "effective_date": "2025-03-03"})

	r := ta.Get(t, "/v1/audit")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var trail api.AuditResponse
	require.NoError(t, json.Unmarshal(r.Body, &trail))
	require.Len(t, trail.Entries, 3)

	get := func(as *apitest.API, seq uint64) (apitest.Response, projections.TrailEntry) {
		t.Helper()
		r := as.Get(t, fmt.Sprint("/v1/events/", seq))
		var e projections.TrailEntry
		if r.Status == http.StatusOK {
			require.NoError(t, json.Unmarshal(r.Body, &e))
		}
		return r, e
	}
	for _, want := range trail.Entries {
		r, got := get(ta, want.Seq)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		wantJSON, err := json.Marshal(want)
		require.NoError(t, err)
		gotJSON, err := json.Marshal(got)
		require.NoError(t, err)
		assert.JSONEq(t, string(wantJSON), string(gotJSON), "seq %d is the trail's entry", want.Seq)
	}
	last := trail.Entries[2]
	_, e := get(officer, last.Seq)
	assert.Equal(t, "can-bo-01", e.Event.Actor)
	assert.Equal(t, `<script>alert(1)</script>`, e.Event.Beneficiary)
	assert.NotEmpty(t, e.Event.Hash)
	assert.Equal(t, trail.Entries[0].Event.Hash, e.Event.PrevHash, "the line's chain")
	assert.NotEmpty(t, e.Event.SignedBy)
	apitest.RequireAmount(t, "6000000", e.Line.Available(), "the line's available right after it")
	require.NotNil(t, e.Project)
	apitest.RequireAmount(t, "4000000", e.Project.NetDisbursed())

	// Another province's event: refused to the officer, with nothing of it.
	r, _ = get(officer, trail.Entries[1].Seq)
	p := apitest.RequireProblem(t, r, http.StatusForbidden, domain.CodeForbidden, "province")
	assert.NotContains(t, string(r.Body), "9/QĐ-UBND")
	assert.NotContains(t, p.Detail, "5000000")
	// Its own province, another source.
	narrow := ta.As(ta.AddAccount(t, "can-bo-79", domain.RoleOfficer, []string{"79"}, []string{"national"}))
	r, _ = get(narrow, trail.Entries[1].Seq)
	apitest.RequireProblem(t, r, http.StatusForbidden, domain.CodeForbidden, "source")
	assert.NotContains(t, string(r.Body), "9/QĐ-UBND")

	for _, tc := range []struct {
		path   string
		status int
		code   domain.Code
		field  string
	}{
		{"/v1/events/0", http.StatusBadRequest, domain.CodeInvalidField, "seq"},
		{"/v1/events/x", http.StatusBadRequest, domain.CodeInvalidField, "seq"},
		{"/v1/events/-1", http.StatusBadRequest, domain.CodeInvalidField, "seq"},
		{fmt.Sprint("/v1/events/", last.Seq+100), http.StatusNotFound, domain.CodeNotFound, "seq"},
		{fmt.Sprint("/v1/events/", last.Seq, "?as_of=2025-01-01T00:00:00Z"), http.StatusBadRequest, domain.CodeUnknownField, "as_of"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			apitest.RequireProblem(t, ta.Get(t, tc.path), tc.status, tc.code, tc.field)
		})
	}
	r = ta.Do(t, http.MethodPost, fmt.Sprint("/v1/events/", last.Seq), nil, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
}

// A late event of a long line, and a late page of its trail, are read
// from the line's latest mark before them (projections.TrailMarks): the
// same totals as the trail from the start, for at most a mark's interval
// of the line's messages.
func TestLateEventsReadFromMarks(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	line := map[string]any{"fiscal_year": 2025, "province": "01", "source": "national"}
	body := func(m map[string]any) []byte {
		for k, v := range line {
			m[k] = v
		}
		return apitest.MustJSON(t, m)
	}
	r := ta.Post(t, apitest.PathAllocations, "alloc", body(map[string]any{"amount": "100000000000", "decision": "1/QĐ-BCT", "effective_date": "2025-01-10", "project": "DA-1"}))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	const n = 700
	for i := range n {
		m := map[string]any{"amount": fmt.Sprint(1000 + i), "voucher": fmt.Sprintf("KB-%d", i), "beneficiary": "HTX", "effective_date": "2025-03-03"}
		if i%3 == 0 {
			m["project"] = "DA-1"
		}
		r := ta.Post(t, apitest.PathDisbursements, fmt.Sprint("pay-", i), body(m))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	r = ta.Get(t, "/v1/audit?year=2025&province=01&source=national&limit=1000")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var full api.AuditResponse
	require.NoError(t, json.Unmarshal(r.Body, &full))
	require.Len(t, full.Entries, n+1)

	event := func(i int) (projections.TrailEntry, int64) {
		t.Helper()
		before := ta.ScannedMessages()
		r := ta.Get(t, fmt.Sprintf("/v1/events/%d", full.Entries[i].Seq))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var e projections.TrailEntry
		require.NoError(t, json.Unmarshal(r.Body, &e))
		return e, ta.ScannedMessages() - before
	}
	// The full trail above noted the marks: every late event now costs a
	// mark's interval at most, with the totals of the trail from the start.
	for _, i := range []int{n, n - 1, 600, 513, 257, 256, 255, 3} {
		e, read := event(i)
		assert.LessOrEqual(t, read, int64(256), "entry %d (seq %d) read %d messages", i, e.Seq, read)
		want := full.Entries[i]
		assert.Equal(t, want.Seq, e.Seq)
		assert.Equal(t, want.Line, e.Line, "the line's totals after entry %d", i)
		assert.Equal(t, want.Project, e.Project, "the project's totals after entry %d", i)
	}
	before := ta.ScannedMessages()
	r = ta.Get(t, fmt.Sprintf("/v1/audit?year=2025&province=01&source=national&after_seq=%d&limit=10", full.Entries[600].Seq))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var page api.AuditResponse
	require.NoError(t, json.Unmarshal(r.Body, &page))
	assert.LessOrEqual(t, ta.ScannedMessages()-before, int64(256+10))
	require.Len(t, page.Entries, 10)
	for j, e := range page.Entries {
		want := full.Entries[601+j]
		assert.Equal(t, want.Seq, e.Seq)
		assert.Equal(t, want.Line, e.Line)
		assert.Equal(t, want.Project, e.Project)
	}
	// A trail with a cut reads from the start: its sums are not the line's.
	before = ta.ScannedMessages()
	r = ta.Get(t, fmt.Sprintf("/v1/audit?year=2025&province=01&source=national&after_seq=%d&limit=10&effective_until=2025-12-31", full.Entries[600].Seq))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Greater(t, ta.ScannedMessages()-before, int64(600))
}
