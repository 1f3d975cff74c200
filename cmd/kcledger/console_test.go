package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// consoleClient is a browser's cookies and no redirects followed.
func consoleClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func consoleGet(t *testing.T, c *http.Client, u string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

func consolePost(t *testing.T, c *http.Client, base, path string, form url.Values) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

var formToken = regexp.MustCompile(`name="(token|csrf)" value="([^"]+)"`)

// serve's address serves the console beside the API; a session opened
// on one process is known to the other (they share the NATS server), a
// log-out on one ends it on both, and disabling the account through one
// ends its session on the other at its next request.
func TestConsoleSessionsAcrossServes(t *testing.T) {
	a, b, _ := startTwoServes(t)
	code, _, stderr := cli(t, a.http, "user", "add", "ketoan-hn", "--role", "officer", "--provinces", "01", "--sources", "national")
	require.Equal(t, 0, code, stderr)
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("một câu dễ nhớ của kế toán\n"), 0o600))
	code, _, stderr = cli(t, a.http, "user", "passwd", "ketoan-hn", "--password-file", pwFile)
	require.Equal(t, 0, code, stderr)

	// The API's routes still answer beside the console.
	st, _, body := consoleGet(t, http.DefaultClient, a.http+"/healthz")
	require.Equal(t, http.StatusOK, st, body)

	c := consoleClient(t)
	st, h, _ := consoleGet(t, c, a.http+"/")
	require.Equal(t, http.StatusSeeOther, st)
	require.Equal(t, "/login", h.Get("Location"))
	st, h, body = consoleGet(t, c, a.http+"/login")
	require.Equal(t, http.StatusOK, st)
	assert.Contains(t, h.Get("Content-Type"), "text/html")
	assert.Contains(t, body, "Đăng nhập")
	m := formToken.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	// The admin set the password: it must be changed first.
	st, h = consolePost(t, c, a.http, "/login", url.Values{"token": {m[2]}, "name": {"ketoan-hn"}, "password": {"một câu dễ nhớ của kế toán"}})
	require.Equal(t, http.StatusSeeOther, st)
	require.Equal(t, "/password", h.Get("Location"))

	st, _, body = consoleGet(t, c, b.http+"/password")
	require.Equal(t, http.StatusOK, st, "the session opened on one serve is known to the other")
	m = formToken.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	st, h = consolePost(t, c, b.http, "/password", url.Values{"csrf": {m[2]}, "current": {"một câu dễ nhớ của kế toán"}, "new": {"câu mới dài hơn mười hai ký tự"}, "confirm": {"câu mới dài hơn mười hai ký tự"}})
	require.Equal(t, http.StatusSeeOther, st)
	require.Equal(t, "/?done=password_changed", h.Get("Location"))
	st, _, body = consoleGet(t, c, a.http+"/keys")
	require.Equal(t, http.StatusOK, st, body)

	code, _, stderr = cli(t, b.http, "user", "disable", "ketoan-hn")
	require.Equal(t, 0, code, stderr)
	st, h, _ = consoleGet(t, c, a.http+"/keys")
	require.Equal(t, http.StatusSeeOther, st, "disabled through the other process: the session ends at once")
	assert.Equal(t, "/login?next=%2Fkeys", h.Get("Location"))
}
