package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/report"
)

func live(phase string, elapsed time.Duration, comps ...drill.ComponentProgress) drill.Live {
	return drill.Live{Phase: phase, Elapsed: elapsed, ProbesPerS: 123, Progress: drill.Progress{Components: comps}}
}

func newDrill(t *testing.T) (*Drill, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := New(reg, WithConstLabels(prometheus.Labels{"scenario": "s"}))
	if err != nil {
		t.Fatal(err)
	}
	return d, reg
}

func TestObserve(t *testing.T) {
	t.Parallel()
	d, reg := newDrill(t)
	d.Observe(live(drill.PhaseBaseline, time.Second,
		drill.ComponentProgress{Name: "edge", Probes: 15, Accepts: 10, Rejects: 3, Errors: 2}))
	d.Observe(live(drill.PhaseObserve, 3*time.Second,
		drill.ComponentProgress{Name: "edge", Probes: 40, Accepts: 25, Rejects: 12, Errors: 3, StaleAccepts: 7,
			FalseRejects: 1, Resurrections: 2, Recalled: 50, Unconverged: 20}))
	// A snapshot that goes backwards (it cannot, but counters must never fall) adds nothing.
	d.Observe(live(drill.PhaseObserve, 4*time.Second,
		drill.ComponentProgress{Name: "edge", Probes: 1, Accepts: 1, Recalled: 50, Unconverged: 5}))

	want := `
# HELP recall_probes_total Probes by component and outcome: accept, reject or error.
# TYPE recall_probes_total counter
recall_probes_total{component="edge",outcome="accept",scenario="s"} 25
recall_probes_total{component="edge",outcome="error",scenario="s"} 3
recall_probes_total{component="edge",outcome="reject",scenario="s"} 12
# HELP recall_stale_accepts_total Probes of recalled credentials sent after the recall and accepted.
# TYPE recall_stale_accepts_total counter
recall_stale_accepts_total{component="edge",scenario="s"} 7
# HELP recall_pairs_not_converged Recalled pairs the component still accepts.
# TYPE recall_pairs_not_converged gauge
recall_pairs_not_converged{component="edge",scenario="s"} 5
# HELP recall_drill_phase 1 for the drill's current phase (start, mint, baseline, recall, observe, report), 0 for the others.
# TYPE recall_drill_phase gauge
recall_drill_phase{phase="baseline",scenario="s"} 0
recall_drill_phase{phase="mint",scenario="s"} 0
recall_drill_phase{phase="observe",scenario="s"} 1
recall_drill_phase{phase="recall",scenario="s"} 0
recall_drill_phase{phase="report",scenario="s"} 0
recall_drill_phase{phase="start",scenario="s"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"recall_probes_total", "recall_stale_accepts_total", "recall_pairs_not_converged", "recall_drill_phase"); err != nil {
		t.Error(err)
	}
	for name, tc := range map[string]struct {
		c    prometheus.Collector
		want float64
	}{
		"false rejects":  {d.falseRejects.WithLabelValues("edge"), 1},
		"resurrections":  {d.resurrect.WithLabelValues("edge"), 2},
		"recalled":       {d.recalled.WithLabelValues("edge"), 50},
		"elapsed":        {d.elapsed, 4},
		"rate":           {d.rate, 123},
		"verdict unset":  {d.verdict.WithLabelValues(report.Fail), 0},
		"faults active":  {d.faultsActive, 0},
		"no ttc yet (n)": {d.ttcStat, 0},
	} {
		got := 0.0
		if name == "no ttc yet (n)" {
			got = float64(testutil.CollectAndCount(tc.c))
		} else {
			got = testutil.ToFloat64(tc.c)
		}
		if got != tc.want {
			t.Errorf("%s = %v, want %v", name, got, tc.want)
		}
	}
}

func TestNewTwiceOnOneRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg); err == nil {
		t.Error("registering a drill's metrics twice on one registry did not fail")
	}
}

func TestFinish(t *testing.T) {
	t.Parallel()
	rep, err := report.Read("../../report/text/testdata/fail.json")
	if err != nil {
		t.Fatal(err)
	}
	rep.Faults = append(rep.Faults, report.Fault{Name: "stuck", Fault: "pause", Target: "edge-poll", StartMS: 100})
	d, reg := newDrill(t)
	d.Finish(rep)

	checks := []struct {
		c    prometheus.Collector
		want float64
	}{
		{d.verdict.WithLabelValues(report.Fail), 1},
		{d.verdict.WithLabelValues(report.Pass), 0},
		{d.phase.WithLabelValues(drill.PhaseReport), 1},
		{d.notConverged.WithLabelValues("edge-jwt"), 998},
		{d.ttcStat.WithLabelValues("edge-push", "p99"), 4.08},
		{d.faults, float64(len(rep.Faults))},
		{d.faultsActive, 1},
		{d.elapsed, 41.5},
		{d.finished, float64(rep.FinishedAt.UnixNano()) / 1e9},
	}
	for i, tc := range checks {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("check %d: got %v, want %v", i, got, tc.want)
		}
	}
	// The histogram holds one observation per converged pair, at its TTC upper bound.
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	var pushLE1, pushLE5 uint64
	for _, f := range fams {
		if f.GetName() != "recall_ttc_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			var comp string
			for _, l := range m.GetLabel() {
				if l.GetName() == "component" {
					comp = l.GetValue()
				}
			}
			counts[comp] = m.GetHistogram().GetSampleCount()
			if comp == "edge-push" {
				for _, b := range m.GetHistogram().GetBucket() {
					switch b.GetUpperBound() {
					case 1:
						pushLE1 = b.GetCumulativeCount()
					case 5:
						pushLE5 = b.GetCumulativeCount()
					}
				}
			}
		}
	}
	for _, c := range rep.Components {
		if counts[c.Name] != uint64(c.Converged) {
			t.Errorf("%s: %d TTC observations, want %d converged pairs", c.Name, counts[c.Name], c.Converged)
		}
	}
	if pushLE1 != 0 || pushLE5 != 998 {
		t.Errorf("edge-push buckets le=1: %d, le=5: %d; want 0 and 998 (TTCs between 1.5 s and 4.3 s)", pushLE1, pushLE5)
	}
}

// TestServe reads the metrics over HTTP as Prometheus would, while snapshots keep arriving.
func TestServe(t *testing.T) {
	t.Parallel()
	d, reg := newDrill(t)
	s, err := Listen("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 200 {
			d.Observe(live(drill.PhaseObserve, time.Duration(i)*time.Millisecond,
				drill.ComponentProgress{Name: "edge", Accepts: int64(i), Unconverged: 3}))
		}
	}()
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wg.Wait()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	for _, want := range []string{"recall_drill_phase{", `recall_drill_verdict{scenario="s",verdict="PASS"} 0`, `recall_probes_total{component="edge",outcome="accept",scenario="s"}`, "recall_faults_active"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Error(err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/metrics"); err == nil {
		t.Error("still serving after Close")
	}
}

// TestPush pushes to an httptest server acting as a Pushgateway.
func TestPush(t *testing.T) {
	t.Parallel()
	type got struct {
		method, path, body string
	}
	reqs := make(chan got, 4)
	status := http.StatusOK
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- got{r.Method, r.URL.Path, string(b)}
		w.WriteHeader(status)
	}))
	defer gw.Close()

	rep, err := report.Read("../../report/text/testdata/fail.json")
	if err != nil {
		t.Fatal(err)
	}
	// The scenario is a grouping label here, so not also a constant label of the metrics (the
	// Pushgateway refuses that).
	reg := prometheus.NewRegistry()
	d, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	d.Finish(rep)
	if err := Push(context.Background(), gw.URL, "", reg, map[string]string{"scenario": "mass-revocation"}); err != nil {
		t.Fatal(err)
	}
	r := <-reqs
	if r.method != http.MethodPut || r.path != "/metrics/job/recall/scenario/mass-revocation" {
		t.Errorf("%s %s, want PUT /metrics/job/recall/scenario/mass-revocation", r.method, r.path)
	}
	// The body is protobuf-delimited by default: the metric names appear verbatim.
	for _, want := range []string{"recall_drill_verdict", "recall_ttc_seconds", "edge-push", "FAIL"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("pushed body lacks %q", want)
		}
	}

	status = http.StatusBadRequest
	if err := Push(context.Background(), gw.URL, "nightly", reg, nil); err == nil || !strings.Contains(err.Error(), "push to") {
		t.Errorf("push refused by the gateway: err %v", err)
	}
	if r := <-reqs; r.path != "/metrics/job/nightly" {
		t.Errorf("path %s", r.path)
	}
}
