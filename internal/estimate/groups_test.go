package estimate

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"
	"time"
)

// TestGridTableMatchesFormula: rounding by the tables gives the grid of the definition, at
// every grid point, one nanosecond either side, and at random offsets up to maxOffset.
func TestGridTableMatchesFormula(t *testing.T) {
	t.Parallel()
	check := func(a int64) {
		if got, want := absFloor(a), absFloorFormula(a); got != want {
			t.Fatalf("absFloor(%d) = %d, the definition gives %d", a, got, want)
		}
	}
	g := grid()
	for k := int32(0); k <= g.max; k++ {
		v := gridFormula(k)
		if gridValue(k) != v || gridValue(-k) != -v {
			t.Fatalf("gridValue(±%d) = %d, %d; the definition gives ±%d", k, gridValue(k), gridValue(-k), v)
		}
		for _, a := range []int64{v - 1, v, v + 1} {
			if a >= 0 && a <= maxOffset {
				check(a)
			}
		}
	}
	r := rand.New(rand.NewSource(1))
	for range 200_000 {
		check(int64(math.Exp(r.Float64() * math.Log(float64(maxOffset)))))
	}
	check(maxOffset)
}

// TestGroupsMerge: the groups of pooled observations are the merge of each set's groups, and
// keys decode to the grid indices they were built from.
func TestGroupsMerge(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(2))
	pr := probing{revisit: 100 * ms, window: 10 * time.Second, latency: ms}
	sets := [][]Interval{pr.observe(r, bimodal, 5000), pr.observe(r, partial, 300), pr.observe(r, uniform5s, 20000)}
	sets[1] = append(sets[1], Interval{Lower: -time.Duration(maxOffset) - 5, Upper: time.Duration(maxOffset) + 5},
		Interval{Lower: time.Duration(maxOffset), Upper: time.Duration(maxOffset) + 1}, Interval{Lower: -3, Upper: Inf},
		Interval{Lower: time.Duration(maxOffset) - 10, Upper: time.Duration(maxOffset)}) // gridCeil is one past gridMax
	var all []Interval
	var gs []*Groups
	for _, s := range sets {
		all = append(all, s...)
		g, err := Group(s)
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g, nil)
	}
	want, err := Group(all)
	if err != nil {
		t.Fatal(err)
	}
	got := MergeGroups(gs...)
	if !slices.Equal(got.keys, want.keys) || !slices.Equal(got.counts, want.counts) || got.n != want.n || got.censored != want.censored {
		t.Errorf("merged groups: %d keys, n %d, censored %d; grouped together: %d keys, n %d, censored %d",
			len(got.keys), got.n, got.censored, len(want.keys), want.n, want.censored)
	}
	if !slices.IsSorted(want.keys) {
		t.Error("keys are not sorted")
	}
	for _, o := range all {
		lo := gridFloor(max(min(int64(o.Lower), maxOffset), -maxOffset))
		hi := int32(infIdx)
		if o.Upper != Inf && int64(o.Upper) <= maxOffset {
			hi = gridCeil(max(int64(o.Upper), -maxOffset))
		}
		if l, h := unpackKey(packKey(lo, hi)); l != lo || h != hi {
			t.Fatalf("key of (%d, %d] decodes to (%d, %d]", lo, hi, l, h)
		}
	}
	if MergeGroups(nil, nil) != nil {
		t.Error("merging nothing gave groups")
	}
}

// TestAliasTableIsExact: every group's share of the table's units is exactly its weight's
// share, so the alias draw has the distribution of drawing one pair uniformly.
func TestAliasTableIsExact(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(3))
	for trial := range 300 {
		w := make([]float64, 1+r.Intn(50))
		for j := range w {
			switch r.Intn(4) {
			case 0:
				w[j] = 1
			case 1:
				w[j] = float64(r.Intn(3)) // zero too
			default:
				w[j] = float64(r.Intn(100_000))
			}
		}
		w[r.Intn(len(w))]++ // not all zero
		a := newAlias(w)
		units := make([]uint64, len(w))
		for j, c := range a.cols {
			if c.thr > a.n {
				t.Fatalf("trial %d: column %d keeps %d units of %d", trial, j, c.thr, a.n)
			}
			units[j] += c.thr
			units[c.alias] += a.n - c.thr
		}
		for j, v := range w {
			if units[j] != uint64(v)*uint64(len(w)) {
				t.Fatalf("trial %d: group %d of weight %v has %d units, want %d (weights %v)", trial, j, v, units[j], uint64(v)*uint64(len(w)), w)
			}
		}
	}
	// And draws follow it: 3 groups weighted 1:2:7.
	a := newAlias([]float64{1, 2, 7})
	counts := make([]float64, 3)
	a.resample(rand.New(rand.NewSource(4)), counts, 100_000)
	for j, want := range []float64{0.1, 0.2, 0.7} {
		if got := counts[j] / 100_000; math.Abs(got-want) > 0.005 {
			t.Errorf("group %d drawn %.4f of the time, want %.1f", j, got, want)
		}
	}
}

