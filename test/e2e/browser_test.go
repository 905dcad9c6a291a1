package e2e

// The demo's web pages in a real browser: `gatehouse demo` is driven by
// headless Chromium through the DevTools protocol (chromedp). The browser
// loads the index page, follows its links, watches round-robin balancing on
// /app/, and sends messages through the WebSocket echo page, all through the
// demo's Gatehouse listener on loopback.
//
// Chromium comes from Debian (scripts/test-deps.sh installs it). Without it
// the test skips locally and fails under CI=true, so CI cannot silently lose
// the browser coverage.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

const (
	// browserBudget bounds the browser's whole life: the allocator context
	// ends then and Chromium is killed, so the test stays under a minute
	// even if a step hangs past its own deadline.
	browserBudget = 50 * time.Second
	// stepTimeout bounds one browser step (a navigation, a wait, a click).
	stepTimeout = 10 * time.Second
)

// artifactsEnv names a directory that receives copies of the screenshots
// (e.g. for CI to upload); unset, they stay in t.TempDir() only.
const artifactsEnv = "GATEHOUSE_E2E_ARTIFACTS"

func TestBrowserDemo(t *testing.T) {
	requireChromium(t)

	// `demo --listen 127.0.0.1:0` binds a free port, but the index page and
	// banner are rendered from the flag and would link to port 0; so pick a
	// free port ourselves and pass it.
	port, hport := freePort(t), freePort(t)
	dataDir := t.TempDir()
	inst := startArgs(t, "demo", "--listen", net.JoinHostPort("127.0.0.1", port),
		"--https", net.JoinHostPort("127.0.0.1", hport), "--data-dir", dataDir)
	if want := "127.0.0.1:" + port; inst.Addr != want {
		t.Fatalf("demo listens on %s, want %s", inst.Addr, want)
	}
	base := "http://127.0.0.1:" + port
	// The browser accepts the demo's certificates as a user who installed
	// the printed root would. Chromium takes no extra root on the command
	// line, only the public-key hashes of certificates the server sends:
	// the leaves, which the client below verifies against the root first.
	ctx := newBrowser(t, chromedp.Flag("ignore-certificate-errors-spki-list",
		leafSPKI(t, "127.0.0.1:"+hport, filepath.Join(dataDir, "ca", "root.crt"), "localhost", "demo.localhost")))
	jsErrors := watchPageErrors(t, ctx)

	wantLinks := []string{
		base + "/",
		base + "/app/",
		base + "/app/api/hello",
		"http://demo.localhost:" + port + "/",
		base + "/ws/",
		base + "/healthz",
		"https://localhost:" + hport + "/",
		"https://demo.localhost:" + hport + "/",
	}

	// HTTPS through the internal CA: a client trusting only the root the
	// demo created (and printed) gets the same page over HTTP/2.
	t.Run("https", func(t *testing.T) {
		pem, err := os.ReadFile(filepath.Join(dataDir, "ca", "root.crt"))
		if err != nil {
			t.Fatalf("the demo's CA root: %v", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			t.Fatal("root.crt holds no certificate")
		}
		tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+hport)
			}}
		defer tr.CloseIdleConnections()
		res, err := (&http.Client{Transport: tr, Timeout: clientTimeout}).Get("https://localhost:" + hport + "/")
		if err != nil {
			t.Fatalf("https://localhost:%s/ with the demo's root: %v", hport, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.ProtoMajor != 2 || !strings.Contains(string(body), "Gatehouse demo") {
			t.Fatalf("https index: %d %s, %d bytes", res.StatusCode, res.Proto, len(body))
		}
	})

	t.Run("index", func(t *testing.T) {
		sctx := step(t, ctx)
		resp, err := chromedp.Run(sctx, chromedp.NavigateResponse(base+"/"))
		if err != nil {
			t.Fatalf("load index: %v", err)
		}
		if resp.Status != http.StatusOK {
			t.Errorf("index status = %d, want 200", resp.Status)
		}
		if ct := headerValue(resp.Headers, "Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("index Content-Type = %q, want text/html", ct)
		}
		if title := run(t, sctx, chromedp.Title()); title != "Gatehouse demo" {
			t.Errorf("title = %q, want %q", title, "Gatehouse demo")
		}
		if h1 := run(t, sctx, chromedp.Text(chromedp.CSS("h1"))); h1 != "Gatehouse demo" {
			t.Errorf("h1 = %q, want %q", h1, "Gatehouse demo")
		}
		links := run(t, sctx, chromedp.Evaluate[[]pageLink](
			`Array.from(document.querySelectorAll('a'), a => ({href: a.getAttribute('href'), text: a.textContent}))`))
		if len(links) != len(wantLinks) {
			t.Errorf("index has %d links, want %d: %+v", len(links), len(wantLinks), links)
		}
		var hrefs []string
		for _, l := range links {
			hrefs = append(hrefs, l.Href)
			// Links are absolute, on the address Gatehouse really listens on
			// (except routing by host, on demo.localhost at the same port).
			if !strings.HasPrefix(l.Href, base+"/") && !strings.HasPrefix(l.Href, "http://demo.localhost:"+port+"/") &&
				!strings.HasPrefix(l.Href, "https://localhost:"+hport+"/") && !strings.HasPrefix(l.Href, "https://demo.localhost:"+hport+"/") {
				t.Errorf("link %q is not a full URL on %s", l.Href, base)
			}
			if l.Text != l.Href {
				t.Errorf("link text %q differs from its href %q", l.Text, l.Href)
			}
		}
		for _, want := range wantLinks {
			if !slices.Contains(hrefs, want) {
				t.Errorf("index does not link %s; links: %q", want, hrefs)
			}
		}
	})

	t.Run("every link answers 200", func(t *testing.T) {
		for _, link := range wantLinks {
			t.Run(strings.TrimPrefix(link, "http://"), func(t *testing.T) {
				sctx := step(t, ctx)
				resp, err := chromedp.Run(sctx, chromedp.NavigateResponse(link))
				if err != nil {
					t.Fatalf("load %s: %v", link, err)
				}
				if resp.Status != http.StatusOK {
					t.Errorf("%s: status %d, want 200", link, resp.Status)
				}
			})
		}
	})

	t.Run("app round robin", func(t *testing.T) {
		sctx := step(t, ctx)
		if err := chromedp.Do(sctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatalf("load index: %v", err)
		}
		// Click through from the index page, then reload twice: consecutive
		// loads of /app/ alternate between the two instances.
		loads := []chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS(`a[href="` + base + `/app/"]`)),
			chromedp.Reload(),
			chromedp.Reload(),
		}
		var seen []string
		for i, load := range loads {
			resp, err := chromedp.RunResponse(sctx, load)
			if err != nil {
				t.Fatalf("load %d of /app/: %v", i+1, err)
			}
			if resp.Status != http.StatusOK {
				t.Errorf("load %d of /app/: status %d, want 200", i+1, resp.Status)
			}
			if got := headerValue(resp.Headers, "X-Served-By"); got != "gatehouse" {
				t.Errorf("load %d of /app/: X-Served-By = %q, want gatehouse (headers middleware)", i+1, got)
			}
			if loc := run(t, sctx, chromedp.Location()); loc != base+"/app/" {
				t.Errorf("load %d: location = %q, want %s/app/", i+1, loc, base)
			}
			seen = append(seen, run(t, sctx, chromedp.Text(chromedp.CSS(".instance"))))
		}
		for i, inst := range seen {
			if inst != "app-1" && inst != "app-2" {
				t.Errorf("load %d shows instance %q, want app-1 or app-2", i+1, inst)
			}
		}
		if seen[0] == seen[1] || seen[1] == seen[2] {
			t.Errorf("instances over three loads = %q, want them to alternate (round robin)", seen)
		}
	})

	t.Run("routing by host", func(t *testing.T) {
		// Chromium resolves *.localhost to loopback itself (no DNS), so the
		// index page's demo.localhost link reaches the demo listener.
		sctx := step(t, ctx)
		if err := chromedp.Do(sctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatalf("load index: %v", err)
		}
		link := "http://demo.localhost:" + port + "/"
		for i, load := range []chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS(`a[href="` + link + `"]`)),
			chromedp.Reload(),
		} {
			resp, err := chromedp.RunResponse(sctx, load)
			if err != nil {
				t.Fatalf("load %d of %s: %v", i+1, link, err)
			}
			if resp.Status != http.StatusOK {
				t.Errorf("load %d of %s: status %d, want 200", i+1, link, resp.Status)
			}
			if inst := run(t, sctx, chromedp.Text(chromedp.CSS(".instance"))); inst != "app-1" {
				t.Errorf("load %d of %s shows %q, want app-1", i+1, link, inst)
			}
		}
	})

	t.Run("websocket echo", func(t *testing.T) {
		sctx := step(t, ctx)
		if err := chromedp.Do(sctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatalf("load index: %v", err)
		}
		resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(`a[href="`+base+`/ws/"]`)))
		if err != nil {
			t.Fatalf("open the WebSocket page: %v", err)
		}
		if resp.Status != http.StatusOK {
			t.Errorf("/ws/ status = %d, want 200", resp.Status)
		}
		if title := run(t, sctx, chromedp.Title()); title != "Gatehouse demo: WebSocket echo" {
			t.Errorf("title = %q", title)
		}
		status := run(t, sctx, chromedp.Poll[string](
			`(s => s.startsWith('connected') || s.startsWith('closed') || s.startsWith('error') ? s : false)(document.getElementById('status').textContent)`,
			chromedp.WithPollingTimeout(stepTimeout)))
		if want := "connected to ws://127.0.0.1:" + port + "/ws/"; status != want {
			t.Fatalf("status = %q, want %q", status, want)
		}

		// Type and click Send, then a non-ASCII message submitted with Enter.
		typed := "hello from headless chromium"
		if err := chromedp.Do(sctx,
			chromedp.Clear(chromedp.ID("msg")),
			chromedp.SendKeys(chromedp.ID("msg"), typed),
			chromedp.Click(chromedp.CSS("#f button")),
		); err != nil {
			t.Fatalf("send %q: %v", typed, err)
		}
		waitLog(t, sctx, "← "+typed)
		utf8 := "grüße → 世界"
		if err := chromedp.Do(sctx,
			chromedp.SetValue(chromedp.ID("msg"), utf8),
			chromedp.SendKeys(chromedp.ID("msg"), kb.Enter),
		); err != nil {
			t.Fatalf("send %q: %v", utf8, err)
		}
		waitLog(t, sctx, "← "+utf8)
		got := run(t, sctx, chromedp.TextContent(chromedp.ID("log")))
		want := "→ " + typed + "\n← " + typed + "\n→ " + utf8 + "\n← " + utf8 + "\n"
		if got != want {
			t.Errorf("log = %q, want %q", got, want)
		}
		saveScreenshot(t, "websocket.png", run(t, sctx, chromedp.FullScreenshot(100)))
	})

	t.Run("screenshot", func(t *testing.T) {
		sctx := step(t, ctx)
		if err := chromedp.Do(sctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("h2"))); err != nil {
			t.Fatalf("load index: %v", err)
		}
		// Quality 100 makes FullScreenshot capture a PNG (else JPEG).
		buf := run(t, sctx, chromedp.FullScreenshot(100))
		if !bytes.HasPrefix(buf, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot (%d bytes) is not a PNG", len(buf))
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(buf))
		if err != nil {
			t.Fatalf("decode screenshot: %v", err)
		}
		if cfg.Width < 100 || cfg.Height < 100 {
			t.Errorf("screenshot is %dx%d, want a rendered page", cfg.Width, cfg.Height)
		}
		saveScreenshot(t, "index.png", buf)
	})

	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the pages raised JavaScript errors:\n%s", strings.Join(errs, "\n"))
	}
}

