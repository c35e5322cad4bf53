package drill

import (
	"sort"
	"sync"
	"time"
)

// The drill's timeline is the monotonic clock: every probe, acknowledgement and fault window is
// an offset from the start of traffic read with time.Since. Ground truth from components out of
// process (the reference stack in containers) arrives as wall-clock instants in JSON, with no
// monotonic reading, and t.Sub(began) then subtracts wall clocks. When the machine's wall clock
// is stepped during the drill (an NTP or hypervisor correction, a VM resumed from a snapshot),
// every such instant moves by the step against the probes' brackets. CI saw exactly that: all
// ground truth of four docker drills off by one constant, 0 of 24 pairs inside their brackets at
// a push gateway whose true TTC read 476 ms.
//
// wallClock watches the wall clock against the monotonic one while the drill runs and converts
// a wall instant back to the monotonic timeline. It keeps segments over which the difference
// (wall − monotonic) held still, within wallTolerance: inside a segment the conversion is exact;
// an instant that falls in the gap between two segments (a step happened between two samples)
// is placed in the gap, with the gap as its uncertainty. Samples are taken every wallSampleEvery
// and the segments hold only the changes, so a long drill on a steady clock keeps one segment.
//
// Components on the same machine share its wall clock, which is the case it corrects (the docker
// runtime publishes containers on 127.0.0.1). A component on another host with its own clock
// offset is not corrected by this.
type wallClock struct {
	anchor time.Time // has a monotonic reading; offsets below are from it

	mu   sync.Mutex
	segs []wallSegment
	stop chan struct{}
	done chan struct{}
}

// wallSegment: for monotonic offsets in [from, to], wall offset = monotonic offset + delta.
type wallSegment struct {
	from, to, delta time.Duration
}

const (
	wallSampleEvery = 10 * time.Millisecond
	// wallTolerance is how far the difference may move before a new segment begins: slewing
	// (at most 500 ppm) moves it that far in 0.4 s, a step at once.
	wallTolerance = 200 * time.Microsecond
)

func newWallClock() *wallClock {
	c := &wallClock{anchor: time.Now()}
	c.observe(0, 0)
	return c
}

// start samples until stop is called.
func (c *wallClock) start() {
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(wallSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				c.sample()
				return
			case <-t.C:
				c.sample()
			}
		}
	}()
}

func (c *wallClock) halt() {
	if c.stop != nil {
		close(c.stop)
		<-c.done
		c.stop = nil
	}
}

func (c *wallClock) sample() {
	now := time.Now()
	c.observe(now.Sub(c.anchor), now.Round(0).Sub(c.anchor.Round(0)))
}

// observe records that at monotonic offset mono the wall clock read wall (both from anchor).
func (c *wallClock) observe(mono, wall time.Duration) {
	delta := wall - mono
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.segs); n > 0 {
		last := &c.segs[n-1]
		if d := delta - last.delta; d <= wallTolerance && d >= -wallTolerance {
			last.to = mono
			return
		}
	}
	c.segs = append(c.segs, wallSegment{from: mono, to: mono, delta: delta})
}

// since returns the monotonic offset of the wall instant at from ref (a time with a monotonic
// reading, such as the start of traffic), and how uncertain it is: 0 inside a segment, the gap
// when the wall clock was stepped between the two samples around it.
func (c *wallClock) since(at, ref time.Time) (time.Duration, time.Duration) {
	w := at.Round(0).Sub(c.anchor.Round(0))
	shift := ref.Sub(c.anchor)
	c.mu.Lock()
	defer c.mu.Unlock()
	segs := c.segs
	if len(segs) == 0 {
		return at.Sub(ref), 0
	}
	// The first segment whose wall range ends at or after w (wall ranges increase unless the
	// clock was stepped back, when the first match is taken).
	k := sort.Search(len(segs), func(i int) bool { return segs[i].to+segs[i].delta >= w })
	switch {
	case k == len(segs): // after the last sample: the last difference holds
		return w - segs[k-1].delta - shift, 0
	case w >= segs[k].from+segs[k].delta || k == 0: // inside segment k, or before the first
		return w - segs[k].delta - shift, 0
	}
	// In the gap between segment k-1 and k: the wall clock was stepped in between.
	lo, hi := segs[k-1].to, segs[k].from
	m := min(max(w-segs[k-1].delta, lo), hi)
	return m - shift, hi - lo
}

// wallStep is the least move counted as a step in the report (slewing makes smaller ones).
const wallStep = time.Millisecond

// steps returns how many times the wall clock was stepped against the monotonic clock (by
// wallStep or more) and the largest move, for the report.
func (c *wallClock) steps() (int, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, largest := 0, time.Duration(0)
	for i := 1; i < len(c.segs); i++ {
		d := c.segs[i].delta - c.segs[i-1].delta
		d = max(d, -d)
		if d >= wallStep {
			n++
		}
		largest = max(largest, d)
	}
	return n, largest
}
