package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/targets/revocation"
)

// Docker tests run for real. Without a Docker engine they skip locally and fail in CI
// (CI=true), so that a CI job cannot pass by skipping them.

var (
	dockerOnce sync.Once
	dockerErr  error
)

// requireDocker skips (locally) or fails (CI=true) the test when no Docker engine answers.
func requireDocker(t *testing.T) {
	t.Helper()
	dockerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cli, err := dockerClient(ctx)
		if err == nil {
			cli.Close()
		}
		dockerErr = err
	})
	if dockerErr == nil {
		return
	}
	why := strings.ReplaceAll(dockerErr.Error(), "\n", "; ")
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but no Docker engine answers, and the docker runtime tests must run in CI: %s", why)
	}
	t.Skipf("skipping docker runtime test: no Docker engine answers (%s)", why)
}

// testClient returns a Docker client closed at the end of the test.
func testClient(t *testing.T) client.APIClient {
	t.Helper()
	cli, err := dockerClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var (
	refOnce   sync.Once
	refImages []ImageInfo
	refErr    error
)

// moduleRoot is recall's module root, found from the package directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := FindModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// referenceImages builds (once per test binary) every reference image.
func referenceImages(t *testing.T) []ImageInfo {
	t.Helper()
	root := moduleRoot(t)
	refOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		began := time.Now()
		refImages, refErr = BuildReferenceImages(ctx, ImageOptions{ModuleRoot: root})
		for _, info := range refImages {
			t.Logf("reference image %s: %.1f MB, built=%v (docker build %s)", info.Ref, float64(info.Size)/1e6, info.Built, info.BuildTime.Round(time.Millisecond))
		}
		t.Logf("reference images ready in %s", time.Since(began).Round(time.Millisecond))
	})
	if refErr != nil {
		t.Fatalf("build reference images: %v", refErr)
	}
	return refImages
}

