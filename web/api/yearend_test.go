package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

func TestYearEndSuccessionDryRunThenRun(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	apitest.YearEndLines(t, ta.Client)
	lines := []domain.LineKey{
		{FiscalYear: 2025, Province: "02", Source: domain.SourceNational}, {FiscalYear: 2025, Province: "08", Source: domain.SourceNational},
		{FiscalYear: 2025, Province: "06", Source: domain.SourceNational}, {FiscalYear: 2025, Province: "19", Source: domain.SourceNational},
		{FiscalYear: 2025, Province: "10", Source: domain.SourceLocal}, {FiscalYear: 2025, Province: "15", Source: domain.SourceLocal},
		{FiscalYear: 2025, Province: "01", Source: domain.SourceNational},
	}
	sum := func() domain.Amount {
		s := domain.ZeroAmount
		for _, k := range lines {
			s = s.Add(apitest.LineAvailable(t, ta.Ledger, k))
		}
		return s
	}
	before := sum()
	seq := ta.StreamLastSeq(t)

	body := map[string]any{"effective_date": "2025-07-01", "decision": "1234/QĐ-UBND", "dry_run": true}
	r, plan := apitest.YearEndPost(t, ta.Client, "/v1/year-end/succession", body)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, seq, ta.StreamLastSeq(t), "a dry run appends nothing")
	require.Len(t, plan.Items, 4, "%s", r.Body)
	want := []struct{ line, project, amount, to string }{
		{"2025/02/national", "DA-01", "1500000000", "2025/08/national"},
		{"2025/02/national", "", "300000000", "2025/08/national"},
		{"2025/06/national", "", "700000000", "2025/19/national"},
		{"2025/10/local", "", "400000000", "2025/15/local"},
	}
	for i, w := range want {
		it := plan.Items[i]
		assert.Equal(t, w.line, it.Line.String())
		assert.Equal(t, w.project, it.Project)
		apitest.RequireAmount(t, w.amount, it.Amount)
		require.NotNil(t, it.To)
		assert.Equal(t, w.to, it.To.String())
		assert.Equal(t, "planned", it.Status)
		assert.Equal(t, domain.YearEndKey(domain.OpSuccession, "1234/QĐ-UBND", it.Line, it.Project), it.IdempotencyKey)
	}
	apitest.RequireAmount(t, "2900000000", plan.Summary.Amount)
	apitest.RequireAmount(t, before.String(), sum(), "a dry run moves nothing")

	body["dry_run"] = false
	r, done := apitest.YearEndPost(t, ta.Client, "/v1/year-end/succession", body)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, 4, done.Summary.Recorded, "%s", r.Body)
	assert.Equal(t, seq+8, ta.StreamLastSeq(t), "two messages per transfer")
	for _, it := range done.Items {
		assert.Equal(t, "recorded", it.Status)
		assert.Equal(t, it.Seq+1, it.ToSeq)
	}
	apitest.RequireAmount(t, before.String(), sum(), "a succession moves money, it creates or destroys none")
	apitest.RequireAmount(t, "0", apitest.LineAvailable(t, ta.Ledger, lines[0]))
	apitest.RequireAmount(t, "1800000000", apitest.LineAvailable(t, ta.Ledger, lines[1]))
	st, err := ta.Ledger.State(t.Context(), lines[1])
	require.NoError(t, err)
	apitest.RequireAmount(t, "1500000000", st.Project("DA-01").Available(), "the project keeps its code on both sides")

	// Run again: nothing left to move, nothing appended.
	seq = ta.StreamLastSeq(t)
	r, again := apitest.YearEndPost(t, ta.Client, "/v1/year-end/succession", body)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Empty(t, again.Items)
	assert.Equal(t, seq, ta.StreamLastSeq(t))

	// The balances agree once they caught up.
	rb := ta.Get(t, "/v1/balances?year=2025&province=08")
	require.Equal(t, http.StatusOK, rb.Status, "%s", rb.Body)
	var rep projections.Report
	require.NoError(t, json.Unmarshal(rb.Body, &rep), "%s", rb.Body)
	require.Len(t, rep.Lines, 1, "%s", rb.Body)
	apitest.RequireAmount(t, "1800000000", rep.Lines[0].Totals.Balance.TransferredIn)
}

