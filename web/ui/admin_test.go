package ui_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/web/api/apitest"
	"github.com/kcledger/kcledger/web/password"
	"github.com/kcledger/kcledger/web/ui"
)

// adminConsole is a console with an admin, quantri, logged in.
func adminConsole(t *testing.T, c *console) (*browser, page) {
	t.Helper()
	b := c.loggedIn(t, "quantri", domain.RoleAdmin, nil, nil)
	p := b.get("/admin/accounts")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	return b, p
}

func account(t *testing.T, c *console, name string) domain.Account {
	t.Helper()
	acc, _, err := c.Accounts.Account(t.Context(), name)
	require.NoError(t, err)
	return acc
}

func TestAccountsList(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01", "79"}, []string{"national", "local"})
	c.AddAccount(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	r := c.Post(t, "/v1/users/kiemtoan/disable", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	_, p := adminConsole(t, c)

	assert.Contains(t, p.Body, "<h1>Tài khoản</h1>")
	assert.Contains(t, p.Body, "Các tài khoản (4)")
	row := tableRow(t, p, "ketoan-hn")
	for _, want := range []string{"Cán bộ nghiệp vụ", "01, 79", "KCQG, KCĐP", "Mã truy cập API: Có", "NATS: Không", "Mật khẩu bảng điều khiển: Có", "Đang hoạt động", "01/06/2026", "bởi admin", `action="/admin/accounts/ketoan-hn/disable"`} {
		assert.Contains(t, row, want)
	}
	row = tableRow(t, p, "kiemtoan")
	for _, want := range []string{"Kiểm toán viên", "Mọi thứ vai trò cho phép", "Mật khẩu bảng điều khiển: Không", "Đã khóa", "01/06/2026 10:00 (giờ Việt Nam, UTC&#43;7)", "bởi admin", `action="/admin/accounts/kiemtoan/enable"`} {
		assert.Contains(t, row, want)
	}
	assert.NotContains(t, tableRow(t, p, "quantri"), "/disable", "no button to disable oneself")
	// The forms offer the provinces in force (34 since 1 July 2025).
	assert.Contains(t, p.Body, `<label for="prov-01">01 · Hà Nội</label>`)
	assert.Equal(t, 34, strings.Count(p.Body, `name="provinces"`))
	assert.NotContains(t, p.Body, "token_hash")
}

// tableRow is the accounts table's row of name.
func tableRow(t *testing.T, p page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr>\s*<th scope="row"><code>` + regexp.QuoteMeta(name) + `</code></th>.*?</tr>`).FindString(p.Body)
	require.NotEmpty(t, m, "no row of %s in:\n%s", name, p.Body)
	return m
}

func TestAddAccount(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b, form := adminConsole(t, c)
	csrf := hidden(t, form, "csrf")

	p := b.post("/admin/accounts", url.Values{"csrf": {csrf}, "name": {"ketoan-dn"}, "role": {"officer"}, "provinces": {"48"}, "sources": {"national", "local"}})
	require.Equal(t, http.StatusCreated, p.Status, p.Body)
	assert.Empty(t, p.Location(), "answered directly, not redirected: the token is in no URL")
	assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))
	token := regexp.MustCompile(`id="secret" class="secret" rows="\d" readonly autocomplete="off" spellcheck="false">([^<]+)</textarea>`).FindStringSubmatch(p.Body)
	require.Len(t, token, 2, p.Body)
	assert.Contains(t, p.Body, "chỉ hiện một lần")
	assert.Contains(t, p.Body, "Đã tạo tài khoản ketoan-dn (Cán bộ nghiệp vụ).")
	acc := account(t, c, "ketoan-dn")
	assert.Equal(t, []string{"48"}, acc.Provinces)
	assert.Equal(t, []domain.Source{domain.SourceNational, domain.SourceLocal}, acc.Sources)
	assert.Equal(t, "quantri", acc.CreatedBy)
	r := c.As(token[1]).Get(t, "/v1/balances")
	assert.Equal(t, http.StatusOK, r.Status, "the token shown works: %s", r.Body)
	list := b.get("/admin/accounts")
	assert.Contains(t, list.Body, "ketoan-dn")
	assert.NotContains(t, list.Body, token[1], "shown once")

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		field  string
		text   string
	}{
		{"bad name", url.Values{"name": {"Nguyễn Văn A"}, "role": {"auditor"}}, http.StatusBadRequest, "name", "Giá trị của trường này không hợp lệ."},
		{"reserved name", url.Values{"name": {"kcledger-x"}, "role": {"auditor"}}, http.StatusBadRequest, "name", "Giá trị của trường này không hợp lệ."},
		{"taken name", url.Values{"name": {"ketoan-dn"}, "role": {"auditor"}}, http.StatusConflict, "name", "Tài khoản này đã có."},
		{"unknown province", url.Values{"name": {"ketoan-x"}, "role": {"officer"}, "provinces": {"99"}, "sources": {"national"}}, http.StatusBadRequest, "provinces", "Không có tỉnh, thành phố mang mã này."},
		{"officer without a province", url.Values{"name": {"ketoan-x"}, "role": {"officer"}, "sources": {"national"}}, http.StatusBadRequest, "provinces", "Trường này là bắt buộc."},
		{"officer without a source", url.Values{"name": {"ketoan-x"}, "role": {"officer"}, "provinces": {"01"}}, http.StatusBadRequest, "sources", "Trường này là bắt buộc."},
		{"auditor with a province", url.Values{"name": {"ketoan-x"}, "role": {"auditor"}, "provinces": {"01"}}, http.StatusBadRequest, "provinces", ""},
		{"unknown role", url.Values{"name": {"ketoan-x"}, "role": {"king"}}, http.StatusBadRequest, "role", ""},
		{"script in the name", url.Values{"name": {"<script>alert(1)</script>"}, "role": {"auditor"}}, http.StatusBadRequest, "name", "&lt;script&gt;alert(1)&lt;/script&gt;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := c.Accounts.List(t.Context())
			require.NoError(t, err)
			tc.form.Set("csrf", csrf)
			p := b.post("/admin/accounts", tc.form)
			assert.Equal(t, tc.status, p.Status, p.Body)
			assert.Contains(t, p.Body, `id="err-`+tc.field+`"`, "the refusal is beside its field")
			assert.Contains(t, p.Body, tc.text)
			assert.Contains(t, p.Body, `Chưa có gì được thực hiện: <a href="#add-title">`, "and said at the top of the page")
			assert.NotContains(t, p.Body, "<script>alert")
			assert.Contains(t, p.Body, `value="`+attr(tc.form.Get("name"))+`"`, "the form keeps what was typed")
			after, err := c.Accounts.List(t.Context())
			require.NoError(t, err)
			assert.Len(t, after, len(before), "nothing created")
		})
	}
	// What was ticked stays ticked.
	p = b.post("/admin/accounts", url.Values{"csrf": {csrf}, "name": {"ketoan-x"}, "role": {"officer"}, "provinces": {"01"}})
	assert.Contains(t, p.Body, `id="prov-01" name="provinces" value="01" checked`)
}

// attr escapes s as html/template writes an attribute's value.
func attr(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// Disabling an account through the page ends its console sessions at
// their next request; enabling it lets it log in again.
func TestDisableAndEnableAccount(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	b, list := adminConsole(t, c)
	csrf := hidden(t, list, "csrf")
	other := c.browser(t)
	other.logIn("ketoan-hn", testPassword, "/")
	require.Equal(t, http.StatusOK, other.get("/").Status)

	p := b.post("/admin/accounts/ketoan-hn/disable", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/admin/accounts?done=disabled&name=ketoan-hn", p.Location())
	list = b.get(p.Location())
	assert.Contains(t, list.Body, "Đã khóa tài khoản ketoan-hn; các phiên làm việc của tài khoản đã kết thúc.")
	assert.Contains(t, tableRow(t, list, "ketoan-hn"), "bởi quantri")
	acc := account(t, c, "ketoan-hn")
	assert.True(t, acc.Disabled)
	assert.Equal(t, "quantri", acc.DisabledBy)
	assert.Equal(t, "/login", other.get("/").Location(), "the account's session has ended")
	assert.Equal(t, http.StatusUnauthorized, other.logIn("ketoan-hn", testPassword, "").Status)

	p = b.post("/admin/accounts/ketoan-hn/enable", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/admin/accounts?done=enabled&name=ketoan-hn", p.Location())
	assert.Contains(t, b.get(p.Location()).Body, "Đã mở lại tài khoản ketoan-hn.")
	assert.False(t, account(t, c, "ketoan-hn").Disabled)
	other.logIn("ketoan-hn", testPassword, "/")
	assert.Equal(t, http.StatusOK, other.get("/").Status)

	// An admin cannot disable itself: the API's refusal, shown.
	p = b.post("/admin/accounts/quantri/disable", url.Values{"csrf": {csrf}})
	assert.Equal(t, http.StatusForbidden, p.Status, p.Body)
	assert.Contains(t, p.Body, "Quản trị viên không thể tự khóa tài khoản của mình")
	assert.False(t, account(t, c, "quantri").Disabled)
	assert.Equal(t, http.StatusOK, b.get("/").Status, "still logged in")
	p = b.post("/admin/accounts/no-such/disable", url.Values{"csrf": {csrf}})
	assert.Equal(t, http.StatusNotFound, p.Status, p.Body)

	// A message link naming an account that does not exist says nothing.
	assert.NotContains(t, b.get("/admin/accounts?done=disabled&name=%3Cb%3Ebob").Body, "Đã khóa tài khoản")
	// Without the form's token, nothing is done.
	p = b.post("/admin/accounts/ketoan-hn/disable", url.Values{})
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.False(t, account(t, c, "ketoan-hn").Disabled)
}

// An admin sets another account's password: the policy's refusals are
// beside the field in the admin's language; once set, the account must
// change it at its next log-in.
func TestSetAccountPassword(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	b, list := adminConsole(t, c)
	assert.Contains(t, tableRow(t, list, "ketoan-hn"), `href="/admin/accounts/ketoan-hn/password"`)
	form := b.get("/admin/accounts/ketoan-hn/password")
	require.Equal(t, http.StatusOK, form.Status, form.Body)
	assert.Contains(t, form.Body, "Đặt mật khẩu cho ketoan-hn")
	csrf := hidden(t, form, "csrf")
	other := c.browser(t)
	other.logIn("ketoan-hn", testPassword, "/")

	const given = "mật khẩu mới do quản trị giao"
	for _, tc := range []struct {
		name, pw, confirm, field, text string
	}{
		{"too short", "ngắn", "ngắn", "password", "Mật khẩu cần ít nhất 12 ký tự"},
		{"one character", "aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa", "password", "chỉ lặp lại một ký tự"},
		{"repeats differ", given, given + "x", "confirm", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/admin/accounts/ketoan-hn/password", url.Values{"csrf": {csrf}, "password": {tc.pw}, "confirm": {tc.confirm}})
			assert.Equal(t, http.StatusBadRequest, p.Status, p.Body)
			assert.Contains(t, p.Body, `id="err-`+tc.field+`"`)
			assert.Contains(t, p.Body, tc.text)
		})
	}
	require.NoError(t, password.Verify(account(t, c, "ketoan-hn").PasswordHash, testPassword), "nothing changed")

	// In English, the rule in English.
	b.get("/lang?to=en&back=%2F")
	p := b.post("/admin/accounts/ketoan-hn/password", url.Values{"csrf": {csrf}, "password": {"short"}, "confirm": {"short"}})
	assert.Equal(t, http.StatusBadRequest, p.Status, p.Body)
	assert.Contains(t, p.Body, "The password needs at least 12 characters")
	b.get("/lang?to=vi&back=%2F")

	p = b.post("/admin/accounts/ketoan-hn/password", url.Values{"csrf": {csrf}, "password": {given}, "confirm": {given}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, "/admin/accounts?done=password_set&name=ketoan-hn", p.Location())
	list = b.get(p.Location())
	assert.Contains(t, list.Body, "Đã đặt mật khẩu cho ketoan-hn; tài khoản phải đổi mật khẩu ở lần đăng nhập tới.")
	assert.Contains(t, tableRow(t, list, "ketoan-hn"), "(phải đổi)")
	assert.Equal(t, "/login", other.get("/").Location(), "the sessions opened with the old password have ended")
	other.logIn("ketoan-hn", given, "/password")
	assert.Equal(t, "/password", other.get("/").Location(), "it must change the password first")

	// An admin's own password is changed with its current one.
	assert.Equal(t, "/password", b.get("/admin/accounts/quantri/password").Location())
	p = b.post("/admin/accounts/quantri/password", url.Values{"csrf": {csrf}, "password": {given}, "confirm": {given}})
	assert.Equal(t, "/password", p.Location())
	require.NoError(t, password.Verify(account(t, c, "quantri").PasswordHash, testPassword), "unchanged")
	assert.Equal(t, http.StatusNotFound, b.get("/admin/accounts/no-such/password").Status)
	assert.Equal(t, http.StatusNotFound, b.post("/admin/accounts/no-such/password", url.Values{"csrf": {csrf}, "password": {given}, "confirm": {given}}).Status)
}

func TestAddNATSUser(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b, list := adminConsole(t, c)
	csrf := hidden(t, list, "csrf")

	p := b.post("/admin/nats-users", url.Values{"csrf": {csrf}, "name": {"kiemtoan-nats"}, "role": {"auditor"}})
	require.Equal(t, http.StatusCreated, p.Status, p.Body)
	assert.Empty(t, p.Location())
	assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))
	secret := regexp.MustCompile(`id="secret" class="secret" rows="\d" readonly autocomplete="off" spellcheck="false">([^<]+)</textarea>`).FindStringSubmatch(p.Body)
	require.Len(t, secret, 2, p.Body)
	assert.Contains(t, p.Body, "<code>kiemtoan-nats</code>")
	assert.Contains(t, p.Body, c.NATSURL)
	assert.Contains(t, p.Body, "chỉ hiện một lần")
	acc := account(t, c, "kiemtoan-nats")
	assert.Equal(t, domain.RoleAuditor, acc.Role)
	assert.True(t, domain.SecretMatches(secret[1], acc.NATSPasswordHash), "the password shown is the account's")
	assert.Contains(t, tableRow(t, b.get("/admin/accounts"), "kiemtoan-nats"), "NATS: Có")
	assert.NotContains(t, b.get("/admin/accounts").Body, secret[1])

	p = b.post("/admin/nats-users", url.Values{"csrf": {csrf}, "name": {"can-bo-nats"}, "role": {"officer"}})
	assert.Equal(t, http.StatusBadRequest, p.Status, p.Body)
	assert.Contains(t, p.Body, `id="err-role"`, "readers only")
	assert.Contains(t, p.Body, `id="nats-name" name="name" value="can-bo-nats"`)
	p = b.post("/admin/nats-users", url.Values{"csrf": {csrf}, "name": {"kcledger-api"}, "role": {"auditor"}})
	assert.Equal(t, http.StatusBadRequest, p.Status, p.Body)
	assert.Contains(t, p.Body, `id="err-name"`)
	_, _, err := c.Accounts.Account(t.Context(), "can-bo-nats")
	assert.ErrorIs(t, err, domain.ErrNotFound)
}

// With an external NATS server, its operator manages its users: the
// API's refusal is shown on the form.
func TestAddNATSUserWithExternalServer(t *testing.T) {
	c := startConsoleWith(t, apitest.Options{ExternalNATS: true})
	b, list := adminConsole(t, c)
	p := b.post("/admin/nats-users", url.Values{"csrf": {hidden(t, list, "csrf")}, "name": {"kiemtoan-nats"}, "role": {"auditor"}})
	assert.Equal(t, http.StatusUnprocessableEntity, p.Status, p.Body)
	assert.Contains(t, p.Body, `id="nats-error"`)
	assert.Contains(t, p.Body, "Sổ cái dùng máy chủ NATS bên ngoài")
	_, _, err := c.Accounts.Account(t.Context(), "kiemtoan-nats")
	assert.ErrorIs(t, err, domain.ErrNotFound)
}

// The one-time secrets are in no URL and in none of the console's log
// lines.
func TestSecretsAreNotLogged(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	c := startConsoleWith(t, apitest.Options{}, slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logged}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	b, list := adminConsole(t, c)
	csrf := hidden(t, list, "csrf")
	secretRE := regexp.MustCompile(`id="secret" class="secret" rows="\d" readonly autocomplete="off" spellcheck="false">([^<]+)</textarea>`)
	var secrets []string
	for _, post := range []struct {
		path string
		form url.Values
	}{
		{"/admin/accounts", url.Values{"csrf": {csrf}, "name": {"ketoan-dn"}, "role": {"auditor"}}},
		{"/admin/nats-users", url.Values{"csrf": {csrf}, "name": {"kiemtoan-nats"}, "role": {"auditor"}}},
	} {
		p := b.post(post.path, post.form)
		require.Equal(t, http.StatusCreated, p.Status, p.Body)
		assert.Empty(t, p.Location())
		m := secretRE.FindStringSubmatch(p.Body)
		require.Len(t, m, 2)
		secrets = append(secrets, m[1])
	}
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, logged.String(), "path=/admin/nats-users", "the console logged its pages")
	for _, s := range secrets {
		assert.NotContains(t, logged.String(), s)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// startConsoleWith is startConsole over an API built with o, its pages
// logged to log when given.
func startConsoleWith(t *testing.T, o apitest.Options, log ...*slog.Logger) *console {
	t.Helper()
	a := apitest.Start(t, o)
	js, err := jetstream.New(a.NC)
	require.NoError(t, err)
	sessions, err := eventstore.OpenSessions(t.Context(), js, "", 1, time.Hour)
	require.NoError(t, err)
	cfg := ui.Config{API: a.Server, Accounts: a.Accounts, Sessions: sessions, Now: func() time.Time { return apitest.Now }}
	if len(log) > 0 {
		cfg.Log = log[0]
	}
	c, err := ui.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return &console{API: a, URL: srv.URL, Sessions: sessions}
}

// Only an admin reaches the admin pages: anybody else gets the 403 page
// with nothing of the accounts, and every form does nothing.
func TestAdminPagesRefuseOthers(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	c.account(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	c.account(t, "nguoi-khac", domain.RoleOfficer, []string{"79"}, []string{"local"})
	for _, name := range []string{"ketoan-hn", "kiemtoan"} {
		t.Run(name, func(t *testing.T) {
			b := c.browser(t)
			b.logIn(name, testPassword, "/")
			home := b.get("/")
			assert.NotContains(t, home.Body, `href="/admin/accounts"`, "not in the menu")
			csrf := hidden(t, home, "csrf")
			for _, path := range []string{"/admin/accounts", "/admin/accounts/nguoi-khac/password", "/admin/accounts/" + name + "/password"} {
				p := b.get(path)
				assert.Equal(t, http.StatusForbidden, p.Status, "GET %s: %s", path, p.Body)
				assert.Contains(t, p.Body, "Tài khoản của bạn không có quyền làm việc này.")
				assert.NotContains(t, mainOf(t, p), "nguoi-khac", "GET %s shows nothing of the accounts", path)
			}
			const pw = "một mật khẩu khác hẳn"
			for _, tc := range []struct {
				path string
				form url.Values
			}{
				{"/admin/accounts", url.Values{"name": {"ke-gian"}, "role": {"admin"}}},
				{"/admin/accounts/nguoi-khac/disable", nil},
				{"/admin/accounts/nguoi-khac/enable", nil},
				{"/admin/accounts/nguoi-khac/password", url.Values{"password": {pw}, "confirm": {pw}}},
				{"/admin/accounts/" + name + "/password", url.Values{"password": {pw}, "confirm": {pw}}},
				{"/admin/nats-users", url.Values{"name": {"ke-gian-nats"}, "role": {"auditor"}}},
			} {
				form := url.Values{"csrf": {csrf}}
				for k, v := range tc.form {
					form[k] = v
				}
				p := b.post(tc.path, form)
				assert.Equal(t, http.StatusForbidden, p.Status, "POST %s: %s", tc.path, p.Body)
				assert.NotContains(t, mainOf(t, p), "nguoi-khac", "POST %s shows nothing of the accounts", tc.path)
			}
			for _, n := range []string{"ke-gian", "ke-gian-nats"} {
				_, _, err := c.Accounts.Account(t.Context(), n)
				assert.ErrorIs(t, err, domain.ErrNotFound, "%s was created", n)
			}
			assert.False(t, account(t, c, "nguoi-khac").Disabled)
			require.NoError(t, password.Verify(account(t, c, "nguoi-khac").PasswordHash, testPassword))
			require.NoError(t, password.Verify(account(t, c, name).PasswordHash, testPassword), "its own password is changed at /password, with the current one")
			assert.Equal(t, http.StatusOK, b.get("/").Status, "still logged in")
		})
	}
}

// mainOf is a page's main content, without the menu and the language
// switch (which names the page's own address).
func mainOf(t *testing.T, p page) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<main id="main">.*</main>`).FindString(p.Body)
	require.NotEmpty(t, m, p.Body)
	return m
}

// The admin pages in English.
func TestAccountsInEnglish(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	b, _ := adminConsole(t, c)
	b.get("/lang?to=en&back=%2F")
	p := b.get("/admin/accounts")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, `<html lang="en">`)
	for _, want := range []string{"<h1>Accounts</h1>", "Add an account", "Read-only NATS users", "Finance officer", "by admin", "Set password", "Disable"} {
		assert.Contains(t, p.Body, want)
	}
	p = b.post("/admin/accounts", url.Values{"csrf": {hidden(t, p, "csrf")}, "name": {"kcledger-x"}, "role": {"auditor"}})
	assert.Contains(t, p.Body, `id="err-name"`)
	assert.Contains(t, p.Body, "This value is not valid.")
	p = b.post("/admin/accounts", url.Values{"csrf": {hidden(t, p, "csrf")}, "name": {"kiemtoan"}, "role": {"auditor"}})
	require.Equal(t, http.StatusCreated, p.Status, p.Body)
	assert.Contains(t, p.Body, "it is shown only once")
}
