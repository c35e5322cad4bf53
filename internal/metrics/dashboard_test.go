package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/report"
)

// metricRef finds metric names in PromQL expressions.
var metricRef = regexp.MustCompile(`\brecall_[a-z_]+`)

// TestDashboard checks docs/grafana/recall-dashboard.json: valid JSON with panels, and every metric
// its queries name is one this package exposes (a renamed metric would leave a panel empty).
func TestDashboard(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/grafana/recall-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || len(dash.Panels) < 6 {
		t.Fatalf("uid %q, %d panels", dash.UID, len(dash.Panels))
	}

	// Every name the package exposes, once live snapshots and the final report went in.
	reg := prometheus.NewRegistry()
	d, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	d.Observe(drill.Live{Phase: drill.PhaseObserve, Elapsed: time.Second, Progress: drill.Progress{Components: []drill.ComponentProgress{{Name: "edge"}}}})
	rep, err := report.Read("../../report/text/testdata/fail.json")
	if err != nil {
		t.Fatal(err)
	}
	d.Finish(rep)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				have[f.GetName()+s] = true
			}
		}
	}
	used := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			refs := metricRef.FindAllString(q.Expr, -1)
			if len(refs) == 0 {
				t.Errorf("panel %q: query %q names no recall metric", p.Title, q.Expr)
			}
			for _, m := range refs {
				used++
				if !have[m] {
					t.Errorf("panel %q: %s is not exposed (have %s)", p.Title, m, strings.Join(keys(have), ", "))
				}
			}
		}
	}
	if used == 0 {
		t.Error("no metric referenced")
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
