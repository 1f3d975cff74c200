package main

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
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// yearEndLines records, through the API, allocations to the 2025 lines of
// three merged provinces (02 and 06 national, 10 local), one with a
// project, and a disbursement from 02.
func yearEndLines(t *testing.T, ta *testAPI) {
	t.Helper()
	for i, b := range []map[string]any{
		{"fiscal_year": 2025, "province": "02", "source": "national", "amount": "2000000000", "project": "DA-01", "decision": "12/QĐ-BCT", "effective_date": "2025-03-01"},
		{"fiscal_year": 2025, "province": "02", "source": "national", "amount": "300000000", "decision": "12/QĐ-BCT", "effective_date": "2025-03-01"},
		{"fiscal_year": 2025, "province": "06", "source": "national", "amount": "700000000", "decision": "12/QĐ-BCT", "effective_date": "2025-03-01"},
		{"fiscal_year": 2025, "province": "10", "source": "local", "amount": "400000000", "decision": "9/QĐ-UBND", "effective_date": "2025-03-01"},
		{"fiscal_year": 2025, "province": "01", "source": "national", "amount": "900000000", "decision": "12/QĐ-BCT", "effective_date": "2025-03-01"},
	} {
		r := ta.Post(t, "/v1/allocations", "alloc-"+string(rune('a'+i)), apitest.MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	r := ta.Post(t, "/v1/disbursements", "disb-02", apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "02", "source": "national", "amount": "500000000",
		"project": "DA-01", "voucher": "KB-1", "beneficiary": "HTX Mây tre", "effective_date": "2025-05-10"}))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
}

func yearEndPost(t *testing.T, ta *testAPI, path string, body map[string]any) (apitest.Response, webapi.YearEndResponse) {
	t.Helper()
	r := ta.Do(t, http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, apitest.MustJSON(t, body))
	var res webapi.YearEndResponse
	if r.Status == http.StatusOK {
		require.NoError(t, json.Unmarshal(r.Body, &res), "%s", r.Body)
	}
	return r, res
}

// lineAvailable is the ledger's own view of a line's available money.
func lineAvailable(t *testing.T, ta *testAPI, k domain.LineKey) domain.Amount {
	t.Helper()
	st, err := ta.ledger.State(t.Context(), k)
	require.NoError(t, err)
	return st.Balance.Available()
}

func TestYearEndSuccessionDryRunThenRun(t *testing.T) {
	ta := newTestAPI(t)
	yearEndLines(t, ta)
	lines := []domain.LineKey{
		{FiscalYear: 2025, Province: "02", Source: domain.SourceNational}, {FiscalYear: 2025, Province: "08", Source: domain.SourceNational},
		{FiscalYear: 2025, Province: "06", Source: domain.SourceNational}, {FiscalYear: 2025, Province: "19", Source: domain.SourceNational},
		{FiscalYear: 2025, Province: "10", Source: domain.SourceLocal}, {FiscalYear: 2025, Province: "15", Source: domain.SourceLocal},
		{FiscalYear: 2025, Province: "01", Source: domain.SourceNational},
	}
	sum := func() domain.Amount {
		s := domain.ZeroAmount
		for _, k := range lines {
			s = s.Add(lineAvailable(t, ta, k))
		}
		return s
	}
	before := sum()
	seq := ta.streamLastSeq(t)

	body := map[string]any{"effective_date": "2025-07-01", "decision": "1234/QĐ-UBND", "dry_run": true}
	r, plan := yearEndPost(t, ta, "/v1/year-end/succession", body)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, seq, ta.streamLastSeq(t), "a dry run appends nothing")
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
	r, done := yearEndPost(t, ta, "/v1/year-end/succession", body)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, 4, done.Summary.Recorded, "%s", r.Body)
	assert.Equal(t, seq+8, ta.streamLastSeq(t), "two messages per transfer")
	for _, it := range done.Items {
		assert.Equal(t, "recorded", it.Status)
		assert.Equal(t, it.Seq+1, it.ToSeq)
	}
	apitest.RequireAmount(t, before.String(), sum(), "a succession moves money, it creates or destroys none")
	apitest.RequireAmount(t, "0", lineAvailable(t, ta, lines[0]))
	apitest.RequireAmount(t, "1800000000", lineAvailable(t, ta, lines[1]))
	st, err := ta.ledger.State(t.Context(), lines[1])
	require.NoError(t, err)
	apitest.RequireAmount(t, "1500000000", st.Project("DA-01").Available(), "the project keeps its code on both sides")

	// Run again: nothing left to move, nothing appended.
	seq = ta.streamLastSeq(t)
	r, again := yearEndPost(t, ta, "/v1/year-end/succession", body)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Empty(t, again.Items)
	assert.Equal(t, seq, ta.streamLastSeq(t))

	// The balances agree once they caught up.
	rb := ta.Get(t, "/v1/balances?year=2025&province=08")
	require.Equal(t, http.StatusOK, rb.Status, "%s", rb.Body)
	assert.Contains(t, string(rb.Body), `"transferred_in": "1800000000"`)
}

