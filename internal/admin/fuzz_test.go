package admin

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzPurgeRequest: any body either decodes into a request that yields
// well-formed purge messages of exactly one kind, or is refused; nothing
// panics.
func FuzzPurgeRequest(f *testing.F) {
	for _, s := range []string{
		`{"cache":"pages","url":"http://h/a?b=1"}`,
		`{"prefix":"https://H:8080/a/*"}`,
		`{"tags":["a","b"]}`,
		`{"url":"/relative"}`,
		`{"url":"http://h/","tags":["x"]}`,
		`{"tags":[" "]}`,
		`{}`, `[]`, `null`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req purgeRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		msgs, err := req.messages()
		if err != nil {
			return
		}
		if len(msgs) == 0 {
			t.Fatalf("%q: accepted with nothing to purge", body)
		}
		for _, m := range msgs {
			if m.Value == "" || m.Kind != msgs[0].Kind {
				t.Fatalf("%q: bad message %+v", body, m)
			}
			if m.Kind == "prefix" && strings.HasSuffix(m.Value, "*") && !strings.HasSuffix(req.Prefix, "**") {
				t.Fatalf("%q: prefix keeps its *: %q", body, m.Value)
			}
		}
	})
}
