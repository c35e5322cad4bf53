package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
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
	bin := filepath.Join(t.TempDir(), "recall")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
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
			if n, err := runtime.Cleanup(ctx, id); err != nil || n != 0 {
				t.Errorf("after %s, %d containers or networks of drill %s were left behind (%v)", sig, n, id, err)
			}
			if _, err := os.Stat(filepath.Join(out, "logs")); err != nil {
				t.Errorf("container logs not saved: %v", err)
			}
		})
	}
}
