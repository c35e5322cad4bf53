package drill

// Distributions for the report: nearest-rank percentiles over exact values (TTC), and a
// log-linear histogram with a stated error bound for probe latency (too many values to keep).

import (
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/recall-drills/recall/report"
)

// millis converts a duration to float milliseconds, the report's unit.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// nearestRank returns the nearest-rank q-quantile of sorted (ascending): the smallest value
// such that at least a share q of the values are ≤ it, i.e. sorted[⌈q·n⌉−1]. q ≤ 0 gives the
// minimum, q ≥ 1 the maximum, an empty slice NaN. The method never interpolates: every
// percentile in a report is a value that was measured. (⌈q·n⌉ is computed with a 1e-9 slack so
// that 0.9·10 = 9.000000000000002 still ranks 9.)
func nearestRank(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	return sorted[rankIndex(n, q)]
}

// rankIndex is the 0-based index of nearestRank's q-quantile among n > 0 sorted values.
func rankIndex(n int, q float64) int {
	r := int(math.Ceil(q*float64(n) - 1e-9))
	return min(max(r, 1), n) - 1
}

// kthSmallest returns the k-th smallest (0-based) of v, which it reorders: the value
// slices.Sort(v) would put at v[k], in linear time on average (Hoare's quickselect, median of
// three; it sorts what is left after 64 rounds, so no input makes it quadratic). v holds no NaN.
func kthSmallest(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for round := 0; lo < hi; round++ {
		if round == 64 {
			slices.Sort(v[lo : hi+1])
			break
		}
		a, b, c := v[lo], v[lo+(hi-lo)/2], v[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k] // j < k < i: v[k] equals the pivot
		}
	}
	return v[k]
}

// ttcStats summarises the converged pairs: nearest-rank p50/p90/p99 and max of the TTC upper
// bounds (clamped at 0), the median and largest bracket width, and the median TTC lower bound
// (unclamped, may be negative). All in milliseconds; zero Stats without converged pairs.
func ttcStats(pairs []PairResult) report.Stats {
	v := collectTTC(pairs)
	slices.Sort(v.ups)
	return v.stats()
}

// ttcValues are the figures of a set of pairs that ttcStats and the CDFs read, in milliseconds,
// one per converged pair: the TTC upper bound (clamped at 0), lower bound and bracket width,
// and the bracket's start (bracketStart) relative to R, clamped at 0; measured counts the
// measured pairs, converged or not.
type ttcValues struct {
	ups, lows, res, startUps []float64
	measured                 int
}

func collectTTC(pairs []PairResult) ttcValues {
	converged := 0
	for i := range pairs {
		if pairs[i].State == PairConverged {
			converged++
		}
	}
	v := ttcValues{ups: make([]float64, 0, converged), lows: make([]float64, 0, converged),
		res: make([]float64, 0, converged), startUps: make([]float64, 0, converged)}
	for _, p := range pairs {
		if !p.Measured() {
			continue
		}
		v.measured++
		if p.State != PairConverged {
			continue
		}
		lo, up := p.TTC()
		v.ups = append(v.ups, millis(up))
		v.lows = append(v.lows, millis(lo))
		v.res = append(v.res, millis(p.Resolution()))
		v.startUps = append(v.startUps, millis(max(p.bracketStart()-p.Recalled, 0)))
	}
	return v
}

// stats is ttcStats of v, whose ups are sorted; it reorders lows and res.
func (v *ttcValues) stats() report.Stats {
	n := len(v.ups)
	if n == 0 {
		return report.Stats{}
	}
	mid := rankIndex(n, 0.50)
	return report.Stats{
		Count:           n,
		P50:             v.ups[mid],
		P90:             v.ups[rankIndex(n, 0.90)],
		P99:             v.ups[rankIndex(n, 0.99)],
		Max:             v.ups[n-1],
		ResolutionMS:    kthSmallest(v.res, mid),
		ResolutionMaxMS: slices.Max(v.res),
		LowerP50:        kthSmallest(v.lows, mid),
	}
}

