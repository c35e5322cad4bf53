package drill

import (
	"strings"
	"testing"

	"github.com/recall-drills/recall/internal/expect"
	"github.com/recall-drills/recall/report"
)

// TestJudgeCriticalFindings: a critical finding fails the drill unless an expectation on its
// figure, overall or at its component, judges it; a finding no expectation can judge (an
// ineffective recall) always fails it; a warning never does by itself.
func TestJudgeCriticalFindings(t *testing.T) {
	t.Parallel()
	exp := func(text, severity string) Expectation {
		e, err := expect.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		return Expectation{Text: text, Expr: e, Severity: severity}
	}
	resurrection := report.Finding{Kind: "resurrection", Severity: report.Critical, Component: "edge-stale", Count: 3}
	for _, tc := range []struct {
		name     string
		finding  report.Finding
		exps     []Expectation
		verdict  string
		headline string
	}{
		{"critical, no expectation", resurrection, nil, report.Fail, "resurrection at edge-stale"},
		{"judged at its component, warn", resurrection,
			[]Expectation{exp(`resurrections{component="edge-stale"} == 0`, report.SeverityWarn)}, report.Pass, ""},
		{"judged overall", resurrection, []Expectation{exp(`resurrections < 10`, report.SeverityFail)}, report.Pass, ""},
		{"an expectation on another component does not judge it", resurrection,
			[]Expectation{exp(`resurrections{component="edge-fresh"} == 0`, report.SeverityFail)}, report.Fail, "resurrection at edge-stale"},
		{"an expectation on another figure does not judge it", resurrection,
			[]Expectation{exp(`false_rejects == 0`, report.SeverityFail)}, report.Fail, "resurrection at edge-stale"},
		{"ineffective recall: no figure judges it", report.Finding{Kind: "ineffective_recall", Severity: report.Critical, Count: 20},
			[]Expectation{exp(`resurrections == 0`, report.SeverityFail)}, report.Fail, "ineffective_recall"},
		{"a warning finding", report.Finding{Kind: "not_converged", Severity: report.Warning, Component: "edge-jwt"}, nil, report.Pass, ""},
	} {
		rep := &report.Report{Findings: []report.Finding{tc.finding}}
		judge(rep, nil, nil, tc.exps)
		if rep.Verdict != tc.verdict {
			t.Errorf("%s: verdict %s, want %s", tc.name, rep.Verdict, tc.verdict)
		}
		if got := rep.Findings[0].FailsVerdict(); got != (tc.verdict == report.Fail) {
			t.Errorf("%s: FailsVerdict %v", tc.name, got)
		}
		if tc.headline != "" && !strings.Contains(rep.Headline, tc.headline) {
			t.Errorf("%s: headline %q does not name %q", tc.name, rep.Headline, tc.headline)
		}
		if tc.headline == "" && strings.Contains(rep.Headline, "critical") {
			t.Errorf("%s: headline %q", tc.name, rep.Headline)
		}
	}
}
