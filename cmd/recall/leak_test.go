package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
)

// The leak test runs drills whose every counterpart echoes what it receives, then greps every
// artifact for every credential the drill held. The CLI runs in a child process (this test
// binary, re-executed) so that HTTP_PROXY and HTTPS_PROXY reach it as they would a real run:
// Go reads them once per process.

const leakChildEnv = "RECALL_LEAK_CHILD_ARGS"

// TestLeakChild is the child process of TestNothingLeaked: it runs the CLI with the arguments
// in $RECALL_LEAK_CHILD_ARGS and exits with its status. It does nothing in a normal test run.
func TestLeakChild(t *testing.T) {
	raw := os.Getenv(leakChildEnv)
	if raw == "" {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(99)
	}
	os.Exit(Main(args, os.Stdout, os.Stderr))
}

// recorder collects every credential seen on the wire by the fakes: Authorization values (and
// what a Basic value decodes to), credential form fields, query parameters and JSON fields, in
// requests and in the issuer's answers.
type recorder struct {
	mu      sync.Mutex
	secrets map[string]bool
}

func (r *recorder) add(vs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		r.secrets = map[string]bool{}
	}
	for _, v := range vs {
		if len(v) >= 8 {
			r.secrets[v] = true
		}
	}
}

var credentialKeys = map[string]bool{"token": true, "access_token": true, "refresh_token": true, "id_token": true,
	"client_secret": true, "password": true, "secret": true, "client_assertion": true, "admin_secret": true}

func (r *recorder) harvestJSON(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && credentialKeys[k] {
				r.add(s)
			}
			r.harvestJSON(e)
		}
	case []any:
		for _, e := range x {
			r.harvestJSON(e)
		}
	}
}

func (r *recorder) harvestRequest(req *http.Request, body []byte) {
	for _, h := range []string{"Authorization", "Proxy-Authorization", "Dpop"} {
		for _, v := range req.Header.Values(h) {
			r.add(v)
			if scheme, cred, ok := strings.Cut(v, " "); ok {
				r.add(cred)
				if strings.EqualFold(scheme, "basic") {
					if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
						r.add(string(dec))
						if id, pw, ok := strings.Cut(string(dec), ":"); ok {
							r.add(pw)
							if p, err := url.QueryUnescape(pw); err == nil {
								r.add(p)
							}
							_ = id
						}
					}
				}
			}
		}
	}
	if u := req.URL.User; u != nil {
		p, _ := u.Password()
		r.add(u.Username(), p)
	}
	for k, vs := range req.URL.Query() {
		if credentialKeys[k] || k == "key" {
			r.add(vs...)
		}
	}
	if form, err := url.ParseQuery(string(body)); err == nil && strings.Contains(req.Header.Get("Content-Type"), "form") {
		for k, vs := range form {
			if credentialKeys[k] {
				r.add(vs...)
			}
		}
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		r.harvestJSON(v)
	}
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.secrets))
	for s := range r.secrets {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// echoDump is the request as the fakes echo it: the method and URI with its query, every
// header and the body. The n-th request's parts come in a rotating order, so that each part
// (the Authorization header, the body, the query) comes first in some answer, within any
// excerpt's length.
func echoDump(n int64, req *http.Request, body []byte) string {
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ai, aj := strings.Contains(keys[i], "Auth"), strings.Contains(keys[j], "Auth")
		if ai != aj {
			return ai
		}
		return keys[i] < keys[j]
	})
	var hdr strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&hdr, "%s: %s\n", k, strings.Join(req.Header[k], ", "))
	}
	parts := []string{hdr.String(), string(body) + "\n", req.Method + " " + req.URL.RequestURI() + "\n"}
	k := int(n % 3)
	return strings.Join(append(parts[k:], parts[:k]...), "")
}

