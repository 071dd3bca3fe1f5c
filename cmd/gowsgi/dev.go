package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/internal/watch"
)

// devConfig holds the settings for development, werkzeug's run_simple's:
// reload on code changes, tracebacks in the browser. Never on by default.
type devConfig struct {
	reload      bool
	reloadExtra []string
	debug       bool
}

func addDevFlags(fs *pflag.FlagSet, c *devConfig) {
	fs.BoolVar(&c.reload, "reload", false,
		"restart the workers when a .py file under --chdir/--pythonpath changes; an application that fails "+
			"to load then does not stop the server (development only)")
	fs.StringArrayVar(&c.reloadExtra, "reload-extra-file", nil,
		"with --reload, also restart when `FILE` changes, whatever its type (templates, settings); repeatable")
	fs.BoolVar(&c.debug, "debug", false,
		"answer application errors with an HTML page showing the traceback and source: never in production")
}

// startReloader watches the application's directories for --reload: the
// working directory (after --chdir) and the --pythonpath directories,
// which the workers resolve from it, and the configuration file, read
// again on a reload. It returns nil without --reload.
func startReloader(c *settings, r *resolved, log *slog.Logger) (*watch.Watcher, error) {
	if !c.dev.reload {
		if len(c.dev.reloadExtra) > 0 {
			return nil, errors.New("--reload-extra-file needs --reload")
		}
		return nil, nil
	}
	extra := expandGlobs(c.dev.reloadExtra)
	if r.file != nil {
		extra = append(extra, r.file.Path)
	}
	base, err := filepath.Abs(c.chdir)
	if err != nil {
		return nil, err
	}
	dirs := []string{base}
	for _, p := range strings.Split(c.pythonpath, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		dirs = append(dirs, p)
	}
	// Extra files are relative to where gowsgi started, as the user typed them.
	w, err := watch.Start(watch.Config{Dirs: nested(dirs), Files: extra, Log: log})
	if err != nil {
		return nil, fmt.Errorf("--reload: %w", err)
	}
	log.Info("Reloading when Python files change under " + strings.Join(nested(dirs), ", "))
	return w, nil
}

// prepareWorker readies a worker process for --reload. Python trusts a
// cached .pyc whose source has the size and modification second it
// recorded, so a file saved twice within a second (a formatter, a
// checkout, an undo) could come back as the old code: the workers write
// none.
func prepareWorker(c *settings) {
	if c.dev.reload && os.Getenv("PYTHONDONTWRITEBYTECODE") == "" {
		os.Setenv("PYTHONDONTWRITEBYTECODE", "1")
	}
}

// nested drops the directories inside another one of the list: watched
// already.
func nested(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		inside := false
		for _, o := range dirs {
			if o != d && strings.HasPrefix(d, o+string(os.PathSeparator)) {
				inside = true
			}
		}
		if !inside && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}
