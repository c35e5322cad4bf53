package runtime

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// WaitHTTP polls u until it answers want (any 2xx when want is 200), ctx ends, or the deadline
// of ctx passes; the last failure is returned. Runtimes use it to wait for a component's
// health path.
func WaitHTTP(ctx context.Context, c *http.Client, u string, want int) error {
	var last error
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want || (want == http.StatusOK && resp.StatusCode/100 == 2) {
				return nil
			}
			last = fmt.Errorf("GET %s: %s", u, resp.Status)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
}