// testAppSource is a tiny HTTP server for user-component tests. Modes (first argument):
// none serves; "hang" prints lines (one with a JWT) and never listens; "exit" exits 3.
// With REQUIRE=<alias> it first checks http://<alias>:8080/healthz and exits 4 if it fails.
const testAppSource = `package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	name := os.Getenv("NAME")
	fmt.Printf("testapp %s starting args=%v\n", name, os.Args[1:])
	mode := ""
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "hang":
		fmt.Println("line before failing 1")
		fmt.Println("token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl leaked")
		fmt.Fprintln(os.Stderr, "line before failing 2")
		for {
			time.Sleep(time.Hour)
		}
	case "exit":
		fmt.Fprintln(os.Stderr, "fatal: giving up")
		os.Exit(3)
	}
	if req := os.Getenv("REQUIRE"); req != "" {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + req + ":8080/healthz")
		if err != nil || resp.StatusCode != 200 {
			fmt.Fprintln(os.Stderr, "dependency not ready:", req, err)
			os.Exit(4)
		}
		resp.Body.Close()
		fmt.Println("dependency", req, "is ready")
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok", name) })
	http.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + r.URL.Query().Get("peer") + ":8080/healthz")
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(w, "peer said: %s", b)
	})
	fmt.Println("listening on :8080")
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

var (
	appOnce sync.Once
	appRef  string
	appErr  error
)

// testAppImage builds (once per test binary) a FROM scratch image of testAppSource.
func testAppImage(t *testing.T) string {
	t.Helper()
	appOnce.Do(func() {
		dir, err := os.MkdirTemp("", "recall-testapp-")
		if err != nil {
			appErr = err
			return
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module testapp\n\ngo 1.22\n"), 0o644); err != nil {
			appErr = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(testAppSource), 0o644); err != nil {
			appErr = err
			return
		}
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", "testapp", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			appErr = fmt.Errorf("go build testapp: %v\n%s", err, out)
			return
		}
		bin, err := os.ReadFile(filepath.Join(dir, "testapp"))
		if err != nil {
			appErr = err
			return
		}
		cli, err := dockerClient(context.Background())
		if err != nil {
			appErr = err
			return
		}
		defer cli.Close()
		df := "FROM scratch\nCOPY testapp /testapp\nEXPOSE 8080\nENTRYPOINT [\"/testapp\"]\n"
		info, err := ensureImage(context.Background(), cli, "testapp", map[string][]byte{"Dockerfile": []byte(df), "testapp": bin}, testLogger(t))
		appRef, appErr = info.Ref, err
	})
	if appErr != nil {
		t.Fatal(appErr)
	}
	return appRef
}

// leftovers counts the containers and networks labelled with the drill id.
func leftovers(t *testing.T, drillID string) (containers, networks int) {
	t.Helper()
	cli := testClient(t)
	f := client.Filters{}.Add("label", LabelDrill+"="+drillID)
	cl, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	nl, err := cli.NetworkList(context.Background(), client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return len(cl.Items), len(nl.Items)
}

// assertNoLeftovers fails the test if anything labelled with the drill id remains.
func assertNoLeftovers(t *testing.T, drillID string) {
	t.Helper()
	if c, n := leftovers(t, drillID); c != 0 || n != 0 {
		t.Errorf("drill %s left %d container(s) and %d network(s) behind", drillID, c, n)
		_, _ = Cleanup(context.Background(), drillID)
	}
}

// assertLoopbackOnly checks that the want containers of the drill publish ports on 127.0.0.1
// only, as configured and as the engine bound them.
func assertLoopbackOnly(t *testing.T, drillID string, want int) {
	t.Helper()
	cli := testClient(t)
	ctx := context.Background()
	cl, err := cli.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.Add("label", LabelDrill+"="+drillID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Items) != want {
		t.Errorf("%d running containers of drill %s; want %d", len(cl.Items), drillID, want)
	}
	for _, c := range cl.Items {
		name := c.Labels[LabelComponent]
		if len(c.Ports) == 0 {
			t.Errorf("%s publishes no port", name)
		}
		for _, p := range c.Ports {
			if p.IP.String() != "127.0.0.1" {
				t.Errorf("%s: port %d published on %s; want 127.0.0.1 only", name, p.PrivatePort, p.IP)
			}
		}
		in, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for port, bs := range in.Container.HostConfig.PortBindings {
			for _, b := range bs {
				if b.HostIP.String() != "127.0.0.1" {
					t.Errorf("%s: binding of %s on %q; want 127.0.0.1", name, port, b.HostIP)
				}
			}
		}
	}
}

// testDrillID is a drill id unique to the test.
func testDrillID(t *testing.T) string {
	return "t" + strings.ToLower(safeName(t.Name())) + "-" + newDrillID()[16:]
}

// testLogger logs to the test (at Debug with RECALL_TEST_DEBUG=1, else Info) until it ends.
func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("RECALL_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func closeEnv(t *testing.T, d *Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestDockerUserComponents(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	img := testAppImage(t)
	logs := t.TempDir()
	id := testDrillID(t)
	specs := []runtime.Spec{
		{Name: "api", Image: img, Ports: []string{"8080"}, Env: map[string]string{"NAME": "api"},
			Wait: &runtime.Wait{HTTP: "/healthz", Status: 200}},
		// front checks at start that api answers: it exits 4 if started before api is ready.
		{Name: "front", Image: img, Ports: []string{"8080/tcp"}, Env: map[string]string{"NAME": "front", "REQUIRE": "api"},
			DependsOn: []string{"api"}, Wait: &runtime.Wait{Log: "listening on :8080"}},
		// default wait: the first port accepts connections.
		{Name: "plain", Image: img, Ports: []string{"8080"}, Env: map[string]string{"NAME": "plain"}},
		// no ports listed: the port the image exposes is published all the same, on 127.0.0.1.
		{Name: "bare", Image: img, Env: map[string]string{"NAME": "bare"}},
	}
	d, err := New(specs, runtime.Secrets{}, WithDrillID(id), WithLogsDir(logs), WithLogger(testLogger(t)), WithStartTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoLeftovers(t, id) })
	defer closeEnv(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	for name, took := range d.StartupTimes() {
		t.Logf("startup %s: %s", name, took.Round(time.Millisecond))
	}
	if got := len(d.StartupTimes()); got != 4 {
		t.Errorf("StartupTimes has %d entries, want 4", got)
	}
	assertLoopbackOnly(t, id, 4)
	front, err := d.Endpoint("front")
	if err != nil {
		t.Fatal(err)
	}
	if front.Hostname() != "127.0.0.1" {
		t.Errorf("endpoint %s: want 127.0.0.1", front)
	}
	// front reaches api by its network alias.
	body := get(t, front.String()+"/call?peer=api", http.StatusOK)
	if !strings.Contains(body, "peer said: ok api") {
		t.Errorf("front → api: %q", body)
	}
	plain, _ := d.Endpoint("plain")
	get(t, plain.String()+"/healthz", http.StatusOK)
	if _, err := d.Endpoint("nope"); !errors.Is(err, runtime.ErrUnknownComponent) {
		t.Errorf("Endpoint(nope) = %v, want runtime.ErrUnknownComponent", err)
	}

	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertNoLeftovers(t, id)
	if err := d.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(logs, "front.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "dependency api is ready") || !strings.Contains(string(b), "stdout listening on :8080") {
		t.Errorf("front.log lacks its output:\n%s", b)
	}
	if err := d.Start(ctx); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestDockerWaitTimeoutShowsLogs(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	img := testAppImage(t)
	logs := t.TempDir()
	id := testDrillID(t)
	d, err := New([]runtime.Spec{{Name: "stuck", Image: img, Ports: []string{"8080"}, Command: []string{"hang"},
		Wait: &runtime.Wait{HTTP: "/healthz", Timeout: 2 * time.Second}}}, runtime.Secrets{}, WithDrillID(id), WithLogsDir(logs), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoLeftovers(t, id) })
	defer closeEnv(t, d)
	began := time.Now()
	err = d.Start(context.Background())
	if err == nil {
		t.Fatal("Start succeeded with a component that never listens")
	}
	t.Logf("error after %s:\n%v", time.Since(began).Round(time.Millisecond), err)
	for _, want := range []string{"component stuck", "did not become ready within 2s", "GET /healthz", "last log lines of stuck:", "line before failing 1", "line before failing 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	jwt := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	if strings.Contains(err.Error(), jwt) || !strings.Contains(err.Error(), "token [fp:"+redact.Fingerprint(jwt)+"] leaked") {
		t.Errorf("the JWT in the logs is not replaced by its fingerprint %s", redact.Fingerprint(jwt))
	}
	closeEnv(t, d)
	b, err := os.ReadFile(filepath.Join(logs, "stuck.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), jwt) || !strings.Contains(string(b), redact.Fingerprint(jwt)) {
		t.Errorf("stuck.log does not redact the JWT:\n%s", b)
	}

	// A component that exits fails fast, long before its timeout.
	id2 := testDrillID(t) + "x"
	d2, err := New([]runtime.Spec{{Name: "dies", Image: img, Ports: []string{"8080"}, Command: []string{"exit"},
		Wait: &runtime.Wait{HTTP: "/healthz", Timeout: 30 * time.Second}}}, runtime.Secrets{}, WithDrillID(id2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoLeftovers(t, id2) })
	defer closeEnv(t, d2)
	began = time.Now()
	err = d2.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "fatal: giving up") {
		t.Errorf("Start = %v, want the exit and the last log line", err)
	}
	if took := time.Since(began); took > 20*time.Second {
		t.Errorf("an exited component took %s to fail", took)
	}
}

func TestDockerPreflight(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	root := moduleRoot(t)
	dir := t.TempDir()
	for _, c := range ReferenceComponents {
		b, err := os.ReadFile(filepath.Join(root, "docker", c+".Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		if c == RefIssuer {
			b = []byte("FROM alpine:3.20\nCOPY issuer /issuer\nENTRYPOINT [\"/issuer\"]\n")
		}
		if c == RefService {
			b = append([]byte("# syntax=docker/dockerfile:1\n"), b...)
		}
		if err := os.WriteFile(filepath.Join(dir, c+".Dockerfile"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	id := testDrillID(t)
	d, err := New([]runtime.Spec{
		{Name: "issuer", Use: runtime.UseIssuer},
		{Name: "svc", Use: runtime.UseService},
		{Name: "api", Image: "example/api:1.2", Ports: []string{"8080"}},
	}, runtime.Secrets{AdminSecret: "admin"}, WithDrillID(id), WithModuleRoot(root), WithDockerDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer closeEnv(t, d)
	began := time.Now()
	err = d.Start(context.Background())
	if err == nil {
		t.Fatal("Start succeeded with a missing image and a Dockerfile that pulls")
	}
	t.Logf("preflight (%s):\n%v", time.Since(began).Round(time.Millisecond), err)
	for _, want := range []string{
		"image example/api:1.2 (component api) is not present locally and cannot be pulled here; build or load it first",
		"FROM alpine:3.20: only FROM scratch can be built here",
		"# syntax=docker/dockerfile:1",
		"3 image problem(s), nothing started",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("preflight error lacks %q", want)
		}
	}
	if c, n := leftovers(t, id); c+n != 0 {
		t.Errorf("preflight failure created %d container(s), %d network(s)", c, n)
	}
	if err := d.Preflight(context.Background()); err == nil {
		t.Error("Preflight() = nil")
	}
}

// token mints an access token through the issuer's mapped port.
func token(t *testing.T, issuer *url.URL, admin string) (raw, jti string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer.String()+"/admin/clients",
		strings.NewReader(`{"clients":[{"client_id":"drill","client_secret":"drill-secret"}]}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	do(t, req, http.StatusOK)
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ = http.NewRequest(http.MethodPost, issuer.String()+"/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth("drill", "drill-secret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(do(t, req, http.StatusOK)), &tok); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		JTI string `json:"jti"`
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Iss != "http://issuer:8080" {
		t.Errorf("iss = %q, want the in-network http://issuer:8080", claims.Iss)
	}
	return tok.AccessToken, claims.JTI
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func do(t *testing.T, req *http.Request, want int) string {
	t.Helper()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %s, want %d", req.Method, req.URL, resp.Status, b, want)
	}
	return string(b)
}

