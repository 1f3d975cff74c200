package browsertest

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// screenshotDir is where screenshots go: KCLEDGER_SCREENSHOTS, else a
// folder under the test's temporary directory, made once per browser.
func (b *Browser) screenshotDir() string {
	b.t.Helper()
	b.shotOnce.Do(func() {
		dir := os.Getenv("KCLEDGER_SCREENSHOTS")
		if dir == "" {
			dir = filepath.Join(b.t.TempDir(), "screenshots")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.shotErr = err
			return
		}
		b.shotDir = dir
	})
	if b.shotErr != nil {
		b.t.Fatalf("browsertest: screenshots folder: %v", b.shotErr)
	}
	return b.shotDir
}

// Screenshot writes full-page PNGs of what the tab shows, at the desktop
// width (NAME-desktop.png, 1280 CSS pixels) and at a phone width
// (NAME-phone.png, 390), one device pixel per CSS pixel, and returns their
// paths. The folder is KCLEDGER_SCREENSHOTS, else one under t.TempDir();
// the test's log says which. A page wider than the viewport (content that
// overflows on a phone) gives a wider image, as a person would see when
// scrolling sideways.
func (tab *Tab) Screenshot(name string) (desktop, phone string) {
	tab.t.Helper()
	dir := tab.b.screenshotDir()
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ' ' {
			return '_'
		}
		return r
	}, name)
	desktop = filepath.Join(dir, safe+"-desktop.png")
	phone = filepath.Join(dir, safe+"-phone.png")
	tab.shoot(desktop, DesktopWidth, DesktopHeight)
	tab.shoot(phone, PhoneWidth, PhoneHeight)
	tab.Do("restore the desktop viewport", chromedp.EmulateViewport(DesktopWidth, DesktopHeight))
	tab.t.Logf("browsertest: screenshots %s and %s", desktop, phone)
	return desktop, phone
}

func (tab *Tab) shoot(path string, width, height int64) {
	tab.t.Helper()
	tab.do(fmt.Sprintf("screenshot %s at %d px", filepath.Base(path), width), func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
			return err
		}
		png, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
			m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
			if err != nil {
				return nil, err
			}
			w, h := float64(width), float64(height)
			if c := m.CSSContentSize; c != nil {
				w = math.Max(w, math.Ceil(c.Width))
				h = math.Max(h, math.Ceil(c.Height))
			}
			beyond := true
			r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
				Format:                page.CaptureScreenshotFormatPng,
				CaptureBeyondViewport: &beyond,
				Clip:                  &page.Viewport{Width: w, Height: h, Scale: 1},
			})
			return r.Data, err
		})
		if err != nil {
			return err
		}
		return os.WriteFile(path, png, 0o644)
	})
}
