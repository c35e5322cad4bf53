// Package junit writes a drill's report as JUnit XML, for CI systems that show test results
// (GitLab, Jenkins, GitHub Actions reporters). It renders from a *report.Report alone.
//
// Layout: a <testsuites> root holding one <testsuite> named after the scenario, with
//
//   - one <testcase> per expectation: name = the expression as written, classname =
//     "recall." + scenario name. An expectation that did not hold has a <failure> whose
//     message reads "observed X, want <op> bound" (e.g. "observed 4.08s ±12ms, want < 2s").
//     An expectation of severity warn that did not hold is NOT a failure — a warn must not turn
//     the CI job red, as it does not fail the verdict — so it is written <skipped> with the same
//     message prefixed "WARN: ". Skipped is what CI viewers show apart from passes (a yellow or
//     grey mark), where a note in system-out on a passing case would go unseen.
//   - one <testcase name="drill">: it has an <error> when the verdict is ERROR (the drill could
//     not complete; message = the reason), and its system-out lists the findings.
//
// The suite's properties carry the verdict, seed, tool version and slowest component.
package junit

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/report/text"
)

// DrillCase is the name of the test case that stands for the drill itself.
const DrillCase = "drill"

type testsuites struct {
	XMLName  xml.Name    `xml:"testsuites"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Suites   []testsuite `xml:"testsuite"`
}

type testsuite struct {
	Name       string     `xml:"name,attr"`
	Tests      int        `xml:"tests,attr"`
	Failures   int        `xml:"failures,attr"`
	Errors     int        `xml:"errors,attr"`
	Skipped    int        `xml:"skipped,attr"`
	Time       string     `xml:"time,attr"`
	Timestamp  string     `xml:"timestamp,attr,omitempty"`
	Properties []property `xml:"properties>property,omitempty"`
	Cases      []testcase `xml:"testcase"`
}

type property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type testcase struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	Time      string   `xml:"time,attr"`
	Failure   *outcome `xml:"failure,omitempty"`
	Error     *outcome `xml:"error,omitempty"`
	Skipped   *outcome `xml:"skipped,omitempty"`
	SystemOut *cdata   `xml:"system-out,omitempty"`
}

// cdata is element text written as CDATA, so multi-line output stays readable in the file.
type cdata struct {
	Text string `xml:",cdata"`
}

type outcome struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// Write writes r as JUnit XML to w.
func Write(w io.Writer, r *report.Report) error {
	name := r.Scenario.Name
	if name == "" {
		name = "drill"
	}
	class := "recall." + name
	suite := testsuite{
		Name: name,
		Time: seconds(r.DurationMS),
		Properties: []property{
			{"verdict", r.Verdict},
			{"seed", strconv.FormatInt(r.Scenario.Seed, 10)},
			{"tool", strings.TrimSpace(r.Tool.Name + " " + r.Tool.Version)},
		},
	}
	if !r.StartedAt.IsZero() {
		suite.Timestamp = r.StartedAt.UTC().Format("2006-01-02T15:04:05")
	}
	if r.Scenario.File != "" {
		suite.Properties = append(suite.Properties, property{"scenario_file", r.Scenario.File})
	}
	if r.Slowest != "" {
		suite.Properties = append(suite.Properties, property{"slowest", r.Slowest})
	}
	if r.Headline != "" {
		suite.Properties = append(suite.Properties, property{"headline", r.Headline})
	}

	for _, e := range r.Expectations {
		tc := testcase{Name: e.Expr, Classname: class, Time: "0"}
		if !e.Pass {
			msg := Message(e)
			detail := e.Message
			switch {
			case e.Warn():
				tc.Skipped = &outcome{Message: "WARN: " + msg, Text: detail}
				suite.Skipped++
			default:
				tc.Failure = &outcome{Message: msg, Type: "expectation", Text: detail}
				suite.Failures++
			}
		}
		suite.Cases = append(suite.Cases, tc)
	}

	drill := testcase{Name: DrillCase, Classname: class, Time: seconds(r.DurationMS)}
	if out := findings(r); out != "" {
		drill.SystemOut = &cdata{Text: out}
	}
	if r.Verdict == report.Fail {
		// Findings that fail the verdict by themselves (an unavailable component) fail the
		// drill's case, so that the suite is not green under a FAIL verdict.
		var msgs []string
		for _, f := range r.Findings {
			if f.FailsVerdict() {
				msgs = append(msgs, f.Message)
			}
		}
		if len(msgs) > 0 {
			drill.Failure = &outcome{Message: validXML(strings.Join(msgs, " ")), Type: "unavailable", Text: validXML(r.Headline)}
			suite.Failures++
		}
	}
	if r.Verdict == report.Error {
		reason := r.Reason
		if reason == "" {
			reason = "the drill could not complete"
		}
		drill.Error = &outcome{Message: reason, Type: report.Error, Text: r.Headline}
		suite.Errors++
	}
	suite.Cases = append(suite.Cases, drill)
	suite.Tests = len(suite.Cases)

	doc := testsuites{Name: "recall", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []testsuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

// Message returns "observed X, want <op> bound" for an expectation: X is the observed text
// (with its resolution) and the bound is the right-hand side as written in the scenario.
func Message(e report.Expectation) string {
	obs := e.ObservedText
	switch {
	case obs != "":
	case e.Observed != nil:
		obs = strconv.FormatFloat(*e.Observed, 'g', -1, 64)
	default:
		obs = "nothing (not evaluated)"
	}
	want := strconv.FormatFloat(e.Bound, 'g', -1, 64)
	if x, ok := report.ParseExpr(e.Expr); ok {
		want = x.Op + " " + x.Bound
	}
	return "observed " + obs + ", want " + want
}

// findings renders the findings as lines for the drill case's system-out (no tokens).
func findings(r *report.Report) string {
	if len(r.Findings) == 0 {
		return ""
	}
	var b strings.Builder
	for _, f := range text.SortFindings(r.Findings) {
		comp := f.Component
		if comp == "" {
			comp = "-"
		}
		fmt.Fprintf(&b, "%s %s %s (%d): %s\n", strings.ToUpper(f.Severity), f.Kind, comp, f.Count, f.Message)
	}
	return validXML(b.String())
}

// validXML replaces the characters XML 1.0 cannot carry (most control characters) with U+FFFD.
// encoding/xml does so for escaped text and attributes, but not for CDATA.
func validXML(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}

func seconds(ms float64) string { return strconv.FormatFloat(ms/1000, 'f', 3, 64) }
