package drill

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/report"
)

// TestHoldEndSettle: with traffic.settle, the load outlives its planned end while a component
// that has begun enforcing still honours some recalled pairs, and ends once they converge;
// a component that converged none (jwt-only) holds nothing, and Settle bounds the hold.
func TestHoldEndSettle(t *testing.T) {
	const victims = 4
	setup := func(settle time.Duration) (*drill, *Tracker) {
		tr := NewTracker(TrackerConfig{Components: []string{"push", "jwt"}, Victims: victims, Controls: 1, MaxLag: time.Millisecond})
		d := &drill{plan: &Plan{Traffic: Traffic{Settle: settle}}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), tr: tr, began: time.Now()}
		for c := range 2 {
			for tok := range victims {
				tr.Observe(Observation{Component: c, Token: tok, Sent: time.Millisecond, Outcome: Accept})
			}
		}
		tr.SetTrigger(10 * time.Millisecond)
		for tok := range victims {
			tr.Recalled(tok, 10*time.Millisecond, 11*time.Millisecond)
		}
		return d, tr
	}
	reject := func(tr *Tracker, tok int, at time.Duration) {
		tr.Observe(Observation{Component: 0, Token: tok, Sent: at, Outcome: Reject})
	}
	ended := func(ctx context.Context, within time.Duration) bool {
		select {
		case <-ctx.Done():
			return true
		case <-time.After(within):
			return false
		}
	}

	t.Run("held until converged", func(t *testing.T) {
		d, tr := setup(time.Minute)
		reject(tr, 0, 20*time.Millisecond) // push begins enforcing: 1 of 4
		var done atomic.Bool
		done.Store(true)
		var wg sync.WaitGroup
		ctx, bound := d.holdEnd(context.Background(), context.Background(), 100*time.Millisecond, new(atomic.Int64), &done, &wg)
		if bound != 100*time.Millisecond+time.Minute {
			t.Errorf("bound %v, want loadFor + settle", bound)
		}
		if ended(ctx, 700*time.Millisecond) {
			t.Fatal("the load ended with 3 of push's 4 recalled pairs not converged")
		}
		for tok := 1; tok < victims; tok++ {
			reject(tr, tok, 30*time.Millisecond)
		}
		if !ended(ctx, 30*time.Second) {
			t.Fatal("the load still runs after every pair converged")
		}
		wg.Wait()
	})
	t.Run("held while the recall runs", func(t *testing.T) {
		d, tr := setup(time.Minute)
		for tok := range victims {
			reject(tr, tok, 20*time.Millisecond)
		}
		var done atomic.Bool
		var wg sync.WaitGroup
		ctx, _ := d.holdEnd(context.Background(), context.Background(), 50*time.Millisecond, new(atomic.Int64), &done, &wg)
		if ended(ctx, 600*time.Millisecond) {
			t.Fatal("the load ended before the recall returned")
		}
		done.Store(true)
		if !ended(ctx, 30*time.Second) {
			t.Fatal("the load still runs after the recall returned")
		}
		wg.Wait()
	})
	// endsAfter runs holdEnd with the recall returned and a 50 ms planned end, and checks that
	// the load ends, no sooner than least after the start of traffic.
	endsAfter := func(t *testing.T, d *drill, least time.Duration, what string) {
		t.Helper()
		var done atomic.Bool
		done.Store(true)
		var wg sync.WaitGroup
		ctx, _ := d.holdEnd(context.Background(), context.Background(), 50*time.Millisecond, new(atomic.Int64), &done, &wg)
		if !ended(ctx, 30*time.Second) {
			t.Fatal(what)
		}
		if el := time.Since(d.began); el < least {
			t.Errorf("ended %v after the start of traffic, before %v", el, least)
		}
		wg.Wait()
	}
	t.Run("nothing converged holds nothing", func(t *testing.T) {
		d, _ := setup(time.Minute)
		endsAfter(t, d, 50*time.Millisecond, "held for components that converged nothing")
	})
	t.Run("bounded by settle", func(t *testing.T) {
		d, tr := setup(300 * time.Millisecond)
		reject(tr, 0, 20*time.Millisecond)
		endsAfter(t, d, 350*time.Millisecond, "settle did not bound the hold")
	})
	t.Run("interrupt ends it", func(t *testing.T) {
		d, tr := setup(time.Minute)
		reject(tr, 0, 20*time.Millisecond)
		var done atomic.Bool
		done.Store(true)
		var wg sync.WaitGroup
		tctx, cancel := context.WithCancel(context.Background())
		ctx, _ := d.holdEnd(tctx, tctx, time.Hour, new(atomic.Int64), &done, &wg)
		cancel()
		if !ended(ctx, 30*time.Second) {
			t.Fatal("cancelling traffic did not end the load")
		}
		wg.Wait()
	})
}

