// Package metrics exposes a running drill as Prometheus metrics, pushes the final figures to a
// Pushgateway, and scrapes the system's own /metrics during the drill for the report.
//
// Every metric lives in a registry passed in, never the global one. Names carry their units.
// Live figures come from drill.Live snapshots (about one a second); the TTC histogram, the TTC
// statistics, the verdict and the faults come from the final report:
//
//	recall_drill_phase{phase}                       1 for the current phase, 0 for the others
//	recall_drill_elapsed_seconds                    time since the start of traffic
//	recall_probes_per_second                        achieved probe rate over the last second
//	recall_probes_total{component,outcome}          probes by outcome: accept, reject, error
//	recall_stale_accepts_total{component}           probes sent after the recall and accepted
//	recall_false_rejects_total{component}           control credentials rejected
//	recall_resurrections_total{component}           recalled credentials accepted again after a reject
//	recall_pairs_recalled{component}                pairs whose recall is acknowledged
//	recall_pairs_not_converged{component}           of those, pairs still accepted
//	recall_faults_active                            faults injected and not reverted
//	recall_faults_total                             faults injected (set at the end)
//	recall_ttc_seconds{component}                   histogram of TTC upper bounds (at the end)
//	recall_ttc_upper_bound_seconds{component,stat}  p50, p90, p99, max of the TTC (at the end)
//	recall_drill_verdict{verdict}                   1 for PASS, FAIL or ERROR once the drill ended
//	recall_drill_finished_timestamp_seconds         when the drill ended (Unix time)
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/report"
)

// Namespace prefixes every metric of a drill.
const Namespace = "recall"

// Outcomes are the values of the outcome label of recall_probes_total.
var Outcomes = []string{"accept", "reject", "error"}

// Phases are the values of the phase label of recall_drill_phase, in drill order.
var Phases = []string{drill.PhaseStart, drill.PhaseMint, drill.PhaseBaseline, drill.PhaseRecall, drill.PhaseObserve, drill.PhaseReport}

// Verdicts are the values of the verdict label of recall_drill_verdict.
var Verdicts = []string{report.Pass, report.Fail, report.Error}

// TTCStats are the values of the stat label of recall_ttc_upper_bound_seconds.
var TTCStats = []string{"p50", "p90", "p99", "max"}

// DefaultTTCBuckets are the upper bounds, in seconds, of the TTC histogram's buckets: from a
// push that lands in a millisecond to a cache that holds a credential for minutes.
var DefaultTTCBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Drill holds one drill's metrics. Observe and Finish may be called from any goroutine.
type Drill struct {
	mu   sync.Mutex
	last map[string]drill.ComponentProgress // previous snapshot, for counter increments

	phase        *prometheus.GaugeVec
	elapsed      prometheus.Gauge
	rate         prometheus.Gauge
	probes       *prometheus.CounterVec
	stale        *prometheus.CounterVec
	falseRejects *prometheus.CounterVec
	resurrect    *prometheus.CounterVec
	recalled     *prometheus.GaugeVec
	notConverged *prometheus.GaugeVec
	faultsActive prometheus.Gauge
	faults       prometheus.Gauge
	ttc          *prometheus.HistogramVec
	ttcStat      *prometheus.GaugeVec
	verdict      *prometheus.GaugeVec
	finished     prometheus.Gauge
}

// Option configures New.
type Option func(*options)

type options struct {
	buckets     []float64
	constLabels prometheus.Labels
}

// WithTTCBuckets sets the TTC histogram's buckets in seconds (default DefaultTTCBuckets).
func WithTTCBuckets(b []float64) Option { return func(o *options) { o.buckets = b } }

// WithConstLabels adds labels to every metric, e.g. {"scenario": "quickstart"}.
func WithConstLabels(l prometheus.Labels) Option { return func(o *options) { o.constLabels = l } }

