package chaos

import (
	"errors"
	"fmt"
	typed "github.com/recall-drills/recall/internal/params"
	"slices"
	"sort"
	"strings"
	"time"
)

// ParamError is a problem with one with: parameter; Key names it so that validation can point
// at faults[i].with.<key>.
type ParamError struct {
	Key string
	Err error
}

func (e *ParamError) Error() string {
	if e.Key == "" {
		return e.Err.Error()
	}
	return "with." + e.Key + ": " + e.Err.Error()
}

func (e *ParamError) Unwrap() error { return e.Err }

// params reads a fault's with: block, collecting every problem.
type params struct {
	with map[string]any
	errs []error
	used []string
}

func newParams(p Params) *params { return &params{with: p.With} }

func (p *params) fail(key, format string, args ...any) {
	p.errs = append(p.errs, &ParamError{Key: key, Err: fmt.Errorf(format, args...)})
}

// duration reads key as a duration ("250ms"; a bare number is refused to avoid unit mistakes,
// see internal/params); def when absent.
func (p *params) duration(key string, def time.Duration, required bool) time.Duration {
	p.used = append(p.used, key)
	v, ok := p.with[key]
	if !ok {
		if required {
			p.fail(key, "required: a duration like 500ms")
		}
		return def
	}
	d, err := typed.ParseDuration(v) // the one rule for durations: a Go duration string
	if err != nil {
		p.fail(key, "%v", err)
		return def
	}
	if d < 0 {
		p.fail(key, "must be >= 0, got %s", d)
		return def
	}
	return d
}

// number reads key as a non-negative number; def when absent.
func (p *params) number(key string, def float64, required bool) float64 {
	p.used = append(p.used, key)
	v, ok := p.with[key]
	if !ok {
		if required {
			p.fail(key, "required")
		}
		return def
	}
	var f float64
	switch v := v.(type) {
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case float64:
		f = v
	default:
		p.fail(key, "want a number, got %v", v)
		return def
	}
	if f < 0 {
		p.fail(key, "must be >= 0, got %v", f)
		return def
	}
	return f
}

// enum reads key as one of have; def when absent.
func (p *params) enum(key, def string, have ...string) string {
	p.used = append(p.used, key)
	v, ok := p.with[key]
	if !ok {
		return def
	}
	s, isStr := v.(string)
	if !isStr || !slices.Contains(have, s) {
		p.fail(key, "unknown value %v (have: %s)", v, strings.Join(have, ", "))
		return def
	}
	return s
}

// str reads key as a string.
func (p *params) str(key string, required bool) string {
	p.used = append(p.used, key)
	v, ok := p.with[key]
	if !ok {
		if required {
			p.fail(key, "required")
		}
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		p.fail(key, "want a string, got %v", v)
	}
	return s
}

// raw marks key as known and returns its value.
func (p *params) raw(key string) (any, bool) {
	p.used = append(p.used, key)
	v, ok := p.with[key]
	return v, ok
}

// err returns the problems found, unknown keys included.
func (p *params) err() error {
	var unknown []string
	for k := range p.with {
		if !slices.Contains(p.used, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	known := slices.Clone(p.used)
	sort.Strings(known)
	for _, k := range unknown {
		if len(known) == 0 {
			p.fail(k, "unknown parameter: this fault takes no with")
		} else {
			p.fail(k, "unknown parameter (have: %s)", strings.Join(known, ", "))
		}
	}
	return errors.Join(p.errs...)
}
