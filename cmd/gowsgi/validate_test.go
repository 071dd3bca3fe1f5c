package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// --validate (or GOWSGI_VALIDATE) reaches the application: a violation is
// one log line naming the rule and the application's line, and a 500.
// Without it, only the server's own protocol checks run.
func TestValidateFlag(t *testing.T) {
	const where = "validate_apps.py:16: PEP 3333: the status must be a str"
	for name, opts := range map[string]struct {
		args []string
		env  []string
	}{
		"flag":        {args: []string{"--validate"}},
		"environment": {env: []string{"GOWSGI_VALIDATE=true"}},
	} {
		t.Run(name, func(t *testing.T) {
			args := append(opts.args, "--pythonpath", ".", "validate_apps:status_type")
			s := testutil.Start(t, testutil.Options{Env: opts.env}, args...)
			if status, _ := cliGet(t, s.URL+"/"); status != 500 {
				t.Errorf("status %d, want 500", status)
			}
			if !s.WaitLog("[ERROR] WSGI violation at ", 10*time.Second) || !strings.Contains(s.Log.String(), where) {
				t.Errorf("the log does not name %q:\n%s", where, s.Log)
			}
		})
	}

	s := testutil.Start(t, testutil.Options{}, "--pythonpath", ".", "validate_apps:header_tab")
	if status, _ := cliGet(t, s.URL+"/"); status != 200 {
		t.Errorf("without --validate a tab in a header value passes; got %d", status)
	}
	if strings.Contains(s.Log.String(), "WSGI violation") {
		t.Errorf("without --validate the validator ran:\n%s", s.Log)
	}

	out, err := exec.Command(testutil.Binary(t), "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--validate") {
		t.Errorf("--help does not document --validate (%v):\n%s", err, out)
	}
}
