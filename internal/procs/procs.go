// Package procs gives the Go scheduler headroom while a system under test runs in the harness's
// own process (the embedded runtime).
//
// Probes are network I/O: each one wakes several goroutines in turn (the pacer, a vegeta
// worker, the gateway's handler, the upstream, the client's reader). With GOMAXPROCS equal to
// the cores, a burst of CPU-bound work in the system under test — the push gateway decoding one
// event of 20,000 recalls, the issuer publishing it, the harness registering 20,000
// acknowledgements — can hold every P for tens of milliseconds. Go runs such goroutines in 10 ms
// slices and polls the network only between them, so every probe in flight, at every component,
// waits: on 2 cores the drill sent no probe for 35–55 ms right after the acknowledgement of a
// 20,000-credential recall, and the push gateway's brackets grew to 125–145 ms for a 52–90 ms
// revisit interval. A system in its own process or container is not starved that way: the
// kernel time-slices threads far more finely. Giving the process a few Ps more than it has
// cores hands that slicing back to the kernel while the stack shares the process
// (docs/measurement.md, "The in-process stack and the Go scheduler").
package procs

import (
	"os"
	goruntime "runtime"
	"sync"
)

// Extra is how many Ps beyond the cores [Headroom] asks for: more than the CPU-bound goroutines
// the reference stack runs at once during a recall (about four), so some P is always free to
// run the probes' I/O.
const Extra = 6

var (
	mu   sync.Mutex
	held int
	prev int
)

// Headroom raises GOMAXPROCS to NumCPU+Extra until release is called, unless the GOMAXPROCS
// environment variable is set (the user's choice wins; procs is then 0). Calls nest: the value
// before the first is restored when the last is released. procs is the value in effect.
func Headroom() (procs int, release func()) {
	if os.Getenv("GOMAXPROCS") != "" {
		return 0, func() {}
	}
	mu.Lock()
	defer mu.Unlock()
	want := goruntime.NumCPU() + Extra
	if held == 0 {
		prev = goruntime.GOMAXPROCS(0)
		if want > prev {
			goruntime.GOMAXPROCS(want)
		}
	}
	held++
	var once sync.Once
	return goruntime.GOMAXPROCS(0), func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			if held--; held == 0 {
				goruntime.GOMAXPROCS(prev)
			}
		})
	}
}