// Each refusal is clear, names its field, and appends nothing.
func TestYearEndRefusals(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	apitest.YearEndLines(t, ta.Client)
	officer := ta.AddAccount(t, "can-bo-ha-giang", domain.RoleOfficer, []string{"02"}, []string{"national"})
	seq := ta.StreamLastSeq(t)
	tests := []struct {
		name   string
		path   string
		body   map[string]any
		header http.Header
		as     string
		status int
		code   domain.Code
		field  string
	}{
		{"close-year before the settlement period ends", "/v1/year-end/close-year", map[string]any{"fiscal_year": 2026, "effective_date": "2026-05-30", "decision": "1/QĐ"},
			nil, "", http.StatusUnprocessableEntity, domain.CodeDateOutsideWindow, "effective_date"},
		{"close-year on its last day", "/v1/year-end/close-year", map[string]any{"fiscal_year": 2025, "effective_date": "2026-01-31", "decision": "1/QĐ"},
			nil, "", http.StatusUnprocessableEntity, domain.CodeDateOutsideWindow, "effective_date"},
		{"close-year dated in the future", "/v1/year-end/close-year", map[string]any{"fiscal_year": 2025, "effective_date": "2026-06-02", "decision": "1/QĐ"},
			nil, "", http.StatusUnprocessableEntity, domain.CodeDateOutsideWindow, "effective_date"},
		{"close-year without a year", "/v1/year-end/close-year", map[string]any{"effective_date": "2026-05-30", "decision": "1/QĐ"},
			nil, "", http.StatusBadRequest, domain.CodeMissingField, "fiscal_year"},
		{"succession before the merger", "/v1/year-end/succession", map[string]any{"effective_date": "2025-06-30", "decision": "1/QĐ"},
			nil, "", http.StatusUnprocessableEntity, domain.CodeDateOutsideWindow, "effective_date"},
		{"succession of an unknown province", "/v1/year-end/succession", map[string]any{"effective_date": "2025-07-01", "decision": "1/QĐ", "province": "99"},
			nil, "", http.StatusBadRequest, domain.CodeUnknownProvince, "province"},
		{"succession of a province not merged", "/v1/year-end/succession", map[string]any{"effective_date": "2025-07-01", "decision": "1/QĐ", "province": "01"},
			nil, "", http.StatusUnprocessableEntity, domain.CodeInvalidTransfer, "province"},
		{"succession without a decision", "/v1/year-end/succession", map[string]any{"effective_date": "2025-07-01"},
			nil, "", http.StatusBadRequest, domain.CodeMissingField, "decision"},
		{"succession without a date", "/v1/year-end/succession", map[string]any{"decision": "1/QĐ"},
			nil, "", http.StatusBadRequest, domain.CodeMissingField, "effective_date"},
		{"succession with a bad date", "/v1/year-end/succession", map[string]any{"decision": "1/QĐ", "effective_date": "1/7/2025"},
			nil, "", http.StatusBadRequest, domain.CodeInvalidDate, "effective_date"},
		{"an unknown field", "/v1/year-end/succession", map[string]any{"decision": "1/QĐ", "effective_date": "2025-07-01", "amount": "1"},
			nil, "", http.StatusBadRequest, domain.CodeUnknownField, "amount"},
		{"a decision too long", "/v1/year-end/carry-over", map[string]any{"fiscal_year": 2025, "all": true, "effective_date": "2026-01-20", "decision": strings.Repeat("x", 101)},
			nil, "", http.StatusBadRequest, domain.CodeInvalidField, "decision"},
		{"carry-over without a line", "/v1/year-end/carry-over", map[string]any{"fiscal_year": 2025, "effective_date": "2026-01-20", "decision": "1/QĐ"},
			nil, "", http.StatusBadRequest, domain.CodeMissingField, "province"},
		{"carry-over outside the settlement period", "/v1/year-end/carry-over", map[string]any{"fiscal_year": 2025, "all": true, "effective_date": "2026-02-01", "decision": "1/QĐ"},
			nil, "", http.StatusUnprocessableEntity, domain.CodeDateOutsideWindow, "effective_date"},
		{"carry-over of an unknown source", "/v1/year-end/carry-over", map[string]any{"fiscal_year": 2025, "province": "01", "source": "kcx", "effective_date": "2026-01-20", "decision": "1/QĐ"},
			nil, "", http.StatusBadRequest, domain.CodeUnknownSource, "source"},
		{"an officer", "/v1/year-end/succession", map[string]any{"effective_date": "2025-07-01", "decision": "1/QĐ", "province": "02"},
			nil, officer, http.StatusForbidden, domain.CodeForbidden, ""},
		{"an Idempotency-Key", "/v1/year-end/succession", map[string]any{"effective_date": "2025-07-01", "decision": "1/QĐ"},
			http.Header{"Idempotency-Key": {uuid.NewString()}}, "", http.StatusBadRequest, domain.CodeInvalidIdempotencyKey, "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			for k, v := range tt.header {
				h[k] = v
			}
			c := ta
			if tt.as != "" {
				c = ta.As(tt.as)
			}
			r := c.Do(t, http.MethodPost, tt.path, h, apitest.MustJSON(t, tt.body))
			p := apitest.RequireProblem(t, r, tt.status, tt.code, tt.field)
			t.Log(p.Detail)
			assert.Equal(t, seq, ta.StreamLastSeq(t), "a refusal appended")
		})
	}
	r := ta.Get(t, "/v1/year-end/succession")
	apitest.RequireProblem(t, r, http.StatusMethodNotAllowed, domain.CodeMethodNotAllowed, "")
}

