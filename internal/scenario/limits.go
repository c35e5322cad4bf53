package scenario

// Upper bounds on the sizes a scenario may ask for. A drill holds every credential and every
// (component, credential) pair in memory: about 3 KiB per credential and 768 B per pair, so the
// bounds keep a valid scenario within a few GiB. The drill also checks, before minting, that
// the memory it will need is available (drill.CheckMemory); scenarios/README.md states both.
const (
	// MaxTokens bounds tokens.victims + tokens.controls.
	MaxTokens = 1_000_000
	// MaxPairs bounds (tokens.victims + tokens.controls) × probed components.
	MaxPairs = 4_000_000
	// MaxUsers and MaxClients bound tokens.users and tokens.clients (each is registered with
	// the issuer one by one).
	MaxUsers   = 100_000
	MaxClients = 10_000
	// MaxWorkers bounds traffic.workers and recall.concurrency (one goroutine and connection
	// each).
	MaxWorkers = 10_000
	// MaxProbesInFlight bounds traffic.workers × probed components: each component has its
	// own workers (a goroutine and a connection each).
	MaxProbesInFlight = 40_000
	// MaxRatePerSecond bounds traffic.rate and traffic.ramp.from.
	MaxRatePerSecond = 1_000_000
)

// validateLimits checks the sizes against the upper bounds, so that a scenario that validates
// can run.
func (l *loader) validateLimits(s *Scenario) {
	t := &s.Tokens
	for _, f := range []struct {
		path string
		v    int
		max  int
	}{
		{"tokens.victims", t.Victims, MaxTokens},
		{"tokens.controls", t.Controls, MaxTokens},
		{"tokens.users", t.Users.Count, MaxUsers},
		{"tokens.clients", t.Clients.Count, MaxClients},
		{"tokens.recovery", t.Recovery, MaxTokens},
		{"traffic.workers", s.Traffic.Workers, MaxWorkers},
		{"recall.concurrency", s.Recall.Concurrency, MaxWorkers},
	} {
		if f.v > f.max {
			l.fail(f.path, "%d is more than this tool holds: at most %d", f.v, f.max)
		}
	}
	tokens := t.Victims + t.Controls
	if t.Victims <= MaxTokens && t.Controls <= MaxTokens && tokens > MaxTokens {
		l.fail("tokens", "victims + controls = %d is more than this tool holds: at most %d credentials", tokens, MaxTokens)
	}
	n := len(s.ProbedComponents())
	if tokens <= MaxTokens && tokens*n > MaxPairs {
		l.fail("tokens", "%d credentials × %d probed components = %d pairs is more than this tool holds: at most %d", tokens, n, tokens*n, MaxPairs)
	}
	if w := s.Traffic.Workers; w <= MaxWorkers && w*n > MaxProbesInFlight {
		l.fail("traffic.workers", "%d workers × %d probed components = %d probes in flight is more than this tool holds: at most %d", w, n, w*n, MaxProbesInFlight)
	}
	if s.Traffic.Rate.PerSecond() > MaxRatePerSecond {
		l.fail("traffic.rate", "%s is more than this tool sends: at most %d/s", s.Traffic.Rate, MaxRatePerSecond)
	}
	if s.Traffic.Ramp != nil && s.Traffic.Ramp.From.PerSecond() > MaxRatePerSecond {
		l.fail("traffic.ramp.from", "%s is more than this tool sends: at most %d/s", s.Traffic.Ramp.From, MaxRatePerSecond)
	}
}
