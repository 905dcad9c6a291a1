package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadDebounce folds the burst of events one save produces (editors write,
// rename and chmod) into one reload.
const reloadDebounce = 200 * time.Millisecond

// watchConfig calls reload when file changes. It watches the file's
// directory, not the file, because editors and config-map mounts replace
// the file (rename/create) rather than write it in place. A Kubernetes
// ConfigMap volume never touches the file's own name: the file is a
// symlink through "..data", and an update swaps that symlink. So any event
// in the directory also triggers a reload when the file now resolves to
// another path.
func watchConfig(ctx context.Context, file string, reload func(reason string), logger *slog.Logger) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", file, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("start watcher: %w", err)
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		_ = w.Close()
		return fmt.Errorf("watch %s: %w", filepath.Dir(abs), err)
	}
	resolved, _ := filepath.EvalSymlinks(abs)
	// changed reports whether ev concerns the configuration: the file's own
	// name, or a swap elsewhere in the directory that changed what the
	// file resolves to. Only the watcher goroutine calls it.
	changed := func(ev fsnotify.Event) bool {
		if ev.Op == fsnotify.Chmod {
			return false
		}
		now, err := filepath.EvalSymlinks(abs)
		moved := err == nil && now != resolved
		if err == nil {
			resolved = now
		}
		return filepath.Clean(ev.Name) == abs || moved
	}
	go func() {
		defer w.Close()
		var timer *time.Timer
		for {
			select {
			case <-ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if !changed(ev) {
					continue
				}
				if timer == nil {
					timer = time.AfterFunc(reloadDebounce, func() { reload("file changed") })
				} else {
					timer.Reset(reloadDebounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				logger.Warn("config watcher error", "error", err)
			}
		}
	}()
	return nil
}
