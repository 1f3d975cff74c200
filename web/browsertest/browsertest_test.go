package browsertest_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/web/browsertest"
)

// strictCSP is the policy of the console: scripts only from the server's
// own files, nothing inline.
const strictCSP = "default-src 'self'; script-src 'self'"

// recorder is a testing.TB that keeps what the package reports with
// Errorf, so a test can assert that a failure is reported; everything
// else (TempDir, Cleanup, Fatalf, Skip) goes to the real test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

// take returns what was reported since the last take.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.errors
	r.errors = nil
	return e
}

func page(title, body string) string {
	return `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
		`<meta name="viewport" content="width=device-width, initial-scale=1">` +
		`<title>` + title + `</title></head><body><main>` + body + `</main></body></html>`
}

// site is the server under test, and another host that no page may reach.
type site struct {
	URL, Other string
}

func newSite(t *testing.T) site {
	t.Helper()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(onePixelPNG(t))
	}))
	t.Cleanup(other.Close)

	mux := http.NewServeMux()
	html := func(path, csp string, status int, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", csp)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		})
	}
	js := func(path, src string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, src)
		})
	}
	html("/ok", strictCSP, http.StatusOK, page("OK",
		`<h1>Accessible</h1><p id="msg">static</p>`+
			`<form action="/next" method="get"><label for="name">Name</label> <input id="name" name="name">`+
			` <button type="submit" id="go">Go</button></form>`+
			`<p><a id="dl" href="/report.xlsx">Download the report</a></p>`+
			`<script src="/app.js"></script>`))
	js("/app.js", `document.getElementById("msg").textContent = "script ran";`)
	html("/long", strictCSP, http.StatusOK, page("Long", "<h1>Long</h1>"+strings.Repeat("<p>Một dòng của trang dài.</p>\n", 150)))
	html("/next", strictCSP, http.StatusOK, page("Next", `<h1 id="h">Next</h1>`))
	html("/throws", strictCSP, http.StatusOK, page("Throws", `<h1>Throws</h1><script src="/throw.js"></script>`))
	js("/throw.js", `console.error("logged by throw.js"); throw new Error("boom from throw.js");`)
	html("/inline", strictCSP, http.StatusOK, page("Inline", `<h1 id="h">Inline</h1><script>document.getElementById("h").textContent = "inline ran";</script>`))
	// This page's policy lets the image through to the other host, so
	// the request really leaves; the console's policy would block it.
	html("/foreign", strictCSP+"; img-src 'self' "+other.URL, http.StatusOK, page("Foreign", `<h1>Foreign</h1><img src="`+other.URL+`/pixel.png" alt="a dot">`))
	html("/missing-asset", strictCSP, http.StatusOK, page("Missing", `<h1>Missing</h1><script src="/nope.js"></script>`))
	html("/forbidden", strictCSP, http.StatusForbidden, page("Forbidden", `<h1 id="h">Not yours</h1>`))
	html("/inaccessible", strictCSP, http.StatusOK, page("Inaccessible", `<h1>Inaccessible</h1><img src="/pixel.png"><button id="b"></button>`))
	mux.HandleFunc("/pixel.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(onePixelPNG(t))
	})
	mux.HandleFunc("/report.xlsx", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", `attachment; filename="bao-cao.xlsx"`)
		fmt.Fprint(w, "not really a workbook")
	})
	mux.HandleFunc("/cookie", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		w.Header().Set("Content-Security-Policy", strictCSP)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page("Cookie", `<h1>Cookie</h1>`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return site{URL: srv.URL, Other: other.URL}
}

func onePixelPNG(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Errorf("encoding a PNG: %v", err)
	}
	return buf.Bytes()
}

func TestWatchReportsFailuresInThePage(t *testing.T) {
	s := newSite(t)
	rec := &recorder{TB: t}
	b := browsertest.New(rec)

	tests := []struct {
		name   string
		path   string
		expect func(tab *browsertest.Tab)
		want   []string // each must appear in one reported failure
	}{
		{name: "a clean page", path: "/ok"},
		{name: "a JavaScript exception and a console error", path: "/throws",
			want: []string{"boom from throw.js", "console.error", "logged by throw.js"}},
		{name: "an inline script refused by the CSP", path: "/inline",
			want: []string{"Content Security Policy"}},
		{name: "a request to another host", path: "/foreign",
			want: []string{"another host", s.Other + "/pixel.png"}},
		{name: "a 404 asset", path: "/missing-asset",
			want: []string{"HTTP 404", s.URL + "/nope.js"}},
		{name: "an undeclared 403", path: "/forbidden",
			want: []string{"HTTP 403", s.URL + "/forbidden"}},
		{name: "a declared 403", path: "/forbidden",
			expect: func(tab *browsertest.Tab) { tab.ExpectStatus("/forbidden", http.StatusForbidden) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := b.NewTab(browsertest.WithBaseURL(s.URL))
			if tt.expect != nil {
				tt.expect(tab)
			}
			tab.Navigate(tt.path)
			tab.Check()
			got := rec.take()
			if len(tt.want) == 0 {
				assert.Empty(t, got)
				return
			}
			require.NotEmpty(t, got, "nothing reported")
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				assert.Contains(t, all, w)
			}
		})
	}
}

func TestWatchReportsAtCleanup(t *testing.T) {
	s := newSite(t)
	var rec *recorder
	var inner *testing.T
	t.Run("inner", func(t *testing.T) {
		inner = t
		rec = &recorder{TB: t}
		b := browsertest.New(rec)
		tab := b.NewTab()
		tab.Navigate(s.URL + "/throws")
		// No Check: the cleanup of the inner test must report it.
	})
	if inner.Skipped() {
		t.Skip("the inner test was skipped (no Chromium)")
	}
	assert.Contains(t, strings.Join(rec.take(), "\n"), "boom from throw.js")

	// Close checks too, once.
	rec = &recorder{TB: t}
	tab := browsertest.New(rec).NewTab()
	tab.Navigate(s.URL + "/throws")
	tab.Close()
	assert.Contains(t, strings.Join(rec.take(), "\n"), "boom from throw.js")
	tab.Close()
	assert.Empty(t, rec.take())
}

func TestNavigateReturnsTheStatus(t *testing.T) {
	s := newSite(t)
	tab := browsertest.New(t).NewTab()
	assert.Equal(t, http.StatusOK, tab.Navigate(s.URL+"/ok"))
	tab.ExpectStatus("/forbidden", http.StatusForbidden)
	assert.Equal(t, http.StatusForbidden, tab.Navigate("/forbidden"), "relative to the first page")
	assert.Equal(t, "Not yours", tab.Text("#h"))
}

func TestAxeReportsAnInaccessiblePage(t *testing.T) {
	s := newSite(t)
	rec := &recorder{TB: t}
	tab := browsertest.New(rec).NewTab(browsertest.WithBaseURL(s.URL))

	tab.Navigate("/inaccessible")
	vs := browsertest.Axe(rec, tab)
	got := strings.Join(rec.take(), "\n")
	ids := map[string]string{}
	for _, v := range vs {
		ids[v.ID] = v.Impact
	}
	assert.Equal(t, "critical", ids["image-alt"], "the image without alt")
	assert.Equal(t, "critical", ids["button-name"], "the button without a name")
	assert.Contains(t, got, "image-alt")
	assert.Contains(t, got, "button-name")
	assert.Contains(t, got, "#b", "the offending button's selector")
	assert.Contains(t, got, "Images must have alternative text", "axe's help text")

	// The page is under a strict CSP: axe-core ran all the same, and the
	// watch saw no refusal.
	tab.Check()
	assert.Empty(t, rec.take())
}

func TestAxeAcceptsAnAccessiblePage(t *testing.T) {
	s := newSite(t)
	rec := &recorder{TB: t}
	b := browsertest.New(rec)
	for _, tab := range []*browsertest.Tab{b.NewTab(), b.NewTab(browsertest.WithoutJavaScript())} {
		tab.Navigate(s.URL + "/ok")
		browsertest.Axe(rec, tab)
		tab.Check()
		assert.Empty(t, rec.take())
	}
}

func TestCSPBlocksInlineScriptButNotAxe(t *testing.T) {
	// The proof that the injection is not at the page's mercy: the same
	// policy that stops the page's inline script lets axe-core run.
	s := newSite(t)
	rec := &recorder{TB: t}
	tab := browsertest.New(rec).NewTab()
	tab.Navigate(s.URL + "/inline")
	assert.Equal(t, "Inline", tab.Text("#h"), "the inline script must not have run")
	browsertest.Axe(rec, tab)
	tab.Check()
	got := strings.Join(rec.take(), "\n")
	assert.Contains(t, got, "Content Security Policy")
	assert.NotContains(t, got, "axe")
}

func TestWithoutJavaScript(t *testing.T) {
	s := newSite(t)
	b := browsertest.New(t)

	on := b.NewTab()
	on.Navigate(s.URL + "/ok")
	assert.Equal(t, "script ran", on.Text("#msg"))

	off := b.NewTab(browsertest.WithoutJavaScript())
	for range 2 { // and still off on the next page load
		off.Navigate(s.URL + "/ok")
		assert.Equal(t, "static", off.Text("#msg"))
	}

	// The helpers work without JavaScript: fill, submit, read. A second
	// Fill replaces what the first typed.
	off.Fill("#name", "typed first")
	off.Fill("#name", "Nguyễn Văn A")
	off.Click("#go")
	assert.Contains(t, off.CurrentURL(), "/next?name=Nguy%E1%BB%85n+V%C4%83n+A")
	assert.True(t, off.Exists("#h"))
	assert.False(t, off.Exists("#msg"))
	off.Navigate(s.URL + "/ok")
	assert.Equal(t, "static", off.Text("#msg"), "script still off after a form post")
}

func TestScreenshotsAtBothWidths(t *testing.T) {
	s := newSite(t)
	dir := t.TempDir()
	t.Setenv("KCLEDGER_SCREENSHOTS", dir)
	tab := browsertest.New(t).NewTab()
	tab.Navigate(s.URL + "/ok")
	desktop, phone := tab.Screenshot("ok page")

	for path, width := range map[string]int{desktop: browsertest.DesktopWidth, phone: browsertest.PhoneWidth} {
		assert.Equal(t, dir, filepath.Dir(path))
		f, err := os.Open(path)
		require.NoError(t, err)
		cfg, err := png.DecodeConfig(f)
		f.Close()
		require.NoError(t, err, path)
		assert.Equal(t, width, cfg.Width, path)
		assert.GreaterOrEqual(t, cfg.Height, 100, path)
	}
	assert.Equal(t, "ok_page-desktop.png", filepath.Base(desktop))
	assert.Equal(t, "ok_page-phone.png", filepath.Base(phone))

	// The whole page, not the viewport: 150 paragraphs are far taller
	// than the phone's 844 pixels.
	tab.Navigate("/long")
	_, phone = tab.Screenshot("long")
	f, err := os.Open(phone)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	assert.Equal(t, browsertest.PhoneWidth, cfg.Width)
	assert.Greater(t, cfg.Height, 3*browsertest.PhoneHeight, "a full-page screenshot")
}

func TestDownloadAndCookies(t *testing.T) {
	s := newSite(t)
	tab := browsertest.New(t).NewTab(browsertest.WithBaseURL(s.URL))
	tab.Navigate("/cookie")
	cookies := tab.Cookies()
	require.Len(t, cookies, 1)
	assert.Equal(t, "session", cookies[0].Name)
	assert.True(t, cookies[0].HTTPOnly)
	assert.Equal(t, "Strict", string(cookies[0].SameSite))

	tab.Navigate("/ok")
	path := tab.Download("#dl")
	assert.Equal(t, "bao-cao.xlsx", filepath.Base(path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "not really a workbook", string(got))
	assert.Equal(t, s.URL+"/ok", tab.CurrentURL(), "a download loads no page")
}

// stopper is a testing.TB whose Fatalf and Skipf are recorded and end
// only the goroutine that called them, so a test can see what New does
// when a tool is missing.
type stopper struct {
	testing.TB
	fatal, skip string
	passFatal   bool // while true, Fatalf and Skipf are the real test's
}

func (s *stopper) Fatalf(format string, args ...any) {
	if s.passFatal {
		s.TB.Fatalf(format, args...)
	}
	s.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (s *stopper) Skipf(format string, args ...any) {
	if s.passFatal {
		s.TB.Skipf(format, args...)
	}
	s.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingChromiumSkipsUnlessRequired(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no chromium on it
	t.Setenv("KCLEDGER_CHROMIUM", "")
	for _, tt := range []struct {
		require   string
		fatal     bool
		wantInMsg string
	}{
		{require: "", wantInMsg: "no Chromium"},
		{require: "1", fatal: true, wantInMsg: "KCLEDGER_REQUIRE_TOOLS=1"},
	} {
		t.Setenv("KCLEDGER_REQUIRE_TOOLS", tt.require)
		s := &stopper{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			browsertest.New(s)
			t.Errorf("New returned without Chromium")
		}()
		<-done
		if tt.fatal {
			assert.Contains(t, s.fatal, tt.wantInMsg)
			assert.Empty(t, s.skip)
		} else {
			assert.Contains(t, s.skip, tt.wantInMsg)
			assert.Empty(t, s.fatal)
		}
	}
}

func TestOwnCookies(t *testing.T) {
	s := newSite(t)
	b := browsertest.New(t)
	first := b.NewTab(browsertest.WithBaseURL(s.URL))
	first.Navigate("/cookie")
	require.Len(t, first.Cookies(), 1)

	shared := b.NewTab(browsertest.WithBaseURL(s.URL))
	shared.Navigate("/ok")
	assert.Len(t, shared.Cookies(), 1, "tabs share cookies by default")

	own := b.NewTab(browsertest.WithBaseURL(s.URL), browsertest.WithOwnCookies())
	own.Navigate("/ok")
	assert.Empty(t, own.Cookies(), "a tab WithOwnCookies sees none of the others'")
	path := own.Download("#dl")
	assert.Equal(t, "bao-cao.xlsx", filepath.Base(path), "downloads work in a browser context of its own")
}

func TestEveryCallIsBounded(t *testing.T) {
	st := &stopper{TB: t, passFatal: true}
	tab := browsertest.New(st).NewTab(browsertest.WithTimeout(time.Second))
	st.passFatal = false
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		tab.Text("#never-there")
		t.Errorf("Text returned for an element that is not there")
	}()
	<-done
	assert.Contains(t, st.fatal, "no answer within 1s")
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestMissingAxeSkipsUnlessRequired(t *testing.T) {
	s := newSite(t)
	st := &stopper{TB: t, passFatal: true}
	tab := browsertest.New(st).NewTab()
	tab.Navigate(s.URL + "/ok")
	st.passFatal = false
	axe := func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			browsertest.Axe(st, tab)
			t.Errorf("Axe returned without axe-core")
		}()
		<-done
	}

	t.Setenv("KCLEDGER_AXE", filepath.Join(t.TempDir(), "axe.min.js"))
	axe()
	assert.Contains(t, st.fatal, "KCLEDGER_AXE=", "a named file that is not there fails")

	t.Setenv("KCLEDGER_AXE", "")
	t.Chdir(t.TempDir()) // no go.mod above, so no .tools
	for _, tt := range []struct{ require, fatal, skip string }{
		{require: "", skip: "no axe-core"},
		{require: "1", fatal: "KCLEDGER_REQUIRE_TOOLS=1"},
	} {
		t.Setenv("KCLEDGER_REQUIRE_TOOLS", tt.require)
		st.fatal, st.skip = "", ""
		axe()
		if tt.fatal != "" {
			assert.Contains(t, st.fatal, tt.fatal)
			assert.Empty(t, st.skip)
		} else {
			assert.Contains(t, st.skip, tt.skip)
			assert.Empty(t, st.fatal)
		}
	}
}
