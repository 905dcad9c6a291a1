package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The watcher reloads for an in-place write, an editor's replace, and a
// Kubernetes ConfigMap update, which only swaps the "..data" symlink the
// file resolves through (the file's own name sees no event).
func TestWatchConfigReloads(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string) string // returns the config path
		change func(t *testing.T, dir string)
	}{
		{
			name: "write in place",
			setup: func(t *testing.T, dir string) string {
				return watchTestWrite(t, filepath.Join(dir, "g.yaml"), "a")
			},
			change: func(t *testing.T, dir string) { watchTestWrite(t, filepath.Join(dir, "g.yaml"), "b") },
		},
		{
			name: "replace by rename",
			setup: func(t *testing.T, dir string) string {
				return watchTestWrite(t, filepath.Join(dir, "g.yaml"), "a")
			},
			change: func(t *testing.T, dir string) {
				tmp := watchTestWrite(t, filepath.Join(dir, "g.yaml.tmp"), "b")
				watchTestMust(t, os.Rename(tmp, filepath.Join(dir, "g.yaml")))
			},
		},
		{
			name: "configmap symlink swap",
			setup: func(t *testing.T, dir string) string {
				watchTestMust(t, os.Mkdir(filepath.Join(dir, "v1"), 0o755))
				watchTestWrite(t, filepath.Join(dir, "v1", "g.yaml"), "a")
				watchTestMust(t, os.Symlink("v1", filepath.Join(dir, "..data")))
				watchTestMust(t, os.Symlink(filepath.Join("..data", "g.yaml"), filepath.Join(dir, "g.yaml")))
				return filepath.Join(dir, "g.yaml")
			},
			change: func(t *testing.T, dir string) {
				watchTestMust(t, os.Mkdir(filepath.Join(dir, "v2"), 0o755))
				watchTestWrite(t, filepath.Join(dir, "v2", "g.yaml"), "b")
				watchTestMust(t, os.Symlink("v2", filepath.Join(dir, "..data_tmp")))
				watchTestMust(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := tc.setup(t, dir)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			reloads := make(chan string, 16)
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			if err := watchConfig(ctx, file, func(r string) { reloads <- r }, logger); err != nil {
				t.Fatal(err)
			}
			tc.change(t, dir)
			select {
			case <-reloads:
			case <-time.After(5 * time.Second):
				t.Fatal("no reload after the configuration changed")
			}
		})
	}
}

func watchTestWrite(t *testing.T, path, content string) string {
	t.Helper()
	watchTestMust(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

func watchTestMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
