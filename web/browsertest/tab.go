package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The viewport a tab starts with, and the desktop width of screenshots.
const (
	DesktopWidth  = 1280
	DesktopHeight = 800
	PhoneWidth    = 390
	PhoneHeight   = 844
)

// Tab is one page of the browser, watched for failures from the moment it
// opens. Its methods fail the test (t.Fatalf) when the browser cannot do
// what they ask within the timeout; the failures seen in the page are
// reported by Check and at the test's cleanup.
type Tab struct {
	t      testing.TB
	b      *Browser
	cfg    config
	ctx    context.Context
	cancel func()
	watch  *watch
	closed bool
}

// NewTab opens a tab, with the browser's options changed by opts. It
// shares cookies with the browser's other tabs unless WithOwnCookies. The
// tab is checked for failures (see Check) and closed at the test's
// cleanup, or by Close.
func (b *Browser) NewTab(opts ...Option) *Tab {
	b.t.Helper()
	cfg := b.cfg
	for _, o := range opts {
		o(&cfg)
	}
	origin := ""
	if cfg.baseURL != nil {
		origin = originOf(cfg.baseURL)
	}
	w := newWatch(origin)
	ctxOpts := []chromedp.ContextOption{chromedp.WithListener(w.event)}
	if cfg.ownCookies {
		ctxOpts = append(ctxOpts, chromedp.WithNewBrowserContext())
	}
	ctx, cancel := chromedp.NewContext(b.ctx, ctxOpts...)
	tab := &Tab{t: b.t, b: b, cfg: cfg, ctx: ctx, cancel: cancel, watch: w}
	b.t.Cleanup(tab.Close)

	// The first call opens the tab and binds its life to ctx, so it runs
	// without a deadline of its own, bounded from outside (by at least
	// DefaultTimeout, as the start of the browser is).
	setup := []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(DesktopWidth, DesktopHeight)}
	if cfg.noScript {
		setup = append(setup, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
	}
	if cfg.acceptLanguage != "" {
		setup = append(setup, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": cfg.acceptLanguage}})
			return err
		}))
	}
	if err := within(max(cfg.timeout, DefaultTimeout), func() error { return chromedp.Do(ctx, setup...) }, cancel); err != nil {
		b.t.Fatalf("browsertest: opening a tab: %v", err)
	}
	return tab
}

// Close checks the tab for failures (see Check) and closes it. The test's
// cleanup closes the tabs left open.
func (tab *Tab) Close() {
	tab.t.Helper()
	if tab.closed {
		return
	}
	tab.closed = true
	tab.Check()
	if err := within(tab.cfg.timeout, func() error { tab.cancel(); return nil }, func() {}); err != nil {
		tab.t.Errorf("browsertest: closing the tab: %v", err)
	}
}

// Context is the chromedp context of the tab, for what the helpers do not
// cover. Bound each call with context.WithTimeout.
func (tab *Tab) Context() context.Context { return tab.ctx }

// Do runs chromedp actions in the tab under the timeout.
func (tab *Tab) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	tab.do(what, func(ctx context.Context) error { return chromedp.Do(ctx, actions...) })
}

func (tab *Tab) do(what string, f func(ctx context.Context) error) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, tab.cfg.timeout)
	defer cancel()
	if err := f(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v: %w", tab.cfg.timeout, err)
		}
		tab.t.Fatalf("browsertest: %s: %v", what, err)
	}
}

// resolve makes a relative URL absolute against the base URL, or the
// server under test seen so far.
func (tab *Tab) resolve(raw string) string {
	tab.t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tab.t.Fatalf("browsertest: URL %q: %v", raw, err)
	}
	if u.IsAbs() {
		return u.String()
	}
	base := tab.cfg.baseURL
	if base == nil {
		tab.watch.mu.Lock()
		origin := tab.watch.origin
		tab.watch.mu.Unlock()
		if origin == "" {
			tab.t.Fatalf("browsertest: relative URL %q before any absolute one, and no WithBaseURL", raw)
		}
		base, _ = url.Parse(origin)
	}
	return base.ResolveReference(u).String()
}

