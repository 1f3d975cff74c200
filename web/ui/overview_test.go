package ui_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// row is a table row of a page, its cells' text joined by " | ".
func rows(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`).FindAllStringSubmatch(body, -1) {
		var cells []string
		for _, c := range regexp.MustCompile(`(?s)<t[hd][^>]*>(.*?)</t[hd]>`).FindAllStringSubmatch(m[1], -1) {
			cells = append(cells, strings.TrimSpace(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(c[1], "")))
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return out
}

// The overview of 2025 (a past year by the API's clock: every month
// counts) for an auditor: the whole country by province, region and
// source, month by month.
func TestOverviewFigures(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)

	p := b.get("/?year=2025")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	r := rows(p.Body)
	assert.Contains(t, p.Body, "Tổng quan năm ngân sách 2025")
	assert.Contains(t, r, "Hà Nội | 7.000.000.000 ₫ | 1.700.000.000 ₫ | 5.300.000.000 ₫ | 24,29%")
	assert.Contains(t, r, "Quảng Ninh | 1.000.000.000 ₫ | 0 ₫ | 1.000.000.000 ₫ | 0,00%")
	assert.Contains(t, r, "Tổng cộng | 17.000.000.000 ₫ | 1.700.000.000 ₫ | 15.300.000.000 ₫ | 10,00%")
	assert.Contains(t, r, "Miền Bắc | 8.000.000.000 ₫ | 1.700.000.000 ₫ | 6.300.000.000 ₫ | 21,25%")
	assert.Contains(t, r, "Miền Nam | 9.000.000.000 ₫ | 0 ₫ | 9.000.000.000 ₫ | 0,00%")
	assert.Contains(t, r, "KCQG | 14.000.000.000 ₫ | 1.200.000.000 ₫ | 12.800.000.000 ₫ | 8,57%")
	assert.Contains(t, r, "KCĐP | 3.000.000.000 ₫ | 500.000.000 ₫ | 2.500.000.000 ₫ | 16,67%")
	assert.Contains(t, r, "T2 | 0 ₫ | 0 ₫")
	assert.Contains(t, r, "T3 | 1.200.000.000 ₫ | 1.200.000.000 ₫")
	assert.Contains(t, r, "T8 | 500.000.000 ₫ | 1.700.000.000 ₫")
	assert.Contains(t, r, "T12 | 0 ₫ | 1.700.000.000 ₫")
	// The charts, each with the table above as its exact figures.
	assert.Contains(t, p.Body, `<title id="overview-provinces-title">Kế hoạch và thực hiện theo tỉnh</title>`)
	assert.Contains(t, p.Body, `<title id="overview-months-title">Thực hiện theo tháng</title>`)
	assert.Contains(t, p.Body, "Hà Nội: 1,7 tỷ / 7 tỷ")

	// This year: June is under way, July has not come.
	p = b.get("/")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	r = rows(p.Body)
	assert.Contains(t, p.Body, "Tổng quan năm ngân sách 2026")
	assert.Contains(t, r, "T6 | 0 ₫ | 0 ₫")
	assert.Contains(t, r, "T7 |  | ")

	// In English.
	b.get("/lang?to=en&back=%2F")
	p = b.get("/?year=2025")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	r = rows(p.Body)
	assert.Contains(t, p.Body, "Fiscal year 2025 at a glance")
	assert.Contains(t, p.Body, "Khuyến công plan and execution, 2025 — whole country (34 provinces)")
	assert.Contains(t, r, "Hà Nội | 7,000,000,000 đồng | 1,700,000,000 đồng | 5,300,000,000 đồng | 24.29%")
	assert.Contains(t, r, "Mar | 1,200,000,000 đồng | 1,200,000,000 đồng")
}

// An officer sees its own province only, by source.
func TestOverviewOfficerScope(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national", "local"})

	p := b.get("/?year=2025")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	r := rows(p.Body)
	assert.Contains(t, r, "Hà Nội | 7.000.000.000 ₫ | 1.700.000.000 ₫ | 5.300.000.000 ₫ | 24,29%")
	assert.Contains(t, r, "KCQG | 5.000.000.000 ₫ | 1.200.000.000 ₫ | 3.800.000.000 ₫ | 24,00%")
	assert.Contains(t, r, "Tổng cộng | 7.000.000.000 ₫ | 1.700.000.000 ₫ | 5.300.000.000 ₫ | 24,29%")
	assert.Contains(t, r, "T8 | 500.000.000 ₫ | 1.700.000.000 ₫")
	for _, other := range []string{"Quảng Ninh", "Hồ Chí Minh", "9.000.000.000", "17.000.000.000", "Miền Bắc"} {
		assert.NotContains(t, p.Body, other)
	}
}

// A year the API refuses is shown beside the year, with the form.
func TestOverviewRefusedYear(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	for _, y := range []string{"1990", "abc"} {
		p := b.get("/?year=" + y)
		assert.Equal(t, http.StatusBadRequest, p.Status, y)
		assert.Contains(t, p.Body, `id="err-year"`, y)
		assert.Contains(t, p.Body, `aria-invalid="true"`, y)
		assert.Contains(t, p.Body, "Năm ngân sách không hợp lệ.", y)
		assert.Contains(t, p.Body, `value="`+y+`"`, y)
	}
}

// An officer of two provinces sees both, each and summed, by source.
func TestOverviewOfficerOfTwoProvinces(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	b := c.loggedIn(t, "ketoan-2", domain.RoleOfficer, []string{"01", "22"}, []string{"national", "local"})

	p := b.get("/?year=2025")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	r := rows(p.Body)
	assert.Contains(t, r, "Hà Nội | 7.000.000.000 ₫ | 1.700.000.000 ₫ | 5.300.000.000 ₫ | 24,29%")
	assert.Contains(t, r, "Quảng Ninh | 1.000.000.000 ₫ | 0 ₫ | 1.000.000.000 ₫ | 0,00%")
	assert.Contains(t, r, "Quảng Ninh · KCĐP | 1.000.000.000 ₫ | 0 ₫ | 1.000.000.000 ₫ | 0,00%")
	assert.Contains(t, r, "Tổng cộng | 8.000.000.000 ₫ | 1.700.000.000 ₫ | 6.300.000.000 ₫ | 21,25%")
	assert.NotContains(t, p.Body, "Hồ Chí Minh")
	assert.NotContains(t, p.Body, "9.000.000.000")
}

// What was paid in the settlement period, after 31 December, is in no
// month: the months' table says so on a row of its own, and ends at the
// year's executed.
func TestOverviewSettlementPeriod(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	r := c.Post(t, apitest.PathDisbursements, uuid.NewString(), apitest.MustJSON(t, map[string]any{
		"fiscal_year": 2025, "province": "22", "source": "local", "amount": "250000000",
		"voucher": "KB-CL", "beneficiary": "Công ty B", "effective_date": "2026-01-20",
	}))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)

	p := b.get("/?year=2025")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	rs := rows(p.Body)
	assert.Contains(t, rs, "T12 | 0 ₫ | 1.700.000.000 ₫")
	assert.Contains(t, rs, "Sau 31/12 (thời gian chỉnh lý quyết toán) | 250.000.000 ₫ | 1.950.000.000 ₫")
}
