package scenario

import (
	"fmt"
	"strings"
	"testing"
)

// boundsBase is a valid scenario whose recall.with (an untyped map) takes the YAML under test.
const boundsBase = `name: bounds
system:
  components:
    - {name: issuer, use: reference/issuer}
    - {name: edge, use: reference/gateway, with: {strategy: push}}
traffic: {rate: 100/s, duration: 10s}
recall:
  at: 5s
  action: http
  with:
    url: http://127.0.0.1:1/recall
`

// aliasBomb returns YAML lines (indented under recall.with) whose last key names width^depth
// scalars through aliases.
func aliasBomb(width, depth int) string {
	var b strings.Builder
	items := make([]string, width)
	for i := range items {
		items[i] = `"lol"`
	}
	fmt.Fprintf(&b, "    l0: &l0 [%s]\n", strings.Join(items, ", "))
	for d := 1; d <= depth; d++ {
		for i := range items {
			items[i] = fmt.Sprintf("*l%d", d-1)
		}
		fmt.Fprintf(&b, "    l%d: &l%d [%s]\n", d, d, strings.Join(items, ", "))
	}
	return b.String()
}

// TestAliasBomb: a billion laughs in an untyped map is refused at the alias that tips the
// budget, instead of walking 9^9 nodes.
func TestAliasBomb(t *testing.T) {
	t.Parallel()
	_, err := Parse("bomb.yaml", []byte(boundsBase+aliasBomb(9, 9)), WithLookupEnv(noEnv))
	errs := Errors(err)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "excessive aliasing") || errs[0].Line < 12 || !strings.HasPrefix(errs[0].Path, "recall.with.l") {
		t.Fatalf("Parse(alias bomb) = %v, want one positioned excessive aliasing error under recall.with", err)
	}
}

// TestAliasesWithinBudget: ordinary reuse of anchors (a few hundred nodes through aliases)
// is not mistaken for a bomb.
func TestAliasesWithinBudget(t *testing.T) {
	t.Parallel()
	src := strings.Replace(boundsBase, "    url: http://127.0.0.1:1/recall\n", "    url: http://127.0.0.1:1/recall\n    method: POST\n    headers:\n      X-A: a\n    body: &b x\n", 1)
	src += "faults:\n"
	for i := range 50 {
		src += fmt.Sprintf("  - {name: f%d, at: 6s, for: 1s, fault: http, with: {url: http://127.0.0.1:1/, body: *b}}\n", i)
	}
	if _, err := Parse("ok.yaml", []byte(src), WithLookupEnv(noEnv)); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("ok.yaml", []byte(boundsBase+aliasBomb(3, 5)), WithLookupEnv(noEnv)); err != nil && strings.Contains(err.Error(), "aliasing") {
		t.Fatalf("3^5 nodes through aliases: %v", err)
	}
}

// TestAliasCycle: an alias inside the node it names is reported where it is written.
func TestAliasCycle(t *testing.T) {
	t.Parallel()
	src := boundsBase + "    loop: &w {again: *w}\n"
	_, err := Parse("cycle.yaml", []byte(src), WithLookupEnv(noEnv))
	want := "cycle.yaml:12:22: alias *w is inside the node it refers to"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse(cycle) = %v, want %s", err, want)
	}
}

// TestFractionNotTruncated: yaml.v3 decodes 0.5 into an int as 0; the walk refuses it where it
// is written, and keeps whole numbers written as floats.
func TestFractionNotTruncated(t *testing.T) {
	t.Parallel()
	src := boundsBase + "tokens: {victims: 0.5, controls: 1e1}\n"
	_, err := Parse("f.yaml", []byte(src), WithLookupEnv(noEnv))
	want := `f.yaml:12:19: tokens.victims: want an integer, got 0.5 (a fraction is not rounded)`
	if err == nil || err.Error() != want {
		t.Fatalf("Parse = %v, want %s", err, want)
	}
	s, err := Parse("f.yaml", []byte(boundsBase+"tokens: {victims: 2e1, controls: 3.0}\n"), WithLookupEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	if s.Tokens.Victims != 20 || s.Tokens.Controls != 3 {
		t.Errorf("victims, controls = %d, %d, want 20, 3", s.Tokens.Victims, s.Tokens.Controls)
	}
}

// TestUnknownTag: yaml.v3 ignores application tags; the loader reports them, on values and keys,
// and accepts the standard ones.
func TestUnknownTag(t *testing.T) {
	t.Parallel()
	src := boundsBase + "tokens: {victims: !secret 5, !weird controls: 2}\n"
	_, err := Parse("t.yaml", []byte(src), WithLookupEnv(noEnv))
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Error())
	}
	want := []string{
		"t.yaml:12:19: tokens.victims: unknown YAML tag !secret (a scenario uses no application tags; standard ones: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq)",
		"t.yaml:12:30: tokens.controls: unknown YAML tag !weird on a key",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors\n got: %q\nwant: %q", got, want)
	}
	s, err := Parse("t.yaml", []byte(boundsBase+"tokens: {victims: !!int 5, scope: !!str 12}\n"), WithLookupEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	if s.Tokens.Victims != 5 || s.Tokens.Scope != "12" {
		t.Errorf("victims, scope = %d, %q", s.Tokens.Victims, s.Tokens.Scope)
	}
}

