package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Split divides n identities between victims and controls in proportion, each side getting at
// least one when n >= 2 and both sides have tokens.
func Split(n, victims, controls int) (v, c int) {
	if n < 1 {
		n = 1
	}
	if controls == 0 || n == 1 {
		return n, 0
	}
	if victims == 0 {
		return 0, n
	}
	v = n * victims / (victims + controls)
	v = max(1, min(n-1, v))
	return v, n - v
}

// Pick returns the index, among n identities split nv:nc, of the identity the i-th victim (or
// control) is issued to: victims cycle over the first nv, controls over the last nc.
func Pick(nv, nc, i int, victim bool) int {
	if victim || nc == 0 {
		return i % max(1, nv)
	}
	return nv + i%nc
}

// ForEach runs fn for 0..n-1 with at most conc in flight, stopping early when ctx ends; it
// returns the errors joined (at most 5 kept, then a count).
func ForEach(ctx context.Context, n, conc int, fn func(context.Context, int) error) error {
	if conc <= 0 {
		conc = 1
	}
	var (
		mu     sync.Mutex
		errs   []error
		failed int
		wg     sync.WaitGroup
		sem    = make(chan struct{}, conc)
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return errors.Join(append(errs, ctx.Err())...)
		}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				mu.Lock()
				failed++
				if len(errs) < 5 {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if failed > len(errs) {
		errs = append(errs, fmt.Errorf("and %d more failures", failed-len(errs)))
	}
	return errors.Join(errs...)
}
