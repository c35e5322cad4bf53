package docker

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/runtime"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJqdGkiOiJhIn0.MEUCIQDx-_9"
	tests := []struct{ in, want string }{
		{"no token here", "no token here"},
		{"Bearer " + jwt, "Bearer [fp:" + redact.Fingerprint(jwt) + "]"},
		{"a=" + jwt + " b=" + jwt + ".", "a=[fp:" + redact.Fingerprint(jwt) + "] b=[fp:" + redact.Fingerprint(jwt) + "]."},
		{"eyJ alone and eyJx.y are not tokens", "eyJ alone and eyJx.y are not tokens"},
		{`{"access_token":"` + jwt + `"}`, `{"access_token":"[fp:` + redact.Fingerprint(jwt) + `]"}`},
	}
	for _, tc := range tests {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitLogMergesStreams(t *testing.T) {
	t.Parallel()
	out := splitLog(strings.NewReader("2026-01-01T00:00:00.000000003Z third\n2026-01-01T00:00:00.000000001Z first\n"), "stdout")
	errs := splitLog(strings.NewReader("2026-01-01T00:00:00.000000002Z second eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\nno timestamp\n"), "stderr")
	if len(out) != 2 || len(errs) != 2 {
		t.Fatalf("got %d and %d lines", len(out), len(errs))
	}
	if errs[0].text != "second [fp:"+redact.Fingerprint("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")+"]" {
		t.Errorf("not redacted: %q", errs[0].text)
	}
	if errs[1].text != "no timestamp" || !errs[1].at.IsZero() {
		t.Errorf("line without timestamp: %+v", errs[1])
	}
	dir := t.TempDir()
	if err := writeLogFile(dir, "a/b", append(out, errs...)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "a-b.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "2026-01-01T00:00:00.000000002Z stderr second") || !strings.Contains(string(b), "stderr no timestamp") {
		t.Errorf("log file:\n%s", b)
	}
}

func TestSafeName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"edge-push": "edge-push", "a b/c": "a-b-c", "": "x", ".hidden": "x.hidden", "-x": "x-x"} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// helperEnv makes the test binary a drill process that starts a container and waits to be
// killed (see TestCleanupAfterKill).
const helperEnv = "RECALL_DOCKER_HELPER"

func TestDockerHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process of TestCleanupAfterKill")
	}
	d, err := New([]runtime.Spec{{Name: "api", Image: os.Getenv("RECALL_HELPER_IMAGE"), Ports: []string{"8080"}}},
		runtime.Secrets{}, WithDrillID(os.Getenv("RECALL_HELPER_DRILL")))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("READY\n")
	time.Sleep(2 * time.Minute) // killed long before: no Close on purpose
}

// After the drill process is killed with SIGKILL, Cleanup(drill id) removes what it left.
func TestCleanupAfterKill(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	img := testAppImage(t)
	id := testDrillID(t)
	t.Cleanup(func() { assertNoLeftovers(t, id) })
	cmd := exec.Command(os.Args[0], "-test.run=^TestDockerHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "RECALL_HELPER_IMAGE="+img, "RECALL_HELPER_DRILL="+id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "READY" {
				ready <- true
				break
			}
		}
		ready <- false
		for sc.Scan() { // drain
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the helper drill process ended before starting its container")
		}
	case <-time.After(time.Minute):
		t.Fatal("the helper drill process did not start its container within a minute")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no Close, no deferred cleanup
		t.Fatal(err)
	}
	_ = cmd.Wait()
	c, n := leftovers(t, id)
	if c != 1 || n != 1 {
		t.Fatalf("after kill -9: %d container(s), %d network(s) left; want 1 and 1", c, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	removed, err := Cleanup(ctx, id)
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if removed != 2 {
		t.Errorf("Cleanup removed %d, want 2 (the container and the network)", removed)
	}
	assertNoLeftovers(t, id)
	if removed, err := Cleanup(ctx, id); err != nil || removed != 0 {
		t.Errorf("second Cleanup = %d, %v; want 0, nil", removed, err)
	}
}

// TestSplitLogRedactsHeldSecrets: a container's output is saved with every credential the
// harness holds redacted, not only JWTs: a user component printing its API key (given through
// ${VAR}), an opaque token it received, a Basic header or a client_secret field.
func TestSplitLogRedactsHeldSecrets(t *testing.T) {
	t.Parallel()
	redact.Global.Add("split-held-opaque-31c9", "split-api-key+v/alue")
	in := "2026-01-01T00:00:00Z starting with API_KEY=split-api-key+v/alue\n" +
		"2026-01-01T00:00:01Z GET /api X-Token: split-held-opaque-31c9\n" +
		"2026-01-01T00:00:02Z Authorization: Basic ZGVtbzpkZW1vLXNlY3JldA==\n" +
		"2026-01-01T00:00:03Z body client_secret=cs-987654&grant_type=client_credentials\n" +
		"2026-01-01T00:00:04Z debug: admin is split-admin-secret-77\n"
	lines := splitLog(strings.NewReader(in), "stdout", "split-admin-secret-77")
	var all strings.Builder
	for _, l := range lines {
		all.WriteString(l.text + "\n")
	}
	for _, s := range []string{"split-admin-secret-77", "split-api-key+v/alue", "split-held-opaque-31c9", "ZGVtbzpkZW1vLXNlY3JldA", "cs-987654"} {
		if strings.Contains(all.String(), s) {
			t.Errorf("saved log holds %q:\n%s", s, all.String())
		}
	}
	if len(lines) != 5 || !strings.Contains(lines[1].text, "GET /api X-Token: [fp:"+redact.Fingerprint("split-held-opaque-31c9")+"]") {
		t.Errorf("lines %+v", lines)
	}
	if got := Redact("Authorization: Bearer split-admin-secret-77"); strings.Contains(got, "split-admin-secret-77") {
		t.Errorf("Redact leaves a bearer value: %q", got)
	}
}