// echoing wraps a handler: it records the request's credentials, and h answers with dump at
// hand. A JSON object answer gains an "echo" field, and every answer an X-Echo header.
type echoFake struct {
	rec  *recorder
	seen atomic.Int64
	// answer decides the answer to the n-th request (from 1): status 0 passes to next.
	answer func(n int64, req *http.Request) int
	next   http.Handler
	// harvestAnswers records credentials from next's JSON answers (the issuer's tokens).
	harvestAnswers bool
}

func (f *echoFake) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	req.Body.Close()
	f.rec.harvestRequest(req, body)
	n := f.seen.Add(1)
	dump := echoDump(n, req, body)
	w.Header().Set("X-Echo", strings.ReplaceAll(dump, "\n", " | "))
	status := 0
	if f.answer != nil {
		status = f.answer(n, req)
	}
	if status != 0 || f.next == nil {
		if status == 0 {
			status = http.StatusOK
		}
		// The echo first, so that it falls within any excerpt.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		e, _ := json.Marshal(dump)
		fmt.Fprintf(w, `{"echo":%s,"error":"echo","error_description":%s,"active":%v}`, e, e, status == http.StatusOK)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	rw := httptest.NewRecorder()
	f.next.ServeHTTP(rw, req)
	out := rw.Body.Bytes()
	var obj map[string]any
	if strings.HasPrefix(rw.Header().Get("Content-Type"), "application/json") && json.Unmarshal(out, &obj) == nil {
		if f.harvestAnswers {
			f.rec.harvestJSON(obj)
		}
		obj["echo"] = dump
		out, _ = json.Marshal(obj)
	}
	for k, vs := range rw.Header() {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(rw.Code)
	w.Write(out)
}

// proxyTo is a reverse proxy to u.
func proxyTo(u *url.URL) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{Proxy: nil}
	return rp
}

// serveOn starts h on 127.0.0.1 and returns its base URL under host (a name for 127.0.0.1).
func serveOn(t *testing.T, host string, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return "http://" + net.JoinHostPort(host, port)
}

// loopbackName is a host name that resolves to 127.0.0.1 and is not "localhost": Go never
// proxies localhost or a loopback IP, so only such a name shows whether a client honours
// HTTP_PROXY. "" when there is none.
func loopbackName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || h == "localhost" {
		return ""
	}
	addrs, err := net.LookupHost(h)
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if a == "127.0.0.1" {
			return h
		}
	}
	return ""
}

// encodings are the forms a secret s may take in an artifact.
func encodings(s string) map[string]string {
	js, _ := json.Marshal(s)
	return map[string]string{
		"clear":        s,
		"base64":       base64.StdEncoding.EncodeToString([]byte(s)),
		"base64 raw":   base64.RawStdEncoding.EncodeToString([]byte(s)),
		"base64url":    base64.RawURLEncoding.EncodeToString([]byte(s)),
		"url-escaped":  url.QueryEscape(s),
		"path-escaped": url.PathEscape(s),
		"JSON-escaped": strings.Trim(string(js), `"`),
		"HTML-escaped": html.EscapeString(s),
	}
}

