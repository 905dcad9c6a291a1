package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/pollorder"
)

// runCLI runs the binary to completion in dir (bounded to 20 s) and returns
// stdout, stderr and the exit code.
func runCLI(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	var env []string
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "GATEHOUSE_E2E_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "GATEHOUSE_E2E_SET=127.0.0.1:9")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("gatehouse %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("gatehouse %v did not finish within 20s", args)
	}
	return o.String(), e.String(), code
}

// TestValidateGolden runs `gatehouse validate` on each testdata/validate/*.yaml
// from inside that directory (so printed paths are relative and stable) and
// compares stderr with the .golden file. Files named ok_*.yaml or warn_*.yaml
// must exit 0, all others 1. -update rewrites the goldens.
func TestValidateGolden(t *testing.T) {
	dir := filepath.Join("testdata", "validate")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no validate cases in %s (%v)", dir, err)
	}
	errLine := regexp.MustCompile(`^[a-z_]+\.yaml:\d+:\d+: \S.*$`)
	warnLine := regexp.MustCompile(`^warning: [a-z_]+\.yaml:\d+:\d+: route "[^"]+" can never match: \S.*$`)
	for _, file := range files {
		base := filepath.Base(file)
		name := strings.TrimSuffix(base, ".yaml")
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, dir, "validate", "-c", base)
			wantCode := 1
			if strings.HasPrefix(name, "ok_") || strings.HasPrefix(name, "warn_") {
				wantCode = 0
			}
			if code != wantCode {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, wantCode, stdout, stderr)
			}
			// Structural checks, independent of the golden's wording.
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			switch {
			case wantCode == 1:
				for _, l := range lines {
					if !errLine.MatchString(l) || !strings.HasPrefix(l, base+":") {
						t.Errorf("stderr line %q is not %s:LINE:COL: message", l, base)
					}
				}
			case strings.HasPrefix(name, "warn_"):
				if len(lines) == 0 || !warnLine.MatchString(lines[0]) {
					t.Errorf("stderr %q: want a line `warning: %s:L:C: route \"x\" can never match: ...`", stderr, base)
				}
				for _, l := range lines {
					if n := strings.Count(l, "can never match"); n != 1 {
						t.Errorf("warning says \"can never match\" %d times, want once: %q", n, l)
					}
				}
			}
			if wantCode == 0 && !strings.Contains(strings.ToLower(stdout+stderr), "ok") {
				t.Errorf("valid file: output %q does not say ok", stdout+stderr)
			}
			if strings.HasPrefix(name, "unknown_key") && !strings.Contains(stderr, "(hint: ") {
				t.Errorf("unknown key error %q carries no hint", stderr)
			}

			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(stderr), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if stderr != string(want) {
				t.Errorf("stderr differs from %s\n got: %q\nwant: %q", golden, stderr, want)
			}
		})
	}
}

