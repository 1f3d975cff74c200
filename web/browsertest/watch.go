package browsertest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
)

// watch collects what went wrong in one tab: uncaught exceptions, console
// errors, the browser's own error log (a Content-Security-Policy refusal,
// say), failed loads, error statuses from the server under test that the
// test did not declare, and every request to another host. chromedp calls
// event in the tab's read loop, in the order Chromium sent the events.
type watch struct {
	mu       sync.Mutex
	origin   string            // scheme://host:port of the server under test; "" until known
	requests map[string]string // request id → URL, for the failed-load message
	expected map[expectKey]bool
	problems []string
}

type expectKey struct {
	path   string
	status int64
}

func newWatch(origin string) *watch {
	return &watch{origin: origin, requests: map[string]string{}, expected: map[expectKey]bool{}}
}

func (w *watch) setOriginOnce(u *url.URL) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.origin == "" {
		w.origin = originOf(u)
	}
}

func (w *watch) expect(path string, status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.expected[expectKey{path, int64(status)}] = true
}

// take returns the problems seen so far and forgets them.
func (w *watch) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.problems
	w.problems = nil
	return p
}

func (w *watch) add(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func (w *watch) event(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		w.add("JavaScript exception at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, msg)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			where := ""
			if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
				f := st.CallFrames[0]
				where = fmt.Sprintf(" at %s:%d", f.URL, f.LineNumber+1)
			}
			w.add("console.%s%s: %s", ev.Type, where, consoleArgs(ev.Args))
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		// The network source repeats, as "Failed to load resource", what
		// the response and loading-failed events below report with the
		// test's expectations applied.
		if e.Level == log.EntryLevelError && e.Source != log.EntrySourceNetwork {
			w.add("browser log (%s) at %s: %s", e.Source, e.URL, e.Text)
		}
	case *network.EventRequestWillBeSent:
		w.requests[string(ev.RequestID)] = ev.Request.URL
		if u, err := url.Parse(ev.Request.URL); err == nil && w.foreign(u) {
			w.add("request to another host than the server under test (%s): %s %s", w.origin, ev.Request.Method, ev.Request.URL)
		}
	case *network.EventResponseReceived:
		r := ev.Response
		if r.Status < 400 {
			return
		}
		u, err := url.Parse(r.URL)
		if err != nil || w.foreign(u) {
			return // a foreign request is reported when it is sent
		}
		// Chromium asks for /favicon.ico by itself, at a moment of its
		// own choosing after the load, so whether a Check sees it would
		// be chance; a page's own icon link is checked like any request.
		if u.Path == "/favicon.ico" && ev.Type == network.ResourceTypeOther {
			return
		}
		if !w.expected[expectKey{u.Path, r.Status}] {
			w.add("HTTP %d %s for %s (not declared with ExpectStatus)", r.Status, r.StatusText, r.URL)
		}
	case *network.EventLoadingFailed:
		// A load the browser cancelled by itself (a download taking over
		// a navigation, a page left while a request was pending) is no
		// failure of the page; one the browser blocked (by the CSP, say)
		// is.
		if ev.Canceled && ev.BlockedReason == "" {
			return
		}
		reason := ev.ErrorText
		if ev.BlockedReason != "" {
			reason += " (blocked: " + string(ev.BlockedReason) + ")"
		}
		w.add("failed to load %s: %s", w.requests[string(ev.RequestID)], reason)
	}
}

// foreign reports whether u is a network request to another origin than
// the server under test. data:, blob: and about: URLs are no requests.
func (w *watch) foreign(u *url.URL) bool {
	if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss" {
		return false
	}
	if w.origin == "" {
		return false
	}
	o := originOf(u)
	o = strings.Replace(o, "ws://", "http://", 1)
	o = strings.Replace(o, "wss://", "https://", 1)
	return o != w.origin
}

func originOf(u *url.URL) string {
	host := u.Host
	if u.Port() == "" {
		switch u.Scheme {
		case "http", "ws":
			host += ":80"
		case "https", "wss":
			host += ":443"
		}
	}
	return u.Scheme + "://" + host
}

func consoleArgs(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Type == runtime.RemoteObjectTypeString:
			var s string
			if err := json.Unmarshal([]byte(a.Value), &s); err == nil {
				parts = append(parts, s)
				continue
			}
			parts = append(parts, string(a.Value))
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}
