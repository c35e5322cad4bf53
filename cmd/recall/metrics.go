package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/metrics"
	"github.com/recall-drills/recall/report"
)

// observer wires run's --metrics-addr and --pushgateway, and the scrape of the system's own
// /metrics, around one drill.
type observer struct {
	log      *slog.Logger
	reg      *prometheus.Registry
	drill    *metrics.Drill
	srv      *metrics.Server // nil without --metrics-addr
	scraper  *metrics.Scraper
	push     string
	scenario string
}

// startObserver creates the drill's metrics in a fresh registry, serves them when addr is set,
// and prepares the scrape of p's components.
func startObserver(p *drill.Plan, scenario, addr, pushURL string, log *slog.Logger) (*observer, error) {
	ob := &observer{log: log, reg: prometheus.NewRegistry(), push: pushURL, scenario: scenario}
	var err error
	if ob.drill, err = metrics.New(ob.reg); err != nil {
		return nil, err
	}
	if addr != "" {
		if ob.srv, err = metrics.Listen(addr, ob.reg); err != nil {
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
		log.Info("serving live metrics", "url", "http://"+ob.srv.Addr()+"/metrics")
	}
	names := make([]string, len(p.Components))
	for i, c := range p.Components {
		names[i] = c.Name
	}
	ob.scraper = metrics.NewScraper(names, metrics.EndpointFunc(p.Env.Endpoint), metrics.ScrapeLogger(log))
	return ob, nil
}

// onProgress feeds each live snapshot to the metrics and the scraper, then to next (may be nil).
// The first snapshot comes once traffic runs, so the system is up when the scraper first asks.
func (ob *observer) onProgress(ctx context.Context, next func(drill.Live)) func(drill.Live) {
	return func(l drill.Live) {
		ob.drill.Observe(l)
		ob.scraper.Observe(ctx, l)
		if next != nil {
			next(l)
		}
	}
}

// finish records the final figures: the scraped series into rep, the report's figures into
// the metrics, and pushes them when --pushgateway is set. A failed push is logged; it does not
// change the drill's verdict.
func (ob *observer) finish(ctx context.Context, rep *report.Report) {
	ob.scraper.Wait()
	samples, dropped := ob.scraper.Samples()
	rep.SystemMetrics = samples
	if dropped > 0 {
		ob.log.Warn("system metrics: samples over the cap dropped", "kept", len(samples), "dropped", dropped)
	}
	ob.drill.Finish(rep)
	if ob.push == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), metrics.DefaultPushTimeout)
	defer cancel()
	if err := metrics.Push(ctx, ob.push, metrics.DefaultJob, ob.reg, map[string]string{"scenario": ob.scenario}); err != nil {
		ob.log.Error("pushing the final metrics failed", "err", err)
		return
	}
	ob.log.Info("pushed the final metrics", "pushgateway", ob.push, "job", metrics.DefaultJob, "scenario", ob.scenario)
}

// close stops serving the metrics.
func (ob *observer) close() {
	if ob.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ob.srv.Close(ctx); err != nil {
		ob.log.Debug("metrics server close", "err", err)
	}
}
