package ui_test

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// hostileProjects records two projects of 79 whose names are a formula
// and a script.
func hostileProjects(t *testing.T, c *console) {
	t.Helper()
	for i, name := range []string{`=HYPERLINK("http://evil","x")`, "<script>alert(1)</script>"} {
		r := c.Post(t, apitest.PathAllocations, uuid.NewString(), apitest.MustJSON(t, map[string]any{
			"fiscal_year": 2025, "province": "79", "source": "national", "amount": "100000000",
			"decision": "9/QĐ-BCT", "effective_date": "2025-04-01", "project": []string{"DA-X", "DA-Y"}[i], "project_name": name,
		}))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
}

func TestReportsPage(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)

	p := b.get("/reports?year=2025")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "<caption>Kế hoạch và thực hiện kinh phí khuyến công năm 2025 — cả nước (34 tỉnh, thành phố) — KCQG và KCĐP — cả năm — danh mục tỉnh: 34 — đơn vị: triệu đồng</caption>")
	assert.Contains(t, p.Body, "Số tiền: triệu đồng, 0 chữ số thập phân, làm tròn")
	r := rows(p.Body)
	assert.Contains(t, r, "Mã | Tỉnh, thành phố | Kế hoạch | Thực hiện | Còn lại | Tỷ lệ so với kế hoạch | Tỷ trọng | Số đề án | Vốn đối ứng")
	assert.Contains(t, r, "01 | Hà Nội | 7.000 | 1.700 | 5.300 | 24,29% | 100,00% | 1 | 1.500")
	assert.Contains(t, r, " | Tổng cộng | 17.000 | 1.700 | 15.300 | 10,00% | 100,00% | 1 | 1.500")
	assert.Contains(t, p.Body, `href="/reports.xlsx?`)

	// The presentation options, as the API reads them.
	p = b.get("/reports?year=2025&region=north&by=source&unit=ty&decimals=1&percent=truncate&percent_decimals=1&events=true")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "15 tỉnh phía Bắc")
	r = rows(p.Body)
	assert.Contains(t, r, "Mã | Nguồn | Kế hoạch | Thực hiện | Còn lại | Tỷ lệ so với kế hoạch | Tỷ trọng | Số đề án | Vốn đối ứng | Sự kiện")
	assert.Regexp(t, `^national \| KCQG \| 5,0 \| 1,2 \| 3,8 \| 24,0% \| 70,5% \| 1 \| 1,5 \| \d+ \d+$`, r[1])
	assert.Regexp(t, `<a href="/events/\d+">\d+</a>`, p.Body)
	assert.Contains(t, p.Body, `<option value="north" selected>`)
	assert.Contains(t, p.Body, `name="events" type="checkbox" value="true" checked`)

	// Against the previous year.
	p = b.get("/reports?year=2025&compare_previous_year=true&province=01")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, rows(p.Body), "01 | Hà Nội | 7.000 | 1.700 | 5.300 | 24,29% | 100,00% | 1 | 1.500 | 4.000 | 1.000 | 75,00% | 70,00%")

	// Cut at a moment: before anything was recorded (the ledger's clock
	// runs ahead of the API's), typed in Vietnam's time.
	p = b.get("/reports?year=2025&as_of=2026-05-01T08:00")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "Theo sổ cái tại 01/05/2026 08:00")
	assert.NotContains(t, p.Body, "Hà Nội |")

	// In English: the report's own English title, English marks.
	b.get("/lang?to=en&back=%2Freports")
	p = b.get("/reports?year=2025")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "<caption>Khuyến công plan and execution, 2025 — whole country (34 provinces) — KCQG and KCĐP — whole year — province scheme: 34 — unit: million đồng (triệu)</caption>")
	r = rows(p.Body)
	assert.Contains(t, r, "01 | Hà Nội | 7,000 | 1,700 | 5,300 | 24.29% | 100.00% | 1 | 1,500")
	assert.Contains(t, r, " | Total | 17,000 | 1,700 | 15,300 | 10.00% | 100.00% | 1 | 1,500")
}

