package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBench runs one short bench and checks the table reports bare vegeta's rate, the
// pipeline's and their ratio, and the tracker's heap per pair; the numbers themselves are the
// machine's, not the test's (only that a 300/s run achieves at most about 300/s).
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
	if len(lines) != 4 || !strings.HasPrefix(strings.TrimSpace(lines[1]), "300 ") {
		t.Fatalf("bench table:\n%s", out)
	}
	// Bare vegeta's rate, the pipeline's, their ratio, side by side (issue 11 item 6).
	for _, col := range []string{"vegeta/s", "achieved/s", "pipeline/vegeta"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("bench header lacks %q: %s", col, lines[0])
		}
	}
	if m := regexp.MustCompile(`^\s*300\s+(\d+) \(\d+%\)\s+(\d+) \(\d+%\)\s+(\d+)%\s`).FindStringSubmatch(lines[1]); m == nil {
		t.Errorf("bench row has no vegeta rate, pipeline rate and ratio: %s", lines[1])
	} else if v, _ := strconv.Atoi(m[1]); v <= 0 || v > 400 {
		t.Errorf("bare vegeta's rate %d, want that of a 300/s run", v)
	}
	if m := regexp.MustCompile(`^tracker heap: (\d+) B per tracked pair \(100000 pairs`).FindStringSubmatch(lines[2]); m == nil {
		t.Errorf("no tracker heap per pair: %s", lines[2])
	} else if b, _ := strconv.Atoi(m[1]); b < 16 || b > 1024 {
		t.Errorf("tracker heap %d B per pair: not a tracker's", b)
	}
	if code, _, _ := runMain("bench", "--rates", "fast"); code != exitCannotRun {
		t.Errorf("a bad rate: exit %d", code)
	}
}
