package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestTag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		tag uint64
	}{{"http://127.0.0.1:1/api/whoami", 0}, {"http://h/x?q=1", 1<<40 + 7}} {
		got, ok := TagOf(Tag(tc.url, tc.tag))
		if !ok || got != tc.tag {
			t.Errorf("TagOf(Tag(%q, %d)) = %d, %v", tc.url, tc.tag, got, ok)
		}
	}
	if _, ok := TagOf("http://h/x"); ok {
		t.Error("TagOf of an untagged URL reported a tag")
	}
}

// TestRampPacer drives the pacer as vegeta does (pure function of elapsed and hits) and checks
// the number of hits due at several instants against the closed-form integral.
func TestRampPacer(t *testing.T) {
	t.Parallel()
	r := Ramp{From: 100, To: 1100, For: 2 * time.Second}
	var hits uint64
	elapsed := time.Duration(0)
	checks := map[time.Duration]float64{
		time.Second:     350,  // 100*1 + (1000/2)*1*1/2
		2 * time.Second: 1200, // (100+1100)/2*2
		3 * time.Second: 2300, // + 1100*1
	}
	for elapsed <= 3*time.Second {
		wait, stop := r.Pace(elapsed, hits)
		if stop {
			t.Fatal("ramp stopped")
		}
		if wait == 0 {
			hits++
			continue
		}
		for at, want := range checks {
			if elapsed < at && elapsed+wait >= at {
				if d := float64(hits) - want; d < -1 || d > 1 {
					t.Errorf("hits by %v = %d, want %.0f±1", at, hits, want)
				}
			}
		}
		elapsed += wait
	}
	if got := r.Rate(time.Second); got != 600 {
		t.Errorf("Rate(1s) = %v, want 600", got)
	}
}

func TestPacerFractional(t *testing.T) {
	t.Parallel()
	p := Pacer(2.5, 0, 0).(vegeta.ConstantPacer)
	if got := float64(p.Freq) / p.Per.Seconds(); got != 2.5 {
		t.Errorf("Pacer(2.5) = %v/%v", p.Freq, p.Per)
	}
}

// TestAttackAttributesAndStops checks that every result comes back with its tag, that the
// fragment never reaches the server, and that cancelling the context ends the attack early.
func TestAttackAttributesAndStops(t *testing.T) {
	t.Parallel()
	var served, fragments atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.URL.Fragment != "" || r.RequestURI != "/probe" {
			fragments.Add(1)
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()

	var next atomic.Uint64
	tr := func(tgt *vegeta.Target) error {
		tgt.Method = http.MethodGet
		tgt.URL = Tag(srv.URL+"/probe", next.Add(1))
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	seen := map[uint64]bool{}
	var results int
	Attack(ctx, tr, Pacer(500, 0, 0), Options{Duration: 10 * time.Second, Timeout: time.Second}, func(r *vegeta.Result) {
		results++
		tag, ok := TagOf(r.URL)
		if !ok || seen[tag] {
			t.Errorf("result %d: tag %d ok=%v duplicate=%v", results, tag, ok, seen[tag])
		}
		seen[tag] = true
		if r.Code != http.StatusUnauthorized {
			t.Errorf("code %d", r.Code)
		}
		if results == 100 {
			cancel()
		}
	})
	cancel()
	if results < 100 || results > 200 {
		t.Errorf("results = %d, want the attack to stop soon after 100", results)
	}
	if fragments.Load() != 0 {
		t.Errorf("%d requests carried the fragment or a changed URI", fragments.Load())
	}
	if int64(results) != served.Load() {
		t.Errorf("results %d != requests served %d", results, served.Load())
	}
}

// TestAttackIsolatesGroups: targets alternate between a server that never answers and one that
// answers at once, sharing 2 workers per group. The hanging group holds its 2 workers and the
// rest of its requests fail at once with ErrSaturated, unsent; every request of the fast group
// is answered, none saturated. Without isolation the hanging requests would hold every worker.
func TestAttackIsolatesGroups(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer fast.Close()
	var n atomic.Uint64
	tr := func(tgt *vegeta.Target) error {
		i := n.Add(1)
		tgt.Method = http.MethodGet
		if i%2 == 0 {
			tgt.URL = Tag(hang.URL, i)
		} else {
			tgt.URL = Tag(fast.URL, i)
		}
		return nil
	}
	var fastOK, fastOther, hangSaturated, hangOther int
	Attack(context.Background(), tr, vegeta.ConstantPacer{Freq: 200, Per: time.Second},
		Options{Workers: 2, Timeout: 10 * time.Second, Duration: time.Second,
			Groups: []Group{{Workers: 2}, {Workers: 2, Timeout: 500 * time.Millisecond}},
			Group:  func(tag uint64) int { return int(tag % 2) }},
		func(r *vegeta.Result) {
			tag, _ := TagOf(r.URL)
			switch {
			case tag%2 == 1 && r.Code == http.StatusOK:
				fastOK++
			case tag%2 == 1:
				fastOther++
			case Saturated(r):
				hangSaturated++
			default:
				hangOther++
			}
		})
	if fastOther != 0 || fastOK < 20 {
		t.Errorf("fast group: %d answered, %d not: want every request answered", fastOK, fastOther)
	}
	if hangSaturated < 20 || hangOther > 10 {
		t.Errorf("hanging group: %d saturated, %d sent (timed out): want at most a few sent", hangSaturated, hangOther)
	}
}
