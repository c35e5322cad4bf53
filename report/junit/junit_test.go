package junit

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/recall-drills/recall/report"
)

var update = flag.Bool("update", false, "update .golden files")

// load reads one of the hand-written reports shared with report/text (see its text_test.go).
func load(t testing.TB, name string) *report.Report {
	t.Helper()
	r, err := report.Read(filepath.Join("..", "text", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func write(t *testing.T, r *report.Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteGolden(t *testing.T) {
	for _, name := range []string{"pass", "fail", "error"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := write(t, load(t, name))
			path := filepath.Join("testdata", "TestWrite."+name+".golden.xml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
}

// The reader's side: what a CI system decodes, declared independently of the writer's types.
type (
	xSuites struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Errors   int      `xml:"errors,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Suites   []xSuite `xml:"testsuite"`
	}
	xSuite struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []xCase `xml:"testcase"`
	}
	xCase struct {
		Name      string    `xml:"name,attr"`
		Classname string    `xml:"classname,attr"`
		Failure   *xOutcome `xml:"failure"`
		Error     *xOutcome `xml:"error"`
		Skipped   *xOutcome `xml:"skipped"`
		SystemOut string    `xml:"system-out"`
	}
	xOutcome struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
)

func TestWriteParsesBack(t *testing.T) {
	tests := []struct {
		name                             string
		tests, failures, errors, skipped int
		failed                           map[string]string // expr → failure message
		warned                           map[string]string // expr → skipped message
		drillError                       string
	}{
		{name: "pass", tests: 7},
		{
			name: "fail", tests: 8, failures: 3, skipped: 1,
			failed: map[string]string{
				`time_to_consistency.p99{component="edge-push"} < 2s`: "observed 4.08s ±12ms, want < 2s",
				`time_to_consistency.max{component="edge-jwt"} < 10s`: "observed never converged, want < 10s",
				`resurrections == 0`: "observed 3, want == 0",
			},
			warned: map[string]string{`false_rejects{component="edge-cache"} == 0`: "WARN: observed 4, want == 0"},
		},
		{
			name: "error", tests: 3, failures: 1, errors: 1,
			failed:     map[string]string{`ttc.p99 < 2s`: "observed not evaluated, want < 2s"},
			drillError: "interrupted by signal (SIGINT) 12.40s into the drill",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := load(t, tc.name)
			var doc xSuites
			if err := xml.Unmarshal(write(t, r), &doc); err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			if len(doc.Suites) != 1 {
				t.Fatalf("%d suites, want 1", len(doc.Suites))
			}
			s := doc.Suites[0]
			if s.Name != r.Scenario.Name {
				t.Errorf("suite name %q, want %q", s.Name, r.Scenario.Name)
			}
			got := [8]int{doc.Tests, doc.Failures, doc.Errors, doc.Skipped, s.Tests, s.Failures, s.Errors, s.Skipped}
			want := [8]int{tc.tests, tc.failures, tc.errors, tc.skipped, tc.tests, tc.failures, tc.errors, tc.skipped}
			if got != want {
				t.Errorf("counts (root tests, failures, errors, skipped; suite ...) = %v, want %v", got, want)
			}
			if len(s.Cases) != tc.tests {
				t.Fatalf("%d test cases, want %d", len(s.Cases), tc.tests)
			}
			var failures, errs, skipped int
			for i, c := range s.Cases {
				if c.Classname != "recall."+r.Scenario.Name {
					t.Errorf("case %q classname %q", c.Name, c.Classname)
				}
				if c.Failure != nil {
					failures++
					if want := tc.failed[c.Name]; c.Failure.Message != want {
						t.Errorf("case %q failure %q, want %q", c.Name, c.Failure.Message, want)
					}
				}
				if c.Skipped != nil {
					skipped++
					if want := tc.warned[c.Name]; c.Skipped.Message != want {
						t.Errorf("case %q skipped %q, want %q", c.Name, c.Skipped.Message, want)
					}
				}
				if c.Error != nil {
					errs++
				}
				if i < len(r.Expectations) && c.Name != r.Expectations[i].Expr {
					t.Errorf("case %d named %q, want the expression %q", i, c.Name, r.Expectations[i].Expr)
				}
			}
			if failures != tc.failures || errs != tc.errors || skipped != tc.skipped {
				t.Errorf("cases with failure/error/skipped = %d/%d/%d, want %d/%d/%d", failures, errs, skipped, tc.failures, tc.errors, tc.skipped)
			}
			drill := s.Cases[len(s.Cases)-1]
			if drill.Name != DrillCase {
				t.Fatalf("last case %q, want %q", drill.Name, DrillCase)
			}
			switch {
			case tc.drillError == "" && drill.Error != nil:
				t.Errorf("drill case errors: %q", drill.Error.Message)
			case tc.drillError != "" && (drill.Error == nil || drill.Error.Message != tc.drillError):
				t.Errorf("drill case error = %+v, want %q", drill.Error, tc.drillError)
			}
			if len(r.Findings) > 0 && !strings.Contains(drill.SystemOut, r.Findings[0].Message) {
				t.Errorf("drill system-out lacks the findings: %q", drill.SystemOut)
			}
		})
	}
}

func TestWriteEscapes(t *testing.T) {
	t.Parallel()
	r := load(t, "fail")
	r.Scenario.Name = `a<b & "c"`
	r.Expectations[0].Expr = `ttc.p99{component="<x>&"} < 2s`
	r.Expectations[1].ObservedText = "bad \x00 byte ]]>"
	r.Findings[0].Message = "control \x01 and ]]> in CDATA"
	var doc xSuites
	if err := xml.Unmarshal(write(t, r), &doc); err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	s := doc.Suites[0]
	if s.Name != r.Scenario.Name || s.Cases[0].Name != r.Expectations[0].Expr || s.Cases[0].Classname != "recall."+r.Scenario.Name {
		t.Errorf("names did not round-trip: %q %q %q", s.Name, s.Cases[0].Name, s.Cases[0].Classname)
	}
	if out := s.Cases[len(s.Cases)-1].SystemOut; !strings.Contains(out, "control \uFFFD and ]]> in CDATA") {
		t.Errorf("findings did not round-trip through CDATA: %q", out)
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	v := 3.0
	tests := []struct {
		e    report.Expectation
		want string
	}{
		{report.Expectation{Expr: "resurrections == 0", Observed: &v}, "observed 3, want == 0"},
		{report.Expectation{Expr: "ttc.p99 < 2s", ObservedText: "2.31s ±12ms", Observed: &v, Bound: 2000}, "observed 2.31s ±12ms, want < 2s"},
		{report.Expectation{Expr: "not an expression", Bound: 1.5}, "observed nothing (not evaluated), want 1.5"},
	}
	for _, tc := range tests {
		if got := Message(tc.e); got != tc.want {
			t.Errorf("Message(%q) = %q, want %q", tc.e.Expr, got, tc.want)
		}
	}
}

func TestWriteEmpty(t *testing.T) {
	t.Parallel()
	var doc xSuites
	if err := xml.Unmarshal(write(t, &report.Report{}), &doc); err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	if doc.Tests != 1 || len(doc.Suites) != 1 || doc.Suites[0].Name != "drill" || doc.Suites[0].Cases[0].Name != DrillCase {
		t.Errorf("empty report: %+v, want one suite with the drill case", doc)
	}
}

// TestWriteUnavailableFails: a drill that FAILs because a probed component was unavailable,
// with every expectation held, shows a failure in JUnit too (on the drill's own case): a CI
// system counting failures must not see a green suite under a FAIL verdict.
func TestWriteUnavailableFails(t *testing.T) {
	r := load(t, "pass")
	r.Verdict = report.Fail
	r.Findings = append(r.Findings, report.Finding{Kind: "unavailable", Severity: report.Critical, Component: "edge-broken", Count: 300,
		Message: "edge-broken was unavailable: it answered 100% of its 300 probes before the recall with errors"})
	var doc xSuites
	if err := xml.Unmarshal(write(t, r), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Suites[0]
	if doc.Failures != 1 || s.Failures != 1 {
		t.Fatalf("failures: root %d, suite %d; want 1", doc.Failures, s.Failures)
	}
	for _, c := range s.Cases {
		if c.Name != DrillCase {
			if c.Failure != nil {
				t.Errorf("expectation %q failed", c.Name)
			}
			continue
		}
		if c.Failure == nil || !strings.Contains(c.Failure.Message, "edge-broken") || !strings.Contains(c.Failure.Message, "unavailable") {
			t.Errorf("drill case failure %+v: want one naming edge-broken as unavailable", c.Failure)
		}
	}
}