// Refusals of the query are shown beside their field, with the form and
// nothing else.
func TestReportsRefusals(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	for _, tc := range []struct {
		query, field string
		status       int
		text         string
	}{
		{"year=1990", "year", http.StatusBadRequest, "Năm ngân sách không hợp lệ."},
		{"year=2025&province=99", "province", http.StatusBadRequest, ""},
		{"year=2025&effective_until=2030-01-01", "effective_until", http.StatusBadRequest, ""},
		{"year=2025&as_of=yesterday", "as_of", http.StatusBadRequest, ""},
		{"year=2025&as_of=2030-01-01T00:00", "as_of", http.StatusBadRequest, ""},
		{"year=2025&unit=cent", "unit", http.StatusBadRequest, ""},
	} {
		p := b.get("/reports?" + tc.query)
		assert.Equal(t, tc.status, p.Status, tc.query)
		assert.Contains(t, p.Body, `id="err-`+tc.field+`"`, tc.query)
		assert.Contains(t, p.Body, `aria-describedby="err-`+tc.field+`"`, tc.query)
		assert.Contains(t, p.Body, `<form method="get" action="/reports"`, tc.query)
		assert.NotContains(t, p.Body, "<caption>", tc.query)
		if tc.text != "" {
			assert.Contains(t, p.Body, tc.text, tc.query)
		}
		d := b.get("/reports.xlsx?" + tc.query)
		assert.Equal(t, tc.status, d.Status, tc.query)
		assert.Contains(t, d.Body, `id="err-`+tc.field+`"`, tc.query)
	}
}

// An officer of 01 reads 01 only: another province typed into the
// address is the API's refusal, with none of its figures.
func TestReportsOfficerScope(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national", "local"})

	p := b.get("/reports?year=2025&by=source")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "năm 2025 — Hà Nội — KCQG và KCĐP")
	assert.Contains(t, rows(p.Body), " | Tổng cộng | 7.000 | 1.700 | 5.300 | 24,29% | 100,00% | 1 | 1.500")
	assert.NotContains(t, p.Body, "Hồ Chí Minh")

	for _, path := range []string{"/reports?year=2025&province=79", "/reports.xlsx?year=2025&province=79", "/reports?year=2025&region=south"} {
		p = b.get(path)
		assert.Equal(t, http.StatusForbidden, p.Status, path)
		assert.Contains(t, p.Body, "Tài khoản của bạn không có quyền làm việc này.", path)
		assert.NotContains(t, p.Body, "9.000", path)
		assert.NotContains(t, p.Body, "<caption>", path)
		assert.Empty(t, p.Header.Get("Content-Disposition"), path)
	}
}