// TestNothingLeaked runs drills against a system whose every part echoes what it receives,
// headers (Authorization), query and body, in its answers, also on error statuses: the issuer
// (token, revocation, introspection and admin API, in front of a real reference issuer), a
// probed gateway and an introspection endpoint probed directly, and an http recall action. A
// drill whose minting fails is run too. Then every artifact (every file under the output
// directory: report.json, report.html, JUnit, the journal; the CLI's stdout and stderr at debug
// level; a scrape of --metrics-addr) is searched for every credential the drill held, in clear
// and in the obvious encodings. HTTP_PROXY and HTTPS_PROXY point at a recording listener that
// must receive nothing. It runs under -short too (four drills of about 3 s, in parallel): it
// is the guard against the most serious class of bug.
func TestNothingLeaked(t *testing.T) {
	host := loopbackName()
	proxyChecked := host != ""
	if host == "" {
		host = "127.0.0.1"
		t.Log("no host name other than localhost resolves to 127.0.0.1: HTTP_PROXY cannot be exercised (Go never proxies loopback)")
	}

	// Given secrets, with characters that change under URL, JSON and HTML escaping.
	given := map[string]string{
		"LEAK_ADMIN":     "leak-admin+s3cret/x=y&z<w>",
		"LEAK_ACTION":    "leak-action-bearer-8f3a1c",
		"LEAK_ACTION_Q":  "leak-action-query+k/ey=1",
		"LEAK_ACTION_B":  "leak-action-body-secret-77e1",
		"LEAK_URLUSER":   "leak-url-user-4b1d",
		"LEAK_URLPASS":   "leak-url-pass+w~ord",
		"LEAK_INTROAUTH": base64.StdEncoding.EncodeToString([]byte("intro-client:leak-intro-s3cret")),
	}
	rec := &recorder{}
	for _, v := range given {
		rec.add(v)
	}
	rec.add("leak-intro-s3cret", "intro-client:leak-intro-s3cret")

	var proxyHits atomic.Int64
	proxySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		proxyHits.Add(1)
		body, _ := io.ReadAll(req.Body)
		rec.harvestRequest(req, body)
		http.Error(w, "a drill must not use a proxy", http.StatusBadGateway)
	}))
	defer proxySrv.Close()

	admin := given["LEAK_ADMIN"]
	stack, err := embedded.New([]runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "push", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "push"}},
	}, runtime.Secrets{AdminSecret: admin, GatewayID: "gw", GatewaySecret: "leak-gateway-secret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := stack.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stack.Close(ctx)
	issURL, _ := stack.Endpoint("issuer")
	gwURL, _ := stack.Endpoint("push")

	type drillCase struct {
		name     string
		scenario func(issuer, edge, intro, action string) string
		// tokenFails says which token requests of the issuer fail (n from 1; recalled: a
		// revocation was seen).
		tokenFails func(n int64, recalled bool) bool
		revokeFail func(n int64) bool
		wantCode   []int
		// traffic: the drill reaches traffic (so --metrics-addr serves, and answers are quoted).
		traffic bool
	}
	common := func(issuer, edge, intro string) string {
		return `system:
  runtime: external
  components:
    - {name: issuer, kind: issuer, use: reference/issuer, url: "` + issuer + `", with: {admin_secret: "${LEAK_ADMIN}"}, wait: {http: /healthz}}
    - {name: edge, kind: gateway, url: "` + strings.Replace(edge, "://", "://${LEAK_URLUSER}:${LEAK_URLPASS}@", 1) + `", probe: {path: /api/whoami}, wait: {http: /healthz}}
    - name: intro
      kind: service
      url: "` + intro + `"
      probe:
        method: POST
        path: /introspect
        headers: {Content-Type: application/x-www-form-urlencoded, Authorization: "Basic ${LEAK_INTROAUTH}"}
        body: "token={{token}}"
        accept: {status: [200], json: "active == true"}
        reject: {status: [200], json: "active == false"}
tokens: {victims: 12, controls: 4, recovery: 2}
traffic: {rate: 120/s, duration: 3s}
`
	}
	cases := []drillCase{
		{
			name: "revoke",
			scenario: func(issuer, edge, intro, _ string) string {
				return "name: leak-revoke\n" + common(issuer, edge, intro) +
					"recall: {at: 1s, action: revoke-tokens, mode: rfc7009, confirm: true, concurrency: 2}\n" +
					"expect:\n  - false_rejects == 0\n"
			},
			tokenFails: func(_ int64, recalled bool) bool { return recalled },
			wantCode:   []int{exitPass, exitFail, exitCannotRun},
			traffic:    true,
		},
		{
			name: "revoke-fails",
			scenario: func(issuer, edge, intro, _ string) string {
				return "name: leak-revoke-fails\n" + common(issuer, edge, intro) +
					"recall: {at: 1s, action: revoke-tokens, mode: rfc7009, concurrency: 2}\n"
			},
			revokeFail: func(n int64) bool { return n%3 == 0 },
			wantCode:   []int{exitPass, exitFail, exitCannotRun},
			traffic:    true,
		},
		{
			name: "http-action",
			scenario: func(issuer, edge, intro, action string) string {
				return "name: leak-http\n" + common(issuer, edge, intro) +
					`recall:
  at: 1s
  action: http
  with:
    url: "` + action + `/recall?key=${LEAK_ACTION_Q}"
    headers: {Authorization: "Bearer ${LEAK_ACTION}"}
    body: '{"secret": "${LEAK_ACTION_B}", "jtis": {{jtis}}}'
expect:
  - false_rejects == 0
`
			},
			wantCode: []int{exitPass, exitFail, exitCannotRun},
		},
		{
			name: "mint-fails",
			scenario: func(issuer, edge, intro, _ string) string {
				return "name: leak-mint\n" + common(issuer, edge, intro) + "recall: {at: 1s, action: revoke-tokens}\n"
			},
			tokenFails: func(n int64, _ bool) bool { return n > 3 },
			wantCode:   []int{exitCannotRun, exitFail},
		},
	}

	t.Run("drills", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var recalled atomic.Bool
				var tokens, revokes atomic.Int64
				issuerFake := &echoFake{rec: rec, next: proxyTo(issURL), harvestAnswers: true, answer: func(_ int64, req *http.Request) int {
					switch req.URL.Path {
					case "/token":
						if tc.tokenFails != nil && tc.tokenFails(tokens.Add(1), recalled.Load()) {
							return http.StatusBadRequest
						}
					case "/revoke":
						recalled.Store(true)
						if tc.revokeFail != nil && tc.revokeFail(revokes.Add(1)) {
							return http.StatusBadRequest
						}
					case "/introspect":
						return http.StatusInternalServerError
					}
					return 0
				}}
				edgeFake := &echoFake{rec: rec, next: proxyTo(gwURL), answer: func(n int64, req *http.Request) int {
					if req.URL.Path == "/api/whoami" && n%7 == 0 {
						return http.StatusBadGateway
					}
					return 0
				}}
				introFake := &echoFake{rec: rec, answer: func(n int64, req *http.Request) int {
					if n%6 == 0 {
						return http.StatusInternalServerError
					}
					if recalled.Load() {
						return http.StatusUnauthorized
					}
					return 0
				}}
				actionFake := &echoFake{rec: rec, answer: func(int64, *http.Request) int {
					recalled.Store(true)
					return http.StatusInternalServerError
				}}
				issuer, edge := serveOn(t, host, issuerFake), serveOn(t, host, edgeFake)
				intro, action := serveOn(t, host, introFake), serveOn(t, host, actionFake)

				dir := t.TempDir()
				path := filepath.Join(dir, "drill.yaml")
				src := tc.scenario(issuer, edge, intro, action)
				if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, "out")
				metricsAddr := freeAddr(t)
				args, _ := json.Marshal([]string{"run", "--out", out, "--junit", filepath.Join(out, "junit.xml"),
					"--log-level", "debug", "--quiet", "--metrics-addr", metricsAddr, "--summary-export", filepath.Join(out, "summary.json"), path})
				cmd := exec.Command(os.Args[0], "-test.run=^TestLeakChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), leakChildEnv+"="+string(args),
					"HTTP_PROXY="+proxySrv.URL, "HTTPS_PROXY="+proxySrv.URL, "http_proxy="+proxySrv.URL, "https_proxy="+proxySrv.URL,
					"NO_PROXY=", "no_proxy=")
				for k, v := range given {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				var scrapes []string
				tick := time.NewTicker(250 * time.Millisecond)
				defer tick.Stop()
				hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
				timeout := time.After(90 * time.Second)
			wait:
				for {
					select {
					case <-done:
						break wait
					case <-timeout:
						cmd.Process.Kill()
						<-done
						t.Fatalf("the drill did not end in 90 s\n%s", lastLines(stderr.String(), 30))
					case <-tick.C:
						if resp, err := hc.Get("http://" + metricsAddr + "/metrics"); err == nil {
							b, _ := io.ReadAll(resp.Body)
							resp.Body.Close()
							if resp.StatusCode == http.StatusOK && len(b) > 0 {
								scrapes = append(scrapes[:0], string(b))
							}
						}
					}
				}
				code := cmd.ProcessState.ExitCode()
				ok := false
				for _, c := range tc.wantCode {
					ok = ok || c == code
				}
				if !ok {
					t.Fatalf("exit %d, want one of %v\n%s", code, tc.wantCode, lastLines(stderr.String(), 30))
				}

				artifacts := map[string]string{"stdout": stdout.String(), "stderr (debug log)": stderr.String()}
				if len(scrapes) == 0 && tc.traffic {
					t.Errorf("--metrics-addr %s was never scraped", metricsAddr)
				} else if len(scrapes) > 0 {
					artifacts["/metrics scrape"] = scrapes[0]
				}
				filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
					if err == nil && info.Mode().IsRegular() {
						b, _ := os.ReadFile(p)
						rel, _ := filepath.Rel(out, p)
						artifacts[rel] = string(b)
					}
					return nil
				})
				for _, want := range []string{"report.json", "junit.xml", "journal.jsonl"} {
					if _, ok := artifacts[want]; !ok {
						t.Errorf("no %s written (have %v)", want, keys(artifacts))
					}
				}
				// The fakes must have been reached, with the credentials the test searches for.
				if issuerFake.seen.Load() == 0 || edgeFake.seen.Load() == 0 {
					t.Errorf("fakes reached: issuer %d, edge %d", issuerFake.seen.Load(), edgeFake.seen.Load())
				}
				if tc.name == "http-action" && actionFake.seen.Load() == 0 {
					t.Error("the http recall action never reached its fake")
				}
				// The echoes were quoted (redacted): else this drill tested nothing.
				all := artifacts["report.json"] + stderr.String()
				if markers := strings.Count(all, "[fp:") + strings.Count(all, "[redacted]"); markers == 0 && tc.traffic {
					t.Error("no redaction marker in report.json or the log: no echo was quoted, the drill exercised no redaction")
				} else {
					t.Logf("%d redaction markers in report.json and the log", markers)
				}
				if dir := os.Getenv("RECALL_LEAK_KEEP"); dir != "" {
					keep := filepath.Join(dir, tc.name)
					os.MkdirAll(keep, 0o755)
					for name, text := range artifacts {
						os.WriteFile(filepath.Join(keep, strings.NewReplacer("/", "_", " ", "_").Replace(name)), []byte(text), 0o644)
					}
				}
				secrets := rec.list()
				leaks := 0
				for name, text := range artifacts {
					for _, s := range secrets {
						seen := map[string]bool{}
						for enc, form := range encodings(s) {
							if len(form) >= 8 && !seen[form] && strings.Contains(text, form) {
								seen[form] = true
								leaks++
								if leaks <= 20 {
									i := strings.Index(text, form)
									t.Errorf("%s holds a credential (%s, fingerprint %s): …%s…", name, enc, redact.Fingerprint(s), excerptAround(text, i, len(form)))
								}
							}
						}
					}
				}
				if leaks > 20 {
					t.Errorf("… %d leaks in all", leaks)
				}
				t.Logf("exit %d; %d credentials searched in %d artifacts; fakes: issuer %d, edge %d, intro %d, action %d requests",
					code, len(secrets), len(artifacts), issuerFake.seen.Load(), edgeFake.seen.Load(), introFake.seen.Load(), actionFake.seen.Load())
			})
		}
	})
	if proxyChecked && proxyHits.Load() != 0 {
		t.Errorf("the drills sent %d requests to HTTP_PROXY: drills never use a proxy unless the scenario says so", proxyHits.Load())
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// excerptAround shows where a leak is, with the credential itself replaced.
func excerptAround(text string, i, n int) string {
	lo, hi := max(0, i-60), min(len(text), i+n+40)
	return strings.ReplaceAll(text[lo:i]+"<CREDENTIAL>"+text[i+n:hi], "\n", " ")
}
