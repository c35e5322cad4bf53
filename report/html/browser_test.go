package html

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The browser test loads report.html in headless Chromium through the DevTools protocol.
// Without a Chromium it skips, except on CI (CI=true), where it fails. RECALL_ARTIFACTS names a
// directory to keep the screenshot in (default: the test's temporary directory).

// browserTimeout bounds one page load with its checks and screenshot.
const browserTimeout = 60 * time.Second

// chromium finds the browser: $CHROMIUM, else chromium, chromium-browser or google-chrome.
func chromium(t *testing.T) string {
	t.Helper()
	names := []string{"chromium", "chromium-browser", "google-chrome"}
	if p := os.Getenv("CHROMIUM"); p != "" {
		names = []string{p}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and no Chromium found (%s): install the Debian package chromium", strings.Join(names, ", "))
	}
	t.Skip("no Chromium found: browser test skipped (apt-get install chromium)")
	return ""
}

// visit is what a browser saw of a page.
type visit struct {
	requests []string // network requests other than the page itself
	console  []string // console errors, warnings and uncaught exceptions
	sections map[string]float64
	png      []byte
}

// sectionsJS measures, for each section id, the rendered height of the element (-1: missing).
const sectionsJS = `(() => {
  const out = {};
  for (const id of %s) {
    const el = document.getElementById(id);
    out[id] = el ? el.getBoundingClientRect().height : -1;
  }
  return out;
})()`

// visitPage opens the HTML file at path in a fresh headless browser and reports what it saw.
func visitPage(t *testing.T, exe, path string, ids []string) visit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	tab, tcancel := chromedp.NewContext(actx)
	defer tcancel()

	url := "file://" + path
	var mu sync.Mutex
	var v visit
	if err := chromedp.Listen(tab, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil && e.Request.URL != url {
			mu.Lock()
			v.requests = append(v.requests, e.Request.Method+" "+e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	cctx, ccancel := context.WithCancel(tab)
	messages := chromedp.Console(cctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				mu.Lock()
				v.console = append(v.console, m.String())
				mu.Unlock()
			}
		}
	}()

	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	list := fmt.Sprintf(`["%s"]`, strings.Join(ids, `","`))
	got, err := chromedp.Run(tab, chromedp.Evaluate[map[string]float64](fmt.Sprintf(sectionsJS, list)))
	if err != nil {
		t.Fatalf("measure sections: %v", err)
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// Late events (an image that failed, a deferred error) arrive within moments of the load.
	if err := chromedp.Do(tab, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	ccancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	v.sections, v.png = got, png
	return v
}

// TestBrowser renders the golden failing report (with a baseline, so the trend shows too), loads
// it in headless Chromium and checks: no console error or warning, no network request at all,
// every key section present and drawn, and a PNG screenshot kept as an artifact. A doctored
// copy of the page proves the checks catch a request and a console error.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	dir := t.TempDir()
	artifacts := os.Getenv("RECALL_ARTIFACTS")
	if artifacts == "" {
		artifacts = dir
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	r, base := load(t, "fail"), load(t, "pass")
	var page bytes.Buffer
	if err := Render(&page, r, WithBaseline(base)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	ids := append(sections[:len(sections):len(sections)], "trend")
	v := visitPage(t, exe, path, ids)
	if len(v.requests) != 0 {
		t.Errorf("the page made %d network requests: %v", len(v.requests), v.requests)
	}
	if len(v.console) != 0 {
		t.Errorf("console: %v", v.console)
	}
	for _, id := range ids {
		if h, ok := v.sections[id]; !ok || h <= 0 {
			t.Errorf("section #%s missing or not drawn (height %v)", id, h)
		}
	}
	if !bytes.HasPrefix(v.png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(v.png))
	}
	shot := filepath.Join(artifacts, "report.png")
	if err := os.WriteFile(shot, v.png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d KiB)", shot, len(v.png)>>10)

	t.Run("checks catch a leak", func(t *testing.T) {
		bad := strings.Replace(page.String(), "</body>",
			`<img src="http://127.0.0.1:9/pixel.png" alt=""><script>console.error("boom")</script></body>`, 1)
		badPath := filepath.Join(dir, "bad.html")
		if err := os.WriteFile(badPath, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		v := visitPage(t, exe, badPath, nil)
		if !strings.Contains(strings.Join(v.requests, " "), "http://127.0.0.1:9/pixel.png") {
			t.Errorf("the external image was not seen: requests %v", v.requests)
		}
		if !strings.Contains(strings.Join(v.console, " "), "boom") {
			t.Errorf("the console error was not seen: %v", v.console)
		}
	})
}
