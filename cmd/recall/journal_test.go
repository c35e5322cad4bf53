package main

import (
	"bufio"
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
