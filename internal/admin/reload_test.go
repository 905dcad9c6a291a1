package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func TestReload(t *testing.T) {
	t.Run("success answers the new generation", func(t *testing.T) {
		f := newFixture(t, minimalConfig, "")
		st, body, _ := f.do(t, http.MethodPost, "/reload", "")
		var got reloadResult
		if st != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Generation != f.holder.Current().Generation() {
			t.Fatalf("%d %s (current generation %d)", st, body, f.holder.Current().Generation())
		}
	})

	cases := []struct {
		name   string
		err    error
		body   string
		status int
		want   []string
	}{
		{
			name:   "broken file answers 422 with positions",
			err:    config.ErrorList{config.Errorf(config.Pos{File: "gatehouse.yaml", Line: 6, Col: 5}, "did you mean respond?", "unknown key %q", "respondd")},
			status: http.StatusUnprocessableEntity,
			want:   []string{`"line": 6`, `"col": 5`, `"file": "gatehouse.yaml"`, `gatehouse.yaml:6:5: unknown key \"respondd\"`, "keeps serving"},
		},
		{
			name:   "no file answers 409",
			err:    fmt.Errorf("reload: %w", ErrNoReload),
			status: http.StatusConflict,
			want:   []string{"quick mode"},
		},
		{
			name:   "other refusal answers 422 with the reason",
			err:    errTest,
			status: http.StatusUnprocessableEntity,
			want:   []string{"test"},
		},
		{
			name:   "unknown body field is 400",
			body:   `{"force":true}`,
			status: http.StatusBadRequest,
			want:   []string{"force"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, minimalConfig, "")
			f.reloadErr = tc.err
			st, body, _ := f.do(t, http.MethodPost, "/reload", tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %s", st, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			if tc.body != "" && f.reloads.Load() != 0 {
				t.Error("a bad request reloaded")
			}
		})
	}
}
