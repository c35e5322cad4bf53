package drill

import (
	"math/rand"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// processCPU returns the CPU time this process has used, user and system, every thread.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tracker1MComponents × tracker1MVictims are the (component, credential) pairs of
// BenchmarkTracker1MPairs: issue 11's target of 1,000,000 tracked pairs.
const (
	tracker1MComponents = 4
	tracker1MVictims    = 250_000
	tracker1MControls   = 100
)

// feedTracker1M drives tr with a drill's stream over every pair, in arrival order: a baseline
// accept of every pair (and of every control), the recall of every victim, then two passes of
// post-recall probes: in the first, a pair not yet enforced (one in eight) answers a stale
// accept, the others a reject; in the second every pair rejects. Probes go out at 10,000/s
// virtual with 1–5 ms latencies; neighbours in the stream arrive swapped (reordered within
// MaxLag), and one result in ten thousand arrives at the end of the stream (late). It returns the end of
// the stream.
func feedTracker1M(tr *Tracker) time.Duration {
	rng := rand.New(rand.NewSource(11))
	const step = 100 * time.Microsecond // 10,000 probes/s
	var now time.Duration
	var held []Observation // late results, delivered at the end
	var swap *Observation
	emit := func(o Observation) {
		o.Latency = time.Millisecond + time.Duration(rng.Intn(4000))*time.Microsecond
		switch {
		case rng.Intn(10_000) == 0:
			held = append(held, o)
		case swap == nil && rng.Intn(4) == 0:
			swap = &o
		default:
			tr.Observe(o)
			if swap != nil {
				tr.Observe(*swap)
				swap = nil
			}
		}
		now += step
	}
	pass := func(out func(c, tok int) Outcome) {
		for _, i := range rng.Perm(tracker1MComponents * tracker1MVictims) {
			c, tok := i%tracker1MComponents, i/tracker1MComponents
			emit(Observation{Component: c, Token: tok, Sent: now, Outcome: out(c, tok), Status: 200})
		}
	}
	for tok := tracker1MVictims; tok < tracker1MVictims+tracker1MControls; tok++ {
		for c := range tracker1MComponents {
			emit(Observation{Component: c, Token: tok, Sent: now, Outcome: Accept, Status: 200})
		}
	}
	pass(func(int, int) Outcome { return Accept })
	tr.SetTrigger(now)
	for tok := range tracker1MVictims { // acknowledged over 1 s, as a batched recall would be
		tr.Recalled(tok, now, now+time.Duration(tok)*4*time.Microsecond)
	}
	now += time.Second
	pass(func(c, tok int) Outcome {
		if (c*tracker1MVictims+tok)%8 == 0 {
			return Accept
		}
		return Reject
	})
	pass(func(int, int) Outcome { return Reject })
	for _, o := range held {
		tr.Observe(o)
	}
	if swap != nil {
		tr.Observe(*swap)
	}
	return now
}

// BenchmarkTracker1MPairs measures issue 11's target: a tracker of 1,000,000 (component,
// credential) pairs fed a drill's stream, its heap per tracked pair (B/pair, read from the
// runtime after a GC, before Finalize) and the time Finalize takes (finalize-ms, and the
// process's CPU time over it, finalize-cpu-ms, which a loaded machine disturbs less), without
// and with the TTC estimate. Run it with -benchtime 1x: one iteration builds and feeds 3 M results.
func BenchmarkTracker1MPairs(b *testing.B) {
	for _, bc := range []struct {
		name string
		ec   EstimateConfig
	}{{"tracker", EstimateConfig{Off: true}}, {"with_estimate", EstimateConfig{}}} {
		b.Run(bc.name, func(b *testing.B) {
			var perPair, finalize, finalizeCPU float64
			n := 0
			for b.Loop() {
				b.StopTimer()
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				tr := NewTracker(TrackerConfig{Components: []string{"a", "b", "c", "d"}, Victims: tracker1MVictims,
					Controls: tracker1MControls, Estimate: bc.ec})
				end := feedTracker1M(tr)
				runtime.GC()
				runtime.ReadMemStats(&after)
				perPair += float64(after.HeapAlloc-before.HeapAlloc) / (tracker1MComponents * tracker1MVictims)
				b.StartTimer()
				began, cpu := time.Now(), processCPU()
				m := tr.Finalize(end)
				finalize += float64(time.Since(began).Milliseconds())
				finalizeCPU += float64((processCPU() - cpu).Milliseconds())
				n++
				if m.Overall.Pairs != tracker1MComponents*tracker1MVictims || m.Late == 0 {
					b.Fatalf("measured %d pairs, %d late; want every pair and some late", m.Overall.Pairs, m.Late)
				}
			}
			b.ReportMetric(perPair/float64(n), "B/pair")
			b.ReportMetric(finalize/float64(n), "finalize-ms")
			b.ReportMetric(finalizeCPU/float64(n), "finalize-cpu-ms")
		})
	}
}

// TestPairStateSize guards the per-pair layout BenchmarkTracker1MPairs measures: a pair's state
// is at most 104 bytes and a buffered result 16 (a field added carelessly shows here first).
func TestPairStateSize(t *testing.T) {
	if s := unsafe.Sizeof(pairState{}); s > 104 {
		t.Errorf("pairState is %d bytes, want at most 104", s)
	}
	if s := unsafe.Sizeof(obsEntry{}); s != 16 {
		t.Errorf("obsEntry is %d bytes, want 16", s)
	}
}
