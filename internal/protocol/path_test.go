package protocol

import (
	"net/url"
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"/", "/"},
		{"", "/"},
		{"a", "/a"},
		{"a/b/", "/a/b/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"//", "/"},
		{"/a//b///c", "/a/b/c"},
		{"//a//", "/a/"},
		{"/a/./b", "/a/b"},
		{"/a/b/../c", "/a/c"},
		{"/a/b/..", "/a/"},
		{"/a/b/../", "/a/"},
		{"/a/.", "/a/"},
		{"/.", "/"},
		{"/..", "/"},
		{"/../a", "/a"},
		{"/../../../etc/passwd", "/etc/passwd"},
		{"/a/../../b", "/b"},
		{"/a/b/c/../../d", "/a/d"},
		{"/./././", "/"},
		{"/a/.../b", "/a/.../b"},
		{"/a/..b/.c/", "/a/..b/.c/"},
		{"/a/%2e%2e/b", "/b"},
		{"/a/%2E%2e/b", "/b"},
		{"/a/.%2e/b", "/b"},
		{"/a/%2e/b", "/a/b"},
		{"/api/%2e%2e", "/"},
		{"/a/%2e%2e%2e/b", "/a/%2e%2e%2e/b"},
		{"/a/%2ex/b", "/a/%2ex/b"},
		{"/a/%2/b", "/a/%2/b"},
		{"/a/%2", "/a/%2"},
		{"/a/..%2Fb", "/a/..%2Fb"},
		{"/a%2F..%2Fb", "/a%2F..%2Fb"},
		{"/a/b?x=../y", "/a/b?x=../y"},
		{"/" + strings.Repeat("a/", 100) + strings.Repeat("../", 99), "/a/"},
		{"/a/b/c/./../../g", "/a/g"},
		{"mid/content=5/../6", "/mid/6"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := CleanPath(tt.in); got != tt.want {
				t.Errorf("CleanPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCleanPathNoAllocWhenClean(t *testing.T) {
	for _, p := range []string{"/", "/a/b/c", "/api/v1/users/42/", "/a/.../b", "/a%2Fb/c"} {
		if a := testing.AllocsPerRun(100, func() { CleanPath(p) }); a != 0 {
			t.Errorf("CleanPath(%q) allocs = %v, want 0", p, a)
		}
		if got := CleanPath(p); got != p {
			t.Errorf("CleanPath(%q) = %q, want unchanged", p, got)
		}
	}
}

func TestHasEncodedSlash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"/a/b", false},
		{"/a%20b", false},
		{"/a%2Fb", true},
		{"/a%2fb", true},
		{"/a%5cb", true},
		{"/a%5Cb", true},
		{"/a%2", false},
		{"/a%%2F", true},
		{"%2F", true},
		{"/a%25%2E", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := HasEncodedSlash(tt.in); got != tt.want {
				t.Errorf("HasEncodedSlash(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCleanRequestPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		target      string // request-target as received
		wantChanged bool
		wantPath    string
		wantRawPath string
		wantEscaped string
	}{
		{"clean", "/a/b?q=1", false, "/a/b", "", "/a/b"},
		{"dot segments", "/a/../b/./c", true, "/b/c", "", "/b/c"},
		{"encoded dots", "/a/%2e%2E/b", true, "/b", "", "/b"},
		{"double slash", "//a//b", true, "/a/b", "", "/a/b"},
		{"keeps encoded slash", "/a/../b%2Fc", true, "/b/c", "/b%2Fc", "/b%2Fc"},
		{"clean with encoded slash unchanged", "/b%2Fc/d", false, "/b/c/d", "/b%2Fc/d", "/b%2Fc/d"},
		{"encoded slash dots not resolved", "/a/..%2F..%2Fb", false, "/a/../../b", "/a/..%2F..%2Fb", "/a/..%2F..%2Fb"},
		{"space", "/a%20b/../c%20d", true, "/c d", "", "/c%20d"},
		{"non-default encoding kept", "/%41/../%42", true, "/B", "/%42", "/%42"},
		{"trailing dot", "/a/b/.", true, "/a/b/", "", "/a/b/"},
		{"asterisk", "*", false, "*", "", "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.ParseRequestURI(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			changed := CleanRequestPath(u)
			if changed != tt.wantChanged || u.Path != tt.wantPath || u.RawPath != tt.wantRawPath || u.EscapedPath() != tt.wantEscaped {
				t.Errorf("CleanRequestPath(%q) = %v, Path %q RawPath %q Escaped %q; want %v, %q, %q, %q",
					tt.target, changed, u.Path, u.RawPath, u.EscapedPath(),
					tt.wantChanged, tt.wantPath, tt.wantRawPath, tt.wantEscaped)
			}
			if u.RawQuery != "" && !strings.Contains(tt.target, "?"+u.RawQuery) {
				t.Errorf("query changed: %q", u.RawQuery)
			}
		})
	}
}

func TestCleanRequestPathInvalidRawPath(t *testing.T) {
	t.Parallel()
	// Built in code rather than parsed: RawPath does not encode Path, so
	// EscapedPath ignores it and escapes Path.
	u := &url.URL{Path: "/a/../b", RawPath: "/zzz"}
	if !CleanRequestPath(u) || u.Path != "/b" || u.EscapedPath() != "/b" {
		t.Errorf("got Path %q RawPath %q", u.Path, u.RawPath)
	}
	u = &url.URL{Path: ""}
	if !CleanRequestPath(u) || u.Path != "/" {
		t.Errorf("empty path: got %q", u.Path)
	}
}

func TestCleanRequestPathNoAllocWhenClean(t *testing.T) {
	u, err := url.ParseRequestURI("/api/v1/users?x=1")
	if err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { CleanRequestPath(u) }); a != 0 {
		t.Errorf("allocs = %v, want 0", a)
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"", "/", "/a/../b", "//a//", "/%2e%2E/x", "a/./b/..", "/..%2F", "/a/b/.", "%2e%2e", "/.../"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c := CleanPath(p)
		if !strings.HasPrefix(c, "/") {
			t.Fatalf("CleanPath(%q) = %q: no leading slash", p, c)
		}
		for _, bad := range []string{"//", "/./", "/../"} {
			if strings.Contains(c, bad) {
				t.Fatalf("CleanPath(%q) = %q contains %q", p, c, bad)
			}
		}
		if strings.HasSuffix(c, "/.") || strings.HasSuffix(c, "/..") {
			t.Fatalf("CleanPath(%q) = %q ends in a dot segment", p, c)
		}
		if cc := CleanPath(c); cc != c {
			t.Fatalf("not idempotent: %q → %q → %q", p, c, cc)
		}
		// No segment, once %2e is read as '.', is a dot segment.
		for _, seg := range strings.Split(c, "/") {
			if d := strings.ReplaceAll(strings.ReplaceAll(seg, "%2e", "."), "%2E", "."); d == "." || d == ".." {
				t.Fatalf("CleanPath(%q) = %q keeps dot segment %q", p, c, seg)
			}
		}
		// Trailing slash is kept for a non-empty result.
		if strings.HasSuffix(p, "/") && !strings.HasSuffix(c, "/") {
			t.Fatalf("CleanPath(%q) = %q lost the trailing slash", p, c)
		}
	})
}

