package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/recall-drills/recall/report"
)

// TestRunEmbeddedOwnComponent: the natural first drill, a reference issuer plus your own
// gateway at a url, runs under the embedded runtime, as the docs and the runtime's own check
// say: the component's wait path is polled, it is probed, and its pairs are measured (this one
// honours every credential, so they never converge). Before, validate passed the url and the
// run then refused the component, positioned at system.
func TestRunEmbeddedOwnComponent(t *testing.T) {
	var ready, probed atomic.Int64
	mine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready":
			ready.Add(1)
		case "/api":
			probed.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer mine.Close()
	scen := `name: own-gateway
system:
  components:
    - {name: issuer, kind: issuer, use: reference/issuer}
    - {name: edge-push, kind: gateway, use: reference/gateway, with: {strategy: push}}
    - {name: mine, kind: gateway, url: "` + mine.URL + `", wait: {http: /ready}, probe: {path: /api}}
tokens: {victims: 10, controls: 2}
traffic: {rate: 100/s, duration: 2s}
recall: {at: 1s}
`
	dir := t.TempDir()
	path := filepath.Join(dir, "own.yaml")
	if err := os.WriteFile(path, []byte(scen), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runMain("validate", path); code != 0 {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runMain("run", "--quiet", "--out", out, path)
	if code != exitPass && code != exitFail {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, lastLines(stderr, 20))
	}
	rep, err := report.Read(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c report.Component
	for _, x := range rep.Components {
		if x.Name == "mine" {
			c = x
		}
	}
	if !c.Probed || c.Pairs == 0 || c.NotConverged != c.Pairs {
		t.Errorf("mine: probed %v, %d pairs, %d not converged; want every pair measured and honoured to the end", c.Probed, c.Pairs, c.NotConverged)
	}
	if ready.Load() == 0 || probed.Load() == 0 {
		t.Errorf("mine's wait path polled %d times, probed %d times", ready.Load(), probed.Load())
	}
	if push := componentByName(rep, "edge-push"); push.Converged == 0 {
		t.Errorf("edge-push beside it converged nowhere: %+v", push.Summary)
	}
}

func componentByName(rep *report.Report, name string) report.Component {
	for _, c := range rep.Components {
		if c.Name == name {
			return c
		}
	}
	return report.Component{}
}
