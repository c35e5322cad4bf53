package expect

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: Parse never panics; an error is an *Error naming a column inside the input (or
// just past it); an expression that parses renders (String) to text that parses to the same
// metric, statistic, component, operator and a bound equal to three significant digits.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"time_to_consistency.p99 < 2s", `stale_accepts{component="edge-push"} == 0`, "ttc.p50 <= 150ms",
		"false_rejects == 0", "not_converged >= 1", `ttc.max{component="a"} != 1m30s`, "ttc.p99 << 2s",
		"stale_accepts < 2s", "never_accepted > 10%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			pe, ok := err.(*Error)
			if !ok {
				t.Fatalf("Parse(%q) error %T, want *Error", s, err)
			}
			if pe.Column < 1 || pe.Column > utf8.RuneCountInString(s)+1 {
				t.Fatalf("Parse(%q): column %d outside the input: %v", s, pe.Column, err)
			}
			return
		}
		again, err := Parse(e.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, e.String(), err)
		}
		if again.Metric != e.Metric || again.Stat != e.Stat || again.Component != e.Component || again.Op != e.Op {
			t.Fatalf("Parse(%q) = %+v, rendered %q parses to %+v", s, e, e.String(), again)
		}
		if !close3(again.Value, e.Value) {
			t.Fatalf("Parse(%q): bound %v renders as %q, which is %v", s, e.Value, e.String(), again.Value)
		}
	})
}

// close3 reports whether a and b agree to the three significant digits String keeps.
func close3(a, b float64) bool {
	if a == b || (math.IsNaN(a) && math.IsNaN(b)) {
		return true
	}
	return math.Abs(a-b) <= 5e-3*math.Max(math.Abs(a), math.Abs(b))
}

// FuzzJSONCond: ParseJSONCond never panics, errors are *Error values, and a condition that
// parses matches any body without panicking; the text is kept as written.
func FuzzJSONCond(f *testing.F) {
	for _, s := range [][2]string{
		{"active == true", `{"active": true}`},
		{`token.status != "revoked"`, `{"token": {"status": "ok"}}`},
		{"items[0].count > 0", `{"items": [{"count": 3}]}`},
		{`["a.b"][1] == null`, `{"a.b": [1, null]}`},
		{"n >= 1e308", `{"n": 1e309}`},
		{"a[99999999999999999999] == 1", `{"a": [1]}`},
		{"active == false", `not json`},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, cond string, body []byte) {
		c, err := ParseJSONCond(cond)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("ParseJSONCond(%q) error %T, want *Error", cond, err)
			}
			return
		}
		if c.String() != cond {
			t.Fatalf("String() = %q, want the text as written %q", c.String(), cond)
		}
		m := c.Match(body)
		if m != c.Match(body) {
			t.Fatalf("Match(%q) is not deterministic", body)
		}
		if !strings.Contains(cond, "!=") && m && len(body) == 0 {
			t.Fatalf("%q matches an empty body", cond)
		}
	})
}
