package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recall-drills/recall/report"
)

// freeAddr returns a loopback address nobody listens on (a tiny race with other processes is
// acceptable in a test).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRunMetrics runs a short drill with --metrics-addr, --pushgateway and --baseline: the
// live endpoint answers during the drill with the drill's metrics, the final figures reach the
// (fake) Pushgateway, report.json keeps series scraped from the components' own /metrics, and
// report.html has the trend against the baseline.
func TestRunMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	var mu sync.Mutex
	var pushes []string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		pushes = append(pushes, r.Method+" "+r.URL.Path+"\n"+string(b))
		mu.Unlock()
	}))
	defer gw.Close()
	base := copyReport(t, t.TempDir(), "pass.json")
	addr := freeAddr(t)
	out := t.TempDir()

	// Scrape the live endpoint as Prometheus would, until the drill is observing the recall.
	live := make(chan string, 1)
	stop := make(chan struct{})
	go func() {
		var last string
		defer func() { live <- last }()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case <-stop:
				return
			case <-deadline:
				return
			case <-time.After(100 * time.Millisecond):
			}
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if strings.Contains(last, `recall_drill_phase{phase="observe"} 1`) {
				return
			}
		}
	}()
	code, stdout, stderr := runMain("run", "--quiet", "--out", out, "--metrics-addr", addr, "--pushgateway", gw.URL,
		"--baseline", base, writeScenario(t, "  - false_rejects == 0\n"))
	close(stop)
	scraped := <-live
	if code != exitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	for _, want := range []string{`recall_drill_phase{phase="observe"} 1`, `recall_probes_total{component="edge-push",outcome="accept"}`,
		`recall_pairs_not_converged{component="edge-jwt"}`, `recall_drill_verdict{verdict="PASS"} 0`} {
		if !strings.Contains(scraped, want) {
			t.Errorf("live /metrics lacks %q:\n%s", want, scraped)
		}
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("the metrics endpoint still answers after the run")
	}

	mu.Lock()
	if len(pushes) != 1 || !strings.HasPrefix(pushes[0], "PUT /metrics/job/recall/scenario/e2e\n") {
		t.Errorf("pushes: %.300q", pushes)
	} else {
		for _, want := range []string{"recall_drill_verdict", "PASS", "recall_ttc_seconds", "recall_ttc_upper_bound_seconds", "edge-push"} {
			if !strings.Contains(pushes[0], want) {
				t.Errorf("pushed figures lack %q", want)
			}
		}
	}
	mu.Unlock()

	rep, err := report.Read(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	versions := 0
	for _, m := range rep.SystemMetrics {
		if m.Component == "edge-push" && strings.HasSuffix(m.Name, "revocation_list_version") {
			versions++
		}
	}
	if versions == 0 {
		t.Errorf("report.json keeps no revocation list version of edge-push; system_metrics: %+v", rep.SystemMetrics)
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `id="trend"`) {
		t.Error("report.html has no trend section with --baseline")
	}
}

func TestRunMetricsFlagErrors(t *testing.T) {
	t.Parallel()
	scenario := writeScenario(t, "  - false_rejects == 0\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) // after the parallel subtests
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"baseline missing", []string{"--baseline", filepath.Join(t.TempDir(), "nope.json")}, "--baseline: read report"},
		{"address in use", []string{"--metrics-addr", ln.Addr().String()}, "--metrics-addr: metrics: listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{"run", "--quiet", "--out", t.TempDir()}, tc.args...), scenario)
			code, _, errs := runMain(args...)
			if code != exitCannotRun || !strings.Contains(errs, tc.msg) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, tc.msg, errs)
			}
		})
	}
}
