package estimate

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand"
	"slices"
)

// Groups are observations rounded outward to the grid and counted by distinct bracket: all
// that the estimate reads of them. Grouping costs one pass over the observations and a radix
// sort of 4-byte keys; groups of several sets merge without the observations (see
// [MergeGroups]), so an estimate over pooled sets does not group the pooled observations again.
type Groups struct {
	keys     []uint32  // distinct brackets in increasing (lower, upper) order; see packKey
	counts   []float64 // observations per bracket
	n        int
	censored int
}

// N returns the number of observations grouped.
func (g *Groups) N() int { return g.n }

// A key packs a bracket's grid indices, lower end first so that keys sort by (lower, upper):
// each end is biased by keyBias = gridMax+1 into [0, 2·keyBias] (gridFloor of −maxOffset and
// gridCeil of maxOffset are one step past gridMax), a right-censored upper end is
// 2·keyBias+1, and 15 bits hold either (2·9067+1 < 2^15).
const keyEndBits = 15

func keyBias() int32 { return grid().max + 1 }

func packKey(lo, hi int32) uint32 {
	b := keyBias()
	h := uint32(2*b + 1)
	if hi != infIdx {
		h = uint32(hi + b)
	}
	return uint32(lo+b)<<keyEndBits | h
}

func unpackKey(k uint32) (lo, hi int32) {
	b := keyBias()
	lo = int32(k>>keyEndBits) - b
	h := int32(k & (1<<keyEndBits - 1))
	if h == 2*b+1 {
		return lo, infIdx
	}
	return lo, h - b
}

// Group rounds obs to the grid and counts them by distinct bracket. Observations with
// Lower ≥ Upper are an error naming the first one; no observations is ErrNoData.
func Group(obs []Interval) (*Groups, error) {
	if len(obs) == 0 {
		return nil, ErrNoData
	}
	keys := make([]uint32, len(obs))
	censored := 0
	for i, o := range obs {
		if o.Lower >= o.Upper {
			return nil, fmt.Errorf("estimate: observation %d: lower end %v is not below upper end %v", i, o.Lower, o.Upper)
		}
		lo := gridFloor(max(min(int64(o.Lower), maxOffset), -maxOffset))
		hi := int32(infIdx)
		if o.Upper != Inf && int64(o.Upper) <= maxOffset {
			hi = gridCeil(max(int64(o.Upper), -maxOffset))
		} else {
			censored++
		}
		keys[i] = packKey(lo, hi)
	}
	sortKeys(keys)
	g := &Groups{n: len(obs), censored: censored}
	for i, k := range keys {
		if i == 0 || k != keys[i-1] {
			g.keys = append(g.keys, k)
			g.counts = append(g.counts, 0)
		}
		g.counts[len(g.counts)-1]++
	}
	return g, nil
}

