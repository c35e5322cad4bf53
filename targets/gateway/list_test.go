package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// TestApplyByChunks: a large batch goes into the set by chunks, the write lock released between
// them, so requests are answered while a gateway applies a mass recall. Between chunks the rules
// already applied are enforced (and recorded in ground truth) and the others not yet, and the
// set's version is raised only with the last chunk, so a resync never skips an unapplied rule;
// an empty list still raises it.
func TestApplyByChunks(t *testing.T) {
	const n = 3*applyChunk + 10
	rules := make([]revocation.Rule, n)
	for i := range rules {
		rules[i] = revocation.Rule{Version: 2, RecallID: "r", Type: revocation.JTI, Value: fmt.Sprintf("j%d", i)}
	}
	s := &setState{set: new(revocation.Set), truth: truth.NewLog("edge", nil), m: newMetrics(Config{Name: "edge"}),
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.apply(1, []revocation.Rule{{Version: 1, Type: revocation.JTI, Value: "old"}})

	chunks := 0
	s.chunkDone = func() {
		chunks++
		done := min(chunks*applyChunk, n)
		if _, ok := s.set.Revoked(revocation.Claims{JTI: fmt.Sprintf("j%d", done-1)}); !ok {
			t.Errorf("after chunk %d: rule %d, applied, not enforced", chunks, done-1)
		}
		if done < n {
			if _, ok := s.set.Revoked(revocation.Claims{JTI: fmt.Sprintf("j%d", done)}); ok {
				t.Errorf("after chunk %d: rule %d, of a later chunk, already enforced", chunks, done)
			}
			if v := s.set.Version(); v != 1 {
				t.Errorf("after chunk %d of 4: version %d, want 1 until the batch is whole", chunks, v)
			}
		}
		if got := len(s.truth.Records()); got != 1+done {
			t.Errorf("after chunk %d: %d ground-truth records, want %d", chunks, got, 1+done)
		}
	}
	s.apply(2, rules)
	if chunks != 4 {
		t.Errorf("%d rules applied in %d chunks, want 4 of at most %d", n, chunks, applyChunk)
	}
	if v := s.set.Version(); v != 2 {
		t.Errorf("version %d after the batch, want 2", v)
	}
	s.chunkDone = nil
	s.apply(3, nil) // a poll that brings no new rule still moves the version on
	if v := s.set.Version(); v != 3 {
		t.Errorf("version %d after an empty list of version 3, want 3", v)
	}
	recs := s.truth.Records()
	for i := 2; i < len(recs); i++ {
		if recs[i].At.Before(recs[i-1].At) {
			t.Fatalf("ground truth %d at %v, before %d at %v: chunks are recorded in order", i, recs[i].At, i-1, recs[i-1].At)
		}
	}
}
