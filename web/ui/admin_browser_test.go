package ui_test

import (
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
)

// An admin's journey in a real browser: add an account (its token shown
// once), a refusal beside the name, set a password, disable, add a NATS
// user. Every page is checked by axe-core.
func TestBrowserAdminJourney(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "quantri", domain.RoleAdmin, nil, nil)
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})

	tab := vietnameseTab(t, c)
	logInTab(t, tab, "quantri")
	require.Equal(t, http.StatusOK, tab.Click(`nav a[href="/admin/accounts"]`))
	assert.Equal(t, "Tài khoản", tab.Text("h1"))
	look(t, tab, "accounts")

	tab.Fill("#name", "ketoan-dn")
	tab.Fill("#role", "officer")
	tab.ClickInPage("#prov-48")
	tab.ClickInPage("#src-national")
	require.Equal(t, http.StatusCreated, tab.Click(`form[action="/admin/accounts"] button[type=submit]`))
	assert.Contains(t, tab.Text(".warning"), "chỉ hiện một lần")
	assert.True(t, tab.Exists("textarea#secret"))
	look(t, tab, "account-token")
	acc, _, err := c.Accounts.Account(t.Context(), "ketoan-dn")
	require.NoError(t, err)
	assert.Equal(t, []string{"48"}, acc.Provinces)

	require.Equal(t, http.StatusOK, tab.Click(`a.button[href="/admin/accounts"]`))
	tab.ExpectStatus("/admin/accounts", http.StatusBadRequest)
	tab.Fill("#name", "kcledger-x")
	tab.Fill("#role", "auditor")
	require.Equal(t, http.StatusBadRequest, tab.Click(`form[action="/admin/accounts"] button[type=submit]`))
	assert.Equal(t, "Giá trị của trường này không hợp lệ.", tab.Text("#err-name"), "beside the name")
	look(t, tab, "accounts-refused")

	require.Equal(t, http.StatusOK, tab.Click(`a[href="/admin/accounts/ketoan-hn/password"]`))
	tab.Fill("#password", "mật khẩu mới do quản trị giao")
	tab.Fill("#confirm", "mật khẩu mới do quản trị giao")
	look(t, tab, "account-password")
	require.Equal(t, http.StatusOK, tab.Click(`form.form button[type=submit]`))
	assert.Contains(t, tab.Text(".flash"), "Đã đặt mật khẩu cho ketoan-hn")

	require.Equal(t, http.StatusOK, tab.Click(`form[action="/admin/accounts/ketoan-hn/disable"] button`))
	assert.Contains(t, tab.Text(".flash"), "Đã khóa tài khoản ketoan-hn")
	assert.True(t, tab.Exists(`form[action="/admin/accounts/ketoan-hn/enable"]`))

	tab.Fill("#nats-name", "kiemtoan-nats")
	tab.Fill("#nats-role", "auditor")
	require.Equal(t, http.StatusCreated, tab.Click(`form[action="/admin/nats-users"] button[type=submit]`))
	assert.Contains(t, tab.Text("main"), "kiemtoan-nats")
	look(t, tab, "nats-password")
}

// An auditor downloads the CSV and the Beancount journal from the exports
// page: the files the browser saves are GET /v1/export's answers.
func TestBrowserExports(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	exportsLedger(t, c)
	token := c.account(t, "kiemtoan", domain.RoleAuditor, nil, nil)

	tab := vietnameseTab(t, c)
	logInTab(t, tab, "kiemtoan")
	require.Equal(t, http.StatusOK, tab.Click(`nav a[href="/exports"]`))
	look(t, tab, "exports")

	for _, f := range []string{"csv", "beancount"} {
		path := tab.Download(`a[href="/exports/download?format=` + f + `"]`)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		r := c.As(token).Get(t, api.PathExport+"?format="+f)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Equal(t, string(r.Body), string(got), "the %s the browser saved", f)
	}

	tab.ExpectStatus("/exports/download", http.StatusBadRequest)
	tab.Fill("#year", "1990")
	require.Equal(t, http.StatusBadRequest, tab.Click(`form[action="/exports/download"] button[type=submit]`))
	assert.Equal(t, "Năm ngân sách không hợp lệ.", tab.Text("#err-year"))
	look(t, tab, "exports-refused")
}