// pageLink is one <a> of a page as the browser sees it.
type pageLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// requireChromium skips the test when Chromium is not installed, except
// under CI, where a missing browser is a broken setup and fails.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("chromium: %v", err)
	}
	msg := chromiumPath + " not found; install it with ./scripts/test-deps.sh (Debian package chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// newBrowser starts headless Chromium with a fresh profile and returns the
// context of its tab. The browser is killed when browserBudget ends or at
// cleanup, whichever comes first; cleanup waits for the process to exit.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	budget, cancelBudget := context.WithTimeout(context.Background(), browserBudget)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(budget, append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// This machine's network is closed: without these Chromium's own
		// background connections (updates, sync, QUIC probes) are refused
		// and disturb the run. The demo is only ever reached on loopback.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Like the harness's cleanEnv: no proxy variable may send our
		// loopback traffic elsewhere.
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
	}, extra...)...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	// Start the browser on the budget context: per-step timeouts derived
	// from ctx then end only their step, not the browser.
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		cancelBudget()
		t.Fatalf("start chromium: %v", err)
	}
	proc := chromedp.FromContext(ctx).Browser.Process()
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // kills the browser process and waits for it
		cancelBudget()
		if proc != nil {
			// Signal 0 only probes: an error means the PID is gone.
			if err := proc.Signal(syscall.Signal(0)); err == nil {
				t.Errorf("chromium (pid %d) still running after cleanup", proc.Pid)
				_ = proc.Kill()
			}
		}
	})
	return ctx
}

