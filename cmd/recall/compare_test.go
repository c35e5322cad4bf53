package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recall-drills/recall/report"
)

func TestCompareCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fail := copyReport(t, dir, "fail.json")
	pass := copyReport(t, dir, "pass.json")

	// slower is pass.json with edge-poll's p99 and max 30 % higher (resolution stays small).
	rep, err := report.Read(pass)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rep.Components {
		if c := &rep.Components[i]; c.Name == "edge-poll" {
			c.TTCMS.P99 *= 1.3
			c.TTCMS.Max *= 1.3
		}
	}
	slower := filepath.Join(dir, "slower.json")
	b, _ := json.Marshal(rep)
	if err := os.WriteFile(slower, b, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   string
		noStdout string
	}{
		{name: "same run", args: []string{pass, pass}, code: exitPass, stdout: []string{"no regression", "edge-poll"}},
		{name: "regressed", args: []string{pass, fail}, code: exitFail,
			stdout: []string{"REGRESSION", "+ appeared  CRITICAL resurrection at edge-cache", "newly not converging"}, stderr: "regression against the base report"},
		{name: "recovered", args: []string{fail, pass}, code: exitPass, stdout: []string{"- vanished", "no regression"}},
		{name: "slower over default 20%", args: []string{pass, slower}, code: exitFail, stdout: []string{"REGRESSED: p99"}},
		{name: "slower within 40%", args: []string{pass, slower, "--max-regression", "40%"}, code: exitPass, stdout: []string{"more than 40%"}, noStdout: "REGRESSED"},
		{name: "slower within 0.4 before", args: []string{"--max-regression=0.4", pass, slower}, code: exitPass, noStdout: "REGRESSED"},
		{name: "one report", args: []string{pass}, code: exitCannotRun, stderr: "want two reports"},
		{name: "bad threshold", args: []string{"--max-regression", "lots", pass, fail}, code: exitCannotRun, stderr: "want a share such as 20%"},
		{name: "unreadable", args: []string{pass, filepath.Join(dir, "nope.json")}, code: exitCannotRun, stderr: "read report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runMain(append([]string{"compare"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if tc.noStdout != "" && strings.Contains(out, tc.noStdout) {
				t.Errorf("stdout has %q:\n%s", tc.noStdout, out)
			}
			if !strings.Contains(errs, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errs)
			}
		})
	}
}
