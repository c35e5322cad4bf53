package estimate

import (
	"math"
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

// gridValue returns the offset of grid point k, in nanoseconds.
func gridValue(k int32) int64 {
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

// absFloor returns the largest k ≥ 0 with gridValue(k) ≤ a, for a ≥ 0.
func absFloor(a int64) int32 {
	if a <= linearSteps*linearStep {
		return int32(a / linearStep)
	}
	k := int32(linearSteps + math.Floor(math.Log(float64(a)/float64(linearSteps*linearStep))/logRatio))
	for gridValue(k) > a {
		k--
	}
	for gridValue(k+1) <= a {
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

// maxOffset bounds the offsets the grid handles (about 11 days); larger ones are clamped,
// which keeps a lower end a valid lower end but an upper end must not be clamped: such a
// bracket is treated as right-censored.
const maxOffset = int64(1e15)