// Closing the year lapses what is left, per project and then the rest,
// gives a spent line a zero lapse, and leaves every line closed but for
// refunds; a carry-over of one line goes first.
func TestYearEndCarryOverThenCloseYear(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	apitest.YearEndLines(t, ta.Client)
	hanoi := domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}
	r, res := apitest.YearEndPost(t, ta.Client, "/v1/year-end/carry-over", map[string]any{"fiscal_year": 2025, "province": "01", "source": "KCQG", "effective_date": "2026-01-20", "decision": "55/QĐ-UBND"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Len(t, res.Items, 1, "%s", r.Body)
	assert.Equal(t, "2026/01/national", res.Items[0].To.String())
	apitest.RequireAmount(t, "900000000", apitest.LineAvailable(t, ta.Ledger, domain.LineKey{FiscalYear: 2026, Province: "01", Source: domain.SourceNational}))
	apitest.RequireAmount(t, "0", apitest.LineAvailable(t, ta.Ledger, hanoi))

	seq := ta.StreamLastSeq(t)
	r, plan := apitest.YearEndPost(t, ta.Client, "/v1/year-end/close-year", map[string]any{"fiscal_year": 2025, "effective_date": "2026-02-01", "decision": "77/QĐ-BTC", "dry_run": true})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, seq, ta.StreamLastSeq(t), "a dry run appends nothing")
	var got []string
	for _, it := range plan.Items {
		assert.Nil(t, it.To)
		got = append(got, it.Line.String()+" "+it.Project+" "+it.Amount.String())
	}
	assert.Equal(t, []string{
		"2025/01/national  0",
		"2025/02/national DA-01 1500000000",
		"2025/02/national  300000000",
		"2025/06/national  700000000",
		"2025/10/local  400000000",
	}, got)

	r, done := apitest.YearEndPost(t, ta.Client, "/v1/year-end/close-year", map[string]any{"fiscal_year": 2025, "effective_date": "2026-02-01", "decision": "77/QĐ-BTC"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, 5, done.Summary.Recorded, "%s", r.Body)
	for _, k := range []domain.LineKey{hanoi, {FiscalYear: 2025, Province: "02", Source: domain.SourceNational}} {
		st, err := ta.Ledger.State(t.Context(), k)
		require.NoError(t, err)
		assert.True(t, st.Closed, "%s", k)
	}
	// A closed line takes a refund, and nothing else.
	rr := ta.Post(t, "/v1/refunds", "refund-02", apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "02", "source": "national", "amount": "100000000",
		"project": "DA-01", "voucher": "NT-1", "reason": "thu hồi sau kiểm toán", "effective_date": "2026-05-20"}))
	require.Equal(t, http.StatusCreated, rr.Status, "%s", rr.Body)
	ra := ta.Post(t, "/v1/allocations", "alloc-late", apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "amount": "1", "decision": "1/QĐ", "effective_date": "2025-12-31"}))
	apitest.RequireProblem(t, ra, http.StatusUnprocessableEntity, domain.CodeLineLapsed, "province")

	seq = ta.StreamLastSeq(t)
	r, again := apitest.YearEndPost(t, ta.Client, "/v1/year-end/close-year", map[string]any{"fiscal_year": 2025, "effective_date": "2026-02-01", "decision": "77/QĐ-BTC"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Empty(t, again.Items, "closed lines are not closed again")
	assert.Equal(t, seq, ta.StreamLastSeq(t))
}

// The NATS service serves the same operations, with the same answers.
func TestYearEndOverNATS(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	apitest.YearEndLines(t, ta.Client)
	c := ta.StartNATS(t)
	seq := ta.StreamLastSeq(t)
	a := c.Request(t, "kcledger.api.v1.year-end-succession", nats.Header{}, apitest.MustJSON(t, map[string]any{"effective_date": "2025-07-01", "decision": "1234/QĐ-UBND", "dry_run": true, "province": "02"}))
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	var plan api.YearEndResponse
	require.NoError(t, json.Unmarshal(a.Body, &plan))
	assert.Len(t, plan.Items, 2)
	assert.Equal(t, seq, ta.StreamLastSeq(t))

	a = c.Request(t, "kcledger.api.v1.year-end-close-year", nats.Header{}, apitest.MustJSON(t, map[string]any{"fiscal_year": 2026, "effective_date": "2026-05-30", "decision": "1/QĐ"}))
	assert.Equal(t, http.StatusUnprocessableEntity, a.Status)
	assert.Equal(t, string(domain.CodeDateOutsideWindow), a.ErrCode)

	a = c.Request(t, "kcledger.api.v1.year-end-carry-over", nats.Header{}, apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "effective_date": "2026-01-20", "decision": "55/QĐ"}))
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	var done api.YearEndResponse
	require.NoError(t, json.Unmarshal(a.Body, &done))
	assert.Equal(t, 1, done.Summary.Recorded)
}
