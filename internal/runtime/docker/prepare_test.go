package docker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
)

// slowGo writes a go command that notes each call in calls and runs script before it: the
// compile of a cold build cache on a loaded machine, made slow on purpose.
func slowGo(t *testing.T, script string) (goBin, calls string) {
	t.Helper()
	real, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to wrap")
	}
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	goBin = filepath.Join(dir, "go")
	body := "#!/bin/sh\necho call >> '" + calls + "'\n" + script + "\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(goBin, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return goBin, calls
}

func countCalls(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "call\n")
}

// TestDockerSlowBuildInPrepare: issue 14's cold first docker run, at the docker level. The
// reference components' compile is made slow (3 s before go runs). Prepare does the whole
// build (it takes the 3 s, and the compile runs once); Start then compiles nothing, so its
// deadline — the system's start_timeout — covers the containers only. A compile that outlasts
// the build's own budget (WithImageBuildTimeout) fails Prepare within about that budget, and
// the error names it.
func TestDockerSlowBuildInPrepare(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	referenceImages(t) // the images exist: the compile runs, the docker build is cached
	const slow = 3 * time.Second
	goBin, calls := slowGo(t, "sleep 3")
	id := testDrillID(t)
	specs := []runtime.Spec{
		{Name: "issuer", Use: runtime.UseIssuer},
		{Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "push"}},
	}
	secrets := runtime.Secrets{AdminSecret: "a", GatewayID: "g", GatewaySecret: "s"}
	d, err := New(specs, secrets, WithDrillID(id), WithModuleRoot(moduleRoot(t)), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	d.images.Go = goBin
	t.Cleanup(func() { assertNoLeftovers(t, id) })
	began := time.Now()
	if err := d.Prepare(context.Background()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if took := time.Since(began); took < slow || countCalls(calls) != 1 {
		t.Fatalf("Prepare took %s with %d compiles; want the slow compile (%s) once, inside it", took.Round(time.Millisecond), countCalls(calls), slow)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began = time.Now()
	err = d.Start(ctx)
	t.Logf("Start took %s after a Prepare with a %s compile", time.Since(began).Round(time.Millisecond), slow)
	if n := countCalls(calls); n != 1 {
		t.Errorf("Start compiled the reference components again (%d compiles in all): the build counts against the start deadline", n)
	}
	if err != nil {
		t.Errorf("Start: %v", err)
	}
	closeEnv(t, d)

	// Past its own budget, the build fails in about that budget, and says which budget.
	hang, _ := slowGo(t, "exec sleep 60")
	d2, err := New(specs, secrets, WithDrillID(id+"b"), WithModuleRoot(moduleRoot(t)), WithLogger(testLogger(t)), WithImageBuildTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	d2.images.Go = hang
	began = time.Now()
	err = d2.Prepare(context.Background())
	took := time.Since(began)
	if err == nil || !strings.Contains(err.Error(), "the image build's budget is 5s") {
		t.Errorf("Prepare past its budget: %v; want the error to name the 5s budget", err)
	}
	if took > 30*time.Second {
		t.Errorf("Prepare past its 5s budget took %s", took.Round(time.Millisecond))
	}
	closeEnv(t, d2)
}
