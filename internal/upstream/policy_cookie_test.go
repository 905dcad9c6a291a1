package upstream

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

const testSecret = "0123456789abcdef-secret"

func cookiePolicy(t testing.TB, targets []*Target, s config.StickyCookie) Policy {
	t.Helper()
	return newTestPolicy(t, "cookie", PolicyOptions{
		Upstream: config.Upstream{Policy: "cookie", Sticky: &s},
		Targets:  targets,
	})
}

// cookieFrom turns a Set-Cookie line into a request Cookie header.
func cookieFrom(setCookie string) http.Header {
	pair, _, _ := strings.Cut(setCookie, ";")
	return http.Header{"Cookie": {"other=1; " + pair}}
}

func TestCookieSticky(t *testing.T) {
	t.Parallel()
	targets := testTargets(t, 4)
	p := cookiePolicy(t, targets, config.StickyCookie{Name: "gh", Secret: testSecret, Fallback: "round_robin"})

	// A first request has no cookie: the fallback picks and a cookie is set.
	pc := &PickContext{}
	first := p.Pick(targets, pc)
	if !strings.HasPrefix(pc.SetCookie, "gh=0.") || !strings.HasSuffix(pc.SetCookie, "; Path=/; HttpOnly; SameSite=Lax") {
		t.Fatalf("SetCookie = %q", pc.SetCookie)
	}
	header := cookieFrom(pc.SetCookie)
	// Later requests carrying it stick, and set nothing.
	for range 10 {
		pc := &PickContext{Header: header}
		if got := p.Pick(targets, pc); got != first {
			t.Fatalf("sticky pick = %s, want %s", got, first)
		}
		if pc.SetCookie != "" {
			t.Fatalf("SetCookie = %q on a sticky request", pc.SetCookie)
		}
	}
	// While its target is unavailable the fallback picks another, and the
	// client gets that one's cookie.
	pc = &PickContext{Header: header}
	got := p.Pick(targets[1:], pc)
	if got == first || pc.SetCookie == "" || strings.HasPrefix(pc.SetCookie, "gh=0.") {
		t.Fatalf("target down: Pick = %s, SetCookie %q", got, pc.SetCookie)
	}
	// A policy built again with the same secret (another instance, a
	// reload) honours the cookie.
	p2 := cookiePolicy(t, targets, config.StickyCookie{Name: "gh", Secret: testSecret, Fallback: "round_robin"})
	if got := p2.Pick(targets, &PickContext{Header: header}); got != first {
		t.Errorf("same secret, new policy: Pick = %s, want %s", got, first)
	}
}

func TestCookieRejects(t *testing.T) {
	t.Parallel()
	targets := testTargets(t, 4)
	// The fallback is "first": a rejected cookie yields targets[0].
	p := cookiePolicy(t, targets, config.StickyCookie{Name: "gh", Secret: testSecret, Fallback: "first"})
	pc := &PickContext{}
	p.Pick(targets[2:], pc) // a valid cookie for targets[2]
	valid := strings.TrimPrefix(strings.SplitN(pc.SetCookie, ";", 2)[0], "gh=")
	if !strings.HasPrefix(valid, "2.") {
		t.Fatalf("cookie value %q", valid)
	}
	_, mac, _ := strings.Cut(valid, ".")
	other := cookiePolicy(t, targets, config.StickyCookie{Name: "gh", Secret: "another-secret-0123"})
	pc = &PickContext{}
	other.Pick(targets[2:], pc)
	foreign := strings.TrimPrefix(strings.SplitN(pc.SetCookie, ";", 2)[0], "gh=")

	for _, tc := range []struct {
		name, value string
	}{
		{"wrong index", "3." + mac},
		{"truncated mac", "2." + mac[:21]},
		{"flipped mac", "2." + mac[:21] + string(mac[21]^1)},
		{"other secret", foreign},
		{"no dot", "2"},
		{"out of range", "9." + mac},
		{"huge index", "99999999999999999999." + mac},
		{"signed index", "+2." + mac},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pc := &PickContext{Header: http.Header{"Cookie": {"gh=" + tc.value}}}
			if got := p.Pick(targets, pc); got != targets[0] {
				t.Errorf("forged cookie %q selected %s", tc.value, got)
			}
			if !strings.HasPrefix(pc.SetCookie, "gh=0.") {
				t.Errorf("SetCookie = %q, want a fresh cookie for target 0", pc.SetCookie)
			}
		})
	}
	// The valid one, for contrast.
	if got := p.Pick(targets, &PickContext{Header: http.Header{"Cookie": {"gh=" + valid}}}); got != targets[2] {
		t.Errorf("valid cookie: Pick = %s", got)
	}
}

