package placeholder

import (
	"strings"
	"testing"
)

// FuzzCompile checks that Compile never panics, that a compiled template
// renders without panicking, and that String round-trips: compiling the
// source form again gives the same rendering and the same source form.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"", "plain", "{client_ip}", "req-{request_id}", "{header.X-Api-Key}", "{query.page}",
		"{{literal}}", "a}b", "{", "}", "{}", "{unknown}", "{header.}", "https://{host}{uri}",
		"{{{host}}}", "{query.a}{query.b}", "\x00{path}\xff",
	} {
		f.Add(s)
	}
	r := testRequest(true)
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Compile(s)
		if err != nil {
			return
		}
		got := tp.Render(r)
		src := tp.String()
		tp2, err := Compile(src)
		if err != nil {
			t.Fatalf("String() %q of %q does not compile: %v", src, s, err)
		}
		if got2 := tp2.Render(r); got2 != got {
			t.Fatalf("round trip of %q via %q renders %q, want %q", s, src, got2, got)
		}
		if src2 := tp2.String(); src2 != src {
			t.Fatalf("String not stable: %q then %q", src, src2)
		}
		if tp.IsStatic() && !strings.Contains(s, "{") && got != strings.ReplaceAll(s, "}}", "}") {
			t.Fatalf("static %q renders %q", s, got)
		}
	})
}
