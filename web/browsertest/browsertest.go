// Package browsertest drives Debian's Chromium from Go tests, for the
// browser journeys over the web console: it starts a headless Chromium
// for a test, opens tabs on the server under test, and fails the test on
// anything a person would see go wrong in the page (a JavaScript error, a
// failed request, an error status nobody asked for, a request to another
// host), on serious accessibility violations (axe-core), and saves
// screenshots at a desktop and a phone width.
//
// It talks to Chromium over the DevTools protocol with
// github.com/chromedp/chromedp, so no driver and no browser download is
// needed: the Chromium is Debian's package, which scripts/test installs.
//
// Where the tools come from:
//
//	KCLEDGER_CHROMIUM      the Chromium binary (else chromium, else chromium-browser, on PATH)
//	KCLEDGER_AXE           axe-core's axe.min.js (else <repo>/.tools/node_modules/axe-core/axe.min.js)
//	KCLEDGER_SCREENSHOTS   the folder for screenshots (else a folder under t.TempDir())
//	KCLEDGER_REQUIRE_TOOLS 1: a missing tool fails the test instead of skipping it (scripts/test sets it)
//
// Every call that talks to the browser runs under a deadline (30 s unless
// WithTimeout says otherwise), so a test never hangs on the browser.
//
// A journey, in the _test file of the package that serves the console:
//
//	srv := httptest.NewServer(handler)
//	tab := browsertest.New(t).NewTab(browsertest.WithBaseURL(srv.URL))
//	tab.Navigate("/login")
//	tab.Fill("#name", "hanoi-officer")
//	tab.Fill("#password", password)
//	tab.Click("button[type=submit]")
//	browsertest.Axe(t, tab)
//	tab.Screenshot("overview")
//	tab.ExpectStatus("/provinces/79", http.StatusForbidden)
//	require.Equal(t, http.StatusForbidden, tab.Navigate("/provinces/79"))
//
// Each tab is checked for failures at the test's cleanup; call tab.Check()
// to have them reported at a given step. A second account logged in at the
// same time needs a tab WithOwnCookies: the tabs of one browser share
// cookies otherwise.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// DefaultTimeout bounds every browser call unless WithTimeout says otherwise.
const DefaultTimeout = 30 * time.Second

// Flags are the command-line flags Chromium starts with, besides
// --user-data-dir (a fresh folder under t.TempDir()) and what chromedp
// itself needs to talk to it (--remote-debugging-pipe and the first blank
// page). The background-networking, component-update and sync flags keep
// Chromium from calling out to the network at start: the machines the
// tests run on have none.
var Flags = []string{
	"headless",
	"no-sandbox",
	"disable-gpu",
	"no-first-run",
	"disable-background-networking",
	"disable-component-update",
	"disable-sync",
}

// Browser is one headless Chromium started for a test. It is closed at
// the test's cleanup.
type Browser struct {
	t    testing.TB
	cfg  config
	ctx  context.Context // the root chromedp context: the browser itself
	exec string
	dir  string // the user data directory
	out  *syncBuffer

	shotOnce sync.Once
	shotDir  string
	shotErr  error
}

type config struct {
	timeout    time.Duration
	noScript   bool
	ownCookies bool
	// acceptLanguage is the tabs' Accept-Language; "" is Chromium's.
	acceptLanguage string
	baseURL        *url.URL
}

// Option changes how New starts the browser and how its tabs behave; the
// same options given to NewTab change that tab only.
type Option func(*config)

// WithTimeout bounds every browser call (navigation, click, query, axe run,
// download) by d instead of DefaultTimeout. Starting Chromium gets at
// least DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithoutJavaScript turns script execution off in the tabs (the DevTools
// protocol's Emulation.setScriptExecutionDisabled, set on each new tab
// before it loads anything), for the journeys that must work without
// JavaScript. The helpers of Tab still work: they use the DevTools
// protocol, which the setting does not block.
func WithoutJavaScript() Option {
	return func(c *config) { c.noScript = true }
}

// WithOwnCookies gives a tab its own cookie jar and storage (a browser
// context of its own, like a private window), so two accounts can be
// logged in at once in one browser. Without it, a browser's tabs share
// cookies.
func WithOwnCookies() Option {
	return func(c *config) { c.ownCookies = true }
}

// WithLanguages makes the tabs ask for these languages (an
// Accept-Language header such as "vi-VN,vi;q=0.9"), as a browser set up
// in that language does; Chromium's own default is English.
func WithLanguages(acceptLanguage string) Option {
	return func(c *config) { c.acceptLanguage = acceptLanguage }
}

