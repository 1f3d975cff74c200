package ui_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
	"github.com/kcledger/kcledger/web/browsertest"
)

// vietnameseTab is a tab whose browser asks for Vietnamese, as a
// Vietnamese officer's does.
func vietnameseTab(t *testing.T, c *console, opts ...browsertest.Option) *browsertest.Tab {
	t.Helper()
	return browsertest.New(t).NewTab(append([]browsertest.Option{browsertest.WithBaseURL(c.URL), browsertest.WithLanguages("vi-VN,vi;q=0.9,en;q=0.5")}, opts...)...)
}

// logInTab logs a tab in through the log-in form with testPassword.
func logInTab(t *testing.T, tab *browsertest.Tab, name string) {
	t.Helper()
	tab.Navigate("/login")
	tab.Fill("#name", name)
	tab.Fill("#password", testPassword)
	require.Equal(t, http.StatusOK, tab.Click("form.form button[type=submit]"))
}

// look checks a page as a person would meet it: no serious or critical
// accessibility violation (axe-core), and a screenshot at a desktop and a
// phone width (KCLEDGER_SCREENSHOTS names the folder).
func look(t *testing.T, tab *browsertest.Tab, name string) {
	t.Helper()
	browsertest.Axe(t, tab)
	tab.Screenshot(name)
}