// New creates a drill's metrics and registers them with reg.
func New(reg prometheus.Registerer, opts ...Option) (*Drill, error) {
	o := options{buckets: DefaultTTCBuckets}
	for _, opt := range opts {
		opt(&o)
	}
	cl := o.constLabels
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: cl})
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: cl}, labels)
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: cl}, labels)
	}
	d := &Drill{
		last:         map[string]drill.ComponentProgress{},
		phase:        gaugeVec("drill_phase", "1 for the drill's current phase (start, mint, baseline, recall, observe, report), 0 for the others.", "phase"),
		elapsed:      gauge("drill_elapsed_seconds", "Time since the start of traffic."),
		rate:         gauge("probes_per_second", "Achieved probe rate over the last second."),
		probes:       counterVec("probes_total", "Probes by component and outcome: accept, reject or error.", "component", "outcome"),
		stale:        counterVec("stale_accepts_total", "Probes of recalled credentials sent after the recall and accepted.", "component"),
		falseRejects: counterVec("false_rejects_total", "Probes of control credentials (never recalled) rejected.", "component"),
		resurrect:    counterVec("resurrections_total", "Recalled credentials accepted again after the component had rejected them.", "component"),
		recalled:     gaugeVec("pairs_recalled", "(component, credential) pairs measured whose recall is acknowledged.", "component"),
		notConverged: gaugeVec("pairs_not_converged", "Recalled pairs the component still accepts.", "component"),
		faultsActive: gauge("faults_active", "Faults injected and not reverted."),
		faults:       gauge("faults_total", "Faults injected during the drill (set when it ends)."),
		ttc: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "ttc_seconds", ConstLabels: cl,
			Help:    "Time to consistency per converged pair: upper bound of the bracket, from the recall to the first reject that held (observed when the drill ends).",
			Buckets: o.buckets}, []string{"component"}),
		ttcStat:  gaugeVec("ttc_upper_bound_seconds", "TTC statistics per component (upper bounds, set when the drill ends).", "component", "stat"),
		verdict:  gaugeVec("drill_verdict", "1 for the drill's verdict (PASS, FAIL or ERROR) once it ended, 0 for the others.", "verdict"),
		finished: gauge("drill_finished_timestamp_seconds", "When the drill ended, Unix time (0 while it runs)."),
	}
	for _, c := range []prometheus.Collector{d.phase, d.elapsed, d.rate, d.probes, d.stale, d.falseRejects, d.resurrect,
		d.recalled, d.notConverged, d.faultsActive, d.faults, d.ttc, d.ttcStat, d.verdict, d.finished} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	d.setPhase(drill.PhaseStart)
	for _, v := range Verdicts {
		d.verdict.WithLabelValues(v).Set(0)
	}
	return d, nil
}

func (d *Drill) setPhase(phase string) {
	for _, p := range Phases {
		d.phase.WithLabelValues(p).Set(0)
	}
	d.phase.WithLabelValues(phase).Set(1)
}

// Observe updates the live metrics from a snapshot. Counters move by the growth since the
// previous snapshot (snapshots are cumulative), so a snapshot that goes backwards adds nothing.
func (d *Drill) Observe(l drill.Live) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setPhase(l.Phase)
	d.elapsed.Set(l.Elapsed.Seconds())
	d.rate.Set(l.ProbesPerS)
	for _, c := range l.Progress.Components {
		prev := d.last[c.Name]
		add := func(cv *prometheus.CounterVec, now, before int64, labels ...string) {
			m := cv.WithLabelValues(labels...) // created at 0 on first sight
			if now > before {
				m.Add(float64(now - before))
			}
		}
		add(d.probes, c.Accepts, prev.Accepts, c.Name, "accept")
		add(d.probes, c.Rejects, prev.Rejects, c.Name, "reject")
		add(d.probes, c.Errors, prev.Errors, c.Name, "error")
		add(d.stale, c.StaleAccepts, prev.StaleAccepts, c.Name)
		add(d.falseRejects, c.FalseRejects, prev.FalseRejects, c.Name)
		add(d.resurrect, c.Resurrections, prev.Resurrections, c.Name)
		d.recalled.WithLabelValues(c.Name).Set(float64(c.Recalled))
		d.notConverged.WithLabelValues(c.Name).Set(float64(c.Unconverged))
		d.last[c.Name] = c
	}
}

// Finish sets the final figures from the drill's report: phase report, the verdict, the
// faults, the TTC statistics and histogram per probed component, and the final pairs not
// converged. Call it once.
//
// The histogram is rebuilt from the report's CDF, whose points are (TTC upper bound, share of
// pairs ≤ it): each point stands for the pairs between it and the previous one. When the CDF was
// thinned (more converged pairs than points) a pair counts at the next kept point, never below
// its own TTC.
func (d *Drill) Finish(r *report.Report) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setPhase(drill.PhaseReport)
	d.elapsed.Set(r.DurationMS / 1000)
	d.rate.Set(0)
	for _, v := range Verdicts {
		on := 0.0
		if v == r.Verdict {
			on = 1
		}
		d.verdict.WithLabelValues(v).Set(on)
	}
	if !r.FinishedAt.IsZero() {
		d.finished.Set(float64(r.FinishedAt.UnixNano()) / 1e9)
	}
	active := 0
	for _, f := range r.Faults {
		if f.EndMS == 0 && f.Error == "" {
			active++
		}
	}
	d.faultsActive.Set(float64(active))
	d.faults.Set(float64(len(r.Faults)))

	cdf := map[string][]report.Point{}
	for _, s := range r.CDF {
		cdf[s.Component] = s.Points
	}
	for _, c := range r.Components {
		if !c.Probed {
			continue
		}
		d.notConverged.WithLabelValues(c.Name).Set(float64(c.NotConverged))
		for _, st := range TTCStats {
			if v, ok := c.TTCMS.Get(st); ok {
				d.ttcStat.WithLabelValues(c.Name, st).Set(v / 1000)
			}
		}
		h := d.ttc.WithLabelValues(c.Name)
		rank := 0
		for _, p := range cdf[c.Name] {
			r := int(p.Y*float64(c.Pairs) + 0.5)
			for ; rank < r && rank < c.Converged; rank++ {
				h.Observe(p.X / 1000)
			}
		}
	}
}
