package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
	"github.com/kcledger/kcledger/web/password"
)

func TestLogInAndOut(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	b := c.browser(t)

	p := b.get("/")
	require.Equal(t, http.StatusSeeOther, p.Status)
	assert.Equal(t, "/login", p.Location())
	p = b.get("/keys")
	assert.Equal(t, "/login?next=%2Fkeys", p.Location(), "back to the page asked for once logged in")

	p = b.logIn("ketoan-hn", "not the password at all", "")
	assert.Equal(t, http.StatusUnauthorized, p.Status)
	assert.Contains(t, p.Body, "Tên tài khoản hoặc mật khẩu không đúng.")
	assert.Empty(t, b.cookie("kcledger_session"))
	p = b.logIn("no-such-account", testPassword, "")
	assert.Equal(t, http.StatusUnauthorized, p.Status)
	assert.Contains(t, p.Body, "Tên tài khoản hoặc mật khẩu không đúng.", "an unknown name is refused in the same words")

	p = b.logIn("ketoan-hn", testPassword, "/")
	cookie := setCookie(t, p, "kcledger_session")
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	assert.False(t, cookie.Secure, "not under TLS")
	secret := cookie.Value

	home := b.get("/")
	require.Equal(t, http.StatusOK, home.Status, home.Body)
	assert.Contains(t, home.Body, "ketoan-hn")
	assert.Contains(t, home.Body, "Cán bộ") // role.officer, in Vietnamese by default

	p = b.post("/logout", url.Values{"csrf": {hidden(t, home, "csrf")}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/login?done=logged_out", p.Location())
	assert.Contains(t, b.get(p.Location()).Body, "Đã đăng xuất.")
	assert.Equal(t, "/login", b.get("/").Location())

	// The ended session's secret, sent again, opens nothing: it is gone
	// from the store, not only from the browser.
	b.setCookie("kcledger_session", secret)
	assert.Equal(t, "/login", b.get("/").Location())
}

func setCookie(t *testing.T, p page, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("the answer sets no cookie %s: %v", name, p.Header["Set-Cookie"])
	return nil
}

// Failures slow log-ins down and then lock the name, even for the right
// password, until the lock ends.
func TestLogInThrottles(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	th, err := password.NewThrottle(password.ThrottleConfig{FreeFailures: 2, Delay: time.Second, MaxDelay: 4 * time.Second, LockAfter: 4, LockFor: 15 * time.Minute, Forget: time.Hour, MaxAccounts: 100}, clock)
	require.NoError(t, err)
	c := startConsole(t, consoleOptions{throttle: th})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	b := c.browser(t)

	wrong := func() {
		t.Helper()
		assert.Equal(t, http.StatusUnauthorized, b.logIn("ketoan-hn", "wrong password, wrong", "").Status)
	}
	tooSoon := func(text, retryAfter string) {
		t.Helper()
		p := b.logIn("ketoan-hn", testPassword, "")
		assert.Equal(t, http.StatusTooManyRequests, p.Status, "refused, even with the right password")
		assert.Contains(t, p.Body, text)
		assert.Equal(t, retryAfter, p.Header.Get("Retry-After"))
		assert.Empty(t, b.cookie("kcledger_session"))
	}
	wrong()
	wrong()
	tooSoon("hãy thử lại sau 1 giây", "1")
	advance(time.Second)
	wrong()
	tooSoon("hãy thử lại sau 2 giây", "2")
	advance(2 * time.Second)
	wrong()
	tooSoon("tạm khóa vì đăng nhập sai nhiều lần; hãy thử lại sau 15 phút", "900")
	advance(14 * time.Minute)
	tooSoon("hãy thử lại sau 1 phút", "60")
	advance(16 * time.Minute)
	b.logIn("ketoan-hn", testPassword, "/")
	assert.Equal(t, http.StatusOK, b.get("/").Status)
}

// Disabling an account ends its sessions on the next request, and
// enabling it again does not bring them back.
func TestDisablingEndsSessions(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	require.Equal(t, http.StatusOK, b.get("/").Status)

	r := c.Post(t, "/v1/users/ketoan-hn/disable", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r = c.Post(t, "/v1/users/ketoan-hn/enable", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "/login", b.get("/").Location(), "the session opened before the disable has ended")
	b.logIn("ketoan-hn", testPassword, "/")
	assert.Equal(t, http.StatusOK, b.get("/").Status, "a new log-in works once enabled")

	r = c.Post(t, "/v1/users/ketoan-hn/disable", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "/login", b.get("/").Location())
	p := b.logIn("ketoan-hn", testPassword, "")
	assert.Equal(t, http.StatusUnauthorized, p.Status, "a disabled account cannot log in")
}

// A password an admin set must be changed at the first log-in; the
// change goes through the API's policy, and ends the sessions opened
// with the old password.
func TestPasswordSetByAdminMustBeChanged(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.AddAccount(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	const given = "mật khẩu quản trị viên giao"
	r := c.Do(t, http.MethodPost, "/v1/users/ketoan-hn/password", http.Header{"Content-Type": {"application/json"}}, apitest.MustJSON(t, api.PasswordRequest{Password: given}))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	b := c.browser(t)
	b.logIn("ketoan-hn", given, "/password")
	assert.Equal(t, "/password", b.get("/").Location(), "nothing else until it is changed")
	assert.Equal(t, "/password", b.get("/keys").Location())
	form := b.get("/password")
	require.Equal(t, http.StatusOK, form.Status)
	assert.Contains(t, form.Body, "Quản trị viên đã đặt mật khẩu")
	csrf := hidden(t, form, "csrf")

	for _, tc := range []struct {
		name                  string
		current, next, repeat string
		status                int
		text, field           string
	}{
		{"wrong current", "not it at all, no", "a new long passphrase", "a new long passphrase", http.StatusBadRequest, "err-current", ""},
		{"too short", given, "ngắn", "ngắn", http.StatusBadRequest, "err-password", "ít nhất 12 ký tự"},
		{"one character", given, "aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa", http.StatusBadRequest, "err-password", "chỉ lặp lại một ký tự"},
		{"repeats differ", given, "a new long passphrase", "a new long passphrasf", http.StatusBadRequest, "err-confirm", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/password", url.Values{"csrf": {csrf}, "current": {tc.current}, "new": {tc.next}, "confirm": {tc.repeat}})
			assert.Equal(t, tc.status, p.Status, p.Body)
			assert.Contains(t, p.Body, `id="`+tc.text+`"`, "the refusal is beside its field")
			assert.Contains(t, p.Body, tc.field)
			assert.NotContains(t, p.Body, "⟦")
		})
	}
	acc, _, err := c.Accounts.Account(t.Context(), "ketoan-hn")
	require.NoError(t, err)
	assert.True(t, acc.PasswordMustChange, "nothing was changed by the refusals")

	other := c.browser(t)
	other.logIn("ketoan-hn", given, "/password")
	p := b.post("/password", url.Values{"csrf": {csrf}, "current": {given}, "new": {testPassword}, "confirm": {testPassword}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/?done=password_changed", p.Location())
	home := b.get(p.Location())
	assert.Equal(t, http.StatusOK, home.Status)
	assert.Contains(t, home.Body, "Đã đổi mật khẩu.")
	assert.Equal(t, "/login?next=%2Fpassword", other.get("/password").Location(), "the other session, opened with the old password, has ended")
	acc, _, err = c.Accounts.Account(t.Context(), "ketoan-hn")
	require.NoError(t, err)
	assert.False(t, acc.PasswordMustChange)
	require.NoError(t, password.Verify(acc.PasswordHash, testPassword))
}

// A state-changing form from another origin, without its token, or with
// another session's token does nothing.
func TestFormsFromElsewhereAreRefused(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	csrf := hidden(t, b.get("/"), "csrf")
	other := c.browser(t)
	other.logIn("ketoan-hn", testPassword, "/")
	otherCSRF := hidden(t, other.get("/"), "csrf")

	for _, tc := range []struct {
		name   string
		form   url.Values
		header http.Header
	}{
		{"another origin", url.Values{"csrf": {csrf}}, http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}},
		{"another site, no origin", url.Values{"csrf": {csrf}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"no token", url.Values{}, nil},
		{"another session's token", url.Values{"csrf": {otherCSRF}}, nil},
		{"a made-up token", url.Values{"csrf": {strings.Repeat("A", 43)}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.postWith("/logout", tc.form, tc.header)
			assert.Equal(t, http.StatusForbidden, p.Status, p.Body)
			assert.Contains(t, p.Body, "Không có gì được ghi.")
			assert.Equal(t, http.StatusOK, b.get("/").Status, "still logged in: the log-out was not done")
		})
	}
	// The log-in form too wants its own token.
	fresh := c.browser(t)
	p := fresh.post("/login", url.Values{"name": {"ketoan-hn"}, "password": {testPassword}})
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.Empty(t, fresh.cookie("kcledger_session"))
}

func TestTamperedSessionCookie(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	secret := b.cookie("kcledger_session")
	require.NotEmpty(t, secret)
	for _, v := range []string{secret[:len(secret)-1] + flip(secret[len(secret)-1]), "", "x", strings.Repeat("A", 500), "../../etc/passwd", "a.b*c>"} {
		b.setCookie("kcledger_session", v)
		assert.Equal(t, "/login", b.get("/").Location(), "cookie %q", v)
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// Under TLS every cookie of the console is Secure, and pages ask the
// browser to keep to HTTPS.
func TestCookiesAreSecureUnderTLS(t *testing.T) {
	c := startConsole(t, consoleOptions{secure: true})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	b := c.browser(t)
	form := b.get("/login")
	assert.True(t, setCookie(t, form, "kcledger_login").Secure)
	assert.Equal(t, "max-age=31536000", form.Header.Get("Strict-Transport-Security"))
	p := b.post("/login", url.Values{"token": {hidden(t, form, "token")}, "name": {"ketoan-hn"}, "password": {testPassword}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	session := setCookie(t, p, "kcledger_session")
	assert.True(t, session.Secure)
	assert.True(t, session.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, session.SameSite)
	assert.True(t, setCookie(t, b.get("/lang?to=en&back=%2F"), "kcledger_lang").Secure)
}