func get(t *testing.T, u string, want int) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return do(t, req, want)
}

// status is the status of GET u with the bearer token, or 0 on a transport error.
func status(u, bearer string, timeout time.Duration) int {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls f every 50 ms until it is true or d passes.
func eventually(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if f() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return f()
}

func TestDockerReferenceStack(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	referenceImages(t)
	logs := t.TempDir()
	id := testDrillID(t)
	secrets := runtime.Secrets{AdminSecret: "admin-" + id, GatewayID: "gateways", GatewaySecret: "gw-" + id}
	d, err := New([]runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "nats", Kind: "bus", Use: runtime.UseNATS},
		{Name: "edge-push", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "push"}},
		{Name: "edge-poll", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll", "interval": "500ms"}},
		{Name: "edge-cache", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "introspect", "cache_ttl": "1s", "upstream": "api"}},
		{Name: "api", Kind: "service", Use: runtime.UseService},
	}, secrets, WithDrillID(id), WithLogsDir(logs), WithModuleRoot(moduleRoot(t)), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoLeftovers(t, id) })
	defer closeEnv(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	if err := d.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("reference stack up in %s (images present)", time.Since(began).Round(time.Millisecond))
	assertLoopbackOnly(t, id, 6)
	for _, name := range []string{"nats", "issuer", "api", "edge-push", "edge-poll", "edge-cache"} {
		t.Logf("  startup %-10s %s", name, d.StartupTimes()[name].Round(time.Millisecond))
		if _, ok := d.StartupTimes()[name]; !ok {
			t.Errorf("no startup time for %s", name)
		}
	}
	for _, info := range d.Images() {
		t.Logf("  image %s %.1f MB built=%v", info.Ref, float64(info.Size)/1e6, info.Built)
	}

	iss, _ := d.Endpoint("issuer")
	raw, jti := token(t, iss, secrets.AdminSecret)
	edges := map[string]string{}
	for _, name := range []string{"edge-push", "edge-poll", "edge-cache"} {
		u, err := d.Endpoint(name)
		if err != nil {
			t.Fatal(err)
		}
		edges[name] = u.String() + "/api/whoami"
		if got := status(edges[name], raw, 5*time.Second); got != http.StatusOK {
			t.Fatalf("%s: token minted through the mapped port got %d, want 200", name, got)
		}
	}

	req, _ := http.NewRequest(http.MethodPost, iss.String()+"/admin/recalls", strings.NewReader(`{"type":"jti","values":["`+jti+`"]}`))
	req.Header.Set("Authorization", "Bearer "+secrets.AdminSecret)
	req.Header.Set("Content-Type", "application/json")
	recalled := time.Now()
	do(t, req, http.StatusOK)
	for name, u := range edges {
		if !eventually(5*time.Second, func() bool { return status(u, raw, 2*time.Second) == http.StatusUnauthorized }) {
			t.Errorf("%s still accepts the recalled token 5s after the recall", name)
			continue
		}
		t.Logf("%s rejects the recalled token %s after the recall", name, time.Since(recalled).Round(time.Millisecond))
	}

	// Ground truth over HTTP.
	claims := revocation.Claims{JTI: jti}
	issTruth, ok := d.Truth("issuer")
	if !ok {
		t.Fatal("no ground truth for the issuer")
	}
	issAt, ok := issTruth.EnforcedSince(claims)
	if !ok {
		t.Fatal("the issuer's ground truth has no record of the recall")
	}
	enforced := map[string]time.Time{}
	for _, name := range []string{"edge-push", "edge-poll", "edge-cache"} {
		src, ok := d.Truth(name)
		if !ok {
			t.Errorf("no ground truth for %s", name)
			continue
		}
		at, ok := src.EnforcedSince(claims)
		if !ok {
			t.Errorf("%s: no ground-truth record of the recall", name)
			continue
		}
		if at.Before(issAt) {
			t.Errorf("%s enforced at %s, before the issuer applied the recall at %s", name, at, issAt)
		}
		enforced[name] = at
	}
	if _, ok := d.Truth("nats"); ok {
		t.Error("the bus has ground truth")
	}

	// Pause freezes a gateway; Unpause lets it go on.
	if err := d.Pause(ctx, "edge-poll"); err != nil {
		t.Fatal(err)
	}
	if got := status(edges["edge-poll"], raw, 500*time.Millisecond); got != 0 {
		t.Errorf("paused edge-poll answered %d", got)
	}
	if err := d.Unpause(ctx, "edge-poll"); err != nil {
		t.Fatal(err)
	}
	if !eventually(5*time.Second, func() bool { return status(edges["edge-poll"], raw, time.Second) == http.StatusUnauthorized }) {
		t.Error("edge-poll does not answer after Unpause")
	}

	// Kill stops a gateway; Restart brings the same container back, possibly on a new port,
	// and the push gateway resyncs the recall from the issuer's list.
	if err := d.Kill(ctx, "edge-push"); err != nil {
		t.Fatal(err)
	}
	if got := status(edges["edge-push"], raw, time.Second); got != 0 {
		t.Errorf("killed edge-push answered %d", got)
	}
	if err := d.Restart(ctx, "edge-push"); err != nil {
		t.Fatal(err)
	}
	u, err := d.Endpoint("edge-push")
	if err != nil {
		t.Fatal(err)
	}
	if got := status(u.String()+"/api/whoami", raw, 2*time.Second); got != http.StatusUnauthorized {
		t.Errorf("restarted edge-push answers %d for the recalled token, want 401", got)
	}
	fresh, _ := token(t, iss, secrets.AdminSecret)
	if got := status(u.String()+"/api/whoami", fresh, 2*time.Second); got != http.StatusOK {
		t.Errorf("restarted edge-push answers %d for a fresh token, want 200", got)
	}
	// The restarted instance synced the recall before it served: the component has enforced it
	// without a break since the first instance did, not since the restart.
	if src, ok := d.Truth("edge-push"); !ok {
		t.Error("no ground truth for edge-push after its restart")
	} else if at, ok := src.EnforcedSince(claims); !ok || !at.Equal(enforced["edge-push"]) {
		t.Errorf("edge-push after its restart: enforced since %v, %v; want %v (the first instance's instant)", at, ok, enforced["edge-push"])
	}

	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertNoLeftovers(t, id)
	for _, name := range []string{"issuer", "nats", "edge-push", "edge-poll", "edge-cache", "api"} {
		b, err := os.ReadFile(filepath.Join(logs, name+".log"))
		if err != nil {
			t.Errorf("no log saved for %s: %v", name, err)
			continue
		}
		if strings.Contains(string(b), raw) {
			t.Errorf("%s.log holds a token in clear", name)
		}
	}
}