// sortKeys sorts keys of 2·keyEndBits bits: by two counting passes of keyEndBits bits when
// there are enough of them to pay for the counters.
func sortKeys(keys []uint32) {
	if len(keys) < 1<<12 {
		slices.Sort(keys)
		return
	}
	buf := make([]uint32, len(keys))
	count := make([]int, 1<<keyEndBits)
	src, dst := keys, buf
	for shift := 0; shift < 2*keyEndBits; shift += keyEndBits {
		clear(count)
		for _, k := range src {
			count[(k>>shift)&(1<<keyEndBits-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, k := range src {
			d := (k >> shift) & (1<<keyEndBits - 1)
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	// Two passes: the sorted keys are back in keys.
}

// MergeGroups returns the groups of every observation of gs pooled, as Group would return for
// their observations together. Nil entries are skipped; nil when all are.
func MergeGroups(gs ...*Groups) *Groups {
	var out *Groups
	for _, g := range gs {
		if g == nil {
			continue
		}
		if out == nil {
			out = &Groups{keys: slices.Clone(g.keys), counts: slices.Clone(g.counts), n: g.n, censored: g.censored}
			continue
		}
		m := &Groups{keys: make([]uint32, 0, len(out.keys)+len(g.keys)), counts: make([]float64, 0, len(out.keys)+len(g.keys)),
			n: out.n + g.n, censored: out.censored + g.censored}
		i, j := 0, 0
		for i < len(out.keys) || j < len(g.keys) {
			switch {
			case j == len(g.keys) || (i < len(out.keys) && out.keys[i] < g.keys[j]):
				m.keys, m.counts = append(m.keys, out.keys[i]), append(m.counts, out.counts[i])
				i++
			case i == len(out.keys) || g.keys[j] < out.keys[i]:
				m.keys, m.counts = append(m.keys, g.keys[j]), append(m.counts, g.counts[j])
				j++
			default:
				m.keys, m.counts = append(m.keys, out.keys[i]), append(m.counts, out.counts[i]+g.counts[j])
				i, j = i+1, j+1
			}
		}
		out = m
	}
	return out
}

// resampler draws one bootstrap resample: it adds to counts (indexed like fit.w) the
// multiplicities of draws observations drawn with replacement.
type resampler interface {
	resample(rng *rand.Rand, counts []float64, draws int)
}

// aliasTable draws group g with probability w_g/n exactly (Walker 1977, Vose 1991, in integer
// arithmetic): which is what drawing one of the n observations uniformly and taking its group
// does, without a per-observation table. Column j of the len(w) columns has capacity n and
// keeps j for the first thr units, alias for the rest; group g's units over all columns sum
// to w_g·len(w).
type aliasTable struct {
	n    uint64
	cols []aliasColumn
}

type aliasColumn struct {
	thr   uint64
	alias int32
}

// newAlias builds the table for integer weights w (the groups' counts), not all zero.
func newAlias(w []float64) *aliasTable {
	k := uint64(len(w))
	t := &aliasTable{cols: make([]aliasColumn, len(w))}
	s := make([]uint64, len(w))
	for j, v := range w {
		t.n += uint64(v)
		s[j] = uint64(v) * k
	}
	var small, large []int32
	for j := range w {
		t.cols[j].alias = int32(j)
		if s[j] < t.n {
			small = append(small, int32(j))
		} else {
			large = append(large, int32(j))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l := small[len(small)-1]
		small = small[:len(small)-1]
		g := large[len(large)-1]
		t.cols[l] = aliasColumn{thr: s[l], alias: g}
		s[g] -= t.n - s[l]
		if s[g] < t.n {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	// Integer arithmetic leaves every remaining column exactly full.
	for _, j := range large {
		t.cols[j].thr = t.n
	}
	for _, j := range small {
		t.cols[j].thr = t.n
	}
	return t
}

func (t *aliasTable) resample(rng *rand.Rand, counts []float64, draws int) {
	k := uint64(len(t.cols))
	if k > math.MaxUint32 || t.n > math.MaxUint32 {
		for range draws {
			col := uniform(rng, k)
			j := uint64(t.cols[col].alias)
			if uniform(rng, t.n) < t.cols[col].thr {
				j = col
			}
			counts[j]++
		}
		return
	}
	// One 64-bit draw gives two independent uniform 32-bit halves: the column from the high
	// one, the unit within it from the low one (each unbiased by Lemire's rejection).
	k32, n32 := uint32(k), uint32(t.n)
	kt, nt := -k32%k32, -n32%n32
	for range draws {
		x := rng.Uint64()
		col, colLo := bits.Mul32(uint32(x>>32), k32)
		for colLo < kt {
			col, colLo = bits.Mul32(uint32(rng.Uint64()>>32), k32)
		}
		u, uLo := bits.Mul32(uint32(x), n32)
		for uLo < nt {
			u, uLo = bits.Mul32(uint32(rng.Uint64()), n32)
		}
		c := t.cols[col]
		j := c.alias
		if uint64(u) < c.thr {
			j = int32(col)
		}
		counts[j]++
	}
}

// uniform returns a uniform integer in [0, n), n > 0, unbiased (Lemire 2019).
func uniform(rng *rand.Rand, n uint64) uint64 {
	hi, lo := bits.Mul64(rng.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(rng.Uint64(), n)
		}
	}
	return hi
}
