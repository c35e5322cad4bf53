package gateway

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a component's Prometheus metrics, all labelled component=<Name>. Names below are
// given for the default namespace "gateway".
type metrics struct {
	reg *prometheus.Registry // private: served at /metrics

	requests       *prometheus.CounterVec // gateway_requests_total{result}
	duration       prometheus.Histogram   // gateway_request_duration_seconds (authentication only)
	recallsApplied prometheus.Counter     // gateway_recalls_applied_total
	listVersion    prometheus.Gauge       // gateway_revocation_list_version
	cacheHits      *prometheus.CounterVec // gateway_cache_hits_total{cache}
	cacheMisses    *prometheus.CounterVec // gateway_cache_misses_total{cache}
	introspections *prometheus.CounterVec // gateway_introspections_total{outcome}
	jwksRefreshes  *prometheus.CounterVec // gateway_jwks_refreshes_total{outcome}
	failOpen       prometheus.Counter     // gateway_fail_open_accepts_total
	syncFailures   prometheus.Counter     // gateway_sync_failures_total
	busConnected   prometheus.Gauge       // gateway_bus_connected
	upstreamErrors prometheus.Counter     // gateway_upstream_errors_total
	upstreamShed   prometheus.Counter     // gateway_upstream_shed_total
}

func newMetrics(cfg Config) *metrics {
	ns := cfg.MetricsNamespace
	cl := prometheus.Labels{"component": cfg.Name}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: ns, Name: name, Help: help, ConstLabels: cl}
	}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts(opts("requests_total",
			"Authenticated requests by result: accept, reject (401) or error (503).")), []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "auth_duration_seconds",
			Help: "Time spent authenticating a request (validation and revocation check).", ConstLabels: cl,
			Buckets: []float64{.00001, .00003, .0001, .0003, .001, .003, .01, .03, .1, .3, 1, 3}}),
		recallsApplied: prometheus.NewCounter(prometheus.CounterOpts(opts("recalls_applied_total",
			"Recall rules applied that changed what is recalled."))),
		listVersion: prometheus.NewGauge(prometheus.GaugeOpts(opts("revocation_list_version",
			"Highest revocation list version held."))),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts(opts("cache_hits_total",
			"Cache hits by cache: verified (signature cache) or introspection.")), []string{"cache"}),
		cacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts(opts("cache_misses_total",
			"Cache misses by cache: verified (signature cache) or introspection.")), []string{"cache"}),
		introspections: prometheus.NewCounterVec(prometheus.CounterOpts(opts("introspections_total",
			"Introspection calls by outcome: active, inactive or error.")), []string{"outcome"}),
		jwksRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts(opts("jwks_refreshes_total",
			"JWKS fetches by outcome: ok or error.")), []string{"outcome"}),
		failOpen: prometheus.NewCounter(prometheus.CounterOpts(opts("fail_open_accepts_total",
			"Requests accepted on signature alone because the revocation source was unreachable."))),
		syncFailures: prometheus.NewCounter(prometheus.CounterOpts(opts("sync_failures_total",
			"Failed revocation list fetches and undecodable bus events."))),
		busConnected: prometheus.NewGauge(prometheus.GaugeOpts(opts("bus_connected",
			"1 while the NATS connection is up (push only)."))),
		upstreamErrors: prometheus.NewCounter(prometheus.CounterOpts(opts("upstream_errors_total",
			"Accepted requests the upstream could not answer (502)."))),
		upstreamShed: prometheus.NewCounter(prometheus.CounterOpts(opts("upstream_shed_total",
			"Accepted requests answered 503 because UpstreamMaxInflight requests were already proxied."))),
	}
	for _, r := range []string{string(Accept), string(Reject), string(Error)} {
		m.requests.WithLabelValues(r)
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.duration, m.recallsApplied, m.listVersion, m.cacheHits,
		m.cacheMisses, m.introspections, m.jwksRefreshes, m.failOpen, m.syncFailures, m.busConnected,
		m.upstreamErrors, m.upstreamShed}
}

// register registers every collector (plus extra) in the private registry and, when not nil, in
// reg.
func (m *metrics) register(reg prometheus.Registerer, extra ...prometheus.Collector) error {
	cs := append(m.collectors(), extra...)
	var errs []error
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			errs = append(errs, err)
		}
		if reg != nil {
			if err := reg.Register(c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// unregister removes the collectors from reg (so that a component can be restarted with the same
// name on a shared registry).
func (m *metrics) unregister(reg prometheus.Registerer, extra ...prometheus.Collector) {
	if reg == nil {
		return
	}
	for _, c := range append(m.collectors(), extra...) {
		reg.Unregister(c)
	}
}