// The log-in journey in a real browser: a password an admin set is
// changed first, the menu follows the role, the language switch is
// remembered, and log-out ends it. Every page is checked by axe-core.
func TestBrowserLogInJourney(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.AddAccount(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	const given = "mật khẩu quản trị viên giao"
	r := c.Do(t, http.MethodPost, "/v1/users/ketoan-hn/password", http.Header{"Content-Type": {"application/json"}}, apitest.MustJSON(t, api.PasswordRequest{Password: given}))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	tab := vietnameseTab(t, c)
	require.Equal(t, http.StatusOK, tab.Navigate("/"))
	assert.Contains(t, tab.CurrentURL(), "/login")
	look(t, tab, "login")
	tab.Fill("#name", "ketoan-hn")
	tab.Fill("#password", given)
	require.Equal(t, http.StatusOK, tab.Click("form.form button[type=submit]"))
	assert.Contains(t, tab.CurrentURL(), "/password")
	look(t, tab, "password")

	tab.ExpectStatus("/password", http.StatusBadRequest)
	tab.Fill("#current", given)
	tab.Fill("#new", "ngắn")
	tab.Fill("#confirm", "ngắn")
	require.Equal(t, http.StatusBadRequest, tab.Click("form.form button[type=submit]"))
	assert.Contains(t, tab.Text("#err-password"), "ít nhất 12 ký tự", "the refusal is beside the new password")
	look(t, tab, "password-refused")

	tab.Fill("#current", given)
	tab.Fill("#new", testPassword)
	tab.Fill("#confirm", testPassword)
	require.Equal(t, http.StatusOK, tab.Click("form.form button[type=submit]"))
	assert.Contains(t, tab.Text(".flash"), "Đã đổi mật khẩu.")
	assert.False(t, tab.Exists(`a[href="/admin/accounts"]`), "an officer's menu has no accounts")
	assert.True(t, tab.Exists(`a[href="/record"]`), "an officer may record")

	require.Equal(t, http.StatusOK, tab.Click(`a[hreflang="en"]`))
	assert.Equal(t, "Overview", tab.Text(`nav a[href="/"]`))
	require.Equal(t, http.StatusOK, tab.Navigate("/keys"))
	assert.Equal(t, "Public keys that sign the events", tab.Text("h1"), "the choice is remembered")
	look(t, tab, "keys-en")

	require.Equal(t, http.StatusOK, tab.Click("form.inline button[type=submit]"))
	assert.Contains(t, tab.CurrentURL(), "/login")
	assert.Equal(t, "You have logged out.", tab.Text(".flash"))
}

// An auditor reads everything as it stood at an earlier moment, down to
// an event's hash, and is offered no recording form; an officer cannot
// open another province by editing the address.
func TestBrowserAuditorAndScope(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.UseRealTime() // the past is judged by the storage times
	record(t, c.API, apitest.PathAllocations, line(map[string]any{"amount": "5000000000", "decision": "3536/QĐ-BCT", "effective_date": "2025-01-10"}))
	record(t, c.API, apitest.PathDisbursements, line(map[string]any{"amount": "1200000000", "voucher": "KB-2025-0001", "beneficiary": "HTX Gốm Bát Tràng", "effective_date": "2025-04-01"}))
	moment := time.Now().Truncate(time.Second).Add(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for !time.Now().After(moment) {
		require.True(t, time.Now().Before(deadline), "the clock did not pass %v", moment)
		time.Sleep(10 * time.Millisecond) // polling the clock itself
	}
	record(t, c.API, apitest.PathDisbursements, line(map[string]any{"amount": "300000000", "voucher": "KB-LATER", "beneficiary": "Recorded later", "effective_date": "2025-04-02"}))
	c.account(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})

	tab := vietnameseTab(t, c)
	logInTab(t, tab, "kiemtoan")
	assert.False(t, tab.Exists(`a[href="/record"]`), "an auditor is offered no recording")
	look(t, tab, "overview-auditor")

	require.Equal(t, http.StatusOK, tab.Click(`nav a[href="/provinces"]`))
	look(t, tab, "provinces")
	require.Equal(t, http.StatusOK, tab.Click(`a[href^="/provinces/01"]`))
	look(t, tab, "province")
	require.Equal(t, http.StatusOK, tab.Click(`a[href^="/lines/2025/01/national"]`))
	assert.Contains(t, tab.Text("main"), "KB-LATER")

	vn := moment.In(time.FixedZone("UTC+7", 7*3600))
	tab.Do("set the moment", chromedp.SetValue("#date", vn.Format(time.DateOnly)), chromedp.SetValue("#time", vn.Format(time.TimeOnly)))
	require.Equal(t, http.StatusOK, tab.Click("form.filters button[type=submit]"))
	assert.Contains(t, tab.Text(".notice.past"), vn.Format("02/01/2006")+" "+vn.Format(time.TimeOnly))
	trail := tab.Text("main")
	assert.Contains(t, trail, "KB-2025-0001")
	assert.NotContains(t, trail, "KB-LATER", "recorded after the moment chosen")
	assert.False(t, tab.Exists(`form[method="post"]:not(.inline)`), "no form that records")
	look(t, tab, "line-as-of")

	require.Equal(t, http.StatusOK, tab.Click(`tbody a[href^="/events/"]`))
	details := tab.Text("main")
	for _, want := range []string{"3536/QĐ-BCT", "admin"} {
		assert.Contains(t, details, want)
	}
	look(t, tab, "event")

	officer := browsertest.New(t).NewTab(browsertest.WithBaseURL(c.URL), browsertest.WithOwnCookies(), browsertest.WithLanguages("vi"))
	logInTab(t, officer, "ketoan-hn")
	officer.ExpectStatus("/provinces/79", http.StatusForbidden)
	require.Equal(t, http.StatusForbidden, officer.Navigate("/provinces/79"))
	assert.NotContains(t, officer.Text("main"), "₫", "no figure of another province")
	look(t, officer, "forbidden")
}

// An officer's day, as the issue tells it: it records an allocation and
// a disbursement through the forms, double-clicks the second (recorded
// once), is refused an overspend beside the amount, switches to English,
// opens its report and downloads the workbook.
func TestBrowserOfficerJourney(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	tab := vietnameseTab(t, c)
	logInTab(t, tab, "ketoan-hn")

	require.Equal(t, http.StatusOK, tab.Click(`nav a[href="/record"]`))
	require.Equal(t, http.StatusOK, tab.Click(`main a[href^="/record/allocate"]`))
	tab.Fill("#f-fiscal_year", "2025")
	tab.Fill("#f-amount", "5 tỷ")
	tab.Fill("#f-decision", "3536/QĐ-BCT")
	tab.Do("set the effective date", chromedp.SetValue(chromedp.CSS("#f-effective_date"), "2025-01-10"))
	require.Equal(t, http.StatusOK, tab.Click("form.form button[type=submit]"))
	assert.Equal(t, "5.000.000.000 ₫", tab.Text("table.balance tr:last-child td"))

	tab.Navigate("/record/disburse")
	tab.Fill("#f-fiscal_year", "2025")
	tab.Fill("#f-amount", "6 tỷ")
	tab.Fill("#f-voucher", "KB-2025-0001")
	tab.Fill("#f-beneficiary", "HTX Gốm Bát Tràng")
	tab.Do("set the effective date", chromedp.SetValue(chromedp.CSS("#f-effective_date"), "2025-04-01"))
	tab.ExpectStatus("/record/disburse", http.StatusUnprocessableEntity)
	require.Equal(t, http.StatusUnprocessableEntity, tab.Click("form.form button[type=submit]"))
	assert.Contains(t, tab.Text("#err-amount"), "Không đủ kinh phí", "the refusal is beside the amount")
	assert.Len(t, trail(t, c, "2025", "01", "national").Entries, 1, "nothing recorded")
	look(t, tab, "record-overspend")

	tab.Fill("#f-amount", "1,2 tỷ")
	// Chromium itself sends one post for a double click (the second
	// click lands on a page already leaving); a second post of the same
	// form while the first is on its way is what a slow network makes of
	// it: both reach the server.
	posts := c.requests.count("POST /record/disburse")
	tab.Do("send the form twice", chromedp.Evaluate[chromedp.Void](`{
		const f = document.querySelector("form.form");
		f.requestSubmit();
		setTimeout(() => f.requestSubmit(), 20);
	}`))
	require.Eventually(t, func() bool {
		return c.requests.count("POST /record/disburse")-posts >= 2 && c.requests.countPrefix("GET /record/done/") > 1
	}, 30*time.Second, 20*time.Millisecond, "both posts reach the server, then the confirmation is asked for")
	assert.Equal(t, "3.800.000.000 ₫", tab.Text("table.balance tr:last-child td"))
	assert.Len(t, trail(t, c, "2025", "01", "national").Entries, 2, "the form sent twice records once")

	require.Equal(t, http.StatusOK, tab.Click(`a[hreflang="en"]`))
	require.Equal(t, http.StatusOK, tab.Click(`nav a[href="/reports"]`))
	tab.Fill("#r-year", "2025")
	require.Equal(t, http.StatusOK, tab.Click("form.report-form button[type=submit]"))
	assert.Contains(t, tab.Text("caption"), "2025")
	look(t, tab, "reports-officer-en")
	path := tab.Download(`a[href^="/reports.xlsx"]`)
	f, err := excelize.OpenFile(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := f.GetRows(f.GetSheetList()[0])
	require.NoError(t, err)
	var text strings.Builder
	for _, r := range rows {
		text.WriteString(strings.Join(r, "\t") + "\n")
	}
	assert.Contains(t, text.String(), "Hà Nội", "the workbook is the officer's province's")
	assert.NotContains(t, text.String(), "Hồ Chí Minh")
}
