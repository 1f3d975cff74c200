package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// reportLedger records a small 2025 of two northern provinces and one
// southern, and 2024 in Hà Nội, through the API.
func reportLedger(t *testing.T, ta *testAPI) {
	t.Helper()
	for _, b := range []map[string]any{
		{"path": apitest.PathAllocations, "fiscal_year": 2024, "province": "01", "source": "national", "amount": "4000000000", "decision": "1/QĐ-BCT", "effective_date": "2024-01-10"},
		{"path": apitest.PathDisbursements, "fiscal_year": 2024, "province": "01", "source": "national", "amount": "1000000000", "voucher": "KB-0", "beneficiary": "HTX", "effective_date": "2024-05-10"},
		{"path": apitest.PathAllocations, "fiscal_year": 2025, "province": "01", "source": "national", "project": "DA-1", "category": "training", "amount": "5000000000", "decision": "2/QĐ-BCT", "effective_date": "2025-01-10", "project_name": "Đào tạo nghề gốm", "counterpart": "1500000000"},
		{"path": apitest.PathDisbursements, "fiscal_year": 2025, "province": "01", "source": "national", "project": "DA-1", "amount": "1200000000", "voucher": "KB-1", "beneficiary": "HTX Gốm", "effective_date": "2025-03-10"},
		{"path": apitest.PathAllocations, "fiscal_year": 2025, "province": "01", "source": "local", "amount": "2000000000", "decision": "3/QĐ-UBND", "effective_date": "2025-02-01"},
		{"path": apitest.PathDisbursements, "fiscal_year": 2025, "province": "01", "source": "local", "amount": "500000000", "voucher": "KB-2", "beneficiary": "Công ty A", "effective_date": "2025-08-01"},
		{"path": apitest.PathAllocations, "fiscal_year": 2025, "province": "22", "source": "local", "amount": "1000000000", "decision": "4/QĐ-UBND", "effective_date": "2025-03-01"},
		{"path": apitest.PathAllocations, "fiscal_year": 2025, "province": "79", "source": "national", "amount": "9000000000", "decision": "5/QĐ-BCT", "effective_date": "2025-03-01"},
	} {
		path := b["path"].(string)
		delete(b, "path")
		r := ta.Post(t, path, uuid.NewString(), apitest.MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
}

func getReport(t *testing.T, ta *testAPI, q string) webapi.PlanReportView {
	t.Helper()
	r := ta.Get(t, webapi.PathPlanExecution+"?"+q)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var v webapi.PlanReportView
	require.NoError(t, json.Unmarshal(r.Body, &v))
	return v
}

// scanCounter counts the scans of the stream a route makes.
type scanCounter struct {
	webapi.HistoryReader
	scans atomic.Int64
}

func (s *scanCounter) ScanFilter(ctx context.Context, filter string, last uint64, fn func(eventstore.StoredEvent) (bool, error)) error {
	s.scans.Add(1)
	return s.HistoryReader.ScanFilter(ctx, filter, last, fn)
}

func TestPlanExecutionRoute(t *testing.T) {
	for _, live := range []bool{false, true} {
		t.Run(map[bool]string{false: "from the stream", true: "live model"}[live], func(t *testing.T) {
			testPlanExecutionRoute(t, live)
		})
	}
}

func testPlanExecutionRoute(t *testing.T, live bool) {
	ta := newTestAPIWith(t, live)
	counter := ta.history
	reportLedger(t, ta)
	defer func() {
		if live {
			// Only the reports that list sequences or cut as_of scan.
			assert.Equal(t, int64(1), counter.scans.Load())
		} else {
			assert.Positive(t, counter.scans.Load())
		}
	}()

	v := getReport(t, ta, "year=2025&region=north&unit=ty&decimals=1&percent_decimals=1&compare_previous_year=true&events=true")
	assert.Equal(t, "Kế hoạch và thực hiện kinh phí khuyến công năm 2025 — 15 tỉnh phía Bắc — KCQG và KCĐP — cả năm — danh mục tỉnh: 34 — đơn vị: tỷ đồng", v.Title)
	assert.Contains(t, v.Rules, "tỷ lệ: 1 chữ số thập phân, làm tròn")
	assert.Equal(t, domain.Scheme34, v.Scheme)
	require.Len(t, v.Provinces, 15)
	require.Len(t, v.Rows, 2)
	assert.Equal(t, "01", v.Rows[0].Key)
	assert.Equal(t, "7000000000", v.Rows[0].Plan.Dong)
	assert.Equal(t, "7,0", v.Rows[0].Plan.Text)
	assert.Equal(t, "1,7", v.Rows[0].Executed.Text)
	assert.Equal(t, "24,3%", v.Rows[0].PercentOfPlan.Text)
	assert.Equal(t, "1700000000", v.Rows[0].PercentOfPlan.Numerator)
	assert.Equal(t, "7000000000", v.Rows[0].PercentOfPlan.Denominator)
	assert.Equal(t, "own_plan", v.Rows[0].PercentOfPlan.Of)
	assert.Equal(t, "1500000000", v.Rows[0].Counterpart.Dong)
	assert.Equal(t, 1, v.Rows[0].Projects)
	assert.Len(t, v.Rows[0].Seqs, 4)
	assert.Equal(t, "8000000000", v.Total.Plan.Dong)
	assert.Equal(t, "4000000000", v.Total.Previous.Plan.Dong)
	assert.Equal(t, "100,0%", v.Total.Previous.PlanGrowth.Text)
	assert.Equal(t, "70,0%", v.Total.Previous.ExecutedGrowth.Text)
	assert.Equal(t, "22", v.Rows[1].Key)
	assert.Equal(t, "1000000000", v.Rows[1].Plan.Dong)
	assert.Equal(t, "0,0%", v.Rows[1].PercentOfPlan.Text)

	// The first half of the year, against the whole scope's plan.
	half := getReport(t, ta, "year=2025&region=north&effective_until=2025-06-30&share_of=total&by=source")
	assert.Equal(t, "1200000000", half.Total.Executed.Dong)
	assert.Equal(t, "total_plan", half.Rows[0].PercentOfPlan.Of)
	assert.Equal(t, "8000000000", half.Rows[0].PercentOfPlan.Denominator)
	assert.Equal(t, "15,00%", half.Rows[0].PercentOfPlan.Text)

	// An officer of Hà Nội's national funds sees its own line only.
	officer := ta.as(ta.AddAccount(t, "officer-hanoi", domain.RoleOfficer, []string{"01"}, []string{"national"}))
	ov := getReport(t, officer, "year=2025")
	assert.Equal(t, "5000000000", ov.Total.Plan.Dong)
	require.Len(t, ov.Rows, 1)
	apitest.RequireProblem(t, officer.Get(t, webapi.PathPlanExecution+"?year=2025&province=79"), http.StatusForbidden, domain.CodeForbidden, "province")
	apitest.RequireProblem(t, officer.Get(t, webapi.PathPlanExecution+"?year=2025&source=local"), http.StatusForbidden, domain.CodeForbidden, "source")
	// Its report says what it counts: its province and source, not the
	// country's (found by review: the title said the whole country).
	require.NotNil(t, ov.Scope.Province)
	assert.Equal(t, "01", ov.Scope.Province.Code)
	assert.NotContains(t, ov.Title, "cả nước")
	apitest.RequireProblem(t, officer.Get(t, webapi.PathPlanExecution+"?year=2025&region=north"), http.StatusForbidden, domain.CodeForbidden, "region")
	two := ta.as(ta.AddAccount(t, "officer-two", domain.RoleOfficer, []string{"01", "79"}, []string{"national", "local"}))
	apitest.RequireProblem(t, two.Get(t, webapi.PathPlanExecution+"?year=2025"), http.StatusForbidden, domain.CodeForbidden, "province")
	assert.Equal(t, "01", getReport(t, two, "year=2025&province=01").Rows[0].Key)
	auditor := ta.as(ta.AddAccount(t, "kiem-toan", domain.RoleAuditor, nil, nil))
	assert.Equal(t, "17000000000", getReport(t, auditor, "year=2025").Total.Plan.Dong)

	for _, tc := range []struct {
		query, field string
		code         domain.Code
	}{
		{"", "year", domain.CodeMissingField},
		{"year=1999", "year", domain.CodeInvalidYear},
		{"year=abc", "year", domain.CodeInvalidYear},
		{"year=2025&region=east", "region", domain.CodeInvalidField},
		{"year=2025&category=x", "category", domain.CodeUnknownField},
		{"year=2025&province=02", "province", domain.CodeUnknownProvince},
		{"year=2024&province=02&scheme=34", "province", domain.CodeUnknownProvince},
		{"year=2026&scheme=63", "scheme", domain.CodeInvalidField},
		{"year=2025&decimals=5", "decimals", domain.CodeInvalidField},
		{"year=2025&percent_decimals=-1", "percent_decimals", domain.CodeInvalidField},
		{"year=2025&unit=usd", "unit", domain.CodeInvalidField},
		{"year=2025&percent=banker", "percent", domain.CodeInvalidField},
		{"year=2025&share_of=region", "share_of", domain.CodeInvalidField},
		{"year=2025&by=district", "by", domain.CodeInvalidField},
		{"year=2025&source=foreign", "source", domain.CodeUnknownSource},
		{"year=2025&as_of=2030-01-01T00:00:00Z", "as_of", domain.CodeInvalidField},
		{"year=2025&effective_until=2026-03-01", "effective_until", domain.CodeInvalidField},
		{"year=2025&effective_until=31/12/2025", "effective_until", domain.CodeInvalidDate},
		{"year=2025&compare_previous_year=perhaps", "compare_previous_year", domain.CodeInvalidField},
		{"year=2025&year=2024", "year", domain.CodeInvalidField},
	} {
		t.Run(tc.query, func(t *testing.T) {
			apitest.RequireProblem(t, ta.Get(t, webapi.PathPlanExecution+"?"+tc.query), http.StatusBadRequest, tc.code, tc.field)
		})
	}
}

func TestReportCommand(t *testing.T) {
	ta := newTestAPI(t)
	reportLedger(t, ta)
	cliAgainst(t, ta)

	code, out, stderr := runIn("report", "--year", "2025", "--region", "north", "--unit", "ty", "--decimals", "1")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "Kế hoạch và thực hiện kinh phí khuyến công năm 2025 — 15 tỉnh phía Bắc")
	assert.Contains(t, out, "Tỷ lệ so với kế hoạch")
	assert.Contains(t, out, "Tổng cộng")
	assert.Contains(t, out, "24,29%")

	code, out, stderr = runIn("report", "--year", "2025", "--lang", "en", "--by", "category")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "% of plan")
	assert.Contains(t, out, "training")

	dir := t.TempDir()
	csvFile := filepath.Join(dir, "r.csv")
	code, _, stderr = runIn("report", "--year", "2025", "--region", "north", "--format", "csv", "--output", csvFile)
	require.Equal(t, exitOK, code, stderr)
	f, err := os.Open(csvFile)
	require.NoError(t, err)
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	require.NoError(t, err)
	assert.Contains(t, recs[0][0], "15 tỉnh phía Bắc")
	assert.Contains(t, recs[1][0], "tỷ lệ so với kế hoạch tính trên")
	assert.Equal(t, []string{"01", "Hà Nội", "7.000", "1.700", "5.300", "24,29%", "100,00%", "1", "1.500"}, recs[3])

	code, served, stderr := runIn("report", "--year", "2025", "--compare-previous-year", "--format", "json")
	require.Equal(t, exitOK, code, stderr)

	// Straight from the stream, with pinned keys: the same figures.
	code, keys, stderr := runIn("keys")
	require.Equal(t, exitOK, code, stderr)
	keysFile := filepath.Join(dir, "keys.json")
	require.NoError(t, os.WriteFile(keysFile, []byte(keys), 0o600))
	code, _, stderr = runIn("report", "--year", "2025", "--nats-url", ta.natsURL)
	require.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "--keys is required")
	code, streamed, stderr := runIn("report", "--year", "2025", "--compare-previous-year", "--format", "json", "--nats-url", ta.natsURL, "--keys", keysFile)
	require.Equal(t, exitOK, code, stderr)
	var a, b webapi.PlanReportView
	require.NoError(t, json.Unmarshal([]byte(served), &a))
	require.NoError(t, json.Unmarshal([]byte(streamed), &b))
	a.AsOfSeq, b.AsOfSeq = 0, 0 // the server's scan reads one year's subjects
	sa, err := json.Marshal(a)
	require.NoError(t, err)
	sb, err := json.Marshal(b)
	require.NoError(t, err)
	assert.JSONEq(t, string(sa), string(sb))

	for _, tc := range []struct{ args, flag string }{
		{"--year 2025 --decimals 7", "--decimals"},
		{"--year 2025 --percent-decimals 5", "--percent-decimals"},
		{"--year 2025 --unit usd", "--unit"},
		{"--year 2026 --scheme 63", "--scheme"},
		{"--year 2025 --region east", "--region"},
		{"--year 2025 --share-of region", "--share-of"},
		{"--year 2025 --percent banker", "--percent"},
		{"--year 2025 --as-of 2099-01-01T00:00:00Z", "--as-of"},
		{"--year 2025 --effective-until 2027-01-01", "--effective-until"},
		{"--year 1999", "--year"},
		{"", "--year"},
		{"--year 2025 --format pdf", "--format"},
		{"--year 2025 --lang fr", "--lang"},
	} {
		code, _, stderr := runIn(append([]string{"report"}, strings.Fields(tc.args)...)...)
		assert.Equal(t, exitUsage, code, "%s: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.flag, tc.args)
	}
}

// Under the 34-province scheme an old province's lines roll up into its
// successor, and an officer of the successor reads them there (found by
// review: the roll-up left them out of the officer's report).
func TestOfficersReportRollsUpOldProvinces(t *testing.T) {
	ta := newTestAPI(t)
	for i, province := range []string{"02", "08"} { // Hà Giang merged into Tuyên Quang
		b := apitest.ValidBody(apitest.PathAllocations)
		b["fiscal_year"], b["province"], b["effective_date"] = 2024, province, "2024-03-01"
		r := ta.Post(t, apitest.PathAllocations, fmt.Sprint("old-", i), apitest.MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	officer := ta.as(ta.AddAccount(t, "officer-tuyen-quang", domain.RoleOfficer, []string{"08"}, []string{"national"}))
	v := getReport(t, officer, "year=2024&scheme=34")
	assert.Equal(t, "2000000000", v.Total.Plan.Dong, "Hà Giang's 2024 line rolls up into 08")
	v = getReport(t, officer, "year=2024&scheme=63")
	assert.Equal(t, "1000000000", v.Total.Plan.Dong, "under the old scheme, 08 is 08 alone")
}
