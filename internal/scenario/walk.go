package scenario

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/recall-drills/recall/internal/expect"
)

// The walk checks the node tree against the Go types the strict decoder will fill, with the
// position of every node: unknown and duplicate keys (listing the valid ones), nodes of the
// wrong shape, scalars that do not decode into their field's type, values with their own syntax
// (durations, rates, offsets, percentages, regular expressions, expectations). On the way it
// expands ${VAR} in scalar values and indexes every path's nodes for the validation that
// follows.

var (
	scenarioType    = reflect.TypeOf(Scenario{})
	expectationType = reflect.TypeOf(Expectation{})
	durationType    = reflect.TypeOf(time.Duration(0))
	textType        = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// reject records an error about value node n and replaces n by a null, so that the decode that
// follows leaves the field at its default instead of stopping (yaml.v3 stops at the first
// failing TextUnmarshaler) or producing errors already reported here.
func (l *loader) reject(n *yaml.Node, path, format string, args ...any) {
	l.errorAt(n, path, format, args...)
	l.neutralize(n)
}

func (l *loader) neutralize(n *yaml.Node) {
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: n.Line, Column: n.Column}
}

// walk checks n against type t at path.
func (l *loader) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		l.viaAlias(n, path, func(m *yaml.Node) { l.walk(m, t, path) })
		return
	}
	if !l.visit(n, path) {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode {
		if l.expand(n, path) {
			switch t.Kind() {
			case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
				// A number or boolean from the environment: type the expanded text even if it
				// was quoted (a flow mapping cannot hold an unquoted ${N}).
				n.Style, n.Tag = 0, ""
			}
		}
		if l.envErr[n] {
			return
		}
		if n.ShortTag() == "!!null" {
			return // a null leaves the field at its default
		}
	}
	switch {
	case t == expectationType:
		l.walkExpectation(n, path)
		return
	case t == clientsType || t == usersType:
		l.walkAccounts(n, t, path)
		return
	case t == durationType:
		if !l.wantScalar(n, path, "a duration like 5s") {
			return
		}
		if _, err := time.ParseDuration(n.Value); err != nil || n.ShortTag() != "!!str" {
			hint := ""
			if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
				hint = " (the unit is required)"
			}
			l.reject(n, path, "bad duration %s: want a Go duration like 150ms, 2s or 1m30s%s", quoteScalar(n), hint)
		}
		return
	case reflect.PointerTo(t).Implements(textType):
		if !l.wantScalar(n, path, "a string") {
			return
		}
		v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
		if err := v.UnmarshalText([]byte(n.Value)); err != nil {
			l.reject(n, path, "%s", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		l.walkStruct(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.reject(n, path, "want a list, got %s", describe(n))
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			l.idx[p] = nodeRef{val: item}
			if et := t.Elem(); et.Kind() == reflect.Struct && l.deref(item).ShortTag() == "!!null" {
				// yaml.v3 silently drops a null list item of struct type.
				l.errorAt(item, p, "empty list item")
				continue
			}
			l.walk(item, t.Elem(), p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			l.reject(n, path, "want a mapping, got %s", describe(n))
			return
		}
		l.eachPair(n, path, func(k, v *yaml.Node, p string) bool {
			l.walk(v, t.Elem(), p)
			return true
		})
	case reflect.Interface:
		l.walkAny(n, path)
	case reflect.String:
		l.wantScalar(n, path, "a string")
	case reflect.Bool:
		if l.wantScalar(n, path, "true or false") && !decodes(n, t) {
			l.reject(n, path, "want true or false, got %s", quoteScalar(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !l.wantScalar(n, path, "an integer") {
			break
		}
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && n.ShortTag() == "!!float" && f != math.Trunc(f) {
			// yaml.v3 would truncate 0.5 to 0.
			l.reject(n, path, "want an integer, got %s (a fraction is not rounded)", quoteScalar(n))
			break
		}
		if !decodes(n, t) {
			l.reject(n, path, "want an integer, got %s", quoteScalar(n))
		}
	case reflect.Float32, reflect.Float64:
		if l.wantScalar(n, path, "a number") && !decodes(n, t) {
			l.reject(n, path, "want a number, got %s", quoteScalar(n))
		}
	default:
		panic("scenario: walk: unsupported type " + t.String())
	}
}

// walkStruct checks a mapping against the yaml fields of struct type t.
func (l *loader) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	if n.Kind != yaml.MappingNode {
		l.reject(n, path, "want a mapping with keys %s, got %s", strings.Join(fieldNames(fields), ", "), describe(n))
		return
	}
	l.eachPair(n, path, func(k, v *yaml.Node, p string) bool {
		f, ok := fields[k.Value]
		if !ok {
			l.errorAt(k, p, "unknown key %q (valid: %s)", k.Value, strings.Join(fieldNames(fields), ", "))
			return false
		}
		l.walk(v, f.Type, p)
		return true
	})
}

// eachPair calls fn for every key/value of mapping n, after indexing it and checking for
// duplicate keys and non-scalar keys. Merge keys (<<) are followed.
func (l *loader) eachPair(n *yaml.Node, path string, fn func(k, v *yaml.Node, p string) bool) {
	seen := map[string]*yaml.Node{}
	keep := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorAt(k, path, "want a plain key, got %s", describe(k))
			continue
		}
		if k.Style&yaml.TaggedStyle != 0 && !yamlTags[k.ShortTag()] {
			l.errorAt(k, joinPath(path, k.Value), "unknown YAML tag %s on a key", k.Tag)
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			l.eachMerged(v, path, fn)
			keep = append(keep, k, v)
			continue
		}
		p := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			l.errorAt(k, p, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		l.idx[p] = nodeRef{key: k, val: v}
		if fn(k, v, p) {
			keep = append(keep, k, v)
		}
	}
	// Pairs reported here are dropped, so that the decode that follows does not stop on them.
	n.Content = keep
}

func (l *loader) eachMerged(v *yaml.Node, path string, fn func(k, v *yaml.Node, p string) bool) {
	if v.Kind == yaml.AliasNode {
		l.viaAlias(v, path, func(m *yaml.Node) { l.eachMerged(m, path, fn) })
		return
	}
	if !l.visit(v, path) {
		return
	}
	switch v.Kind {
	case yaml.MappingNode:
		l.eachPair(v, path, fn)
	case yaml.SequenceNode:
		for _, m := range v.Content {
			l.eachMerged(m, path, fn)
		}
	default:
		l.reject(v, path, "merge key << wants a mapping, got %s", describe(v))
	}
}

// walkAny indexes and expands an untyped value (with: maps).
func (l *loader) walkAny(n *yaml.Node, path string) {
	if n.Kind == yaml.AliasNode {
		l.viaAlias(n, path, func(m *yaml.Node) { l.walkAny(m, path) })
		return
	}
	if !l.visit(n, path) {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		l.expand(n, path)
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			l.idx[p] = nodeRef{val: item}
			l.walkAny(item, p)
		}
	case yaml.MappingNode:
		l.eachPair(n, path, func(k, v *yaml.Node, p string) bool { l.walkAny(v, p); return true })
	}
}

// walkExpectation checks one expect entry: an expression, or {expr, severity, note}.
func (l *loader) walkExpectation(n *yaml.Node, path string) {
	exprNode, exprPath := n, path
	switch n.Kind {
	case yaml.ScalarNode:
	case yaml.MappingNode:
		type expectation struct {
			Expr     string `yaml:"expr"`
			Severity string `yaml:"severity"`
			Note     string `yaml:"note"`
		}
		l.walkStruct(n, reflect.TypeOf(expectation{}), path)
		ref, ok := l.idx[path+".expr"]
		if !ok {
			if !l.isBad(path) {
				l.errorAt(n, path+".expr", "required: the expression, e.g. time_to_consistency.p99 < 2s")
			}
			return
		}
		exprNode, exprPath = l.deref(ref.val), path+".expr"
		if exprNode.Kind != yaml.ScalarNode || l.isBad(exprPath) {
			return
		}
	default:
		l.reject(n, path, "want an expression like \"time_to_consistency.p99 < 2s\" or a mapping {expr, severity, note}, got %s", describe(n))
		return
	}
	if _, err := expect.Parse(exprNode.Value); err != nil {
		l.reject(exprNode, exprPath, "%s", err)
	}
}

// wantScalar reports whether n is a scalar, recording an error if not.
func (l *loader) wantScalar(n *yaml.Node, path, want string) bool {
	if n.Kind == yaml.ScalarNode {
		return true
	}
	l.reject(n, path, "want %s, got %s", want, describe(n))
	return false
}

// The walk follows aliases, so a small file can name an exponential number of nodes (a
// "billion laughs" alias bomb). Like yaml.v3's decoder, the walk counts the nodes it visits and
// those it reaches through an alias, and stops when aliases make up too large a share: up to 99%
// of 400,000 visits, falling linearly to 10% at 4,000,000.
const (
	aliasRatioLow  = 400_000
	aliasRatioHigh = 4_000_000
)

// allowedAliasRatio is yaml.v3's rule: the share of visits that may come through aliases after
// visits nodes.
func allowedAliasRatio(visits int) float64 {
	switch {
	case visits <= aliasRatioLow:
		return 0.99
	case visits >= aliasRatioHigh:
		return 0.10
	}
	return 0.99 - 0.89*float64(visits-aliasRatioLow)/float64(aliasRatioHigh-aliasRatioLow)
}

// visit counts a visit to node n and reports whether the walk may go on; after too much
// aliasing it records one error at n and stops the walk.
func (l *loader) visit(n *yaml.Node, path string) bool {
	if l.tooAliased {
		return false
	}
	if !l.knownTag(n, path) {
		return false
	}
	l.visits++
	if l.aliasDepth > 0 {
		l.aliasVisits++
	}
	if l.aliasVisits > 100 && l.visits > 1000 && float64(l.aliasVisits)/float64(l.visits) > allowedAliasRatio(l.visits) {
		l.tooAliased = true
		l.errorAt(n, path, "excessive aliasing: %d of the first %d nodes come through aliases (an alias bomb?)", l.aliasVisits, l.visits)
		return false
	}
	return true
}

// yamlTags are the tags of YAML 1.2's core schema and yaml.v3's extras (short forms).
var yamlTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!map": true, "!!seq": true, "!!binary": true, "!!timestamp": true, "!!merge": true}

// knownTag reports whether node n has no explicit tag or a standard one. yaml.v3 ignores tags it
// does not know (!secret x decodes as "x"); a scenario has no use for application tags, so one is
// a mistake, reported and replaced by a null.
func (l *loader) knownTag(n *yaml.Node, path string) bool {
	if n.Style&yaml.TaggedStyle == 0 || yamlTags[n.ShortTag()] {
		return true
	}
	l.reject(n, path, "unknown YAML tag %s (a scenario uses no application tags; standard ones: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq)", n.Tag)
	return false
}

// viaAlias calls fn with the node alias n refers to, counting the visits below as aliased.
func (l *loader) viaAlias(n *yaml.Node, path string, fn func(*yaml.Node)) {
	if n.Alias == nil || l.tooAliased {
		return
	}
	l.aliasDepth++
	fn(n.Alias)
	l.aliasDepth--
}

// rejectCycles reports every alias written inside the node it refers to (&a [*a]), which would
// make the walk endless, and replaces it by a null. yaml.v3 builds such a node tree without
// complaint and only its decoder refuses it, without a position.
func (l *loader) rejectCycles(n *yaml.Node, open map[*yaml.Node]bool) {
	switch n.Kind {
	case yaml.AliasNode:
		if open[n.Alias] {
			l.errorAt(n, "", "alias *%s is inside the node it refers to", n.Value)
			l.neutralize(n)
		}
		return
	case yaml.ScalarNode:
		return
	}
	open[n] = true
	for _, c := range n.Content {
		l.rejectCycles(c, open)
	}
	delete(open, n)
}

// deref follows aliases.
func (l *loader) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// envName is a valid variable name in ${NAME}.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${VAR} in a scalar's value with the variable's value; $${ is a literal ${.
// A plain scalar is re-typed after expansion, as if its value had been written in the file.
// It reports whether the value changed.
func (l *loader) expand(n *yaml.Node, path string) bool {
	if l.expanded[n] || !strings.Contains(n.Value, "$") {
		return false
	}
	l.expanded[n] = true
	v := n.Value
	var b strings.Builder
	changed := false
	for i := 0; i < len(v); {
		switch {
		case strings.HasPrefix(v[i:], "$${"):
			b.WriteString("${")
			i += 3
			changed = true
		case strings.HasPrefix(v[i:], "${"):
			end := strings.IndexByte(v[i+2:], '}')
			if end < 0 {
				l.envError(n, i, path, "unterminated ${ (write $${ for a literal ${)")
				return false
			}
			name := v[i+2 : i+2+end]
			if !envName.MatchString(name) {
				l.envError(n, i, path, "bad variable name %q in ${%s}: want letters, digits and _ (write $${ for a literal ${)", name, name)
				return false
			}
			val, ok := l.cfg.lookupEnv(name)
			if !ok {
				l.envError(n, i, path, "environment variable %s is not set (write $${%s} for a literal ${%s})", name, name, name)
				return false
			}
			b.WriteString(val)
			i += 3 + end
			changed = true
		default:
			b.WriteByte(v[i])
			i++
		}
	}
	if !changed {
		return false
	}
	n.Value = b.String()
	if n.Style == 0 { // plain: type the expanded text
		n.Tag = ""
	}
	return true
}

// envError records an unresolvable ${VAR} at its own column when the scalar is on one line.
func (l *loader) envError(n *yaml.Node, offset int, path, format string, args ...any) {
	if l.envErr == nil {
		l.envErr = map[*yaml.Node]bool{}
	}
	l.envErr[n] = true
	defer l.neutralize(n)
	at := *n
	if !strings.Contains(n.Value, "\n") {
		shift := utf8.RuneCountInString(n.Value[:offset])
		switch n.Style {
		case 0:
			at.Column += shift
		case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
			at.Column += 1 + shift
		}
	}
	l.errorAt(&at, path, format, args...)
}

// decodes reports whether scalar n decodes into a value of type t (yaml.v3's own rules).
func decodes(n *yaml.Node, t reflect.Type) bool {
	return n.Decode(reflect.New(t).Interface()) == nil
}

// describe names a node's shape for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return quoteScalar(n)
}

// quoteScalar renders a scalar: strings quoted, other values as written.
func quoteScalar(n *yaml.Node) string {
	if n.ShortTag() == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// yamlFields maps yaml keys to the fields of struct type t.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

// fieldNames lists the keys of fields in declaration order.
func fieldNames(fields map[string]reflect.StructField) []string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return fields[a].Index[0] - fields[b].Index[0] })
	return names
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// joinPath appends a mapping key to a path: a.b, or a["x.y"] for keys that are not plain.
func joinPath(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// parentPath strips the last element of a path.
func parentPath(path string) string {
	if strings.HasSuffix(path, `"]`) {
		if i := strings.LastIndex(path, `["`); i >= 0 {
			return path[:i]
		}
	}
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}