func TestDockerStartCancelledMidway(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	referenceImages(t)
	// Cancel at several points after the first container appeared: during later creates,
	// starts and waits.
	for _, delay := range []time.Duration{0, 20 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			t.Parallel()
			id := testDrillID(t)
			d, err := New([]runtime.Spec{
				{Name: "issuer", Use: runtime.UseIssuer},
				{Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "push"}}, // and an implicit bus
				{Name: "edge2", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll"}},
			}, runtime.Secrets{AdminSecret: "a", GatewayID: "g", GatewaySecret: "s"}, WithDrillID(id), WithModuleRoot(moduleRoot(t)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { assertNoLeftovers(t, id) })
			// The images first, outside the cancellation: this test is about the containers,
			// and five parallel compiles on a loaded machine can outlast any watcher's patience.
			if err := d.Prepare(context.Background()); err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cli := testClient(t)
			sawContainer := make(chan bool, 1)
			go func() {
				defer cancel()
				f := client.Filters{}.Add("label", LabelDrill+"="+id)
				for ctx.Err() == nil {
					if cl, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil && len(cl.Items) > 0 {
						sawContainer <- true
						time.Sleep(delay)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				sawContainer <- false
			}()
			err = d.Start(ctx)
			cancel()
			if !<-sawContainer {
				t.Logf("Start = %v before any container was seen; nothing to cancel midway", err)
				closeEnv(t, d)
				return
			}
			if err == nil {
				t.Log("Start finished before the cancellation")
			} else if !strings.Contains(err.Error(), "interrupted") {
				t.Errorf("Start = %v, want an interruption", err)
			}
			if c, _ := leftovers(t, id); c == 0 {
				t.Error("no container left for Close: the test cancelled after one existed, and Start must leave what it created")
			}
			closeEnv(t, d)
			assertNoLeftovers(t, id)
		})
	}
}

func TestDockerCloseDuringStart(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	img := testAppImage(t)
	id := testDrillID(t)
	d, err := New([]runtime.Spec{{Name: "stuck", Image: img, Ports: []string{"8080"}, Command: []string{"hang"},
		Wait: &runtime.Wait{HTTP: "/healthz", Timeout: time.Minute}}}, runtime.Secrets{}, WithDrillID(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoLeftovers(t, id) })
	errc := make(chan error, 1)
	go func() { errc <- d.Start(context.Background()) }()
	if !eventually(30*time.Second, func() bool { c, _ := leftovers(t, id); return c > 0 }) {
		t.Fatal("no container appeared")
	}
	closeEnv(t, d) // interrupts the wait
	select {
	case err := <-errc:
		if err == nil {
			t.Error("Start succeeded although closed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Start did not return after Close")
	}
	assertNoLeftovers(t, id)
}

func TestDockerPanicInCaller(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	img := testAppImage(t)
	id := testDrillID(t)
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("no panic")
			}
		}()
		d, err := New([]runtime.Spec{{Name: "api", Image: img, Ports: []string{"8080"}}}, runtime.Secrets{}, WithDrillID(id))
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := d.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c, n := leftovers(t, id); c != 1 || n != 1 {
			t.Errorf("running: %d container(s), %d network(s); want 1 and 1", c, n)
		}
		panic("the drill engine blew up")
	}()
	assertNoLeftovers(t, id)
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	img := "example/api:1"
	tests := []struct {
		name  string
		specs []runtime.Spec
		sec   runtime.Secrets
		want  []string
	}{
		{name: "ok", specs: []runtime.Spec{{Name: "api", Image: img, Ports: []string{"8080"}}}},
		{name: "no image", specs: []runtime.Spec{{Name: "api"}}, want: []string{"component api: image is required"}},
		{name: "bad name", specs: []runtime.Spec{{Name: "my api", Image: img}}, want: []string{`component "my api"`, "network alias"}},
		{name: "duplicate", specs: []runtime.Spec{{Name: "a", Image: img}, {Name: "a", Image: img}}, want: []string{"component a: defined twice"}},
		{name: "bad port", specs: []runtime.Spec{{Name: "a", Image: img, Ports: []string{"http"}}}, want: []string{`ports: "http"`}},
		{name: "wait port not exposed", specs: []runtime.Spec{{Name: "a", Image: img, Ports: []string{"8080"}, Wait: &runtime.Wait{Port: "9090"}}}, want: []string{"wait.port 9090 is not one of ports (8080/tcp)"}},
		{name: "wait http without port", specs: []runtime.Spec{{Name: "a", Image: img, Wait: &runtime.Wait{HTTP: "/"}}}, want: []string{"wait.http needs a port"}},
		{name: "unknown dependency", specs: []runtime.Spec{{Name: "a", Image: img, DependsOn: []string{"b"}}}, want: []string{"component a: depends_on: unknown component \"b\" (have: a)"}},
		{name: "cycle", specs: []runtime.Spec{{Name: "a", Image: img, DependsOn: []string{"b"}}, {Name: "b", Image: img, DependsOn: []string{"a"}}}, want: []string{"depends_on cycle: a -> b -> a"}},
		{name: "gateway without issuer", specs: []runtime.Spec{{Name: "g", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll"}}}, want: []string{"a reference gateway needs a reference/issuer"}},
		{name: "bad strategy", specs: []runtime.Spec{{Name: "i", Use: runtime.UseIssuer}, {Name: "g", Use: runtime.UseGateway, With: map[string]any{"strategy": "carrier-pigeon"}}}, sec: runtime.Secrets{AdminSecret: "x"}, want: []string{"carrier-pigeon"}},
		{name: "two issuers", specs: []runtime.Spec{{Name: "i", Use: runtime.UseIssuer}, {Name: "j", Use: runtime.UseIssuer}}, sec: runtime.Secrets{AdminSecret: "x"}, want: []string{"at most one reference/issuer"}},
		{name: "no admin secret", specs: []runtime.Spec{{Name: "i", Use: runtime.UseIssuer}}, want: []string{"no admin secret"}},
		{name: "unknown reference", specs: []runtime.Spec{{Name: "r", Use: "reference/redis"}}, want: []string{`unknown reference component "reference/redis"`}},
		{name: "unknown upstream", specs: []runtime.Spec{{Name: "i", Use: runtime.UseIssuer}, {Name: "g", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll", "upstream": "nowhere"}}}, sec: runtime.Secrets{AdminSecret: "x"}, want: []string{"with.upstream: unknown component \"nowhere\""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.specs, tc.sec)
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("New() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New() = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// The plan of a reference stack: in-network URLs, the implicit bus, dependencies.
func TestDockerReferencePlan(t *testing.T) {
	t.Parallel()
	d, err := New([]runtime.Spec{
		{Name: "idp", Use: runtime.UseIssuer, With: map[string]any{"token_ttl": "2m"}},
		{Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "push", "fail_mode": "open", "upstream": "api",
			"jwks_ttl": "3s", "jwks_min_refresh": "100ms", "jwks_refetch": "ttl"}},
		{Name: "api", Image: "example/api:1", Ports: []string{"9000"}},
	}, runtime.Secrets{AdminSecret: "adm", GatewayID: "gw", GatewaySecret: "gws"}, WithDrillID("plan"))
	if err != nil {
		t.Fatal(err)
	}
	bus, ok := d.byName[DefaultImplicitBus]
	if !ok || !bus.implicit || bus.ref != RefNATS {
		t.Fatalf("no implicit bus for a push gateway: %+v", d.byName)
	}
	idp, edge := d.byName["idp"], d.byName["edge"]
	if got := strings.Join(idp.cmd, " "); got != "-issuer http://idp:8080 -nats nats://bus:4222 -token-ttl 2m0s" {
		t.Errorf("issuer command: %s", got)
	}
	if idp.env["RECALL_ADMIN_SECRET"] != "adm" || idp.env["RECALL_CLIENT_ID"] != "gw" {
		t.Errorf("issuer env: %v", idp.env)
	}
	cmd := strings.Join(edge.cmd, " ")
	for _, want := range []string{"-strategy push", "-issuer-url http://idp:8080", "-nats nats://bus:4222", "-fail-mode open", "-upstream http://api:9000",
		"-jwks-ttl 3s", "-jwks-min-refresh 100ms", "-jwks-refetch ttl"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("gateway command %q lacks %q", cmd, want)
		}
	}
	if got := strings.Join(edge.deps, ","); got != "idp,bus,api" {
		t.Errorf("gateway deps: %s", got)
	}
	if _, err := d.Endpoint("edge"); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Endpoint before Start = %v", err)
	}
	if got := d.names(); strings.Join(got, ",") != "idp,edge,api" {
		t.Errorf("names() = %v: the implicit bus is not a component of the scenario", got)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("Close before Start = %v", err)
	}
}

// TestDockerServicePlan: a reference service with a strategy gets the gateway's Guard flags
// (a push one the implicit bus, an ssf one its transmitter, token and delivery); one without
// trusts the gateway in front and gets none.
func TestDockerServicePlan(t *testing.T) {
	t.Parallel()
	d, err := New([]runtime.Spec{
		{Name: "idp", Use: runtime.UseIssuer},
		{Name: "ssf", Use: runtime.UseSSF},
		{Name: "api", Use: runtime.UseService},
		{Name: "api-push", Use: runtime.UseService, With: map[string]any{"strategy": "push", "fail_mode": "open"}},
		{Name: "api-ssf", Use: runtime.UseService, With: map[string]any{"strategy": "ssf", "delivery": "poll", "interval": "1s"}},
	}, runtime.Secrets{AdminSecret: "adm", GatewayID: "gw", GatewaySecret: "gws"}, WithDrillID("plan"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.byName["api"].cmd, " "); got != "-name api" {
		t.Errorf("service behind a gateway: command %q, want -name api", got)
	}
	for name, wants := range map[string][]string{
		"api-push": {"-strategy push", "-issuer-url http://idp:8080", "-nats nats://bus:4222", "-fail-mode open"},
		"api-ssf":  {"-strategy ssf", "-issuer-url http://idp:8080", "-ssf-delivery poll", "-interval 1s"},
	} {
		c := d.byName[name]
		cmd := strings.Join(c.cmd, " ")
		for _, w := range wants {
			if !strings.Contains(cmd, w) {
				t.Errorf("%s: command %q lacks %q", name, cmd, w)
			}
		}
		if c.env["RECALL_CLIENT_ID"] != "gw" {
			t.Errorf("%s: env %v lacks its client at the issuer", name, c.env)
		}
	}
	if c := d.byName["api-ssf"]; c.env["RECALL_SSF_TOKEN"] == "" || !slices.Contains(c.deps, "ssf") || c.lateArgs == nil {
		t.Errorf("api-ssf: token %v, deps %v, late args %v; want a token, the transmitter as a dependency, its URL late", c.env["RECALL_SSF_TOKEN"] != "", c.deps, c.lateArgs != nil)
	}
}