// TestSyntaxErrorsHaveALine: yaml.v3 omits the line of problems on line 1 and of characters it
// cannot read; every syntax error is located.
func TestSyntaxErrorsHaveALine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ src, want string }{
		{"\tname: x\n", "s.yaml:1: YAML syntax: found character that cannot start any token"},
		{"name: a: b\n", "s.yaml:1: YAML syntax: mapping values are not allowed in this context"},
		{"name: x\nsystem:\n  a: \x01\n", "s.yaml:3:6: YAML syntax: character U+0001 is not allowed"},
		{"name: x\n\nseed: 1\ndescription: \"\xff\"\n", "s.yaml:4:15: YAML syntax: invalid UTF-8"},
	} {
		_, err := Parse("s.yaml", []byte(tc.src))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) = %v, want %s", tc.src, err, tc.want)
		}
	}
}

// TestUpperBounds: sizes this process cannot hold are refused by validation, where they are
// written, instead of passing and running out of memory.
func TestUpperBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, want string }{
		{"traffic: {rate: 100/s, duration: 10s, workers: 1e9}\n",
			"b.yaml:15:48: traffic.workers: 1000000000 is more than this tool holds: at most 10000"},
		{"tokens: {victims: 10000000}\n",
			"b.yaml:15:19: tokens.victims: 10000000 is more than this tool holds: at most 1000000"},
		{"tokens: {victims: 600000, controls: 600000}\n",
			"b.yaml:15:1: tokens: victims + controls = 1200000 is more than this tool holds: at most 1000000 credentials"},
		{"tokens: {victims: 900000, controls: 0}\ntraffic: {rate: 100/s, duration: 10s, controls: 0%, targets: [edge, e2, e3, e4, e5]}\n",
			"b.yaml:15:1: tokens: 900000 credentials × 5 probed components = 4500000 pairs is more than this tool holds: at most 4000000"},
		{"traffic: {rate: 100/s, duration: 10s, workers: 10000}\n",
			"b.yaml:15:48: traffic.workers: 10000 workers × 5 probed components = 50000 probes in flight is more than this tool holds: at most 40000"},
		{"traffic: {rate: 2000000/s, duration: 10s}\n",
			"b.yaml:15:17: traffic.rate: 2000000/s is more than this tool sends: at most 1000000/s"},
		{"tokens: {users: 1000000, clients: 20000}\n",
			"b.yaml:15:17: tokens.users: 1000000 is more than this tool holds: at most 100000\nb.yaml:15:35: tokens.clients: 20000 is more than this tool holds: at most 10000"},
	} {
		src := strings.Replace(boundsBase, "traffic: {rate: 100/s, duration: 10s}\n", "", 1) + tc.yaml
		src = strings.Replace(src, "    - {name: edge,", "    - {name: e2, use: reference/gateway, with: {strategy: push}}\n    - {name: e3, use: reference/gateway, with: {strategy: push}}\n    - {name: e4, use: reference/gateway, with: {strategy: push}}\n    - {name: e5, use: reference/gateway, with: {strategy: push}}\n    - {name: edge,", 1)
		if !strings.Contains(tc.yaml, "traffic:") {
			src += "traffic: {rate: 100/s, duration: 10s}\n"
		}
		_, err := Parse("b.yaml", []byte(src), WithLookupEnv(noEnv))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s\n got: %s\nwant: %s", tc.yaml, got, tc.want)
		}
	}
}
