package estimate

import (
	"math"
	"sync"
	"time"
)

// The time grid. Brackets are rounded outward to it (lower ends down, upper ends up), which
// keeps every bracket valid (it still holds the true TTC), bounds the number of distinct
// brackets, and lets identical brackets be counted once. Grid points are k·1µs for
// |k| ≤ linearSteps, then geometric with ratio 1+gridRatio, mirrored for negative offsets:
// steps of 1µs up to 0.4ms, 12.5µs at 5ms, 12.5ms at 5s (0.25 %).
const (
	linearStep  = int64(time.Microsecond)
	linearSteps = 400
	gridRatio   = 0.0025
)

var logRatio = math.Log1p(gridRatio)

// maxOffset bounds the offsets the grid handles (about 11 days); larger ones are clamped,
// which keeps a lower end a valid lower end but an upper end must not be clamped: such a
// bracket is treated as right-censored.
const maxOffset = int64(1e15)

// gridFormula is the grid's definition: the offset of grid point k, in nanoseconds.
func gridFormula(k int32) int64 {
	a := int64(k)
	neg := a < 0
	if neg {
		a = -a
	}
	var v int64
	if a <= linearSteps {
		v = a * linearStep
	} else {
		v = int64(math.Round(float64(linearSteps*linearStep) * math.Exp(float64(a-linearSteps)*logRatio)))
	}
	if neg {
		return -v
	}
	return v
}

// Rounding to the grid reads tables rather than computing a logarithm and an exponential per
// bracket end (a million brackets round two million ends): values holds gridFormula(k) for
// 0 ≤ k ≤ gridMax+1, where gridMax = absFloor(maxOffset), and start, indexed by an offset's
// binary exponent and its top bucketBits mantissa bits, the grid point at or below the
// bucket's lowest offset. A bucket spans a ratio of at most 1+2^−bucketBits (1.00195), less
// than the grid's 1.0025, so it holds at most one grid point and absFloor takes at most two
// steps from start.
const (
	bucketBits = 9
	// Offsets past the linear part (400 µs > 2^18 ns) up to maxOffset (< 2^50 ns).
	minExp = 18
	maxExp = 49
)

type gridTable struct {
	values []int64
	start  []uint16
	max    int32 // gridMax
}

var grid = sync.OnceValue(func() *gridTable {
	g := &gridTable{max: absFloorFormula(maxOffset)}
	g.values = make([]int64, g.max+2)
	for k := range g.values {
		g.values[k] = gridFormula(int32(k))
	}
	g.start = make([]uint16, (maxExp-minExp+1)<<bucketBits)
	for i := range g.start {
		low := math.Float64frombits(uint64(i+minExp<<bucketBits+1023<<bucketBits) << (52 - bucketBits))
		if low <= float64(linearSteps*linearStep) {
			g.start[i] = linearSteps // below the geometric part: its first point is at or below
			continue
		}
		g.start[i] = uint16(absFloorFormula(int64(math.Ceil(low))))
	}
	return g
})

// gridValue returns the offset of grid point k, in nanoseconds.
func gridValue(k int32) int64 {
	g := grid()
	if k >= 0 && k < int32(len(g.values)) {
		return g.values[k]
	}
	if k < 0 && -k < int32(len(g.values)) {
		return -g.values[-k]
	}
	return gridFormula(k)
}

// absFloorFormula is absFloor computed from the grid's definition.
func absFloorFormula(a int64) int32 {
	if a <= linearSteps*linearStep {
		return int32(a / linearStep)
	}
	k := int32(linearSteps + math.Floor(math.Log(float64(a)/float64(linearSteps*linearStep))/logRatio))
	for gridFormula(k) > a {
		k--
	}
	for gridFormula(k+1) <= a {
		k++
	}
	return k
}

// absFloor returns the largest k ≥ 0 with gridValue(k) ≤ a, for 0 ≤ a ≤ maxOffset (larger a
// are computed from the definition).
func absFloor(a int64) int32 {
	if a <= linearSteps*linearStep {
		return int32(a / linearStep)
	}
	if a > maxOffset {
		return absFloorFormula(a)
	}
	g := grid()
	// a < 2^53 converts exactly; its exponent and top mantissa bits name its bucket.
	i := int(math.Float64bits(float64(a))>>(52-bucketBits)) - (1023+minExp)<<bucketBits
	k := int32(g.start[i])
	for g.values[k+1] <= a {
		k++
	}
	return k
}

// absCeil returns the smallest k ≥ 0 with gridValue(k) ≥ a, for a ≥ 0.
func absCeil(a int64) int32 {
	k := absFloor(a)
	if gridValue(k) < a {
		k++
	}
	return k
}

// gridFloor returns the largest grid index whose value is ≤ x.
func gridFloor(x int64) int32 {
	if x >= 0 {
		return absFloor(x)
	}
	return -absCeil(-x)
}

// gridCeil returns the smallest grid index whose value is ≥ x.
func gridCeil(x int64) int32 {
	if x >= 0 {
		return absCeil(x)
	}
	return -absFloor(-x)
}
