package drill

// Distributions for the report: nearest-rank percentiles over exact values (TTC), and a
// log-linear histogram with a stated error bound for probe latency (too many values to keep).

import (
	"math"
	"math/bits"
	"sort"
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
	r := int(math.Ceil(q*float64(n) - 1e-9))
	r = min(max(r, 1), n)
	return sorted[r-1]
}

// ttcStats summarises the converged pairs: nearest-rank p50/p90/p99 and max of the TTC upper
// bounds (clamped at 0), the median and largest bracket width, and the median TTC lower bound
// (unclamped, may be negative). All in milliseconds; zero Stats without converged pairs.
func ttcStats(pairs []PairResult) report.Stats {
	var ups, res, lows []float64
	for _, p := range pairs {
		if p.State != PairConverged {
			continue
		}
		lo, up := p.TTC()
		ups = append(ups, millis(up))
		lows = append(lows, millis(lo))
		res = append(res, millis(p.Resolution()))
	}
	if len(ups) == 0 {
		return report.Stats{}
	}
	sort.Float64s(ups)
	sort.Float64s(lows)
	sort.Float64s(res)
	return report.Stats{
		Count:           len(ups),
		P50:             nearestRank(ups, 0.50),
		P90:             nearestRank(ups, 0.90),
		P99:             nearestRank(ups, 0.99),
		Max:             ups[len(ups)-1],
		ResolutionMS:    nearestRank(res, 0.50),
		ResolutionMaxMS: res[len(res)-1],
		LowerP50:        nearestRank(lows, 0.50),
	}
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
