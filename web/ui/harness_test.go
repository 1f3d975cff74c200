package ui_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
	"github.com/kcledger/kcledger/web/password"
	"github.com/kcledger/kcledger/web/ui"
)

// console is the web console over a real API and ledger on an embedded
// JetStream server, served on 127.0.0.1.
type console struct {
	*apitest.API
	URL      string
	Sessions *eventstore.Sessions
	// requests counts the requests the console got, by method and path.
	requests *requestCounter
}

// requestCounter counts requests by "METHOD /path".
type requestCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (rc *requestCounter) count(key string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n[key]
}

// countPrefix counts the requests whose "METHOD /path" starts so.
func (rc *requestCounter) countPrefix(prefix string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for k, v := range rc.n {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

type consoleOptions struct {
	throttle *password.Throttle
	// secure serves the console as behind TLS (serve --tls-cert).
	secure bool
	// observer is told of every page's answer.
	observer ui.PageObserver
}

func startConsole(t *testing.T, o consoleOptions) *console {
	t.Helper()
	a := apitest.Start(t, apitest.Options{LiveReports: true})
	js, err := jetstream.New(a.NC)
	require.NoError(t, err)
	sessions, err := eventstore.OpenSessions(t.Context(), js, "", 1, time.Hour)
	require.NoError(t, err)
	c, err := ui.New(ui.Config{API: a.Server, Accounts: a.Accounts, Sessions: sessions, Throttle: o.throttle, Secure: o.secure, Now: func() time.Time { return apitest.Now }, Observer: o.observer})
	require.NoError(t, err)
	rc := &requestCounter{n: map[string]int{}}
	h := c.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.n[r.Method+" "+r.URL.Path]++
		rc.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &console{API: a, URL: srv.URL, Sessions: sessions, requests: rc}
}

// password is the console password every test account gets.
const testPassword = "một câu dễ nhớ 2025"

// account creates an account with testPassword, set by its owner (no
// change asked at log-in), and returns its API token.
func (c *console) account(t *testing.T, name string, role domain.Role, provinces, sources []string) string {
	t.Helper()
	token := c.AddAccount(t, name, role, provinces, sources)
	r := c.As(token).Do(t, http.MethodPost, "/v1/users/"+name+"/password", http.Header{"Content-Type": {"application/json"}},
		apitest.MustJSON(t, api.PasswordRequest{Password: testPassword}))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	return token
}

// loggedIn creates an account with testPassword and returns a browser
// logged in as it, on the overview.
func (c *console) loggedIn(t *testing.T, name string, role domain.Role, provinces, sources []string) *browser {
	t.Helper()
	c.account(t, name, role, provinces, sources)
	b := c.browser(t)
	b.logIn(name, testPassword, "/")
	return b
}

// browser is a cookie-keeping client that does not follow redirects, so
// that tests see them.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
}

func (c *console) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, base: c.URL, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is an answer read in full.
type page struct {
	Status int
	Header http.Header
	Body   string
}

// Location is where a redirect goes.
func (p page) Location() string { return p.Header.Get("Location") }

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.http.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	p := page{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		require.NotContains(b.t, p.Body, "⟦", "%s %s renders a text missing from the catalogues", req.Method, req.URL.Path)
	}
	return p
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, b.base+path, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

// post sends a form as a page of the console would: same origin.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	return b.postWith(path, form, http.Header{"Origin": {b.base}, "Sec-Fetch-Site": {"same-origin"}})
}

func (b *browser) postWith(path string, form url.Values, h http.Header) page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header[k] = v
	}
	return b.do(req)
}

var hiddenRE = regexp.MustCompile(`name="(csrf|token|idempotency_key)" value="([^"]*)"`)

// hidden is the value of a form's hidden field in a page.
func hidden(t *testing.T, p page, name string) string {
	t.Helper()
	for _, m := range hiddenRE.FindAllStringSubmatch(p.Body, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	t.Fatalf("no hidden %s in the page:\n%s", name, p.Body)
	return ""
}

// logIn logs in through the form and checks where it leads.
func (b *browser) logIn(name, pw, want string) page {
	b.t.Helper()
	form := b.get("/login")
	require.Equal(b.t, http.StatusOK, form.Status, form.Body)
	p := b.post("/login", url.Values{"token": {hidden(b.t, form, "token")}, "name": {name}, "password": {pw}})
	if want != "" {
		require.Equal(b.t, http.StatusSeeOther, p.Status, p.Body)
		require.Equal(b.t, want, p.Location())
	}
	return p
}

// cookie is the browser's cookie name for the console, or "".
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) setCookie(name, value string) {
	u, _ := url.Parse(b.base)
	b.http.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}
