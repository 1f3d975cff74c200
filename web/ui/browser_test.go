package ui_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