// watchPageErrors collects uncaught exceptions and console.error calls of
// the tab; the returned func lists those seen so far.
func watchPageErrors(t *testing.T, ctx context.Context) func() []string {
	t.Helper()
	var (
		mu   sync.Mutex
		errs []string
	)
	add := func(s string) {
		mu.Lock()
		errs = append(errs, s)
		mu.Unlock()
	}
	// Subscribe before any navigation; the goroutines end with the tab.
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			if d := ev.ExceptionDetails; d != nil {
				msg := d.Text
				if d.Exception != nil {
					msg += " " + d.Exception.Description
				}
				if d.URL != "" {
					msg += " at " + d.URL
				}
				add("exception: " + msg)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					if len(a.Value) > 0 {
						args = append(args, string(a.Value))
					} else {
						args = append(args, a.Description)
					}
				}
				add("console.error: " + strings.Join(args, " "))
			}
		}
	}()
	// Cleanups run last-in first-out: this one closes the tab, which ends
	// both subscriptions, before newBrowser's stops the browser.
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx)
		wg.Wait()
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errs)
	}
}

// step returns a context for one browser step, ended at the subtest's end.
func step(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	t.Cleanup(cancel)
	return sctx
}

// run runs one action that returns a value, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// waitLog waits until the echo page's #log contains line.
func waitLog(t *testing.T, ctx context.Context, line string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.PollFunction[chromedp.Void](
		`want => document.getElementById('log').textContent.includes(want)`,
		chromedp.WithPollingArgs(line), chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		// ctx may have expired; read the log under a short deadline of its own.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		log, _ := chromedp.Run(rctx, chromedp.TextContent(chromedp.ID("log")))
		t.Fatalf("no %q in the page's log (%q): %v", line, log, err)
	}
}

