package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/report"
)

// useColor reports whether output to w may carry ANSI escapes: w is a terminal, NO_COLOR is
// not set (https://no-color.org) and TERM is not dumb.
func useColor(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(w)
}

// colorVerdict colours the verdict word that starts the terminal summary.
func colorVerdict(summary []byte, verdict string) []byte {
	code := map[string]string{report.Pass: "32", report.Fail: "31", report.Error: "33"}[verdict]
	if code == "" || !bytes.HasPrefix(summary, []byte(verdict)) {
		return summary
	}
	return append([]byte("\033[1;"+code+"m"+verdict+"\033[0m"), summary[len(verdict):]...)
}

// progressPrinter shows live figures: on a terminal (live), one rewritten line with a bar for
// the share of the traffic phase elapsed and the current phase; otherwise a log line every five
// seconds (CI logs), with no escapes.
func progressPrinter(w io.Writer, live bool, total time.Duration, log *slog.Logger) func(drill.Live) {
	var mu sync.Mutex
	var last time.Time
	return func(l drill.Live) {
		mu.Lock()
		defer mu.Unlock()
		var b strings.Builder
		unconverged := 0
		for _, c := range l.Progress.Components {
			unconverged += c.Unconverged
			fmt.Fprintf(&b, " %s %d/%d/%d", c.Name, c.Accepts, c.Rejects, c.Errors)
		}
		if live {
			fmt.Fprintf(w, "\r\033[K%s %-8s %5.1fs/%s %6.0f probes/s  unconverged %d  acc/rej/err:%s",
				progressBar(l.Elapsed, total, 20), l.Phase, l.Elapsed.Seconds(), total, l.ProbesPerS, unconverged, b.String())
			return
		}
		if time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		log.Info("progress", "phase", l.Phase, "elapsed", l.Elapsed.Round(100*time.Millisecond), "of", total,
			"probes_per_s", int(l.ProbesPerS), "unconverged", unconverged, "acc_rej_err", strings.TrimSpace(b.String()))
	}
}

// progressBar draws the share elapsed of total as [#####.....] 50%.
func progressBar(elapsed, total time.Duration, width int) string {
	share := 0.0
	if total > 0 {
		share = min(max(float64(elapsed)/float64(total), 0), 1)
	}
	n := int(share * float64(width))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + fmt.Sprintf("] %3.0f%%", 100*share)
}

// summaryExport is what --summary-export writes: the terminal summary's figures, for scripts.
type summaryExport struct {
	Scenario   string   `json:"scenario"`
	File       string   `json:"file"`
	Seed       int64    `json:"seed"`
	Overrides  []string `json:"overrides,omitempty"`
	Verdict    string   `json:"verdict"`
	Reason     string   `json:"reason,omitempty"`
	Headline   string   `json:"headline"`
	DurationMS float64  `json:"duration_ms"`
	// Report is the report.json path.
	Report       string               `json:"report"`
	Probes       report.Probes        `json:"probes"`
	Overall      summaryFigures       `json:"overall"`
	Components   []summaryComponent   `json:"components"`
	Expectations []summaryExpectation `json:"expectations"`
	Findings     []summaryFinding     `json:"findings"`
}

type summaryFigures struct {
	TTCP50MS        float64 `json:"ttc_p50_ms"`
	TTCP99MS        float64 `json:"ttc_p99_ms"`
	TTCMaxMS        float64 `json:"ttc_max_ms"`
	ResolutionMS    float64 `json:"resolution_ms"`
	Pairs           int     `json:"pairs"`
	Converged       int     `json:"converged"`
	NotConverged    int     `json:"not_converged"`
	StaleAccepts    int     `json:"stale_accepts"`
	StaleWindowMS   float64 `json:"stale_window_ms"`
	Resurrections   int     `json:"resurrections"`
	FalseRejects    int     `json:"false_rejects"`
	Errors          int     `json:"errors"`
	FailOpen        int     `json:"fail_open"`
	Probes          int     `json:"probes"`
	NeverAccepted   int     `json:"never_accepted"`
	ProbeLatencyP99 float64 `json:"probe_latency_p99_ms"`
}

type summaryComponent struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Probed bool   `json:"probed"`
	summaryFigures
}

type summaryExpectation struct {
	Expr     string `json:"expr"`
	Severity string `json:"severity,omitempty"`
	Pass     bool   `json:"pass"`
	Observed string `json:"observed"`
}

type summaryFinding struct {
	Kind      string `json:"kind"`
	Severity  string `json:"severity"`
	Component string `json:"component,omitempty"`
	Count     int    `json:"count"`
}

func figures(s report.Summary) summaryFigures {
	return summaryFigures{TTCP50MS: s.TTCMS.P50, TTCP99MS: s.TTCMS.P99, TTCMaxMS: s.TTCMS.Max, ResolutionMS: s.TTCMS.ResolutionMS,
		Pairs: s.Pairs, Converged: s.Converged, NotConverged: s.NotConverged, StaleAccepts: s.StaleAccepts, StaleWindowMS: s.StaleWindowMS,
		Resurrections: s.Resurrections, FalseRejects: s.FalseRejects, Errors: s.Errors, FailOpen: s.FailOpen, Probes: s.Probes,
		NeverAccepted: s.NeverAccepted, ProbeLatencyP99: s.ProbeLatencyMS.P99}
}

// writeSummaryExport writes the summary figures of rep as JSON to path.
func writeSummaryExport(path string, rep *report.Report, reportPath string) error {
	e := summaryExport{Scenario: rep.Scenario.Name, File: rep.Scenario.File, Seed: rep.Scenario.Seed, Overrides: rep.Scenario.Overrides,
		Verdict: rep.Verdict, Reason: rep.Reason, Headline: rep.Headline, DurationMS: rep.DurationMS, Report: reportPath,
		Probes: rep.Probes, Overall: figures(rep.Overall), Components: []summaryComponent{}, Expectations: []summaryExpectation{}, Findings: []summaryFinding{}}
	for _, c := range rep.Components {
		e.Components = append(e.Components, summaryComponent{Name: c.Name, Kind: c.Kind, Probed: c.Probed, summaryFigures: figures(c.Summary)})
	}
	for _, x := range rep.Expectations {
		e.Expectations = append(e.Expectations, summaryExpectation{Expr: x.Expr, Severity: x.Severity, Pass: x.Pass, Observed: x.ObservedText})
	}
	for _, f := range rep.Findings {
		e.Findings = append(e.Findings, summaryFinding{Kind: f.Kind, Severity: f.Severity, Component: f.Component, Count: f.Count})
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
