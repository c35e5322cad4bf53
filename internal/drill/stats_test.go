package drill

import (
	"context"
	"math"
	"math/rand"
	"slices"
	"sort"
	"testing"
	"time"
)

// TestHistogramBound checks the latency histogram against exact nearest-rank percentiles: the
// reported value is never below the true sample and at most 1/128 above it, the bucket
// contains the sample, and count, min and max are exact.
func TestHistogramBound(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(3))
	for trial := range 200 {
		var h histogram
		n := 1 + rng.Intn(2000)
		vals := make([]int64, n)
		for i := range vals {
			// log-uniform from 1 ns to ~100 s, plus exact small values and zeros
			v := int64(math.Exp(rng.Float64() * math.Log(1e11)))
			if rng.Intn(10) == 0 {
				v = int64(rng.Intn(200))
			}
			vals[i] = v
			h.add(v)
		}
		sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
		for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 1} {
			r := min(max(int(math.Ceil(q*float64(n)-1e-9)), 1), n)
			exact := vals[r-1]
			lo, hi := h.quantile(q)
			if lo > exact || hi < exact {
				t.Fatalf("trial %d q=%v: exact %d outside bucket [%d,%d]", trial, q, exact, lo, hi)
			}
			if float64(hi-exact) > float64(exact)/128 {
				t.Fatalf("trial %d q=%v: reported %d is more than 1/128 above %d", trial, q, hi, exact)
			}
		}
		st := h.stats()
		if st.Count != n || st.Max != millis(time.Duration(vals[n-1])) || h.min != vals[0] {
			t.Fatalf("trial %d: count %d max %v min %d", trial, st.Count, st.Max, h.min)
		}
	}
}

func TestHistogramRanges(t *testing.T) {
	t.Parallel()
	// Every value maps to a bucket whose range contains it, and buckets tile without gaps.
	prevHi := int64(-1)
	for i := 0; i <= histIndex(math.MaxInt64); i++ {
		lo, hi := histRange(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d,%d] after %d", i, lo, hi, prevHi)
		}
		if histIndex(lo) != i || histIndex(hi) != i {
			t.Fatalf("bucket %d: index(lo)=%d index(hi)=%d", i, histIndex(lo), histIndex(hi))
		}
		prevHi = hi
	}
	if prevHi != math.MaxInt64 {
		t.Fatalf("last bucket ends at %d", prevHi)
	}
}

func TestHistogramMerge(t *testing.T) {
	t.Parallel()
	var a, b, all histogram
	for i := int64(0); i < 1000; i++ {
		v := i * i * 997
		all.add(v)
		if i%2 == 0 {
			a.add(v)
		} else {
			b.add(v)
		}
	}
	a.merge(&b)
	if a.stats() != all.stats() {
		t.Errorf("merged %+v, want %+v", a.stats(), all.stats())
	}
	var empty histogram
	if empty.stats().Count != 0 {
		t.Error("empty histogram has a count")
	}
}

// TestCountRecalls: after an interrupted recall, what was never sent is neither acknowledged
// nor failed, and the finding says how many were sent.
func TestCountRecalls(t *testing.T) {
	t.Parallel()
	now := time.Now()
	acks := make([]Ack, 1000)
	for i := range 99 {
		acks[i] = Ack{Sent: now, Acked: now.Add(time.Millisecond)}
	}
	acks[99] = Ack{Sent: now, Err: context.Canceled}
	c := countRecalls(acks)
	if c != (recallCounts{sent: 100, acked: 99, failed: 1, notSent: 900}) {
		t.Errorf("counts %+v; want 100 sent, 99 acknowledged, 1 failed, 900 not sent", c)
	}
	want := "1 of 100 recalls sent were not acknowledged (last error: context canceled); they measure nothing. 900 more were never sent."
	if got := c.failedMessage(context.Canceled); got != want {
		t.Errorf("message %q; want %q", got, want)
	}
}

// TestKthSmallest checks the selection ttcStats uses for medians against a sort, on random
// values, many duplicates, sorted and reversed input.
func TestKthSmallest(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for trial := range 300 {
		n := 1 + rng.Intn(500)
		v := make([]float64, n)
		for i := range v {
			switch trial % 4 {
			case 0:
				v[i] = rng.NormFloat64()
			case 1:
				v[i] = float64(rng.Intn(3))
			case 2:
				v[i] = float64(i)
			default:
				v[i] = float64(n - i)
			}
		}
		sorted := slices.Clone(v)
		slices.Sort(sorted)
		k := rng.Intn(n)
		if got := kthSmallest(slices.Clone(v), k); got != sorted[k] {
			t.Fatalf("trial %d: kthSmallest(%d of %d) = %v, want %v", trial, k, n, got, sorted[k])
		}
	}
}

// TestMergeTTC checks that the overall figures merged from each component's sorted values are
// those of ttcStats over every pair pooled.
func TestMergeTTC(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	var parts []ttcValues
	var all []PairResult
	for range 4 {
		var pairs []PairResult
		for range 1 + rng.Intn(300) {
			r := time.Duration(rng.Intn(1e9))
			p := PairResult{State: PairState(1 + rng.Intn(4)), Recalled: r, RecallSent: r - time.Duration(rng.Intn(1e6)),
				Lower: r + time.Duration(rng.Intn(4e8)-2e8)}
			p.Upper = p.Lower + time.Duration(1+rng.Intn(3e8))
			pairs = append(pairs, p)
		}
		v := collectTTC(pairs)
		slices.Sort(v.ups)
		slices.Sort(v.startUps)
		v.stats() // reorders lows and res, as Finalize does before merging
		parts, all = append(parts, v), append(all, pairs...)
	}
	m := mergeTTC(parts)
	if got, want := m.stats(), ttcStats(all); got != want {
		t.Errorf("merged %+v, pooled %+v", got, want)
	}
	want := collectTTC(all)
	slices.Sort(want.startUps)
	if !slices.Equal(m.startUps, want.startUps) || m.measured != want.measured {
		t.Errorf("merged bracket starts or measured count differ from the pooled ones")
	}
}
