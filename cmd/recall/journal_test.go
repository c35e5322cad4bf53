package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/report"
)

// TestReportFromJournal runs a short drill in process, then rebuilds its report from the
// journal it streamed: the rebuilt TTC statistics per component and overall, the timeline and
// the CDF equal the drill's own report, and the rebuild is not marked incomplete.
func TestReportFromJournal(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runMain("run", "--out", out, "--quiet", writeScenario(t, "  - false_rejects == 0\n"))
	if code != exitPass {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, lastLines(stderr, 25))
	}
	want, err := report.Read(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(out, "journal.jsonl"))
	if err != nil {
		t.Fatalf("no journal beside report.json: %v", err)
	}
	jpath := filepath.Join(dir, "journal.jsonl")
	os.WriteFile(jpath, b, 0o644)
	code, rstdout, rstderr := runMain("report", "--from-journal", jpath)
	if code != 0 {
		t.Fatalf("report --from-journal: exit %d\n%s\n%s", code, rstdout, rstderr)
	}
	if !strings.Contains(rstdout, "not in the journal") {
		t.Errorf("the rebuilt summary does not say what the journal lacks:\n%s", rstdout)
	}
	got, err := report.Read(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Errorf("no report.html rebuilt: %v", err)
	}
	if got.Incomplete || got.Verdict != want.Verdict {
		t.Errorf("rebuilt from a complete journal: incomplete %v, verdict %s (drill: %s)", got.Incomplete, got.Verdict, want.Verdict)
	}
	// The journal's end carries the drill's own judged expectations; what it cannot give is
	// named, not left for the reader to take as zero.
	if d := cmp.Diff(want.Expectations, got.Expectations); d != "" || len(want.Expectations) == 0 {
		t.Errorf("expectations (-drill +rebuilt):\n%s", d)
	}
	if !slices.Contains(got.Missing, report.MissingProbeLatency) || !slices.Contains(got.Missing, report.MissingGroundTruth) || len(want.Missing) != 0 {
		t.Errorf("missing: rebuilt %v, drill %v", got.Missing, want.Missing)
	}
	measured := 0
	for _, wc := range want.Components {
		i := slices.IndexFunc(got.Components, func(c report.Component) bool { return c.Name == wc.Name })
		if i < 0 {
			t.Errorf("rebuilt report lacks component %s", wc.Name)
			continue
		}
		gc := got.Components[i]
		if d := cmp.Diff(wc.TTCMS, gc.TTCMS); d != "" {
			t.Errorf("%s TTC (-drill +rebuilt):\n%s", wc.Name, d)
		}
		if wc.Pairs != gc.Pairs || wc.Converged != gc.Converged || wc.NotConverged != gc.NotConverged ||
			wc.StaleAccepts != gc.StaleAccepts || wc.Resurrections != gc.Resurrections || wc.Probes != gc.Probes {
			t.Errorf("%s: drill %+v\nrebuilt %+v", wc.Name, wc.Summary, gc.Summary)
		}
		measured += wc.Converged
	}
	if measured == 0 {
		t.Fatal("the drill measured nothing: the comparison proves nothing")
	}
	if d := cmp.Diff(want.Overall.TTCMS, got.Overall.TTCMS); d != "" {
		t.Errorf("overall TTC (-drill +rebuilt):\n%s", d)
	}
	if d := cmp.Diff(want.Timeline, got.Timeline); d != "" {
		t.Errorf("timeline (-drill +rebuilt):\n%s", d)
	}
	if d := cmp.Diff(want.CDF, got.CDF); d != "" {
		t.Errorf("CDF (-drill +rebuilt):\n%s", d)
	}
}

// killScenario is long enough that every phase can be caught, and the observe phase journals
// brackets before traffic ends.
const killScenario = `name: kill
seed: 5
system:
  components:
    - {name: issuer, kind: issuer, use: reference/issuer}
    - {name: edge-push, kind: gateway, use: reference/gateway, with: {strategy: push}}
    - {name: edge-poll, kind: gateway, use: reference/gateway, with: {strategy: poll, interval: 500ms}}
tokens: {victims: 300, controls: 30, clients: 2}
traffic: {rate: 400/s, duration: 30s}
recall: {at: 3s, action: revoke-tokens, mode: rfc7009, concurrency: 1}
`