// headerValue returns header name of a DevTools response (names are as the
// server sent them; HTTP/1.1 names are case-insensitive, RFC 9110 section 5.1).
func headerValue(h map[string]any, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// saveScreenshot writes buf to t.TempDir()/name and, when artifactsEnv is
// set, copies it there too.
func saveScreenshot(t *testing.T, name string, buf []byte) {
	t.Helper()
	dirs := []string{t.TempDir()}
	if d := os.Getenv(artifactsEnv); d != "" {
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Fatalf("save screenshot: %v", err)
		}
		t.Logf("screenshot: %s (%d bytes)", path, len(buf))
	}
}

// leafSPKI verifies the certificates addr serves for names against the
// root in rootFile and returns their base64(SHA-256(SubjectPublicKeyInfo)),
// comma-separated: the form of Chromium's --ignore-certificate-errors-spki-list.
func leafSPKI(t *testing.T, addr, rootFile string, names ...string) string {
	t.Helper()
	pemBytes, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("%s holds no certificate", rootFile)
	}
	var hashes []string
	for _, name := range names {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: clientTimeout}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: name})
		if err != nil {
			t.Fatalf("TLS to %s as %s, verified by the demo's root: %v", addr, name, err)
		}
		leaf := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
		hashes = append(hashes, base64.StdEncoding.EncodeToString(sum[:]))
	}
	return strings.Join(hashes, ",")
}
