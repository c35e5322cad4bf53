package drill

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
)

// TestStoreMinRaced races storeMin from many goroutines, as the RFC 7009 workers race the first
// acknowledgement. Each goroutine lowers the value through its own descending sequence; only
// goroutine 0 ever offers 0. With a compare-and-swap loop the value never rises and ends at 0.
// A load, compare and store loses updates here: a goroutine that loaded before another stored
// a smaller value overwrites it, so an observer sees the value rise, or the minimum is lost.
func TestStoreMinRaced(t *testing.T) {
	t.Parallel()
	const goroutines, steps, rounds = 4, 50000, 50
	for r := range rounds {
		var v atomic.Int64
		v.Store(math.MaxInt64)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			done  atomic.Bool
			rose  atomic.Int64 // the first rise seen by the observer, +1; 0: none
		)
		wg.Add(goroutines)
		for g := range goroutines {
			go func() {
				defer wg.Done()
				<-start
				for i := steps - 1; i >= 0; i-- {
					storeMin(&v, int64(i*goroutines+g))
				}
			}()
		}
		observed := make(chan struct{})
		go func() {
			defer close(observed)
			<-start
			last := int64(math.MaxInt64)
			for !done.Load() {
				cur := v.Load()
				if cur > last && rose.Load() == 0 {
					rose.Store(last + 1)
				}
				last = cur
			}
		}()
		close(start)
		wg.Wait()
		done.Store(true)
		<-observed
		if got := v.Load(); got != 0 {
			t.Fatalf("round %d: after every goroutine offered its values the minimum is %d, want 0 (a smaller value was overwritten)", r, got)
		}
		if x := rose.Load(); x != 0 {
			t.Fatalf("round %d: the value rose from %d: a later, larger value overwrote a smaller one", r, x-1)
		}
	}
}
