package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/browsertest"
)

// In Chromium, the amount typed in a recording form is read aloud as it
// is typed (the live reading app.js asks /reading for), the forms pass
// axe-core, and with JavaScript turned off the same journey records, its
// reading shown on the confirmation and on a refusal instead.
func TestRecordInTheBrowser(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	br := browsertest.New(t)

	tab := br.NewTab(browsertest.WithBaseURL(c.URL))
	tab.Navigate("/lang?to=vi&back=%2Flogin")
	tab.Fill("#name", "ketoan-hn")
	tab.Fill("#password", testPassword)
	tab.Click("form.form button[type=submit]")
	tab.Navigate("/record/allocate")
	assert.Equal(t, "Gõ số tiền, ví dụ 1.500.000.000 hoặc 1,5 tỷ.", tab.Text("#reading-amount"))
	tab.Fill("#f-fiscal_year", "2025")
	tab.Fill("#f-amount", "1,5 tỷ")
	tab.Do("wait for the reading of 1,5 tỷ", chromedp.Poll[chromedp.Void](
		`document.getElementById("reading-amount").textContent.includes(" = ")`, chromedp.WithPollingMutation()))
	assert.Equal(t, "1,5 tỷ = 1.500.000.000 ₫", tab.Text("#reading-amount"))
	tab.Fill("#f-amount", "1,5 tỷ đô")
	tab.Do("wait for the refusal of 1,5 tỷ đô", chromedp.Poll[chromedp.Void](
		`document.getElementById("reading-amount").classList.contains("reading-bad")`, chromedp.WithPollingMutation()))
	assert.Contains(t, tab.Text("#reading-amount"), "Chưa đọc được số tiền “1,5 tỷ đô”")
	tab.Fill("#f-amount", "1,5 tỷ")
	tab.Fill("#f-province", "01")
	tab.Fill("#f-decision", "123/QĐ-BCT")
	tab.Do("set the effective date", chromedp.SetValue(chromedp.CSS("#f-effective_date"), "2025-03-01"))
	browsertest.Axe(t, tab)
	require.Equal(t, http.StatusOK, tab.Click("form.form button[type=submit]"))
	assert.True(t, strings.Contains(tab.CurrentURL(), "/record/done/"), tab.CurrentURL())
	assert.Equal(t, "1.500.000.000 ₫", tab.Text("table.balance tr:last-child td"))
	browsertest.Axe(t, tab)
	tab.Screenshot("record-done")

	// The back button comes back to the form with its key: the same
	// movement sent again is not recorded twice.
	tab.Do("go back", chromedp.NavigateBack())
	tab.Fill("#f-fiscal_year", "2025")
	tab.Fill("#f-amount", "1,5 tỷ")
	tab.Fill("#f-province", "01")
	tab.Fill("#f-decision", "123/QĐ-BCT")
	tab.Do("set the effective date", chromedp.SetValue(chromedp.CSS("#f-effective_date"), "2025-03-01"))
	require.Equal(t, http.StatusOK, tab.Click("form.form button[type=submit]"))
	assert.Contains(t, tab.Text("main"), "Nghiệp vụ này đã được ghi trước đó")
	assert.Len(t, trail(t, c, "2025", "01", "national").Entries, 1)

	// Without JavaScript: a refusal shows the reading beside the amount,
	// and the form records once corrected.
	off := br.NewTab(browsertest.WithBaseURL(c.URL), browsertest.WithoutJavaScript())
	off.Navigate("/record/disburse")
	off.Fill("#f-fiscal_year", "2025")
	off.Fill("#f-province", "01")
	off.Fill("#f-amount", "2 tỷ")
	off.Fill("#f-voucher", "UNC-0002")
	off.Fill("#f-beneficiary", "Hợp tác xã Gốm Bát Tràng")
	off.Do("set the effective date", chromedp.SetValue(chromedp.CSS("#f-effective_date"), "2025-05-01"))
	off.ExpectStatus("/record/disburse", http.StatusUnprocessableEntity)
	require.Equal(t, http.StatusUnprocessableEntity, off.Click("form.form button[type=submit]"))
	assert.Equal(t, "2 tỷ = 2.000.000.000 ₫", off.Text("#reading-amount"))
	assert.Contains(t, off.Text("#err-amount"), "Không đủ kinh phí")
	browsertest.Axe(t, off)
	off.Screenshot("record-refused")
	off.Fill("#f-amount", "200 triệu")
	require.Equal(t, http.StatusOK, off.Click("form.form button[type=submit]"))
	assert.Contains(t, off.Text("main"), "200 triệu = 200.000.000 ₫")
	assert.Equal(t, "1.300.000.000 ₫", off.Text("table.balance tr:last-child td"))
	assert.Len(t, trail(t, c, "2025", "01", "national").Entries, 2)
}
