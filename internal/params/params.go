// Package params types the with: blocks of a scenario once: a recall action's parameters, a
// reference component's, a fault's. A [Spec] lists the keys a block accepts, each with its type,
// whether it is required and its default; [Spec.Check] validates a block and [Spec.Decode]
// reads it, so that validation, the embedded runtime (a Go config) and the docker runtime
// (container flags) apply the same rules. It imports nothing of the engine: internal/scenario,
// internal/runtime and internal/drill all use it.
//
// One rule for durations: a string in Go syntax ("150ms", "2s", "1m30s"). A bare number is
// refused, because "2" could mean seconds or milliseconds (see docs/architecture.md).
package params

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Type is what a parameter's value must be.
type Type string

// Types.
const (
	// String is any string.
	String Type = "string"
	// Duration is a Go duration string, > 0 unless Param.AllowZero; numbers are refused.
	Duration Type = "duration"
	// Enum is one of Param.Enum.
	Enum Type = "enum"
	// URL is an absolute http(s) URL.
	URL Type = "url"
	// Method is an HTTP method (Methods).
	Method Type = "method"
	// Headers is a mapping of header names to string values.
	Headers Type = "headers"
	// Argv is a non-empty list of strings: a command and its arguments.
	Argv Type = "argv"
	// Component names a component of the scenario.
	Component Type = "component"
	// Int is a whole number > 0 (a count: connections, requests in flight).
	Int Type = "int"
)

// Methods lists the HTTP methods a Method parameter accepts.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Param describes one key of a with: block.
type Param struct {
	// Key is the key in the block, e.g. "interval".
	Key string
	// Type is what its value must be.
	Type Type
	// Enum lists the values of an Enum parameter.
	Enum []string
	// Required makes the key mandatory.
	Required bool
	// Default is the value used when the key is absent, as written in YAML ("2s", "POST"); empty
	// for none.
	Default string
	// AllowZero lets a Duration be 0 ("0s").
	AllowZero bool
	// When, if set, restricts the key to blocks whose When.Key has one of When.Values (a
	// gateway's interval applies only to strategy push or poll).
	When *When
	// Doc is one line for the docs.
	Doc string
}

// When is a condition on another key of the same block.
type When struct {
	Key    string
	Values []string
}

// Spec is the keys a with: block accepts.
type Spec []Param

// Error is one problem with a with: block. Key names the key ("" for the block itself) so that
// validation can point at <block>.<key>.
type Error struct {
	Key string
	// Elem, when not nil, locates the problem inside the key's value: a mapping key (string) or
	// a list index (int).
	Elem any
	Msg  string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	switch x := e.Elem.(type) {
	case string:
		return "with." + e.Key + "." + x + ": " + e.Msg
	case int:
		return fmt.Sprintf("with.%s[%d]: %s", e.Key, x, e.Msg)
	}
	return "with." + e.Key + ": " + e.Msg
}

// Keys lists the spec's keys, sorted.
func (s Spec) Keys() []string {
	out := make([]string, len(s))
	for i, p := range s {
		out[i] = p.Key
	}
	sort.Strings(out)
	return out
}

// Lookup returns the parameter named key.
func (s Spec) Lookup(key string) (Param, bool) {
	for _, p := range s {
		if p.Key == key {
			return p, true
		}
	}
	return Param{}, false
}

// Check validates a with: block: every key known, every value of its type, required keys
// present. what names the block's owner in messages ("reference/gateway", "the http action").
// components are the scenario's component names, for Component parameters (nil: not checked).
// The errors come sorted by key.
func (s Spec) Check(with map[string]any, what string, components []string) []*Error {
	return s.check(with, what, components, true)
}

// CheckTypes is Check for a Go caller of a runtime rather than a scenario: keys known and
// values of their type, but a key that does not apply (When) is ignored and a zero duration
// means the default.
func (s Spec) CheckTypes(with map[string]any, what string) []*Error {
	return s.check(with, what, nil, false)
}

