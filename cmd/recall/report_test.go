package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyReport copies a golden report from report/text/testdata into dir.
func copyReport(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "report", "text", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fail := copyReport(t, dir, "fail.json")
	pass := copyReport(t, dir, "pass.json")

	t.Run("beside the json", func(t *testing.T) {
		t.Parallel()
		code, out, errs := runMain("report", fail)
		want := filepath.Join(dir, "report.html")
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
		page, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(page), `id="headline"`) || strings.Contains(string(page), `id="trend"`) {
			t.Error("page lacks the headline or has a trend without a baseline")
		}
	})
	t.Run("baseline after the argument", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "sub", "trend.html")
		if code, o, errs := runMain("report", fail, "--baseline", pass, "-o", out); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, o, errs)
		}
		page, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(page), `id="trend"`) {
			t.Error("no trend section with --baseline")
		}
	})
	t.Run("stdout", func(t *testing.T) {
		t.Parallel()
		code, out, _ := runMain("report", "-o", "-", pass)
		if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "<!DOCTYPE html>") {
			t.Errorf("exit %d, stdout %.80q", code, out)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no argument", nil, "want exactly one report.json"},
		{"missing file", []string{filepath.Join(dir, "nope.json")}, "read report"},
		{"bad baseline", []string{"--baseline", filepath.Join(dir, "nope.json"), fail}, "--baseline: read report"},
		{"bad flag", []string{"--frob", fail}, "unknown flag: --frob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errs := runMain(append([]string{"report"}, tc.args...)...)
			if code != exitCannotRun || !strings.Contains(errs, tc.msg) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, tc.msg, errs)
			}
		})
	}
}
