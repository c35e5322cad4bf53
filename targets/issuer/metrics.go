package issuer

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the issuer's Prometheus metrics, all named recall_issuer_*.
type metrics struct {
	tokens             *prometheus.CounterVec // grant
	clientAuthFailures prometheus.Counter
	refreshReuse       prometheus.Counter
	mintWaits          prometheus.Counter
	recalls            *prometheus.CounterVec // type
	rulesApplied       prometheus.Counter
	introspections     *prometheus.CounterVec // result
	published          prometheus.Counter
	publishFailures    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, i *Issuer) (*metrics, error) {
	const ns, sub = "recall", "issuer"
	m := &metrics{
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "tokens_issued_total",
			Help: "Access tokens issued, by grant type.",
		}, []string{"grant"}),
		clientAuthFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "client_auth_failures_total",
			Help: "Client authentications refused (unknown client or wrong secret).",
		}),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "refresh_token_reuse_total",
			Help: "Rotated refresh tokens presented again: each recalled its session.",
		}),
		mintWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "mint_waits_total",
			Help: "Token requests held until the second of a recall that matched them had passed.",
		}),
		recalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "recalls_total",
			Help: "Recalls applied, by type (admin recalls, RFC 7009 revocations as jti/token, reuse detection as sid).",
		}, []string{"type"}),
		rulesApplied: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "rules_applied_total",
			Help: "Recall rules that changed what the issuer recalls.",
		}),
		introspections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "introspections_total",
			Help: "Token introspections, by result (active, revoked, key_revoked, expired, invalid, unknown).",
		}, []string{"result"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "bus_events_published_total",
			Help: "Recall events published on the bus.",
		}),
		publishFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "bus_publish_failures_total",
			Help: "Recall events that could not be published on the bus.",
		}),
	}
	rules := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "rules",
		Help: "Distinct recall rules held.",
	}, func() float64 { return float64(i.set.Len()) })
	version := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "revocation_list_version",
		Help: "Current revocation-list version.",
	}, func() float64 { return float64(i.Version()) })
	for _, c := range []prometheus.Collector{
		m.tokens, m.clientAuthFailures, m.refreshReuse, m.mintWaits, m.recalls, m.rulesApplied,
		m.introspections, m.published, m.publishFailures, rules, version,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, g := range []string{GrantClientCredentials, GrantPassword, GrantRefreshToken} {
		m.tokens.WithLabelValues(g)
	}
	for _, r := range []string{resultActive, resultRevoked, resultKeyRevoked, resultExpired, resultInvalid, resultUnknown} {
		m.introspections.WithLabelValues(r)
	}
	return m, nil
}
