package metrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/report"
)

// Scraper defaults.
const (
	// DefaultScrapeEvery is how often Scraper.Observe scrapes the components.
	DefaultScrapeEvery = 5 * time.Second
	// DefaultScrapeTimeout bounds one component's scrape.
	DefaultScrapeTimeout = 2 * time.Second
	// DefaultMaxSamples caps the samples kept for the report.
	DefaultMaxSamples = 5000
	// DefaultMaxBodyBytes caps what is read of one /metrics answer.
	DefaultMaxBodyBytes = 4 << 20
)

// DefaultKeep lists the suffixes of the metric names a Scraper keeps: what says whether and
// when a recall reached a component, whatever its metrics namespace.
var DefaultKeep = []string{
	"revocation_list_version", // the list version held
	"rules_held",              // recall rules held by a gateway or service
	"issuer_rules",            // recall rules held by the issuer
	"recalls_applied_total",   // rules applied that changed what is recalled
	"rules_applied_total",
	"cache_hits_total",
	"cache_misses_total",
	"fail_open_accepts_total", // accepted on signature alone, revocation source unreachable
}

// EndpointFunc resolves a component's base URL as reached from the harness.
type EndpointFunc func(component string) (*url.URL, error)

// Scraper reads the components' own /metrics during a drill and keeps selected series for the
// report (report.Report.SystemMetrics). Observe is meant to be called from the drill's progress
// callback: it scrapes on its first call (the system is up by then), every DefaultScrapeEvery
// after that, and when the phase changes, in the background so as not to hold the callback.
// A component whose /metrics cannot be read or parsed is not asked again.
type Scraper struct {
	components []string
	endpoint   EndpointFunc
	client     *http.Client
	every      time.Duration
	timeout    time.Duration
	keep       []string
	maxSamples int
	log        *slog.Logger

	wg      sync.WaitGroup
	mu      sync.Mutex
	busy    bool
	started bool
	lastAt  time.Duration
	phase   string
	skip    map[string]bool
	samples []report.MetricSample
	dropped int
}

// ScraperOption configures NewScraper.
type ScraperOption func(*Scraper)

// ScrapeEvery sets the scrape interval (default DefaultScrapeEvery).
func ScrapeEvery(d time.Duration) ScraperOption { return func(s *Scraper) { s.every = d } }

// ScrapeTimeout bounds each component's scrape (default DefaultScrapeTimeout).
func ScrapeTimeout(d time.Duration) ScraperOption { return func(s *Scraper) { s.timeout = d } }

// ScrapeClient sets the HTTP client (default: a plain http.Client; ScrapeTimeout bounds each request).
func ScrapeClient(c *http.Client) ScraperOption { return func(s *Scraper) { s.client = c } }

// Keep sets the metric name suffixes kept (default DefaultKeep).
func Keep(suffixes ...string) ScraperOption { return func(s *Scraper) { s.keep = suffixes } }

// ScrapeLogger sets the logger (default: discard).
func ScrapeLogger(l *slog.Logger) ScraperOption { return func(s *Scraper) { s.log = l } }

// NewScraper returns a Scraper of components, found through endpoint.
func NewScraper(components []string, endpoint EndpointFunc, opts ...ScraperOption) *Scraper {
	s := &Scraper{components: components, endpoint: endpoint, client: noProxyClient(), every: DefaultScrapeEvery,
		timeout: DefaultScrapeTimeout, keep: DefaultKeep, maxSamples: DefaultMaxSamples,
		log: slog.New(slog.DiscardHandler), skip: map[string]bool{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Observe starts a background scrape when one is due (see Scraper). It never blocks on the
// network. Scrapes end with ctx.
func (s *Scraper) Observe(ctx context.Context, l drill.Live) {
	s.mu.Lock()
	due := !s.started || l.Elapsed-s.lastAt >= s.every || l.Phase != s.phase
	if !due || s.busy {
		s.mu.Unlock()
		return
	}
	s.started, s.busy, s.lastAt, s.phase = true, true, l.Elapsed, l.Phase
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.Scrape(ctx, l.Elapsed)
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
	}()
}

// Scrape reads every component's /metrics once, now, and records the kept series at the drill
// instant at.
func (s *Scraper) Scrape(ctx context.Context, at time.Duration) {
	for _, c := range s.components {
		s.mu.Lock()
		skip := s.skip[c]
		s.mu.Unlock()
		if skip || ctx.Err() != nil {
			continue
		}
		got, err := s.scrapeOne(ctx, c, at)
		s.mu.Lock()
		if err != nil {
			s.skip[c] = true
			s.log.Debug("not scraping a component's metrics", "component", c, "err", err)
		}
		for _, m := range got {
			if len(s.samples) >= s.maxSamples {
				s.dropped++
				continue
			}
			s.samples = append(s.samples, m)
		}
		s.mu.Unlock()
	}
}

func (s *Scraper) scrapeOne(ctx context.Context, component string, at time.Duration) ([]report.MetricSample, error) {
	base, err := s.endpoint(component)
	if err != nil {
		return nil, err
	}
	if base == nil {
		return nil, fmt.Errorf("no endpoint")
	}
	u := base.JoinPath("metrics")
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("GET %s: %s", u.Redacted(), resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, DefaultMaxBodyBytes))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	return s.selectSamples(fams, component, at), nil
}

// selectSamples keeps the counters, gauges and untyped series whose names end in a kept suffix.
func (s *Scraper) selectSamples(fams map[string]*dto.MetricFamily, component string, at time.Duration) []report.MetricSample {
	names := make([]string, 0, len(fams))
	for n := range fams {
		if s.kept(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []report.MetricSample
	for _, n := range names {
		for _, m := range fams[n].GetMetric() {
			var v float64
			switch {
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Untyped != nil:
				v = m.Untyped.GetValue()
			default:
				continue
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			var labels map[string]string
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "component" {
					continue
				}
				if labels == nil {
					labels = map[string]string{}
				}
				labels[lp.GetName()] = lp.GetValue()
			}
			out = append(out, report.MetricSample{Name: n, Component: component, Labels: labels, Value: v,
				AtMS: float64(at) / float64(time.Millisecond)})
		}
	}
	return out
}

func (s *Scraper) kept(name string) bool {
	for _, k := range s.keep {
		if strings.HasSuffix(name, k) {
			return true
		}
	}
	return false
}

// Wait waits for a scrape in flight.
func (s *Scraper) Wait() { s.wg.Wait() }

// Samples returns the samples kept so far, in scrape order, and how many were dropped over
// the cap.
func (s *Scraper) Samples() (samples []report.MetricSample, dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]report.MetricSample(nil), s.samples...), s.dropped
}

// noProxyClient ignores HTTP_PROXY and HTTPS_PROXY: the system's own /metrics are scraped
// directly, never through a proxy the environment names.
func noProxyClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	return &http.Client{Transport: tr}
}