// TestWaitForBaseline: with recall.wait_for_baseline the recall waits past recall.at until every
// probed victim pair has an accept at each component that accepted any (a component that
// accepted none is not waited for), at most the hold; the end of traffic moves by the hold.
func TestWaitForBaseline(t *testing.T) {
	const victims = 3
	setup := func(hold time.Duration) (*drill, *Tracker) {
		tr := NewTracker(TrackerConfig{Components: []string{"push", "down"}, Victims: victims, Controls: 1, MaxLag: time.Millisecond})
		d := &drill{plan: &Plan{Recall: Recall{At: 10 * time.Millisecond, WaitForBaseline: hold}, Traffic: Traffic{Duration: 50 * time.Millisecond}},
			log: slog.New(slog.NewTextHandler(io.Discard, nil)), tr: tr, began: time.Now(), rep: &report.Report{}}
		tr.Observe(Observation{Component: 0, Token: 0, Sent: time.Millisecond, Outcome: Accept})
		return d, tr
	}
	waited := func(d *drill) (chan bool, time.Time) {
		out := make(chan bool, 1)
		start := time.Now()
		go func() { out <- d.waitForBaseline(context.Background()) }()
		return out, start
	}
	t.Run("held until complete", func(t *testing.T) {
		d, tr := setup(time.Minute)
		res, _ := waited(d)
		select {
		case <-res:
			t.Fatal("the recall fired with 2 of push's 3 victim pairs never seen accepted")
		case <-time.After(500 * time.Millisecond):
		}
		for tok := 1; tok < victims; tok++ {
			tr.Observe(Observation{Component: 0, Token: tok, Sent: 2 * time.Millisecond, Outcome: Accept})
		}
		select {
		case ok := <-res:
			if !ok {
				t.Fatal("waitForBaseline said the drill was interrupted")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("still holding with the baseline complete")
		}
		if d.rep.Recall.HeldForBaselineMS < 500 {
			t.Errorf("held_for_baseline_ms %.0f, want the hold (>= 500)", d.rep.Recall.HeldForBaselineMS)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		d, _ := setup(300 * time.Millisecond)
		res, start := waited(d)
		select {
		case <-res:
		case <-time.After(30 * time.Second):
			t.Fatal("the hold is not bounded")
		}
		if el := time.Since(start); el < 300*time.Millisecond {
			t.Errorf("fired after %v, before the hold ran out with pairs missing", el)
		}
	})
	t.Run("end moves with the hold", func(t *testing.T) {
		d, _ := setup(time.Minute)
		var fired atomic.Int64
		var done atomic.Bool
		done.Store(true)
		var wg sync.WaitGroup
		ctx, bound := d.holdEnd(context.Background(), context.Background(), 50*time.Millisecond, &fired, &done, &wg)
		if bound != 50*time.Millisecond+time.Minute {
			t.Errorf("bound %v, want loadFor + the hold", bound)
		}
		select {
		case <-ctx.Done():
			t.Fatal("traffic ended before the held recall fired")
		case <-time.After(400 * time.Millisecond):
		}
		// The recall fires 600 ms late: traffic must last until Duration + 600 ms at least.
		fired.Store(int64(610 * time.Millisecond))
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("traffic never ended")
		}
		if el := time.Since(d.began); el < 650*time.Millisecond {
			t.Errorf("traffic ended %v after its start, before duration + the recall's delay (650ms)", el)
		}
		wg.Wait()
	})
}