// The download is the CLI's workbook, read as the visitor: one sheet per
// breakdown, the asked one first; hostile names are text.
func TestReportsWorkbook(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	hostileProjects(t, c)
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)

	p := b.get("/reports?year=2025&by=project")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.NotContains(t, p.Body, "<script>alert")
	link := regexp.MustCompile(`href="(/reports\.xlsx\?[^"]*)"`).FindStringSubmatch(p.Body)
	require.NotNil(t, link)
	href := regexp.MustCompile(`&amp;`).ReplaceAllString(link[1], "&")
	q, err := url.ParseQuery(href[len("/reports.xlsx?"):])
	require.NoError(t, err)
	assert.Equal(t, "project", q.Get("by"))
	assert.Equal(t, "vi", q.Get("lang"), "the page's language")

	d := b.get(href)
	require.Equal(t, http.StatusOK, d.Status, d.Body)
	assert.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", d.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="kcledger-2025-country-project.xlsx"`, d.Header.Get("Content-Disposition"))
	f, err := excelize.OpenReader(bytes.NewReader([]byte(d.Body)))
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, []string{"Theo đề án", "Theo tỉnh", "Theo nguồn", "Theo nội dung"}, f.GetSheetList())
	cell := func(sheet, ref string) string {
		v, err := f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, "Kế hoạch và thực hiện kinh phí khuyến công năm 2025 — cả nước (34 tỉnh, thành phố) — KCQG và KCĐP — cả năm — danh mục tỉnh: 34 — đơn vị: triệu đồng", cell("Theo tỉnh", "A1"))
	assert.Equal(t, "Kế hoạch", cell("Theo tỉnh", "C4"))
	assert.Equal(t, "Hà Nội", cell("Theo tỉnh", "B5"))
	assert.Equal(t, "7000", cell("Theo tỉnh", "C5"))

	const s = "Theo đề án"
	found := map[string]bool{}
	for row := 5; row < 20; row++ {
		ref, _ := excelize.CoordinatesToCellName(2, row)
		v := cell(s, ref)
		if v != `=HYPERLINK("http://evil","x")` && v != "<script>alert(1)</script>" {
			continue
		}
		found[v] = true
		typ, err := f.GetCellType(s, ref)
		require.NoError(t, err)
		assert.Equal(t, excelize.CellTypeSharedString, typ, ref)
		formula, err := f.GetCellFormula(s, ref)
		require.NoError(t, err)
		assert.Empty(t, formula, ref)
	}
	assert.Len(t, found, 2, "both hostile names, as text")

	// In English, as the visitor reads.
	b.get("/lang?to=en&back=%2Freports")
	d = b.get("/reports.xlsx?year=2025&province=01")
	require.Equal(t, http.StatusOK, d.Status, d.Body)
	assert.Equal(t, `attachment; filename="kcledger-2025-01-province.xlsx"`, d.Header.Get("Content-Disposition"))
	f2, err := excelize.OpenReader(bytes.NewReader([]byte(d.Body)))
	require.NoError(t, err)
	defer f2.Close()
	assert.Equal(t, []string{"By province", "By source", "By content", "By project"}, f2.GetSheetList())
	v, err := f2.GetCellValue("By province", "C4")
	require.NoError(t, err)
	assert.Equal(t, "Plan", v)

	// A link drawn in Vietnamese gives a Vietnamese workbook, whatever
	// the download's request asks for.
	d = b.get("/reports.xlsx?year=2025&lang=vi")
	require.Equal(t, http.StatusOK, d.Status, d.Body)
	f3, err := excelize.OpenReader(bytes.NewReader([]byte(d.Body)))
	require.NoError(t, err)
	defer f3.Close()
	assert.Equal(t, "Theo tỉnh", f3.GetSheetList()[0])
}

// A year with a carry-over: the page and the workbook have the
// movements' columns, as kcledger report has, although the console reads
// the report from the API's JSON.
func TestReportsShowMoves(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	r := c.Post(t, apitest.PathTransfers, uuid.NewString(), []byte(`{"transfer_kind":"carry_over","fiscal_year":2025,"province":"01","source":"local","to_fiscal_year":2026,"to_province":"01","to_source":"local","amount":"300000000","decision":"7/QĐ-UBND","reason":"chuyển nguồn","effective_date":"2026-01-15"}`))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)

	p := b.get("/reports?year=2025&province=01")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, rows(p.Body), "01 | Hà Nội | 6.700 | 1.700 | 5.000 | 25,37% | 100,00% | 1 | 1.500 | 7.000 | 0 | 0 | 0 | 300 | 0")
	assert.Contains(t, p.Body, "kinh phí chuyển nguồn tính vào kế hoạch năm nhận")

	d := b.get("/reports.xlsx?year=2025&province=01")
	require.Equal(t, http.StatusOK, d.Status, d.Body)
	f, err := excelize.OpenReader(bytes.NewReader([]byte(d.Body)))
	require.NoError(t, err)
	defer f.Close()
	for ref, want := range map[string]string{"J4": "Dự toán giao", "N4": "Chuyển sang năm sau", "N5": "300", "C5": "6700"} {
		v, err := f.GetCellValue("Theo tỉnh", ref, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		assert.Equal(t, want, v, ref)
	}
}
