package main

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime/docker"
)

// leakEchoSource is a user component that does what careless services do: it prints its
// configuration (an API key and a database URL with a password, given through ${VAR}) at start,
// and every request it receives (method, URI, every header, the body) to its output, which the
// docker runtime saves under the report's logs/. It honours every credential.
const leakEchoSource = `package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
)

func main() {
	fmt.Printf("echo starting API_KEY=%s DB_URL=%s\n", os.Getenv("API_KEY"), os.Getenv("DB_URL"))
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Printf("REQ %s %s\n", r.Method, r.URL.RequestURI())
		for _, k := range keys {
			for _, v := range r.Header[k] {
				fmt.Printf("H %s: %s\n", k, v)
			}
		}
		fmt.Printf("BODY %s\n", body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"ok\":true,\"api_key\":%q}", os.Getenv("API_KEY"))
	})
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// leakEchoImage builds the echo component's image (FROM scratch, nothing pulled).
func leakEchoImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module leakecho\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(leakEchoSource), 0o644)
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", "echo", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build echo: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "echo"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	df := "FROM scratch\nCOPY echo /echo\nEXPOSE 8080\nENTRYPOINT [\"/echo\"]\n"
	ref, err := docker.EnsureImage(ctx, "leak-echo", map[string][]byte{"Dockerfile": []byte(df), "echo": bin}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestNothingLeakedDocker runs a drill in containers beside a user component that prints its
// secrets and every request it receives (Authorization, a Basic header, the body with the token
// and a client_secret) to its output, then greps every artifact, the saved container logs
// under logs/ included, for each secret given and each token (JWT) the drill held. The echo's
// log must be there and show its requests, with the credentials redacted: else the test
// proved nothing.
func TestNothingLeakedDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a drill in containers")
	}
	requireDocker(t)
	img := leakEchoImage(t)
	given := map[string]string{
		"LEAK_D_APIKEY": "leak-d-api-key+v/al=ue",
		"LEAK_D_DBPASS": "leak-d-db-pass-5c1e",
		"LEAK_D_CS":     "leak-d-client-secret-90ab",
		"LEAK_D_BASIC":  base64.StdEncoding.EncodeToString([]byte("leakclient:leak-d-basic-pass")),
	}
	for k, v := range given {
		t.Setenv(k, v)
	}
	secrets := []string{"leak-d-basic-pass", "leakclient:leak-d-basic-pass"}
	for _, v := range given {
		secrets = append(secrets, v)
	}
	scen := `name: leak-docker
system:
  runtime: docker
  components:
    - {name: issuer, kind: issuer, use: reference/issuer}
    - name: echo
      kind: gateway
      image: "` + img + `"
      ports: ["8080"]
      env: {API_KEY: "${LEAK_D_APIKEY}", DB_URL: "postgres://app:${LEAK_D_DBPASS}@db:5432/x"}
      wait: {http: /healthz}
      probe:
        method: POST
        path: /api
        headers: {Authorization: "Bearer {{token}}", X-Client: "Basic ${LEAK_D_BASIC}", X-Raw-Token: "{{token}}", Content-Type: application/x-www-form-urlencoded}
        body: "token={{token}}&client_secret=${LEAK_D_CS}"
tokens: {victims: 6, controls: 2}
traffic: {rate: 40/s, duration: 3s}
recall: {at: 1s, action: revoke-tokens}
`
	dir := t.TempDir()
	path := filepath.Join(dir, "leak.yaml")
	if err := os.WriteFile(path, []byte(scen), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runMain("run", "--out", out, "--junit", filepath.Join(out, "junit.xml"), "--log-level", "debug", "--quiet", path)
	// Every credential is honoured, so the recalled ones never converge: FAIL is expected.
	if code != exitPass && code != exitFail {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr (tail):\n%s", code, stdout, lastLines(stderr, 30))
	}
	artifacts := map[string]string{"stdout": stdout, "stderr (debug log)": stderr}
	filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(out, p)
			artifacts[rel] = string(b)
		}
		return nil
	})
	echo, ok := artifacts[filepath.Join("logs", "echo.log")]
	if !ok {
		t.Fatalf("no logs/echo.log saved (have %v)", keys(artifacts))
	}
	if !strings.Contains(echo, "REQ POST /api") || !strings.Contains(echo, "echo starting API_KEY=[fp:") {
		t.Errorf("logs/echo.log does not show the echo's start and requests, redacted:\n%s", lastLines(echo, 20))
	}
	for name, text := range artifacts {
		if m := jwtRE.FindString(text); m != "" {
			t.Errorf("%s holds a token in clear (JWT)", name)
		}
		for _, s := range secrets {
			for enc, form := range encodings(s) {
				if len(form) >= 8 && strings.Contains(text, form) {
					i := strings.Index(text, form)
					t.Errorf("%s holds a given secret (%s): …%s…", name, enc, excerptAround(text, i, len(form)))
				}
			}
		}
	}
	t.Logf("exit %d; %d artifacts searched; echo log %d lines", code, len(artifacts), strings.Count(echo, "\n"))
}
