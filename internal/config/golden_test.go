package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testEnv is the environment the golden files are parsed with, so that the
// outcome does not depend on the machine's.
func testEnv(name string) (string, bool) {
	switch name {
	case "GATEHOUSE_TEST_HOST":
		return "api.example.com", true
	case "GATEHOUSE_TEST_PORT":
		return "8080", true
	}
	return "", false
}

// TestGolden parses every testdata/*.yaml and compares the errors, one
// "file:line:col: message (hint: ...)" per line, with the .golden file
// beside it (empty for a valid file). Refresh with: go test ./internal/config -update
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parse(data, filepath.Base(f), testEnv)
			got := ""
			if err != nil {
				var list ErrorList
				if !errors.As(err, &list) {
					t.Fatalf("error is %T, want ErrorList", err)
				}
				for _, e := range list {
					if e.Pos.File == "" || e.Pos.Line == 0 || e.Pos.Col == 0 {
						t.Errorf("error without a full position: %v", e)
					}
				}
				got = err.Error() + "\n"
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\n--- got:\n%s--- want:\n%s", golden, got, want)
			}
		})
	}
}
