package compare

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/recall-drills/recall/report"
)

var update = flag.Bool("update", false, "update .golden files")

// comp is a converged component with the given p99, max and resolution.
func comp(name string, p99, max, res float64) report.Component {
	return report.Component{Name: name, Kind: "gateway", Probed: true, Summary: report.Summary{
		Pairs: 100, Converged: 100,
		TTCMS: report.Stats{Count: 100, P50: p99 / 2, P90: p99 * 0.9, P99: p99, Max: max, ResolutionMS: res, ResolutionMaxMS: res * 2}}}
}

// never is a component whose pairs never converged.
func never(name string) report.Component {
	return report.Component{Name: name, Kind: "gateway", Probed: true, Summary: report.Summary{Pairs: 100, NotConverged: 100}}
}

func rep(comps ...report.Component) *report.Report {
	return &report.Report{Scenario: report.Scenario{Name: "s"}, Components: comps}
}

func withFindings(r *report.Report, fs ...report.Finding) *report.Report {
	r.Findings = fs
	return r
}

func TestCompare(t *testing.T) {
	resurrection := report.Finding{Kind: "resurrection", Severity: report.Critical, Component: "a", Count: 2}
	neverAccepted := report.Finding{Kind: "never_accepted", Severity: report.Info, Count: 1}
	tests := []struct {
		name      string
		base      *report.Report
		next      *report.Report
		opts      Options
		regressed bool
		// per component: "name:regressed:gate:reason-substring"
		comps    []string
		appeared []string
		vanished []string
		changed  []string
	}{
		{
			name: "unchanged",
			base: rep(comp("a", 1000, 1100, 10)), next: rep(comp("a", 1000, 1100, 10)),
			comps: []string{"a:false:p99:"},
		},
		{
			name: "growth within resolution is not a regression",
			// +30 % is over 20 %, but +30ms is less than the two brackets together (±20ms each).
			base: rep(comp("a", 100, 120, 20)), next: rep(comp("a", 130, 150, 20)),
			comps: []string{"a:false:p99:within resolution ±40ms"},
		},
		{
			name: "growth beyond threshold and resolution is a regression",
			base: rep(comp("a", 1000, 1100, 10)), next: rep(comp("a", 1300, 1400, 10)), regressed: true,
			comps: []string{"a:true:p99:p99 +300ms (+30%): more than 20% and beyond ±20ms"},
		},
		{
			name: "growth under the threshold is not a regression",
			base: rep(comp("a", 1000, 1100, 1)), next: rep(comp("a", 1150, 1250, 1)),
			comps: []string{"a:false:p99:"},
		},
		{
			name: "custom threshold",
			base: rep(comp("a", 1000, 1100, 1)), next: rep(comp("a", 1300, 1400, 1)), opts: Options{MaxRegression: 0.5},
			comps: []string{"a:false:p99:"},
		},
		{
			name: "improvement",
			base: rep(comp("a", 2000, 2100, 10)), next: rep(comp("a", 1000, 1100, 10)),
			comps: []string{"a:false:p99:p99 improved -1.00s (-50%)"},
		},
		{
			name: "max gates when p99 is absent",
			base: rep(func() report.Component { c := comp("a", 0, 100, 5); c.TTCMS.P99 = 0; return c }()),
			next: rep(func() report.Component { c := comp("a", 0, 200, 5); c.TTCMS.P99 = 0; return c }()), regressed: true,
			comps: []string{"a:true:max:max +100ms (+100%)"},
		},
		{
			name:  "max within its resolution (widest brackets) is not a regression",
			base:  rep(func() report.Component { c := comp("a", 0, 100, 15); c.TTCMS.P99 = 0; return c }()),
			next:  rep(func() report.Component { c := comp("a", 0, 150, 15); c.TTCMS.P99 = 0; return c }()),
			comps: []string{"a:false:max:within resolution ±60ms"},
		},
		{
			name: "newly not converging",
			base: rep(comp("a", 1000, 1100, 10)), next: rep(never("a")), regressed: true,
			comps: []string{"a:true::newly not converging: 100 of 100 pairs"},
		},
		{
			name: "partly not converging is newly not converging",
			base: rep(comp("a", 1000, 1100, 10)),
			next: rep(func() report.Component { c := comp("a", 1000, 1100, 10); c.NotConverged = 3; return c }()), regressed: true,
			comps: []string{"a:true::newly not converging: 3 of 100 pairs"},
		},
		{
			name: "still not converging is not new",
			base: rep(never("a")), next: rep(never("a")),
			comps: []string{"a:false::"},
		},
		{
			name: "converging again",
			base: rep(never("a")), next: rep(comp("a", 1000, 1100, 10)),
			comps: []string{"a:false::converges now"},
		},
		{
			name: "added component that converges, removed component",
			base: rep(comp("old", 1000, 1100, 10)), next: rep(comp("new", 1000, 1100, 10)),
			comps: []string{"new:false::added", "old:false::removed"},
		},
		{
			name: "added component that never converges",
			base: rep(), next: rep(never("new")), regressed: true,
			comps: []string{"new:true::newly not converging"},
		},
		{
			name:      "finding appeared",
			base:      rep(comp("a", 1000, 1100, 10)),
			next:      withFindings(rep(comp("a", 1000, 1100, 10)), resurrection),
			regressed: true,
			comps:     []string{"a:false:p99:"},
			appeared:  []string{"resurrection/a"},
		},
		{
			name:     "info finding appeared is listed, not a regression",
			base:     rep(comp("a", 1000, 1100, 10)),
			next:     withFindings(rep(comp("a", 1000, 1100, 10)), neverAccepted),
			comps:    []string{"a:false:p99:"},
			appeared: []string{"never_accepted/"},
		},
		{
			name:     "finding vanished",
			base:     withFindings(rep(comp("a", 1000, 1100, 10)), resurrection),
			next:     rep(comp("a", 1000, 1100, 10)),
			comps:    []string{"a:false:p99:"},
			vanished: []string{"resurrection/a"},
		},
		{
			name:    "finding count changed",
			base:    withFindings(rep(comp("a", 1000, 1100, 10)), resurrection),
			next:    withFindings(rep(comp("a", 1000, 1100, 10)), func() report.Finding { f := resurrection; f.Count = 9; return f }()),
			comps:   []string{"a:false:p99:"},
			changed: []string{"resurrection/a 2→9"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := Compare(tc.base, tc.next, tc.opts)
			if got := res.Regressed(); got != tc.regressed {
				t.Errorf("Regressed() = %v, want %v", got, tc.regressed)
			}
			if len(res.Components) != len(tc.comps) {
				t.Fatalf("%d components, want %d: %+v", len(res.Components), len(tc.comps), res.Components)
			}
			for i, c := range res.Components {
				want := strings.SplitN(tc.comps[i], ":", 4)
				if c.Name != want[0] || (c.Regressed && want[1] != "true") || (!c.Regressed && want[1] != "false") || c.Gate != want[2] {
					t.Errorf("component %d = %s regressed=%v gate=%q, want %s", i, c.Name, c.Regressed, c.Gate, tc.comps[i])
				}
				if !strings.Contains(c.Reason, want[3]) {
					t.Errorf("component %s reason %q, want it to contain %q", c.Name, c.Reason, want[3])
				}
			}
			keys := func(fs []report.Finding) (out []string) {
				for _, f := range fs {
					out = append(out, f.Kind+"/"+f.Component)
				}
				return out
			}
			if diff := cmp.Diff(tc.appeared, keys(res.Appeared)); diff != "" {
				t.Errorf("appeared (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.vanished, keys(res.Vanished)); diff != "" {
				t.Errorf("vanished (-want +got):\n%s", diff)
			}
			var changed []string
			for _, f := range res.Changed {
				changed = append(changed, f.Kind+"/"+f.Component+" "+strconv.Itoa(f.BaseCount)+"→"+strconv.Itoa(f.Count))
			}
			if diff := cmp.Diff(tc.changed, changed); diff != "" {
				t.Errorf("changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompareDefaultThreshold(t *testing.T) {
	t.Parallel()
	if got := Compare(rep(), rep(), Options{}).MaxRegression; got != DefaultMaxRegression {
		t.Errorf("MaxRegression = %v, want DefaultMaxRegression", got)
	}
}

func load(t *testing.T, name string) *report.Report {
	t.Helper()
	r, err := report.Read(filepath.Join("..", "text", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWriteGolden(t *testing.T) {
	tests := []struct{ name, base, next string }{
		{"fail-vs-pass", "pass", "fail"},
		{"pass-vs-pass", "pass", "pass"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := Compare(load(t, tc.base), load(t, tc.next), Options{}).Write(&buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "TestWrite."+tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestWriteOutcome(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	res := Compare(load(t, "pass"), load(t, "fail"), Options{})
	if err := res.Write(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"edge-push", "REGRESSED: p99 +3.87s (+1843%)", // 210ms → 4.08s
		"edge-jwt", "REGRESSED: newly not converging: 998 of 998 pairs",
		"+ appeared  CRITICAL resurrection at edge-cache (3)",
		"\nREGRESSION\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := Compare(load(t, "pass"), load(t, "pass"), Options{}).Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "\nno regression\n") {
		t.Errorf("same report compared: output does not end in no regression:\n%s", buf.String())
	}
}
