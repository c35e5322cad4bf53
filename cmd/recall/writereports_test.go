package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/recall-drills/recall/internal/plan"
	"github.com/recall-drills/recall/report"
)

// TestWriteReportsHonoursScenarioReport: report.html: false in the scenario was ignored (only
// --no-html was read), and report.junit, already resolved against report.dir by Load, was
// joined onto the output directory again (<out>/…/reports/junit.xml).
func TestWriteReportsHonoursScenarioReport(t *testing.T) {
	t.Parallel()
	// A directory given relative, as on the command line (scenarios/…): Load resolves report.dir
	// and report.junit against it.
	dir, err := os.MkdirTemp(".", "testwritereports-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	src := `name: rep
system:
  components:
    - {name: issuer, kind: issuer, use: reference/issuer}
    - {name: edge, kind: gateway, use: reference/gateway, with: {strategy: push}}
traffic: {rate: 100/s, duration: 5s}
recall: {at: 2s}
report: {dir: out, html: false, junit: junit.xml}
`
	path := filepath.Join(dir, "rep.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(s.Report.Dir, "rep-1")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	rep := &report.Report{SchemaVersion: report.SchemaVersion, Verdict: report.Pass}
	if err := writeReports(rep, outDir, runOptions{}, s.Report); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outDir, "report.json")); err != nil {
		t.Errorf("report.json: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outDir, "report.html")); err == nil {
		t.Error("report.html written although the scenario says html: false")
	}
	want := filepath.Join(dir, "out", "junit.xml")
	if _, err := os.Stat(want); err != nil {
		t.Errorf("junit.xml not at %s (report.junit resolved against report.dir): %v", want, err)
	}
	_ = filepath.WalkDir(outDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "junit.xml" {
			t.Errorf("junit.xml written under the output directory too (%s: report.junit joined twice)", p)
		}
		return nil
	})
}