// perPair is the bootstrap's resampler before the alias table: each draw picks one of the n
// pairs uniformly and counts its group (owner[i] is pair i's group). Its pairs are listed by
// group here, where the old code listed them in input order: a permutation, which does not
// change the distribution of the draws.
type perPair struct{ owner []int32 }

func (r perPair) resample(rng *rand.Rand, counts []float64, draws int) {
	n := len(r.owner)
	for range draws {
		counts[r.owner[rng.Intn(n)]]++
	}
}

func perPairOf(f *fit) resampler {
	var owner []int32
	for g, w := range f.w {
		for range int(w) {
			owner = append(owner, int32(g))
		}
	}
	return perPair{owner}
}

// uniformGroups is a wrong resampler, for the test to show it can fail: it draws the distinct
// brackets uniformly, as if each held one pair.
type uniformGroups struct{ groups int }

func (r uniformGroups) resample(rng *rand.Rand, counts []float64, draws int) {
	for range draws {
		counts[rng.Intn(r.groups)]++
	}
}

// TestAliasBandsMatchPerPairBands compares the bootstrap's bands (both ends at every innermost
// interval, and the not-converged share's interval) from the alias table with those from the
// per-pair draws it replaced, over seeds, on simulated components. If both draw from one
// distribution, a band from one at a seed differs from a band from the other at another seed
// as much as two bands from the per-pair draws at two seeds do: the scaled mean squared
// difference, cross over reference, is near 1. A resampler that ignores the groups' sizes
// must fail the same bound.
func TestAliasBandsMatchPerPairBands(t *testing.T) {
	t.Parallel()
	seeds := 16
	if testing.Short() {
		seeds = 8
	}
	pr := probing{revisit: 100 * ms, window: 10 * time.Second, latency: ms}
	for _, tc := range []struct {
		c component
		n int
	}{{bimodal, 2000}, {partial, 1000}, {uniform5s, 400}} {
		t.Run(fmt.Sprintf("%s n=%d", tc.c.name, tc.n), func(t *testing.T) {
			t.Parallel()
			g, err := Group(pr.observe(rand.New(rand.NewSource(5)), tc.c, tc.n))
			if err != nil {
				t.Fatal(err)
			}
			bands := func(rs func(*fit) resampler, seed int) []float64 {
				d, err := g.npmle(Config{Rand: rand.New(rand.NewSource(int64(seed))), Replicates: 100}, rs)
				if err != nil {
					t.Fatal(err)
				}
				return append(append(slices.Clone(d.lowPct), d.highPct...), d.BeyondLow, d.BeyondHigh)
			}
			msd := func(a, b []float64) float64 {
				s := 0.0
				for i := range a {
					s += (a[i] - b[i]) * (a[i] - b[i])
				}
				return s
			}
			ratio := func(rs func(*fit) resampler) float64 {
				var cross, ref float64
				for s := range seeds {
					old := bands(perPairOf, 2*s)
					cross += msd(bands(rs, 1000+s), old)
					ref += msd(bands(perPairOf, 2*s+1), old)
				}
				return cross / ref
			}
			alias := ratio(func(f *fit) resampler { return newAlias(f.w) })
			wrong := ratio(func(f *fit) resampler { return uniformGroups{len(f.w)} })
			t.Logf("scaled MSE against per-pair draws over %d seeds: alias %.2f, uniform over groups %.2f", seeds, alias, wrong)
			if alias < 0.6 || alias > 1.6 {
				t.Errorf("alias table: scaled MSE %.2f, want within [0.6, 1.6]", alias)
			}
			if wrong >= 0.6 && wrong <= 1.6 {
				t.Errorf("a resampler ignoring the groups' sizes passed: scaled MSE %.2f", wrong)
			}
		})
	}
}
