package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBench runs one short bench and checks the table reports an achieved rate; the numbers
// themselves are the machine's, not the test's.
func TestBench(t *testing.T) {
	t.Parallel()
	saved := filepath.Join(t.TempDir(), "bench.json")
	code, out, errs := runMain("bench", "--rates", "300", "--runs", "1", "--duration", "300ms", "--pairs", "100", "--save", saved)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if r := readBench(saved); r == nil || r.MaxAchieved <= 0 || r.MaxAchieved > 400 {
		t.Errorf("saved bench result %+v, want the achieved rate of a 300/s run", r)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "achieved/s") || !strings.HasPrefix(strings.TrimSpace(lines[1]), "300 ") {
		t.Errorf("bench table:\n%s", out)
	}
	if code, _, _ := runMain("bench", "--rates", "fast"); code != exitCannotRun {
		t.Errorf("a bad rate: exit %d", code)
	}
}