func BenchmarkCleanPath(b *testing.B) {
	b.Run("clean", func(b *testing.B) {
		p := "/api/v1/users/42/orders"
		b.ReportAllocs()
		for b.Loop() {
			CleanPath(p)
		}
	})
	b.Run("dirty", func(b *testing.B) {
		p := "/api/v1//users/./42/../43/orders"
		b.ReportAllocs()
		for b.Loop() {
			CleanPath(p)
		}
	})
}

func FuzzCleanRequestPath(f *testing.F) {
	for _, s := range []string{"/a/../b", "/a/%2e%2e/b%2Fc", "//x/%41/..", "/a%20b/./", "/%zz/../a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Opaque != "" || u.Path == "*" {
			return
		}
		before := u.EscapedPath()
		CleanRequestPath(u)
		esc := u.EscapedPath()
		if esc != CleanPath(esc) {
			t.Fatalf("%q: escaped path %q not clean", target, esc)
		}
		if dec, err := url.PathUnescape(esc); err == nil && dec != u.Path {
			t.Fatalf("%q: Path %q does not decode from escaped %q", target, u.Path, esc)
		}
		if _, err := url.PathUnescape(before); err == nil && esc != CleanPath(before) {
			t.Fatalf("%q: escaped %q, want CleanPath(%q) = %q", target, esc, before, CleanPath(before))
		}
	})
}

func TestSetEscapedPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, escaped         string
		wantPath, wantRawPath string
	}{
		{"plain", "/v2/users", "/v2/users", ""},
		{"encoded slash kept", "/v2/a%2Fb", "/v2/a/b", "/v2/a%2Fb"},
		{"default encoding", "/a%20b", "/a b", ""},
		{"invalid encoding taken literally", "/a%zz", "/a%zz", ""},
		{"encoded dots cleaned", "/v2/%2e%2e/admin", "/admin", ""},
		{"dots cleaned, trailing slash kept", "/v2/x/../y/", "/v2/y/", ""},
		{"cannot climb above root", "/../../etc", "/etc", ""},
		{"empty segment", "/v2//x", "/v2/x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := &url.URL{Path: "/old", RawPath: "/old"}
			SetEscapedPath(u, tt.escaped)
			if u.Path != tt.wantPath || u.RawPath != tt.wantRawPath {
				t.Errorf("SetEscapedPath(%q): Path %q RawPath %q, want %q %q",
					tt.escaped, u.Path, u.RawPath, tt.wantPath, tt.wantRawPath)
			}
		})
	}
}

// FuzzSetEscapedPath checks the invariants: no dot or empty segment
// survives, RawPath (when set) is what EscapedPath returns, and a valid
// encoding without dot segments round-trips.
func FuzzSetEscapedPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/a%2Fb", "/%2e%2e/x", "/a%20b", "/a/../b", "//x", "/%zz", "/a/./"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		if !strings.HasPrefix(escaped, "/") {
			return
		}
		var u url.URL
		SetEscapedPath(&u, escaped)
		if HasDotSegment(u.Path) {
			t.Fatalf("%q → Path %q has dot segments", escaped, u.Path)
		}
		if u.RawPath != "" && u.EscapedPath() != u.RawPath {
			t.Fatalf("%q → RawPath %q inconsistent with Path %q", escaped, u.RawPath, u.Path)
		}
		if p, err := url.PathUnescape(escaped); err == nil && !HasDotSegment(p) && u.EscapedPath() != escaped && u.Path != p {
			t.Fatalf("%q → Path %q, want %q", escaped, u.Path, p)
		}
	})
}