// TestKillJournal sends SIGKILL to a real `recall run` in the mint, baseline, recall and
// observe phases (seen on its stderr, which logs each phase after the journal has it) and
// rebuilds the report from the journal: it exists, is marked incomplete with the phase and
// instant the journal ends at, and, killed while observing (once the journal holds a converged
// pair), it has brackets.
func TestKillJournal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds recall and kills four drills")
	}
	bin, err := buildRecall()
	if err != nil {
		t.Fatal(err)
	}
	scen := filepath.Join(t.TempDir(), "kill.yaml")
	if err := os.WriteFile(scen, []byte(killScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	order := []string{drill.PhaseStart, drill.PhaseMint, drill.PhaseBaseline, drill.PhaseRecall, drill.PhaseObserve, drill.PhaseReport}
	for _, phase := range []string{drill.PhaseMint, drill.PhaseBaseline, drill.PhaseRecall, drill.PhaseObserve} {
		t.Run(phase, func(t *testing.T) {
			out := t.TempDir()
			cmd := exec.Command(bin, "run", "--quiet", "--out", out, scen)
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			guard := time.AfterFunc(3*time.Minute, func() { cmd.Process.Kill() })
			defer guard.Stop()
			sc := bufio.NewScanner(stderr)
			seen := false
			var tail []string
			for !seen && sc.Scan() {
				tail = append(tail, sc.Text())
				seen = strings.Contains(sc.Text(), "phase="+phase)
			}
			go func() {
				for sc.Scan() {
				}
			}()
			if !seen {
				cmd.Wait()
				t.Fatalf("never saw phase %s on stderr:\n%s", phase, strings.Join(tail, "\n"))
			}
			journal := filepath.Join(out, "journal.jsonl")
			if phase == drill.PhaseObserve {
				// Wait (not a timing assertion: the guard bounds it) until a converged pair's
				// bracket is on disk.
				for {
					b, _ := os.ReadFile(journal)
					if strings.Contains(string(b), `"k":true`) {
						break
					}
					if cmd.ProcessState != nil {
						t.Fatal("drill ended before a bracket was journaled")
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			cmd.Process.Kill()
			cmd.Wait()
			if _, err := os.Stat(filepath.Join(out, "report.json")); err == nil {
				t.Fatal("a killed drill wrote report.json: it was not killed in time")
			}
			code, stdout, errOut := runMain("report", "--from-journal", journal)
			if code != 0 {
				t.Fatalf("report --from-journal: exit %d\n%s\n%s", code, stdout, errOut)
			}
			rep, err := report.Read(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
				t.Errorf("no report.html: %v", err)
			}
			if !rep.Incomplete || rep.JournalEndsAt == nil || rep.Verdict != report.Error || !strings.Contains(rep.Reason, "journal") {
				t.Errorf("not marked incomplete: incomplete %v, ends at %v, verdict %s, reason %q", rep.Incomplete, rep.JournalEndsAt, rep.Verdict, rep.Reason)
			}
			if !strings.Contains(stdout, "INCOMPLETE") {
				t.Errorf("the summary does not say the report is incomplete:\n%s", stdout)
			}
			html, _ := os.ReadFile(filepath.Join(out, "report.html"))
			if !strings.Contains(string(html), "INCOMPLETE") {
				t.Error("report.html does not say the report is incomplete")
			}
			// The journal ends in the phase killed or, when the phase ended before the kill
			// landed, a later one; never an earlier one.
			if slices.Index(order, rep.JournalPhase) < slices.Index(order, phase) {
				t.Errorf("journal ends in phase %q, killed in %s", rep.JournalPhase, phase)
			}
			t.Logf("killed in %s: journal ends in %s at %.0f ms; %d pairs converged, %d probes", phase, rep.JournalPhase, rep.JournalEndsAtMS, rep.Overall.Converged, rep.Probes.Total)
			if phase == drill.PhaseObserve {
				if rep.Overall.Converged == 0 || rep.Overall.TTCMS.Count == 0 || len(rep.CDF) == 0 {
					t.Errorf("killed while observing, the rebuilt report has no brackets: %+v", rep.Overall)
				}
			}
		})
	}
}

// TestReportFromJournalFindings: a drill beside a gateway of its own answering every probe with
// 500 FAILs on an unavailable finding. Rebuilt from its complete journal, the report carries
// the drill's findings and verdict, not only its brackets. Rebuilt from the journal cut where a
// kill while observing cuts it (before traffic ended, no end event), it is incomplete with
// verdict ERROR, and still finds from the journaled load counts what the drill found: the
// component unavailable (failing the verdict, named in the headline) with its error share, and
// the victims never accepted there.
func TestReportFromJournalFindings(t *testing.T) {
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			return
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer broken.Close()
	scen := `name: journal-findings
seed: 3
system:
  components:
    - {name: issuer, kind: issuer, use: reference/issuer}
    - {name: edge-push, kind: gateway, use: reference/gateway, with: {strategy: push}}
    - {name: broken, kind: gateway, url: "` + broken.URL + `", wait: {http: /ready}, probe: {path: /api}}
tokens: {victims: 12, controls: 3}
traffic: {rate: 150/s, duration: 3s}
recall: {at: 1s}
expect:
  - false_rejects == 0
`
	dir := t.TempDir()
	path := filepath.Join(dir, "findings.yaml")
	if err := os.WriteFile(path, []byte(scen), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runMain("run", "--quiet", "--out", out, path)
	if code != exitFail {
		t.Fatalf("run: exit %d, want %d (FAIL: broken unavailable)\n%s\n%s", code, exitFail, stdout, lastLines(stderr, 20))
	}
	want, err := report.Read(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	hasFinding := func(r *report.Report, kind, comp string) bool {
		return slices.ContainsFunc(r.Findings, func(f report.Finding) bool { return f.Kind == kind && f.Component == comp })
	}
	if want.Verdict != report.Fail || !hasFinding(want, "unavailable", "broken") || !hasFinding(want, "never_accepted", "") {
		t.Fatalf("test premise: the drill's verdict %s, findings %+v; want FAIL on broken unavailable, victims never accepted", want.Verdict, want.Findings)
	}
	journal, err := os.ReadFile(filepath.Join(out, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rebuild := func(b []byte) *report.Report {
		t.Helper()
		d := t.TempDir()
		jpath := filepath.Join(d, "journal.jsonl")
		if err := os.WriteFile(jpath, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if code, o, e := runMain("report", "--from-journal", jpath); code != 0 {
			t.Fatalf("report --from-journal: exit %d\n%s\n%s", code, o, e)
		}
		r, err := report.Read(filepath.Join(d, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	got := rebuild(journal)
	// The headline's resolution clause may differ (revisit intervals are not journaled); its
	// account of the failure may not.
	if got.Incomplete || got.Verdict != want.Verdict || !strings.Contains(got.Headline, "broken was unavailable") {
		t.Errorf("rebuilt from the complete journal: incomplete %v, verdict %s, headline %q\ndrill: verdict %s, headline %q",
			got.Incomplete, got.Verdict, got.Headline, want.Verdict, want.Headline)
	}
	if d := cmp.Diff(want.Findings, got.Findings); d != "" {
		t.Errorf("findings rebuilt from the complete journal (-drill +rebuilt):\n%s", d)
	}
	if d := cmp.Diff(want.Recall, got.Recall); d != "" {
		t.Errorf("recall section rebuilt from the complete journal (-drill +rebuilt):\n%s", d)
	}
	wb, gb := componentByName(want, "broken"), componentByName(got, "broken")
	if gb.ErrorShareBaseline != wb.ErrorShareBaseline || gb.ErrorShareAfterRecall != wb.ErrorShareAfterRecall ||
		gb.RatePerSec != wb.RatePerSec || gb.TargetRatePerSec != wb.TargetRatePerSec {
		t.Errorf("broken's load figures rebuilt %v/%v at %.1f of %.1f/s; drill %v/%v at %.1f of %.1f/s",
			gb.ErrorShareBaseline, gb.ErrorShareAfterRecall, gb.RatePerSec, gb.TargetRatePerSec,
			wb.ErrorShareBaseline, wb.ErrorShareAfterRecall, wb.RatePerSec, wb.TargetRatePerSec)
	}
	if slices.Contains(got.Missing, report.MissingLoad) {
		t.Errorf("missing %v: the load figures are journaled", got.Missing)
	}

	// Cut where a kill while observing would: before traffic ended.
	lines := strings.SplitAfter(string(journal), "\n")
	cut := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, `"kind":"traffic_end"`) })
	if cut < 0 {
		t.Fatal("no traffic_end in the journal")
	}
	if !slices.ContainsFunc(lines[:cut], func(l string) bool { return strings.Contains(l, `"load":`) }) {
		t.Fatal("no counters line with the load counts before traffic ended")
	}
	inc := rebuild([]byte(strings.Join(lines[:cut], "")))
	if !inc.Incomplete || inc.Verdict != report.Error {
		t.Errorf("rebuilt from the cut journal: incomplete %v, verdict %s; want incomplete, ERROR", inc.Incomplete, inc.Verdict)
	}
	var un *report.Finding
	for i, f := range inc.Findings {
		if f.Kind == "unavailable" && f.Component == "broken" {
			un = &inc.Findings[i]
		}
	}
	if un == nil || un.Severity != report.Critical || !un.FailsVerdict() || !strings.Contains(un.Message, "100% of its") {
		t.Errorf("rebuilt from the cut journal, broken's unavailable finding is %+v; findings %+v", un, inc.Findings)
	}
	if !hasFinding(inc, "never_accepted", "") {
		t.Errorf("rebuilt from the cut journal, no never_accepted finding: %+v", inc.Findings)
	}
	if hasFinding(inc, "unavailable", "edge-push") {
		t.Errorf("rebuilt from the cut journal, the healthy edge-push is unavailable: %+v", inc.Findings)
	}
	if !strings.Contains(inc.Headline, "broken") || !strings.Contains(inc.Headline, "unavailable") {
		t.Errorf("headline of the cut rebuild %q: want broken named unavailable", inc.Headline)
	}
	if inc.Recall.Confirmed != want.Recall.Confirmed || inc.Recall.Acknowledged != want.Recall.Acknowledged {
		t.Errorf("recall rebuilt from the cut journal: %d acknowledged, %d confirmed at the source; drill: %d, %d",
			inc.Recall.Acknowledged, inc.Recall.Confirmed, want.Recall.Acknowledged, want.Recall.Confirmed)
	}
	if c := componentByName(inc, "broken"); c.ErrorShareBaseline != 1 {
		t.Errorf("broken's error share before the recall, rebuilt from the cut journal: %v, want 1", c.ErrorShareBaseline)
	}
}