func TestCookieSettings(t *testing.T) {
	t.Parallel()
	targets := testTargets(t, 2)
	for _, tc := range []struct {
		name       string
		sticky     *config.StickyCookie
		wantErr    bool
		wantSuffix string
	}{
		{"no sticky", nil, true, ""},
		{"no secret", &config.StickyCookie{Name: "s"}, true, ""},
		{"cookie fallback", &config.StickyCookie{Secret: testSecret, Fallback: "cookie"}, true, ""},
		{"negative max age", &config.StickyCookie{Secret: testSecret, MaxAge: -1}, true, ""},
		{"session cookie", &config.StickyCookie{Secret: testSecret}, false, "SameSite=Lax"},
		{"max age", &config.StickyCookie{Secret: testSecret, MaxAge: config.Duration(time.Hour)}, false, "SameSite=Lax; Max-Age=3600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := NewPolicy("cookie", PolicyOptions{Upstream: config.Upstream{Sticky: tc.sticky}, Targets: targets})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			pc := &PickContext{}
			p.Pick(targets, pc)
			if !strings.HasPrefix(pc.SetCookie, config.DefaultStickyCookie+"=") || !strings.HasSuffix(pc.SetCookie, tc.wantSuffix) {
				t.Errorf("SetCookie = %q, want suffix %q", pc.SetCookie, tc.wantSuffix)
			}
		})
	}
}

func TestCookieValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"nil", nil, ""},
		{"absent", http.Header{"Cookie": {"a=1; b=2"}}, ""},
		{"only", http.Header{"Cookie": {"gh=v"}}, "v"},
		{"middle", http.Header{"Cookie": {"a=1; gh=v; b=2"}}, "v"},
		{"no spaces", http.Header{"Cookie": {"a=1;gh=v;b=2"}}, "v"},
		{"extra spaces", http.Header{"Cookie": {"a=1 ;  gh=v ; b=2"}}, "v"},
		{"space around =", http.Header{"Cookie": {"gh = v"}}, " v"},
		{"invalid value skipped", http.Header{"Cookie": {"gh=\x01; gh=v"}}, "v"},
		{"quoted", http.Header{"Cookie": {`gh="v"`}}, "v"},
		{"prefix name", http.Header{"Cookie": {"xgh=w; gh=v"}}, "v"},
		{"second field", http.Header{"Cookie": {"a=1", "gh=v"}}, "v"},
		{"first wins", http.Header{"Cookie": {"gh=v; gh=w"}}, "v"},
		{"no value", http.Header{"Cookie": {"gh"}}, ""},
		{"value with =", http.Header{"Cookie": {"gh=a=b"}}, "a=b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h http.Header = tc.header
			if got := cookieValue(h, "gh"); got != tc.want {
				t.Errorf("cookieValue = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzCookieValue checks cookieValue against net/http's parser: whenever
// net/http finds the cookie with a non-empty value, cookieValue finds the
// same value.
func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"gh=v", "a=1; gh=v", `gh="v"`, "gh=; a=b", "  gh=v  ", "gh=a=b;;", ";gh"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		h := http.Header{"Cookie": {line}}
		got := cookieValue(h, "gh")
		r := &http.Request{Header: h}
		c, err := r.Cookie("gh")
		if err != nil || c.Value == "" {
			return // net/http rejects or finds nothing; ours may be laxer
		}
		if got != c.Value {
			t.Errorf("cookieValue(%q) = %q, net/http says %q", line, got, c.Value)
		}
	})
}