// Each refusal is clear, names its field, and appends nothing.
func TestYearEndRefusals(t *testing.T) {
	ta := newTestAPI(t)
	yearEndLines(t, ta)
	officer := ta.AddAccount(t, "can-bo-ha-giang", domain.RoleOfficer, []string{"02"}, []string{"national"})
	seq := ta.streamLastSeq(t)
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
				c = ta.as(tt.as)
			}
			r := c.Do(t, http.MethodPost, tt.path, h, apitest.MustJSON(t, tt.body))
			p := apitest.RequireProblem(t, r, tt.status, tt.code, tt.field)
			t.Log(p.Detail)
			assert.Equal(t, seq, ta.streamLastSeq(t), "a refusal appended")
		})
	}
	r := ta.Get(t, "/v1/year-end/succession")
	apitest.RequireProblem(t, r, http.StatusMethodNotAllowed, domain.CodeMethodNotAllowed, "")
}

// Closing the year lapses what is left, per project and then the rest,
// gives a spent line a zero lapse, and leaves every line closed but for
// refunds; a carry-over of one line goes first.
func TestYearEndCarryOverThenCloseYear(t *testing.T) {
	ta := newTestAPI(t)
	yearEndLines(t, ta)
	hanoi := domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}
	r, res := yearEndPost(t, ta, "/v1/year-end/carry-over", map[string]any{"fiscal_year": 2025, "province": "01", "source": "KCQG", "effective_date": "2026-01-20", "decision": "55/QĐ-UBND"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Len(t, res.Items, 1, "%s", r.Body)
	assert.Equal(t, "2026/01/national", res.Items[0].To.String())
	apitest.RequireAmount(t, "900000000", lineAvailable(t, ta, domain.LineKey{FiscalYear: 2026, Province: "01", Source: domain.SourceNational}))
	apitest.RequireAmount(t, "0", lineAvailable(t, ta, hanoi))

	seq := ta.streamLastSeq(t)
	r, plan := yearEndPost(t, ta, "/v1/year-end/close-year", map[string]any{"fiscal_year": 2025, "effective_date": "2026-02-01", "decision": "77/QĐ-BTC", "dry_run": true})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, seq, ta.streamLastSeq(t), "a dry run appends nothing")
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

	r, done := yearEndPost(t, ta, "/v1/year-end/close-year", map[string]any{"fiscal_year": 2025, "effective_date": "2026-02-01", "decision": "77/QĐ-BTC"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, 5, done.Summary.Recorded, "%s", r.Body)
	for _, k := range []domain.LineKey{hanoi, {FiscalYear: 2025, Province: "02", Source: domain.SourceNational}} {
		st, err := ta.ledger.State(t.Context(), k)
		require.NoError(t, err)
		assert.True(t, st.Closed, "%s", k)
	}
	// A closed line takes a refund, and nothing else.
	rr := ta.Post(t, "/v1/refunds", "refund-02", apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "02", "source": "national", "amount": "100000000",
		"project": "DA-01", "voucher": "NT-1", "reason": "thu hồi sau kiểm toán", "effective_date": "2026-05-20"}))
	require.Equal(t, http.StatusCreated, rr.Status, "%s", rr.Body)
	ra := ta.Post(t, "/v1/allocations", "alloc-late", apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "amount": "1", "decision": "1/QĐ", "effective_date": "2025-12-31"}))
	apitest.RequireProblem(t, ra, http.StatusUnprocessableEntity, domain.CodeLineLapsed, "province")

	seq = ta.streamLastSeq(t)
	r, again := yearEndPost(t, ta, "/v1/year-end/close-year", map[string]any{"fiscal_year": 2025, "effective_date": "2026-02-01", "decision": "77/QĐ-BTC"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Empty(t, again.Items, "closed lines are not closed again")
	assert.Equal(t, seq, ta.streamLastSeq(t))
}

// The NATS service serves the same operations, with the same answers.
func TestYearEndOverNATS(t *testing.T) {
	ta := newTestAPI(t)
	yearEndLines(t, ta)
	c := newNATSService(t, ta)
	seq := ta.streamLastSeq(t)
	a := c.request(t, "kcledger.api.v1.year-end-succession", nats.Header{}, apitest.MustJSON(t, map[string]any{"effective_date": "2025-07-01", "decision": "1234/QĐ-UBND", "dry_run": true, "province": "02"}))
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	var plan webapi.YearEndResponse
	require.NoError(t, json.Unmarshal(a.body, &plan))
	assert.Len(t, plan.Items, 2)
	assert.Equal(t, seq, ta.streamLastSeq(t))

	a = c.request(t, "kcledger.api.v1.year-end-close-year", nats.Header{}, apitest.MustJSON(t, map[string]any{"fiscal_year": 2026, "effective_date": "2026-05-30", "decision": "1/QĐ"}))
	assert.Equal(t, http.StatusUnprocessableEntity, a.status)
	assert.Equal(t, string(domain.CodeDateOutsideWindow), a.errCode)

	a = c.request(t, "kcledger.api.v1.year-end-carry-over", nats.Header{}, apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "effective_date": "2026-01-20", "decision": "55/QĐ"}))
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	var done webapi.YearEndResponse
	require.NoError(t, json.Unmarshal(a.body, &done))
	assert.Equal(t, 1, done.Summary.Recorded)
}

