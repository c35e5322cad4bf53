package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/recall-drills/recall/internal/drill"
)

// gatewayLike serves metrics shaped like the reference gateway's, and counts scrapes.
func gatewayLike(t *testing.T) (*httptest.Server, *prometheus.Registry, *atomic.Int64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cl := prometheus.Labels{"component": "edge"}
	version := prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_revocation_list_version", Help: "v", ConstLabels: cl})
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_cache_hits_total", Help: "h", ConstLabels: cl}, []string{"cache"})
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_requests_total", Help: "not kept", ConstLabels: cl})
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gateway_rules_held", Help: "a histogram is never kept"})
	reg.MustRegister(version, hits, other, hist)
	version.Set(7)
	hits.WithLabelValues("verified").Add(3)
	var n atomic.Int64
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, reg, &n
}

func TestScrape(t *testing.T) {
	t.Parallel()
	gw, _, _ := gatewayLike(t)
	var bus atomic.Int64
	noMetrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bus.Add(1)
		http.NotFound(w, r)
	}))
	defer noMetrics.Close()
	endpoints := map[string]string{"edge": gw.URL + "/", "bus": noMetrics.URL}
	s := NewScraper([]string{"edge", "bus", "external"}, func(c string) (*url.URL, error) {
		if e, ok := endpoints[c]; ok {
			return url.Parse(e)
		}
		return nil, errors.New("no endpoint")
	})
	s.Scrape(context.Background(), 1500*time.Millisecond)
	s.Scrape(context.Background(), 2500*time.Millisecond)
	got, dropped := s.Samples()
	if dropped != 0 || len(got) != 4 {
		t.Fatalf("got %d samples (%d dropped), want 4: %+v", len(got), dropped, got)
	}
	// Sorted by name within a scrape; the component label moves to Component.
	hit, ver := got[0], got[1]
	if hit.Name != "gateway_cache_hits_total" || hit.Component != "edge" || hit.Value != 3 || hit.Labels["cache"] != "verified" || len(hit.Labels) != 1 || hit.AtMS != 1500 {
		t.Errorf("cache hits sample %+v", hit)
	}
	if ver.Name != "gateway_revocation_list_version" || ver.Value != 7 || ver.Labels != nil {
		t.Errorf("list version sample %+v", ver)
	}
	if got[3].AtMS != 2500 {
		t.Errorf("second scrape at %v ms", got[3].AtMS)
	}
	if bus.Load() != 1 {
		t.Errorf("a component without /metrics was asked %d times, want once", bus.Load())
	}
}

func TestScraperObserve(t *testing.T) {
	t.Parallel()
	gw, _, scrapes := gatewayLike(t)
	s := NewScraper([]string{"edge"}, func(string) (*url.URL, error) { return url.Parse(gw.URL) }, ScrapeEvery(5*time.Second))
	ctx := context.Background()
	for _, tc := range []struct {
		phase   string
		elapsed time.Duration
		scrapes int64
	}{
		{drill.PhaseBaseline, 1 * time.Second, 1}, // first call: the system is up
		{drill.PhaseBaseline, 2 * time.Second, 1},
		{drill.PhaseBaseline, 5 * time.Second, 1},
		{drill.PhaseRecall, 5500 * time.Millisecond, 2}, // the phase changed
		{drill.PhaseRecall, 10 * time.Second, 2},
		{drill.PhaseRecall, 10500 * time.Millisecond, 3}, // 5 s since the last
	} {
		s.Observe(ctx, drill.Live{Phase: tc.phase, Elapsed: tc.elapsed})
		s.Wait()
		if got := scrapes.Load(); got != tc.scrapes {
			t.Fatalf("after %s at %v: %d scrapes, want %d", tc.phase, tc.elapsed, got, tc.scrapes)
		}
	}
	samples, _ := s.Samples()
	if len(samples) != 6 || samples[len(samples)-1].AtMS != 10500 {
		t.Errorf("%d samples, last %+v", len(samples), samples[len(samples)-1])
	}
}

// TestScraperKeepsCap: past the cap, samples are counted as dropped, not kept.
func TestScraperKeepsCap(t *testing.T) {
	t.Parallel()
	gw, _, _ := gatewayLike(t)
	s := NewScraper([]string{"edge"}, func(string) (*url.URL, error) { return url.Parse(gw.URL) }, Keep("_total"))
	s.maxSamples = 3
	for i := range 3 {
		s.Scrape(context.Background(), time.Duration(i)*time.Second)
	}
	got, dropped := s.Samples()
	// Each scrape has two *_total series: gateway_cache_hits_total and gateway_requests_total.
	if len(got) != 3 || dropped != 3 {
		t.Errorf("kept %d, dropped %d; want 3 and 3", len(got), dropped)
	}
}
