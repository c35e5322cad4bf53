package drill

import (
	"testing"
	"time"
)

// TestRateWindows: the rates around an instant are the probes sent in each window, per second,
// against probes placed at known offsets.
func TestRateWindows(t *testing.T) {
	t.Parallel()
	w := newRateWindows(3 * time.Second)
	// 30 probes a 100 ms window (300/s) from 0 to 1 s, none from 1 s to 1.2 s, 10 per window
	// (100/s) from 1.2 s to 2 s.
	for i := range 300 {
		w.add(time.Duration(i) * time.Second / 300)
	}
	for i := range 80 {
		w.add(1200*time.Millisecond + time.Duration(i)*10*time.Millisecond)
	}
	w.add(-time.Millisecond) // before the start: not counted
	w.add(time.Hour)         // past the span: not counted
	offs, perS := w.around(time.Second, 200*time.Millisecond, 400*time.Millisecond, rateWindowWidth)
	want := []float64{300, 300, 0, 0, 100, 100}
	if len(perS) != len(want) {
		t.Fatalf("got %v at %v, want %v", perS, offs, want)
	}
	for i := range want {
		if perS[i] != want[i] || offs[i] != time.Duration(i-2)*rateWindowWidth {
			t.Errorf("window %d: %v at %v, want %v at %v", i, perS[i], offs[i], want[i], time.Duration(i-2)*rateWindowWidth)
		}
	}
	if got := describeRates(offs[:2], perS[:2]); got != "-200ms:300 -100ms:300" {
		t.Errorf("describeRates: %q", got)
	}
	// A whole second before and after 1 s; a window reaching past the span or before the start
	// is left out.
	if _, r := w.around(time.Second, time.Second, 0, time.Second); len(r) != 1 || r[0] != 300 {
		t.Errorf("second before: %v, want [300]", r)
	}
	if _, r := w.around(time.Second, 0, time.Second, time.Second); len(r) != 1 || r[0] != 80 {
		t.Errorf("second after: %v, want [80]", r)
	}
	if o, r := w.around(500*time.Millisecond, time.Second, 0, time.Second); len(r) != 0 {
		t.Errorf("window before the start: %v at %v", r, o)
	}
	if o, r := w.around(2500*time.Millisecond, 0, time.Second, time.Second); len(r) != 0 {
		t.Errorf("window past the span: %v at %v", r, o)
	}
}
