package cache

import (
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// memState is a middleware.State that keeps values like the runtime's.
type memState struct {
	mu sync.Mutex
	m  map[string]any
}

func (s *memState) Shared(key string, create func() (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key]; ok {
		return v, nil
	}
	v, err := create()
	if err == nil {
		s.m[key] = v
	}
	return v, err
}

// TestDiskStoreReload: a rebuilt middleware with the same settings keeps
// the disk entries; another disk size is another store. Closing the
// shared value deletes the store's directory.
func TestDiskStoreReload(t *testing.T) {
	clk := newClock()
	o := newOrigin(t, clk, sized(4000, false))
	dir := t.TempDir()
	state := &memState{m: map[string]any{}}
	env := middleware.Env{Now: clk.Now, State: state}
	build := func(diskSize string) *httptest.Server {
		spec := config.NewMiddlewareSpec(Name, map[string]any{
			"size": "1MB", "max_object_size": "1MB",
			"disk": map[string]any{"path": dir, "size": diskSize, "min_object_size": "1KB"},
		})
		mw, err := NewMiddleware(spec, env)
		if err != nil {
			t.Fatal(err)
		}
		target, _ := url.Parse(o.srv.URL)
		srv := httptest.NewServer(mw(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }}))
		t.Cleanup(srv.Close)
		return srv
	}
	get := func(srv *httptest.Server) string {
		t.Helper()
		f := &front{srv: srv}
		resp, body := f.do(t, "GET", "/obj", "", "Host", "example.test")
		if len(body) != 4000 {
			t.Fatalf("body %d bytes", len(body))
		}
		return resp.Header.Get("Cache-Status")
	}
	steps := []struct {
		name     string
		diskSize string
		wantHit  bool
	}{
		{"first", "1MB", false},
		{"reload-same-settings", "1MB", true},
		{"reload-other-disk-size", "2MB", false},
		{"reload-back", "1MB", true},
	}
	for _, s := range steps {
		if cs := get(build(s.diskSize)); strings.Contains(cs, "hit") != s.wantHit {
			t.Fatalf("%s: Cache-Status %q, want hit %v", s.name, cs, s.wantHit)
		}
	}
	subdirs, _ := filepath.Glob(filepath.Join(dir, storeDirPrefix+"*"))
	if len(subdirs) != 2 {
		t.Fatalf("store directories %v, want 2 (one per disk size)", subdirs)
	}
	for k, v := range state.m {
		if err := v.(*sharedStore).Close(); err != nil {
			t.Fatalf("close %s: %v", k, err)
		}
	}
	if subdirs, _ := filepath.Glob(filepath.Join(dir, storeDirPrefix+"*")); len(subdirs) != 0 {
		t.Fatalf("directories left after close: %v", subdirs)
	}
}

// TestNewDisk: validation, permissions, and clean-up of leftovers of an
// earlier process (unlocked directories) but never of a live store or of
// foreign files.
func TestNewDisk(t *testing.T) {
	cases := []struct {
		name     string
		path     string
		capacity int64
		wantErr  bool
		created  bool // path did not exist: it must be made 0700 too
	}{
		{"empty-path", "", 100, true, false},
		{"zero-size", t.TempDir(), 0, true, false},
		{"negative-size", t.TempDir(), -1, true, false},
		{"existing-dir", t.TempDir(), 100, false, false},
		{"creates-missing-dir", filepath.Join(t.TempDir(), "a", "b"), 100, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDisk(tc.path, tc.capacity)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			defer d.Close()
			paths := []string{d.Dir()}
			if tc.created {
				paths = append(paths, tc.path)
			}
			for _, p := range paths {
				fi, err := os.Stat(p)
				if err != nil || fi.Mode().Perm()&0o077 != 0 {
					t.Fatalf("%s: mode %v, %v; want 0700", p, fi.Mode(), err)
				}
			}
		})
	}
	t.Run("leftovers", func(t *testing.T) {
		path := t.TempDir()
		live, err := NewDisk(path, 100)
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		stale := filepath.Join(path, storeDirPrefix+"old")
		if err := os.MkdirAll(stale, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{lockName, "abc-1", "fill-1.tmp"} {
			if err := os.WriteFile(filepath.Join(stale, n), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		foreign := filepath.Join(path, "operator-file")
		if err := os.WriteFile(foreign, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		second, err := NewDisk(path, 100)
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		for p, want := range map[string]bool{stale: false, live.Dir(): true, second.Dir(): true, foreign: true} {
			if _, err := os.Stat(p); (err == nil) != want {
				t.Fatalf("%s exists: %v, want %v", p, err == nil, want)
			}
		}
	})
}

// TestDiskFileMode: object files are 0600.
func TestDiskFileMode(t *testing.T) {
	clk := newClock()
	o := newOrigin(t, clk, sized(4000, false))
	f := newDiskFront(t, clk, o, diskSetup{}, nil)
	f.do(t, "GET", "/m", "")
	files, _ := diskFiles(t, f.cache.Store())
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	fi, err := os.Stat(filepath.Join(f.cache.Store().Disk().Dir(), files[0]))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
}

// TestDiskConfig: the disk settings are validated, and a dry run
// (validate, explain) creates no directory.
func TestDiskConfig(t *testing.T) {
	cases := []struct {
		name    string
		disk    map[string]any
		maxObj  string
		dryRun  bool
		wantErr string
		wantDir bool
	}{
		{name: "defaults", disk: map[string]any{"path": "DIR"}, wantDir: true},
		{name: "full", disk: map[string]any{"path": "DIR", "size": "10GB", "min_object_size": "1MB"}, maxObj: "100MB", wantDir: true},
		{name: "min-above-max", disk: map[string]any{"path": "DIR", "min_object_size": "20MB"}, wantErr: "larger than max_object_size"},
		{name: "size-without-path", disk: map[string]any{"size": "1GB"}, wantErr: "need a path"},
		{name: "dry-run-touches-nothing", disk: map[string]any{"path": "DIR"}, dryRun: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "cache")
			disk := map[string]any{}
			for k, v := range tc.disk {
				if v == "DIR" {
					v = dir
				}
				disk[k] = v
			}
			settings := map[string]any{"disk": disk}
			if tc.maxObj != "" {
				settings["max_object_size"] = tc.maxObj
			}
			state := &memState{m: map[string]any{}}
			_, err := NewMiddleware(config.NewMiddlewareSpec(Name, settings), middleware.Env{State: state, DryRun: tc.dryRun})
			t.Cleanup(func() {
				for _, v := range state.m {
					_ = v.(*sharedStore).Close()
				}
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dir); (err == nil) != tc.wantDir {
				t.Fatalf("directory exists: %v, want %v", err == nil, tc.wantDir)
			}
		})
	}
}