// An item the rules refuse is reported with its error, and the others are
// recorded: here a transfer of part of 06's money was recorded earlier
// under the key the succession derives, so the succession's own transfer
// of what is left is a different movement under a used key.
func TestYearEndReportsARefusedItem(t *testing.T) {
	ta := newTestAPI(t)
	yearEndLines(t, ta)
	from := domain.LineKey{FiscalYear: 2025, Province: "06", Source: domain.SourceNational}
	_, err := ta.ledger.Transfer(t.Context(), domain.Command{
		Kind: domain.Transfer, FiscalYear: 2025, Province: "06", Source: domain.SourceNational, Amount: mustAmount(t, "100000000"),
		Decision: "1234/QĐ-UBND", EffectiveDate: mustDate(t, "2025-07-01"), TransferKind: domain.TransferSuccession,
		To:             domain.LineKey{FiscalYear: 2025, Province: "19", Source: domain.SourceNational},
		IdempotencyKey: domain.YearEndKey(domain.OpSuccession, "1234/QĐ-UBND", from, ""),
		EventID:        uuid.Must(uuid.NewV7()).String(), InEventID: uuid.Must(uuid.NewV7()).String(), Actor: "admin", Now: testNow,
	})
	require.NoError(t, err)
	r, res := yearEndPost(t, ta, "/v1/year-end/succession", map[string]any{"effective_date": "2025-07-01", "decision": "1234/QĐ-UBND", "source": "national"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, 1, res.Summary.Refused)
	assert.Equal(t, 2, res.Summary.Recorded)
	apitest.RequireAmount(t, "1800000000", res.Summary.Amount, "what was recorded")
	var refused []webapi.YearEndItem
	for _, it := range res.Items {
		if it.Status == "refused" {
			refused = append(refused, it)
		}
	}
	require.Len(t, refused, 1)
	assert.Equal(t, from, refused[0].Line)
	require.NotNil(t, refused[0].Error)
	assert.Equal(t, domain.CodeIdempotencyKeyReused, refused[0].Error.Code)
	assert.Equal(t, http.StatusConflict, refused[0].Error.Status)
	assert.Equal(t, "urn:kcledger:error:idempotency_key_reused", refused[0].Error.Type)
	apitest.RequireAmount(t, "600000000", lineAvailable(t, ta, from), "nothing more left 06")

	// The CLI says so, and exits 1; the local line is recorded.
	cliAgainst(t, ta)
	code, stdout, stderr := runIn("succession", "--date", "2025-07-01", "--decision", "1234/QĐ-UBND")
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stdout, "refused transfer 2025 · 06 Bắc Kạn · KCQG")
	assert.Contains(t, stdout, "idempotency_key_reused")
	assert.Contains(t, stdout, "Done: 1 recorded, 0 already recorded, 1 refused, of 2 items")
	assert.Contains(t, stderr, "refused: 1 item")
	apitest.RequireAmount(t, "0", lineAvailable(t, ta, domain.LineKey{FiscalYear: 2025, Province: "10", Source: domain.SourceLocal}))
}