// Navigate loads the URL (absolute, or relative to the server under test)
// and waits for the page's load event. It returns the HTTP status of the
// document. A status of 400 or more fails the test at Check unless
// ExpectStatus declared it.
func (tab *Tab) Navigate(rawURL string) int {
	tab.t.Helper()
	abs := tab.resolve(rawURL)
	if u, err := url.Parse(abs); err == nil {
		tab.watch.setOriginOnce(u)
	}
	var status int
	tab.do("navigate to "+abs, func(ctx context.Context) error {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(abs))
		if resp != nil {
			status = int(resp.Status)
		}
		return err
	})
	return status
}

// ExpectStatus declares that responses with this status for this URL path
// are what the test asks for (a 403 page, a 422 refusal of a form), so the
// failure watch does not report them.
func (tab *Tab) ExpectStatus(path string, status int) {
	tab.watch.expect(path, status)
}

// Fill types text into the field the CSS selector finds, after clearing
// it, with key events as a person would (so input listeners run). A
// <select> gets the option whose value is text.
func (tab *Tab) Fill(selector, text string) {
	tab.t.Helper()
	tab.do("fill "+selector, func(ctx context.Context) error {
		nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(selector)))
		if err != nil {
			return err
		}
		if len(nodes) > 0 && nodes[0].LocalName == "select" {
			return chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(selector), text))
		}
		// Emptying the value property empties what the field holds now,
		// typed in or not (chromedp.Clear empties the value attribute,
		// which a field already typed in no longer shows). The DevTools
		// protocol evaluates it even with the page's scripts turned off.
		return chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`document.querySelector(`+strconv.Quote(selector)+`).value = ""`),
			chromedp.SendKeys(chromedp.CSS(selector), text),
		)
	})
}

// Click clicks the element the CSS selector finds and waits until the new
// page has loaded (a link, a form's submit button). It returns the HTTP
// status of the new document. For a click that loads no new page, use
// ClickInPage.
func (tab *Tab) Click(selector string) int {
	tab.t.Helper()
	var status int
	tab.do("click "+selector+" and wait for the next page", func(ctx context.Context) error {
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
		if resp != nil {
			status = int(resp.Status)
		}
		return err
	})
	return status
}

// DoubleClick double-clicks the element the CSS selector finds (a person
// who double-clicks a form's button) and waits until the new page has
// loaded; it returns that page's HTTP status.
func (tab *Tab) DoubleClick(selector string) int {
	tab.t.Helper()
	var status int
	tab.do("double-click "+selector+" and wait for the next page", func(ctx context.Context) error {
		resp, err := chromedp.RunResponse(ctx, chromedp.DoubleClick(chromedp.CSS(selector)))
		if resp != nil {
			status = int(resp.Status)
		}
		return err
	})
	return status
}

// ClickInPage clicks the element the CSS selector finds and does not wait
// for a new page.
func (tab *Tab) ClickInPage(selector string) {
	tab.t.Helper()
	tab.Do("click "+selector, chromedp.Click(chromedp.CSS(selector)))
}

// Text returns the visible text of the first element the CSS selector
// finds, waiting for it to appear.
func (tab *Tab) Text(selector string) string {
	tab.t.Helper()
	var text string
	tab.do("read the text of "+selector, func(ctx context.Context) (err error) {
		text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
		return err
	})
	return text
}

