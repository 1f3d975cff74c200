package ui_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// The overview and the reports in a real browser: the year picker, the
// charts, the report's options and a refusal beside its field, English,
// and the workbook downloaded. Every page is checked by axe-core.
func TestBrowserOverviewAndReports(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	hostileProjects(t, c)
	c.account(t, "kiemtoan", domain.RoleAuditor, nil, nil)

	tab := vietnameseTab(t, c)
	logInTab(t, tab, "kiemtoan")
	tab.Fill("#year", "2025")
	require.Equal(t, http.StatusOK, tab.Click("form.filters button[type=submit]"))
	assert.Equal(t, "Tổng quan năm ngân sách 2025", tab.Text("h1"))
	assert.True(t, tab.Exists(`svg[aria-labelledby="overview-provinces-title overview-provinces-desc"]`))
	assert.True(t, tab.Exists(`svg[aria-labelledby="overview-months-title overview-months-desc"]`))
	look(t, tab, "overview-2025")

	require.Equal(t, http.StatusOK, tab.Click(`nav a[href="/reports"]`))
	tab.Fill("#r-year", "2025")
	tab.Fill("#r-by", "project")
	tab.Fill("#r-unit", "ty")
	tab.Fill("#r-decimals", "1")
	require.Equal(t, http.StatusOK, tab.Click("form.report-form button[type=submit]"))
	assert.Contains(t, tab.Text("caption"), "đơn vị: tỷ đồng")
	assert.Contains(t, tab.Text("table.report"), "<script>alert(1)</script>", "a hostile name is text")
	look(t, tab, "reports-project")

	path := tab.Download(`a[href^="/reports.xlsx"]`)
	assert.Equal(t, "kcledger-2025-country-project.xlsx", filepath.Base(path))
	f, err := excelize.OpenFile(path)
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, "Theo đề án", f.GetSheetList()[0])

	tab.ExpectStatus("/reports", http.StatusBadRequest)
	tab.Fill("#r-year", "1990")
	require.Equal(t, http.StatusBadRequest, tab.Click("form.report-form button[type=submit]"))
	assert.Equal(t, "Năm ngân sách không hợp lệ.", tab.Text("#err-year"))
	assert.False(t, tab.Exists("table.report"))
	look(t, tab, "reports-refused")

	tab.Fill("#r-year", "2025")
	require.Equal(t, http.StatusOK, tab.Click("form.report-form button[type=submit]"))
	require.Equal(t, http.StatusOK, tab.Click(`a[hreflang="en"]`))
	assert.Contains(t, tab.Text("caption"), "Khuyến công plan and execution, 2025")
	look(t, tab, "reports-en")
}