// WithBaseURL names the server under test: Navigate resolves relative
// URLs against it, and the failure watch treats every other origin as
// another host. Without it, the origin of a tab's first Navigate is the
// server under test.
func WithBaseURL(base string) Option {
	return func(c *config) {
		u, err := url.Parse(base)
		if err != nil {
			panic(fmt.Sprintf("browsertest: WithBaseURL(%q): %v", base, err))
		}
		c.baseURL = u
	}
}

// New starts Debian's Chromium for the test, headless, with a fresh
// profile under t.TempDir(), and closes it at the test's cleanup. Without
// a Chromium it skips the test, or fails it when KCLEDGER_REQUIRE_TOOLS=1.
func New(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	cfg := config{timeout: DefaultTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	path := chromiumPath(t)
	dir := filepath.Join(t.TempDir(), "chromium-profile")
	out := &syncBuffer{}

	allocOpts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(dir), chromedp.CombinedOutput(out)}
	for _, f := range Flags {
		allocOpts = append(allocOpts, chromedp.Flag(f, true))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{t: t, cfg: cfg, ctx: ctx, exec: path, dir: dir, out: out}

	t.Cleanup(func() {
		done := make(chan struct{})
		go func() {
			cancel()
			allocCancel()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(cfg.timeout):
			t.Errorf("browsertest: Chromium did not stop within %v", cfg.timeout)
		}
		// Chromium's helper processes can outlive the main one for a
		// moment and write into the profile after t.TempDir's cleanup
		// began; end them first.
		killProfileUsers(dir, cfg.timeout)
		if out := b.out.tail(4096); t.Failed() && out != "" {
			t.Logf("browsertest: Chromium's output (last 4 KB, without its D-Bus complaints):\n%s", out)
		}
	})

	// The first call starts the browser and binds its life to ctx, so it
	// cannot run under a deadline of its own: bound it from outside.
	// Starting Chromium on a busy machine can take seconds, so a short
	// WithTimeout, meant for the calls, does not cut it shorter than
	// DefaultTimeout.
	if err := within(max(cfg.timeout, DefaultTimeout), func() error { return chromedp.Do(ctx) }, func() { cancel(); allocCancel() }); err != nil {
		t.Fatalf("browsertest: starting %s: %v\n%s", path, err, out.tail(4096))
	}
	return b
}

// within runs f and waits at most d for it; when d passes first it calls
// stop (which must make f return) and reports the timeout.
func within(d time.Duration, f func() error, stop func()) error {
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(d):
		stop()
		select {
		case <-errc:
		case <-time.After(5 * time.Second):
		}
		return fmt.Errorf("no answer within %v", d)
	}
}

// chromiumPath finds the Chromium binary, or skips (fails) the test.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KCLEDGER_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("browsertest: KCLEDGER_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missingTool(t, "no Chromium: set KCLEDGER_CHROMIUM, or install Debian's chromium (scripts/test does)")
	return ""
}

// missingTool skips the test, or fails it when the run requires every tool.
func missingTool(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("KCLEDGER_REQUIRE_TOOLS") == "1" {
		t.Fatalf("browsertest: %s (KCLEDGER_REQUIRE_TOOLS=1)", msg)
	}
	t.Skipf("browsertest: %s", msg)
}

// repoRoot walks up from the working directory to the folder of go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// killProfileUsers kills the processes started with --user-data-dir=dir
// until none is left for a few looks in a row, or d has passed.
func killProfileUsers(dir string, d time.Duration) {
	want := []byte("--user-data-dir=" + dir)
	deadline := time.Now().Add(d)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); {
		if killMatching(want) == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(10 * time.Millisecond) // between looks at /proc, not a wait for an event
	}
}

func killMatching(want []byte) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
			if bytes.Equal(arg, want) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				n++
				break
			}
		}
	}
	return n
}

// syncBuffer keeps Chromium's output for the failure message.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
}

// Write keeps whole lines, less those about D-Bus, which a machine
// without a desktop session makes Chromium print by the dozen.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		line := b.partial[:i+1]
		const maxBytes = 1 << 20
		if !bytes.Contains(line, []byte("dbus")) && b.buf.Len() < maxBytes {
			b.buf.Write(line)
		}
		b.partial = b.partial[i+1:]
	}
	if len(b.partial) > 64<<10 { // a line without end: keep its start
		b.buf.Write(b.partial[:64<<10])
		b.partial = nil
	}
	return len(p), nil
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.Bytes()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return string(s)
}
