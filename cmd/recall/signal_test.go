package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime/docker"
	"github.com/recall-drills/recall/report"
)

// TestSignalDockerDrill interrupts a real `recall run --runtime docker` process with SIGINT and
// with SIGTERM once traffic flows: it must exit 2 (could not run to the end), still write the
// partial report (verdict ERROR, the probes so far), and leave no container or network of the
// drill behind.
func TestSignalDockerDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds recall and runs docker drills")
	}
	requireDocker(t)
	bin, err := buildRecall()
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := t.TempDir()
			id := "sig-" + randomHex(4)
			cmd := exec.Command(bin, "run", "--runtime", "docker", "--drill-id", id, "--out", out, "--quiet",
				"../../scenarios/quickstart.yaml")
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until traffic flows (the baseline phase), then signal.
			sc := bufio.NewScanner(stderr)
			deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
			defer deadline.Stop()
			var tail []string
			for sc.Scan() {
				line := sc.Text()
				tail = append(tail, line)
				if strings.Contains(line, "phase=baseline") {
					time.Sleep(time.Second)
					cmd.Process.Signal(sig)
					break
				}
			}
			go func() {
				for sc.Scan() {
				}
			}()
			err := cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			if code != exitCannotRun {
				t.Fatalf("exit %d (%v), want 2\n%s", code, err, strings.Join(tail, "\n"))
			}
			rep, err := report.Read(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatalf("no partial report: %v", err)
			}
			if rep.Verdict != report.Error || rep.Probes.Total == 0 || !strings.Contains(rep.Reason, "interrupted") {
				t.Errorf("partial report: verdict %s, reason %q, %d probes", rep.Verdict, rep.Reason, rep.Probes.Total)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if n, err := docker.Cleanup(ctx, id); err != nil || n != 0 {
				t.Errorf("after %s, %d containers or networks of drill %s were left behind (%v)", sig, n, id, err)
			}
			if _, err := os.Stat(filepath.Join(out, "logs")); err != nil {
				t.Errorf("container logs not saved: %v", err)
			}
		})
	}
}

// buildRecall builds the recall binary once per test binary (without -race, whatever the
// tests run with: as users run it), into binDir, which TestMain removes.
var buildRecall = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "recall-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "recall")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// endpointRE finds a component's endpoint in the drill's log.
var endpointRE = regexp.MustCompile(`msg="component started" component=edge-push .*endpoint=(http://127\.0\.0\.1:\d+)`)

// interruptDrill starts a long embedded drill on the real binary, waits until traffic flows,
// opens a connection to a gateway that never sends a request (as an HTTP client's spare
// keep-alive connection does: net/http's Shutdown waits 5 s for such a one), signals SIGINT,
// and calls then(cmd) to do the rest. It returns the exit code and stderr.
func interruptDrill(t *testing.T, out string, then func(*exec.Cmd)) (int, string) {
	t.Helper()
	bin, err := buildRecall()
	if err != nil {
		t.Fatal(err)
	}
	path := writeScenario(t, "  - false_rejects == 0\n")
	src, _ := os.ReadFile(path)
	long := strings.NewReplacer("duration: 4s", "duration: 60s", "at: 1500ms", "at: 50s").Replace(string(src))
	os.WriteFile(path, []byte(long), 0o644)

	cmd := exec.Command(bin, "run", path, "--out", out, "--quiet")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	var mu sync.Mutex
	var lines []string
	sc := bufio.NewScanner(stderr)
	endpoint := ""
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if m := endpointRE.FindStringSubmatch(line); m != nil {
			endpoint = m[1]
		}
		if strings.Contains(line, "phase=baseline") {
			break
		}
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	if endpoint == "" {
		cmd.Process.Kill()
		t.Fatalf("no edge-push endpoint in the log:\n%s", strings.Join(lines, "\n"))
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(endpoint, "http://"))
	if err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	then(cmd)
	cmd.Wait()
	<-drained
	mu.Lock()
	defer mu.Unlock()
	return cmd.ProcessState.ExitCode(), strings.Join(lines, "\n")
}