func (s Spec) check(with map[string]any, what string, components []string, strict bool) []*Error {
	var errs []*Error
	fail := func(k, format string, args ...any) {
		errs = append(errs, &Error{Key: k, Msg: fmt.Sprintf(format, args...)})
	}
	keys := make([]string, 0, len(with))
	for k := range with {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := with[k]
		p, ok := s.Lookup(k)
		if !ok {
			switch {
			case len(s) == 0:
				fail(k, "unknown key %q: %s takes no with", k, what)
			default:
				fail(k, "unknown key %q for %s (valid: %s)", k, what, strings.Join(s.Keys(), ", "))
			}
			continue
		}
		if !strict && p.Type == Duration {
			p.AllowZero = true
		}
		if elem, msg := p.check(v, components); msg != "" {
			errs = append(errs, &Error{Key: k, Elem: elem, Msg: msg})
			continue
		}
		if w := p.When; w != nil && strict {
			if on, _ := with[w.Key].(string); on != "" && !slices.Contains(w.Values, on) {
				if cond, ok := s.Lookup(w.Key); !ok || cond.Type != Enum || slices.Contains(cond.Enum, on) {
					fail(k, "%s applies only to %s %s (%s is %s)", k, w.Key, strings.Join(w.Values, " or "), w.Key, on)
				}
			}
		}
	}
	for _, p := range s {
		if _, ok := with[p.Key]; ok || !p.Required {
			continue
		}
		if p.Type == Enum {
			fail(p.Key, "required for %s: one of %s", what, strings.Join(p.Enum, ", "))
		} else {
			fail(p.Key, "required")
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
	return errs
}

// check returns what is wrong with v, "" if nothing; elem locates it inside v (a header's
// name, a list item's index).
func (p Param) check(v any, components []string) (elem any, msg string) {
	str, isStr := v.(string)
	switch p.Type {
	case String:
		if !isStr {
			return nil, "want a string, got " + Describe(v)
		}
	case Duration:
		d, err := ParseDuration(v)
		switch {
		case err != nil:
			return nil, err.Error()
		case d < 0 || (d == 0 && !p.AllowZero):
			if p.AllowZero {
				return nil, "must be >= 0, got " + str
			}
			return nil, "must be > 0, got " + str
		}
	case Enum:
		if !isStr || !slices.Contains(p.Enum, str) {
			return nil, fmt.Sprintf("unknown %s %s (have: %s)", p.Key, Describe(v), strings.Join(p.Enum, ", "))
		}
	case URL:
		if u, err := url.Parse(str); !isStr || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Sprintf("bad URL %s: want an absolute http(s) URL", Describe(v))
		}
	case Method:
		if !isStr || !slices.Contains(Methods, str) {
			return nil, fmt.Sprintf("unknown method %s (have: %s)", Describe(v), strings.Join(Methods, ", "))
		}
	case Headers:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "want a mapping of header names to values, got " + Describe(v)
		}
		for _, hk := range sortedKeys(m) {
			if _, ok := m[hk].(string); !ok {
				return hk, "want a string, got " + Describe(m[hk])
			}
		}
	case Argv:
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return nil, fmt.Sprintf("want a non-empty list like [\"sh\", \"-c\", \"...\"], got %s", Describe(v))
		}
		for j, a := range list {
			if _, ok := a.(string); !ok {
				return j, "want a string, got " + Describe(a)
			}
		}
	case Int:
		if n, ok := toInt(v); isStr || !ok || n <= 0 {
			return nil, "want a whole number > 0, got " + Describe(v)
		}
	case Component:
		if !isStr || (components != nil && !slices.Contains(components, str)) {
			have := "none"
			if len(components) > 0 {
				have = strings.Join(components, ", ")
			}
			return nil, fmt.Sprintf("unknown component %s (have: %s)", Describe(v), have)
		}
	}
	return nil, ""
}

// ParseDuration is the one rule for durations in with: blocks: a string in Go syntax. A bare
// number is refused (seconds or milliseconds?), as is anything else.
func ParseDuration(v any) (time.Duration, error) {
	switch v := v.(type) {
	case string:
		d, err := time.ParseDuration(v)
		if err == nil {
			return d, nil
		}
	case time.Duration:
		return v, nil
	}
	return 0, fmt.Errorf("bad duration %s: want a Go duration like 150ms, 2s or 1m30s", Describe(v))
}

// Values reads a with: block checked by Check, with the spec's defaults for absent keys.
type Values struct {
	spec Spec
	with map[string]any
}

// Decode returns the block's values with the spec's defaults. Call Check first: Decode
// assumes every value has its type (a value that does not reads as the zero value).
func (s Spec) Decode(with map[string]any) Values { return Values{spec: s, with: with} }

// raw is key's value, or its default.
func (v Values) raw(key string) (any, bool) {
	if x, ok := v.with[key]; ok {
		return x, true
	}
	if p, ok := v.spec.Lookup(key); ok && p.Default != "" {
		return p.Default, true
	}
	return nil, false
}

// Has reports whether key is set in the block (defaults aside).
func (v Values) Has(key string) bool { _, ok := v.with[key]; return ok }

// String returns a String, Enum, URL, Method or Component parameter.
func (v Values) String(key string) string {
	x, _ := v.raw(key)
	s, _ := x.(string)
	return s
}

// Duration returns a Duration parameter (0 when absent without default).
func (v Values) Duration(key string) time.Duration {
	x, ok := v.raw(key)
	if !ok {
		return 0
	}
	d, _ := ParseDuration(x)
	return d
}

// Int returns an Int parameter (0 when absent without default).
func (v Values) Int(key string) int {
	x, _ := v.raw(key)
	n, _ := toInt(x)
	return n
}

// toInt reads a whole number as YAML decodes it (int) or as a default is written ("256").
func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case uint64:
		return int(x), x <= 1<<62
	case float64:
		return int(x), x == float64(int(x))
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

// Headers returns a Headers parameter.
func (v Values) Headers(key string) map[string]string {
	x, _ := v.raw(key)
	m, _ := x.(map[string]any)
	out := make(map[string]string, len(m))
	for k, val := range m {
		out[k] = fmt.Sprint(val)
	}
	return out
}

// Argv returns an Argv parameter.
func (v Values) Argv(key string) []string {
	x, _ := v.raw(key)
	switch l := x.(type) {
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, a := range l {
			if s, ok := a.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Describe renders an untyped value from a with: block for a message.
func Describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case nil:
		return "null"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