// Exists reports whether the CSS selector finds an element in the page as
// it is now, without waiting.
func (tab *Tab) Exists(selector string) bool {
	tab.t.Helper()
	found := false
	// One evaluation in the page, so the answer is about one document:
	// the DOM domain's node ids are reset whenever chromedp itself asks
	// for the document again, which races with a lookup in two steps.
	// DevTools evaluations run with the page's scripts turned off too.
	quoted, err := json.Marshal(selector)
	if err != nil {
		tab.t.Fatalf("browsertest: %v", err)
	}
	tab.do("look for "+selector, func(ctx context.Context) (err error) {
		found, err = chromedp.Run(ctx, chromedp.Evaluate[bool]("document.querySelector("+string(quoted)+") !== null"))
		return err
	})
	return found
}

// CurrentURL is the URL of the document the tab shows.
func (tab *Tab) CurrentURL() string {
	tab.t.Helper()
	var u string
	tab.do("read the current URL", func(ctx context.Context) error {
		h, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{})
		if err != nil {
			return err
		}
		if h.CurrentIndex < 0 || int(h.CurrentIndex) >= len(h.Entries) {
			return fmt.Errorf("no current entry in the navigation history")
		}
		u = h.Entries[h.CurrentIndex].URL
		return nil
	})
	return u
}

// Cookies returns the cookies the browser would send to the tab's current
// URL, with their flags (HTTPOnly, Secure, SameSite), HttpOnly ones too.
func (tab *Tab) Cookies() []*network.Cookie {
	tab.t.Helper()
	var cookies []*network.Cookie
	tab.do("read the cookies", func(ctx context.Context) error {
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
		cookies = res.Cookies
		return err
	})
	return cookies
}

// Download clicks the element the CSS selector finds (a link or button
// whose response is an attachment), waits until the browser has saved the
// file, and returns its path, in a fresh folder under t.TempDir().
func (tab *Tab) Download(selector string) string {
	tab.t.Helper()
	dir := filepath.Join(tab.t.TempDir(), "download")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tab.t.Fatalf("browsertest: %v", err)
	}
	var path string
	tab.do("download by clicking "+selector, func(ctx context.Context) error {
		events := true
		if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior:         browser.SetDownloadBehaviorBehaviorAllow,
			BrowserContextID: chromedp.FromContext(tab.ctx).BrowserContextID,
			DownloadPath:     dir,
			EventsEnabled:    &events,
		}); err != nil {
			return err
		}
		// Subscribe before the click, so that no event is missed.
		begins := chromedp.BrowserEvents(ctx, browser.DownloadWillBegin)
		progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector))); err != nil {
			return err
		}
		var begin browser.EventDownloadWillBegin
		for ev, err := range begins {
			if err != nil {
				return fmt.Errorf("waiting for the download to begin: %w", err)
			}
			begin = ev
			break
		}
		for ev, err := range progress {
			if err != nil {
				return fmt.Errorf("waiting for the download of %s: %w", begin.URL, err)
			}
			if ev.GUID != begin.GUID {
				continue
			}
			switch ev.State {
			case browser.DownloadProgressStateCanceled:
				return fmt.Errorf("the download of %s was cancelled", begin.URL)
			case browser.DownloadProgressStateCompleted:
				path = ev.FilePath
				if path == "" {
					path = filepath.Join(dir, begin.SuggestedFilename)
				}
				if _, err := os.Stat(path); err != nil {
					return fmt.Errorf("the download of %s completed, but: %w", begin.URL, err)
				}
				return nil
			}
		}
		return ctx.Err()
	})
	return path
}

// Check fails the test (t.Errorf) with each failure the tab has seen since
// the last Check: an uncaught exception, a console error, an error in the
// browser's log (a Content-Security-Policy refusal), a failed load, a
// status of 400 or more from the server under test that ExpectStatus did
// not declare, a request to any other host. It first makes one round trip
// to the tab, so every event Chromium sent before it is counted. The
// test's cleanup calls it once more.
func (tab *Tab) Check() {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, tab.cfg.timeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{}); err != nil {
		tab.t.Errorf("browsertest: checking the tab: %v", err)
	}
	for _, p := range tab.watch.take() {
		tab.t.Errorf("browsertest: in the page: %s", p)
	}
}
