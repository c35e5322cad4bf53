package drill

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// rateWindows counts the probes sent in each 10 ms bucket of a drill's clock, so that the probe
// rate around the recall's acknowledgement can be logged: the rate a drill achieves right after
// a mass acknowledgement is what sets the brackets of a component that converges at once.
type rateWindows struct {
	counts []atomic.Int64
}

// rateBucket is the granularity of rateWindows; rateWindowWidth the width of a logged window.
const (
	rateBucket      = 10 * time.Millisecond
	rateWindowWidth = 100 * time.Millisecond
)

// newRateWindows counts probes sent within span of the start.
func newRateWindows(span time.Duration) *rateWindows {
	return &rateWindows{counts: make([]atomic.Int64, max(0, int(span/rateBucket)+1))}
}

// add counts one probe sent at offset sent; probes outside the span are not counted.
func (w *rateWindows) add(sent time.Duration) {
	if sent < 0 {
		return
	}
	if i := int(sent / rateBucket); i < len(w.counts) {
		w.counts[i].Add(1)
	}
}

// around returns the rate per second in each window of width from at-before to at+after (the
// first window is [at-before, at-before+width), to the bucket), and each window's offset from
// at. Windows before the start or past the span are left out.
func (w *rateWindows) around(at, before, after, width time.Duration) (offsets []time.Duration, perS []float64) {
	per := max(1, int(width/rateBucket))
	for off := -before; off < after; off += width {
		first := int((at + off) / rateBucket)
		if at+off < 0 || first+per > len(w.counts) {
			continue
		}
		var n int64
		for i := first; i < first+per; i++ {
			n += w.counts[i].Load()
		}
		offsets = append(offsets, off)
		perS = append(perS, float64(n)/(time.Duration(per)*rateBucket).Seconds())
	}
	return offsets, perS
}

// describeRates renders around's result as "-200ms:3000 -100ms:2980 0s:1500 …" for a log line.
func describeRates(offsets []time.Duration, perS []float64) string {
	var b strings.Builder
	for i := range offsets {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%v:%.0f", offsets[i], perS[i])
	}
	return b.String()
}
