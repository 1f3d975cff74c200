package ui_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
)

// Every page, the log-in page included, is served with the headers that
// keep it from running another host's script, being framed or sniffed.
func TestSecurityHeaders(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	b := c.browser(t)
	check := func(p page) {
		t.Helper()
		csp := p.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
			assert.Contains(t, csp, d)
		}
		assert.NotContains(t, csp, "unsafe-inline")
		assert.Equal(t, "nosniff", p.Header.Get("X-Content-Type-Options"))
		assert.Equal(t, "same-origin", p.Header.Get("Referrer-Policy"))
		assert.Equal(t, "DENY", p.Header.Get("X-Frame-Options"))
		assert.NotEmpty(t, p.Header.Get("X-Request-Id"))
	}
	login := b.get("/login")
	check(login)
	assert.Equal(t, "no-store", login.Header.Get("Cache-Control"))
	check(b.get("/static/app.css"))
	check(b.get("/no/such/page"))
	b.logIn("kiemtoan", testPassword, "/")
	check(b.get("/"))
	check(b.get("/keys"))
}

// No page holds an inline script, an inline style or an event handler
// attribute, which the Content-Security-Policy would block anyway.
func TestTemplatesHaveNoInlineScriptOrStyle(t *testing.T) {
	bad := regexp.MustCompile(`(?i)<script>|<script [^>]*>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	require.NoError(t, filepath.WalkDir("templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Empty(t, bad.FindAllString(string(b), -1), path)
		return nil
	}))
}

// Every text a template asks for is in the catalogues (which hold the
// same keys in both languages: web/i18n's test): no template holds text
// of its own beyond names, and none renders a missing key.
func TestTemplatesUseCatalogueKeys(t *testing.T) {
	var cat map[string]string
	b, err := os.ReadFile("../i18n/vi.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &cat))
	key := regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)
	n := 0
	require.NoError(t, filepath.WalkDir("templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, m := range key.FindAllStringSubmatch(string(src), -1) {
			n++
			_, ok := cat[m[1]]
			assert.True(t, ok, "%s asks for %s, which the catalogues lack", path, m[1])
		}
		return nil
	}))
	assert.Greater(t, n, 20)
}

func TestLanguageSwitchIsRemembered(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	vi := b.get("/keys")
	assert.Contains(t, vi.Body, `<html lang="vi">`)
	assert.Contains(t, vi.Body, "Khóa công khai ký sự kiện")
	assert.Contains(t, vi.Body, `href="/lang?to=en&amp;back=%2fkeys"`)

	p := b.get("/lang?to=en&back=%2Fkeys")
	require.Equal(t, http.StatusSeeOther, p.Status)
	assert.Equal(t, "/keys", p.Location())
	ck := setCookie(t, p, "kcledger_lang")
	assert.Equal(t, 365*24*3600, ck.MaxAge)
	en := b.get("/keys")
	assert.Contains(t, en.Body, `<html lang="en">`)
	assert.Contains(t, en.Body, "Public keys that sign the events")
	assert.Equal(t, "en", en.Header.Get("Content-Language"))
	assert.Contains(t, b.get("/").Body, "Fiscal year overview", "remembered on every page")

	for _, back := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", ""} {
		p := b.get("/lang?to=vi&back=" + urlEscape(back))
		assert.Equal(t, "/", p.Location(), "back=%q never leaves the console", back)
	}
	assert.Equal(t, http.StatusNotFound, b.get("/lang?to=fr").Status)
	// Without a cookie, the browser's languages choose; Vietnamese first.
	fresh := c.browser(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, c.URL+"/login", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	assert.Contains(t, fresh.do(req).Body, `<html lang="en">`)
	assert.Contains(t, fresh.get("/login").Body, `<html lang="vi">`)
}

func urlEscape(s string) string {
	return strings.NewReplacer("/", "%2F", ":", "%3A", "\\", "%5C").Replace(s)
}

func TestKeysPage(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	r := c.Get(t, "/v1/keys")
	require.Equal(t, http.StatusOK, r.Status)
	var keys api.KeysResponse
	require.NoError(t, json.Unmarshal(r.Body, &keys))
	require.NotEmpty(t, keys.Keys)

	p := b.get("/keys")
	require.Equal(t, http.StatusOK, p.Status)
	for _, k := range keys.Keys {
		assert.Contains(t, p.Body, k.ID)
	}
	assert.Contains(t, p.Body, "(giờ Việt Nam, UTC&#43;7)", "times are labelled with their zone")
	dl := b.get("/keys?download=1")
	require.Equal(t, http.StatusOK, dl.Status)
	assert.Contains(t, dl.Header.Get("Content-Disposition"), "kcledger-keys.json")
	assert.JSONEq(t, string(r.Body), dl.Body, "the file is the API's, byte for byte in meaning")
}

func TestUnknownPageIs404(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	p := c.browser(t).get("/no/such/page")
	assert.Equal(t, http.StatusNotFound, p.Status)
	assert.Contains(t, p.Body, `<html lang="vi">`)
	assert.NotContains(t, p.Body, "⟦")
}
