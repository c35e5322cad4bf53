package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFlagsAfterArguments: flags parse after the positional arguments as before them (the
// standard library's flag stopped at the first argument and ran nothing).
func TestFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	good := writeScenario(t, "  - resurrections == 0\n")
	for _, args := range [][]string{
		{"report", "nope.json", "--baseline", "base.json", "-o", "-"},
		{"compare", "--max-regression", "10%", "a.json", "b.json"},
		{"compare", "a.json", "b.json", "--max-regression", "10%"},
	} {
		code, _, errs := runMain(args...)
		if strings.Contains(errs, "unknown flag") || strings.Contains(errs, "want ") && strings.Contains(errs, "argument(s)") {
			t.Errorf("%q: the flags were not parsed (exit %d):\n%s", args, code, errs)
		}
	}
	// A flag after the scenario is a flag, not a second scenario.
	code, _, errs := runMain("run", good, "--seed", "7abc")
	if code != exitCannotRun || !strings.Contains(errs, `invalid argument "7abc" for "--seed"`) {
		t.Errorf("--seed 7abc after the scenario: exit %d, want 2 naming the bad value:\n%s", code, errs)
	}
}

// TestTypedFlags: a typed flag rejects a value with trailing garbage instead of reading its
// prefix (fmt.Sscan read "7abc" as 7).
func TestTypedFlags(t *testing.T) {
	t.Parallel()
	good := writeScenario(t, "  - resurrections == 0\n")
	for _, args := range [][]string{
		{"run", "--seed", "7abc", good},
		{"run", "--seed=1e3", good},
		{"bench", "--runs", "3x"},
		{"bench", "--duration", "2"},
	} {
		code, _, errs := runMain(args...)
		if code != exitCannotRun || !strings.Contains(errs, "invalid argument") {
			t.Errorf("%q: exit %d, want 2 with 'invalid argument':\n%s", args, code, errs)
		}
	}
}

func TestHelpVersionCompletion(t *testing.T) {
	t.Parallel()
	code, out, _ := runMain("help", "run")
	if code != exitPass || !strings.Contains(out, "recall run SCENARIO") || !strings.Contains(out, "--seed int") {
		t.Errorf("help run: exit %d:\n%s", code, out)
	}
	code, out, _ = runMain("--version")
	if code != exitPass || !strings.HasPrefix(out, "recall "+Version+" (go") {
		t.Errorf("--version: exit %d %q", code, out)
	}
	for shell, want := range map[string]string{"bash": "__start_recall", "zsh": "#compdef recall", "fish": "complete -c recall"} {
		code, out, errs := runMain("completion", shell)
		if code != exitPass || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, lacks %q (%s)", shell, code, want, errs)
		}
	}
	// The scenario argument completes *.yaml and *.yml files (directive 8: filter by extension).
	code, out, _ = runMain("__complete", "run", "")
	if code != exitPass || !strings.Contains(out, "yaml\nyml\n:8") {
		t.Errorf("run SCENARIO completion: %q", out)
	}
	code, out, _ = runMain("__complete", "run", "x.yaml", "--runtime", "")
	if code != exitPass || !strings.Contains(out, "docker\n") {
		t.Errorf("--runtime completion: %q", out)
	}
}

// TestSet: --set on validate and run overrides a value with the file's checks and positions;
// completion offers the scenario's paths, components by name.
func TestSet(t *testing.T) {
	t.Parallel()
	good := writeScenario(t, "  - resurrections == 0\n")
	if code, out, errs := runMain("validate", good, "--set", "traffic.rate=500/s", "--set", "recall.at=2s"); code != exitPass {
		t.Errorf("validate --set: exit %d %s %s", code, out, errs)
	}
	for _, args := range [][]string{{"validate"}, {"run", "--out", t.TempDir()}} {
		cmd := args[0]
		code, _, errs := runMain(append(args, good, "--set", "traffic.rate=5000/fortnight")...)
		want := good + ":9:17: --set traffic.rate=5000/fortnight: traffic.rate: bad rate"
		if code != exitCannotRun || !strings.Contains(errs, want) {
			t.Errorf("%s: exit %d, want 2 with %q:\n%s", cmd, code, want, errs)
		}
	}
	code, out, _ := runMain("__complete", "run", good, "--set", "system.components[edge-p")
	if code != exitPass || !strings.Contains(out, "system.components[edge-push].with.strategy=\n") {
		t.Errorf("--set completion: %q", out)
	}
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		elapsed, total time.Duration
		want           string
	}{
		{0, 10 * time.Second, "[..........]   0%"},
		{5 * time.Second, 10 * time.Second, "[#####.....]  50%"},
		{12 * time.Second, 10 * time.Second, "[##########] 100%"},
		{time.Second, 0, "[..........]   0%"},
	} {
		if got := progressBar(tc.elapsed, tc.total, 10); got != tc.want {
			t.Errorf("progressBar(%v, %v) = %q, want %q", tc.elapsed, tc.total, got, tc.want)
		}
	}
	if got := string(colorVerdict([]byte("FAIL  x"), "FAIL")); got != "\033[1;31mFAIL\033[0m  x" {
		t.Errorf("colorVerdict: %q", got)
	}
	var b strings.Builder
	if useColor(&b) {
		t.Error("a buffer is not a terminal: no colour")
	}
}

// TestValidateLines: validate prints one line per file of what it checked; -v adds the plan.
func TestValidateLines(t *testing.T) {
	t.Parallel()
	good := writeScenario(t, "  - resurrections == 0\n")
	code, out, errs := runMain("validate", good, "../../scenarios/quickstart.yaml")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitPass || len(lines) != 2 || !strings.Contains(lines[0], "ok: 3 components (2 probed) on embedded, 40 victims + 10 controls, recall revoke-tokens at 1.5s") ||
		!strings.Contains(lines[1], "96 pairs, resolution ±40ms") {
		t.Errorf("exit %d:\n%s\n%s", code, out, errs)
	}
	code, out, _ = runMain("validate", "-v", good)
	if code != exitPass || !strings.Contains(out, "probe budget:") || !strings.Contains(out, "nothing was started") {
		t.Errorf("validate -v: exit %d:\n%s", code, out)
	}
}

// TestRunRuntimeFlagIsChecked: `recall run --runtime docker` checks the scenario for the docker
// runtime before starting anything, with positions, as `--set system.runtime=docker` does. It
// used to set the runtime after the checks, so a key docker cannot run (here the issuer as an
// SSF transmitter) was found only once the drill had started, as a run-time error.
func TestRunRuntimeFlagIsChecked(t *testing.T) {
	t.Setenv("RECALL_SSF_TOKEN", "not-a-real-token-"+randomHex(4))
	out := t.TempDir()
	code, _, errs := runMain("run", "--runtime", "docker", "--out", out, "../../scenarios/ssf-receiver.yaml")
	want := "ssf-receiver.yaml:21:77: system.components[0].with.ssf_token: the docker runtime cannot"
	if code != exitCannotRun || !strings.Contains(errs, want) {
		t.Errorf("run --runtime docker: exit %d, want 2 with %q:\n%s", code, want, lastLines(errs, 5))
	}
	if _, err := os.Stat(filepath.Join(out, "report.json")); err == nil {
		t.Errorf("a report was written: the drill started")
	}
}