// mergeTTC pools the values of several sets whose ups and startUps are sorted, keeping them
// sorted (a merge: no second sort).
func mergeTTC(parts []ttcValues) ttcValues {
	var v ttcValues
	var ups, starts [][]float64
	n := 0
	for _, p := range parts {
		n += len(p.lows)
	}
	v.lows, v.res = make([]float64, 0, n), make([]float64, 0, n)
	for _, p := range parts {
		v.measured += p.measured
		v.lows = append(v.lows, p.lows...)
		v.res = append(v.res, p.res...)
		ups, starts = append(ups, p.ups), append(starts, p.startUps)
	}
	v.ups, v.startUps = mergeSorted(ups), mergeSorted(starts)
	return v
}

// mergeSorted merges ascending slices into one.
func mergeSorted(parts [][]float64) []float64 {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]float64, 0, n)
	pos := make([]int, len(parts))
	for len(out) < n {
		best := -1
		for i, p := range parts {
			if pos[i] < len(p) && (best < 0 || p[pos[i]] < parts[best][pos[best]]) {
				best = i
			}
		}
		out = append(out, parts[best][pos[best]])
		pos[best]++
	}
	return out
}

// Histogram layout: values below 2^histSubBits ns have a bucket each (exact); above, each power
// of two is split into 2^histSubBits equal buckets, so a bucket [lo, hi] is never wider than
// lo/128. A value reported from a bucket (its upper end) is therefore at most 0.79 % above the
// true sample, and never below it.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits
)

// histogram is a log-linear histogram of non-negative nanosecond values with exact count, min
// and max. It grows to the largest bucket used (about 28 KiB for values up to 10 s).
type histogram struct {
	counts   []uint64
	n        uint64
	min, max int64
}

func histIndex(v int64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - 1 - histSubBits
	return (shift+1)<<histSubBits + int(uint64(v)>>shift) - histSub
}

// histRange returns bucket i's values: [lo, hi], both inclusive.
func histRange(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i)
	}
	shift := i>>histSubBits - 1
	m := uint64(i&(histSub-1) + histSub)
	return int64(m << shift), int64((m+1)<<shift - 1)
}

func (h *histogram) add(v int64) {
	v = max(v, 0)
	i := histIndex(v)
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if h.n == 0 || v > h.max {
		h.max = v
	}
	h.n++
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]uint64, len(o.counts)-len(h.counts))...)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if h.n == 0 || o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
}

func (h *histogram) clone() histogram {
	c := *h
	c.counts = append([]uint64(nil), h.counts...)
	return c
}

// quantile returns the range [lo, hi] (clamped to the exact min and max) of the bucket holding
// the nearest-rank q-quantile sample; the sample lies within it.
func (h *histogram) quantile(q float64) (lo, hi int64) {
	if h.n == 0 {
		return 0, 0
	}
	rank := uint64(min(max(int(math.Ceil(q*float64(h.n)-1e-9)), 1), int(h.n)))
	var cum uint64
	for i, c := range h.counts {
		if cum += c; cum >= rank {
			lo, hi = histRange(i)
			return max(lo, h.min), min(hi, h.max)
		}
	}
	return h.max, h.max
}

// stats renders the histogram as report.Stats in milliseconds: P50/P90/P99 are the upper ends of
// their buckets (at most 0.79 % above the true nearest-rank sample), Max is exact, ResolutionMS
// is the width of the p50 bucket and ResolutionMaxMS the widest of the three, LowerP50 the lower
// end of the p50 bucket.
func (h *histogram) stats() report.Stats {
	if h.n == 0 {
		return report.Stats{}
	}
	st := report.Stats{Count: int(h.n), Max: millis(time.Duration(h.max))}
	var widest int64
	for _, q := range []struct {
		q   float64
		dst *float64
	}{{0.50, &st.P50}, {0.90, &st.P90}, {0.99, &st.P99}} {
		lo, hi := h.quantile(q.q)
		*q.dst = millis(time.Duration(hi))
		widest = max(widest, hi-lo)
		if q.q == 0.50 {
			st.LowerP50 = millis(time.Duration(lo))
			st.ResolutionMS = millis(time.Duration(hi - lo))
		}
	}
	st.ResolutionMaxMS = millis(time.Duration(widest))
	return st
}