// TestInterruptBoundedShutdown: after one SIGINT the drill stops, closes the system without
// waiting on connections that never sent a request, and writes the partial report within a
// CI runner's usual 5 s kill grace (it took 5–6 s, and the kill lost the report).
func TestInterruptBoundedShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds recall and runs a drill")
	}
	t.Parallel()
	out := t.TempDir()
	code, stderr := interruptDrill(t, out, func(cmd *exec.Cmd) {
		// Killed after 5 s if still running (a kill after it exited does nothing).
		time.AfterFunc(5*time.Second, func() { cmd.Process.Kill() })
	})
	if code != exitCannotRun {
		t.Fatalf("exit %d, want 2 (-1: killed after the 5 s grace)\n%s", code, lastLines(stderr, 15))
	}
	rep, err := report.Read(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatalf("no partial report: %v", err)
	}
	if rep.Verdict != report.Error || rep.Probes.Total == 0 || !strings.Contains(rep.Reason, "interrupted") {
		t.Errorf("partial report: verdict %s, reason %q, %d probes", rep.Verdict, rep.Reason, rep.Probes.Total)
	}
}

// TestSecondInterruptExits: a second SIGINT while the first one drains the drill exits at
// once (the goroutine that waited for it returned as soon as the first signal cancelled its
// context, and the second signal was swallowed).
func TestSecondInterruptExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds recall and runs a drill")
	}
	t.Parallel()
	code, stderr := interruptDrill(t, t.TempDir(), func(cmd *exec.Cmd) {
		time.Sleep(100 * time.Millisecond) // the drain waits at least the close grace (1 s)
		cmd.Process.Signal(syscall.SIGINT)
	})
	if code != exitCannotRun || !strings.Contains(stderr, "second signal: exiting now") {
		t.Errorf("exit %d, want 2 after 'second signal: exiting now':\n%s", code, lastLines(stderr, 15))
	}
}

// TestRunOutputs runs the real binary from a fresh working directory without --out: the report
// lands in ./reports/<scenario>-<timestamp> there (not beside the scenario), --summary-export
// writes the summary's figures as JSON, and output to a pipe carries no escape sequences.
func TestRunOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds recall and runs a drill")
	}
	t.Parallel()
	bin, err := buildRecall()
	if err != nil {
		t.Fatal(err)
	}
	scen := writeScenario(t, "  - false_rejects == 0\n")
	wd := t.TempDir()
	cmd := exec.Command(bin, "run", scen, "--summary-export", "summary.json")
	cmd.Dir = wd
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, lastLines(stderr.String(), 10))
	}
	reports, _ := filepath.Glob(filepath.Join(wd, "reports", "e2e-*", "report.json"))
	if len(reports) != 1 {
		t.Fatalf("want one report under ./reports/e2e-*/, got %q", reports)
	}
	if beside, _ := filepath.Glob(filepath.Join(filepath.Dir(scen), "reports")); len(beside) != 0 {
		t.Errorf("a report directory beside the scenario: %q", beside)
	}
	var sum summaryExport
	b, err := os.ReadFile(filepath.Join(wd, "summary.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary export: %v\n%s", err, b)
	}
	rep, err := report.Read(reports[0])
	if err != nil {
		t.Fatal(err)
	}
	if sum.Verdict != rep.Verdict || len(sum.Components) != len(rep.Components) || sum.Overall.Pairs != rep.Overall.Pairs ||
		sum.Probes.Total != rep.Probes.Total || !strings.HasSuffix(sum.Report, "report.json") || len(sum.Expectations) != 1 {
		t.Errorf("summary export %+v does not match the report (verdict %s, %d pairs)", sum, rep.Verdict, rep.Overall.Pairs)
	}
	if strings.Contains(stdout.String(), "\033") || strings.Contains(stderr.String(), "\033") {
		t.Error("escape sequences written to a pipe")
	}
}