// TestExplain: explain names the route, its chain and the upstream with its
// policy, and sends nothing.
func TestExplain(t *testing.T) {
	be := newRecorder(t, "be")
	cfgPath := filepath.Join(t.TempDir(), "gatehouse.yaml")
	cfg := fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - name: users-api
    match: { host: api.example.com, path: /v1/* }
    middleware:
      - headers: { response: { set: { X-Served-By: gatehouse } } }
      - rewrite: { strip_prefix: /v1 }
    upstream: users
  - name: canary
    match: { path: /v1/*, headers: { X-Env: canary } }
    upstream: canary-pool
  - name: fallback
    match: { path: /* }
    respond: { status: 404, body: nope }
upstreams:
  users: { targets: [ "%s" ], policy: round_robin }
  canary-pool: { targets: [ "%s" ] }
`, be.Addr(), be.Addr())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{
			name: "exact host route",
			args: []string{"GET", "http://api.example.com/v1/users"},
			want: []string{"users-api", "headers", "rewrite", "users", "round_robin"},
		},
		{
			name: "header condition",
			args: []string{"GET", "http://other.test/v1/users", "-H", "X-Env: canary"},
			want: []string{"canary", "canary-pool"},
		},
		{
			name: "fallback respond",
			args: []string{"POST", "http://other.test/elsewhere"},
			want: []string{"fallback"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"explain", "-c", cfgPath}, tc.args...)
			stdout, stderr, code := runCLI(t, t.TempDir(), args...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
	if n := be.Count(); n != 0 {
		t.Errorf("explain sent %d request(s) to the backend, want 0", n)
	}
}

// TestQuickModeRoundRobin: `gatehouse proxy --from --to --to --lb
// round_robin` balances over both targets.
func TestQuickModeRoundRobin(t *testing.T) {
	a, b := newRecorder(t, "a"), newRecorder(t, "b")
	inst := startArgs(t, "proxy", "--from", "127.0.0.1:0", "--to", "http://"+a.Addr(), "--to", "http://"+b.Addr(), "--lb", "round_robin")
	c := newClient(t)
	for i := range 10 {
		status, body, _ := get(t, c, inst.URL(fmt.Sprintf("/q/%d", i)), "")
		if status != 200 {
			t.Fatalf("request %d: status %d %q", i, status, body)
		}
	}
	na, nb := a.Count(), b.Count()
	if na+nb != 10 || na != 5 || nb != 5 {
		t.Errorf("backends got %d and %d of 10 requests, want round robin (5/5)", na, nb)
	}
	inst.Stop()
}

// TestQuickModeHealthPath: --health-path turns on active checks (a dead
// target is marked down and gets no request), and retries plus passive
// health are on by default: no request fails.
func TestQuickModeHealthPath(t *testing.T) {
	good := newRecorder(t, "good")
	dead := closedPort(t)
	inst := startArgs(t, "proxy", "--from", "127.0.0.1:0", "--to", "http://"+good.Addr(), "--to", "http://"+dead,
		"--health-path", "/healthz", "--access-log")
	waitTargetLog(t, inst, 0, "http://"+dead, 15*time.Second, msgTargetDown)
	mark := inst.Stdout.Len()
	sendN(t, inst.URL("/x"), 20, nil)
	for _, e := range accessSince(inst, mark) {
		if e.str("target") != "http://"+good.Addr() || e.num("tries") != 1 {
			t.Fatalf("a request went to the target marked down: %v", e)
		}
	}
	if good.PathCount("/healthz") == 0 {
		t.Fatalf("the healthy target received no GET /healthz")
	}
	inst.Stop()
}

// TestCLIBasics: version, --help per subcommand, and usage errors (exit 2).
func TestCLIBasics(t *testing.T) {
	dir := t.TempDir()
	t.Run("version", func(t *testing.T) {
		stdout, stderr, code := runCLI(t, dir, "version")
		if code != 0 || strings.TrimSpace(stdout+stderr) == "" {
			t.Errorf("version: exit %d, output %q", code, stdout+stderr)
		}
		// The binary under test is built in this test's environment
		// (make test's GOFLAGS), so it has the same runtime as this
		// test: the suite tests what make build ships.
		if want := pollorder.String(); !strings.Contains(stdout, want) {
			t.Errorf("version %q does not say %q", stdout, want)
		}
	})
	for _, sub := range []string{"run", "proxy", "validate", "explain"} {
		t.Run(sub+" --help", func(t *testing.T) {
			stdout, stderr, code := runCLI(t, dir, sub, "--help")
			if code != 0 {
				t.Errorf("exit %d, want 0\n%s%s", code, stdout, stderr)
			}
			if strings.TrimSpace(stdout+stderr) == "" {
				t.Errorf("no help text")
			}
		})
	}
	for _, args := range [][]string{{"bogus-subcommand"}, {"run", "--no-such-flag"}, {"validate", "--no-such-flag"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, stderr, code := runCLI(t, dir, args...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (usage error); stderr %q", code, stderr)
			}
		})
	}
}
