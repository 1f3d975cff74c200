package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// AxeVersion is the axe-core that scripts/test installs into .tools.
const AxeVersion = "4.14.1"

// Violation is one rule of axe-core that the page breaks.
type Violation struct {
	ID      string   `json:"id"`      // the rule, such as "image-alt"
	Impact  string   `json:"impact"`  // minor, moderate, serious or critical
	Help    string   `json:"help"`    // what the rule asks for
	HelpURL string   `json:"helpUrl"` // axe's page on the rule
	Nodes   []string `json:"nodes"`   // a CSS selector of each offending element
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s; elements: %s (%s)", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "), v.HelpURL)
}

// Axe runs axe-core over the page the tab shows and fails the test
// (t.Errorf) on each violation of impact serious or critical, naming the
// rule, its help text and the offending elements. It returns every
// violation, the minor and moderate ones too.
func Axe(t testing.TB, tab *Tab) []Violation {
	t.Helper()
	vs := tab.AxeViolations()
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("browsertest: accessibility of %s: %s", tab.CurrentURL(), v)
		}
	}
	return vs
}

// axePath finds axe.min.js, or skips (fails) the test.
func axePath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KCLEDGER_AXE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("browsertest: KCLEDGER_AXE=%s: %v", p, err)
		}
		return p
	}
	root, err := repoRoot()
	if err == nil {
		p := filepath.Join(root, ".tools", "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missingTool(t, "no axe-core: set KCLEDGER_AXE, or run scripts/test, which installs axe-core@"+AxeVersion+" into .tools")
	return ""
}

// axeRun asks axe-core for the violations only, each reduced to what a
// failure message needs. A target is a list of selectors (one more for
// each iframe or shadow root on the way); they are joined by spaces.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
	nodes: v.nodes.map(n => [].concat(n.target).flat(Infinity).join(" "))
})))`

// AxeViolations runs axe-core over the page the tab shows and returns what
// it reports. axe.min.js is evaluated through the DevTools protocol, which
// the page's Content-Security-Policy does not govern, so a page with
// script-src 'self' and no inline script is checked as it is served. In a
// tab without JavaScript, script execution is turned on for the run only.
func (tab *Tab) AxeViolations() []Violation {
	tab.t.Helper()
	src, err := os.ReadFile(axePath(tab.t))
	if err != nil {
		tab.t.Fatalf("browsertest: %v", err)
	}
	var vs []Violation
	tab.do("run axe-core", func(ctx context.Context) error {
		if tab.cfg.noScript {
			if err := setScriptDisabled(ctx, false); err != nil {
				return err
			}
			defer func() {
				if err := setScriptDisabled(ctx, true); err != nil {
					tab.t.Errorf("browsertest: turning JavaScript off again after axe-core: %v", err)
				}
			}()
		}
		loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe === "object"`))
		if err != nil {
			return err
		}
		if !loaded {
			if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](string(src))); err != nil {
				return fmt.Errorf("loading axe.min.js: %w", err)
			}
		}
		vs, err = chromedp.Run(ctx, chromedp.Evaluate[[]Violation](axeRun, chromedp.EvalAwaitPromise))
		return err
	})
	return vs
}

func setScriptDisabled(ctx context.Context, disabled bool) error {
	return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: disabled})
		return err
	}))
}
