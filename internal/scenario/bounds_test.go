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
