package scenario

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// WithOverrides applies `--set path=value` overrides to the scenario before it is checked:
// each replaces (or adds) one scalar in the YAML node tree, so the value goes through the same
// type checks, defaults and validation as if it had been written in the file. A path is a dot
// path of keys with list items chosen by index or, in a list of named items, by name:
//
//	traffic.rate=5000/s
//	recall.at=20s
//	system.components[edge-poll].with.interval=3s
//	expect[0]=resurrections == 0
//
// An error about an overridden value names the override ([Error.Set]) and the position of the
// value it replaced (or of the nearest enclosing key for a value the file did not have).
// Overrides apply in order; a later one on the same path wins.
func WithOverrides(sets ...string) LoadOption {
	return func(c *loadConfig) { c.overrides = append(c.overrides, sets...) }
}

// applyOverrides edits the tree under root for every override of the configuration.
func (l *loader) applyOverrides(root *yaml.Node) {
	for _, set := range l.cfg.overrides {
		if err := l.applyOverride(root, set); err != "" {
			l.errs = append(l.errs, &Error{File: l.file, Set: set, Msg: err})
		}
	}
}

// applyOverride applies one "path=value"; it returns a message saying what is wrong, or "".
func (l *loader) applyOverride(root *yaml.Node, set string) string {
	path, value, ok := strings.Cut(set, "=")
	path = strings.TrimSpace(path)
	if !ok || path == "" {
		return "want path=value, e.g. traffic.rate=5000/s"
	}
	segs, msg := splitSetPath(path)
	if msg != "" {
		return msg
	}
	n, at := root, root
	done := ""
	for i, seg := range segs {
		last := i == len(segs)-1
		where := done
		if where == "" {
			where = "the top level"
		}
		if n.Kind == yaml.AliasNode {
			return fmt.Sprintf("%s is an alias (*%s): override the anchored value instead", where, n.Value)
		}
		if seg.key != "" {
			if n.Kind != yaml.MappingNode {
				return fmt.Sprintf("%s is %s, not a mapping with key %q", where, describe(n), seg.key)
			}
			var child *yaml.Node
			for j := 0; j+1 < len(n.Content); j += 2 {
				if k := n.Content[j]; k.Kind == yaml.ScalarNode && k.Value == seg.key {
					child, at = n.Content[j+1], k
				}
			}
			if child == nil {
				// Add the key, located at the mapping it is added to.
				k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: seg.key, Line: at.Line, Column: at.Column}
				child = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: at.Line, Column: at.Column}
				if last {
					child = &yaml.Node{Kind: yaml.ScalarNode, Line: at.Line, Column: at.Column}
				} else if segs[i+1].key == "" {
					return fmt.Sprintf("%s has no list %q to choose an item from", where, seg.key)
				}
				n.Content = append(n.Content, k, child)
			}
			n = child
			done = joinPath(done, seg.key)
		} else {
			if n.Kind != yaml.SequenceNode {
				return fmt.Sprintf("%s is %s, not a list", where, describe(n))
			}
			idx := seg.index
			if seg.name != "" {
				idx = -1
				var names []string
				for j, item := range n.Content {
					if name := itemName(item); name != "" {
						names = append(names, name)
						if name == seg.name {
							idx = j
						}
					}
				}
				if idx < 0 {
					return fmt.Sprintf("%s has no item named %q (have: %s)", where, seg.name, strings.Join(names, ", "))
				}
			} else if idx >= len(n.Content) {
				return fmt.Sprintf("%s has %d items: index %d is out of range", where, len(n.Content), idx)
			}
			n, at = n.Content[idx], n.Content[idx]
			done = fmt.Sprintf("%s[%d]", done, idx)
		}
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Sprintf("%s is %s: --set overrides single values (a key or list item holding a scalar)", done, describe(n))
	}
	// A plain scalar, typed from its text as if written in the file, at the replaced value's
	// position.
	*n = yaml.Node{Kind: yaml.ScalarNode, Value: value, Line: n.Line, Column: n.Column}
	if l.sets == nil {
		l.sets = map[*yaml.Node]string{}
	}
	l.sets[n] = set
	return ""
}

// itemName is the name: of a list item that is a mapping, or "".
func itemName(item *yaml.Node) string {
	if item.Kind != yaml.MappingNode {
		return ""
	}
	for j := 0; j+1 < len(item.Content); j += 2 {
		if item.Content[j].Value == "name" && item.Content[j+1].Kind == yaml.ScalarNode {
			return item.Content[j+1].Value
		}
	}
	return ""
}

// setSeg is one step of an override path: a key, or a list item by index or name.
type setSeg struct {
	key   string
	index int
	name  string
}

// splitSetPath splits "a.b[2].c[name]" into its steps.
func splitSetPath(path string) ([]setSeg, string) {
	var segs []setSeg
	for _, part := range strings.Split(path, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key == "" && (len(segs) == 0 || rest == "") {
			return nil, fmt.Sprintf("bad path %q: want keys separated by dots, list items as [0] or [name]", path)
		}
		if key != "" {
			segs = append(segs, setSeg{key: key})
		}
		for rest != "" {
			in, after, ok := strings.Cut(rest, "]")
			if !ok || in == "" || (after != "" && !strings.HasPrefix(after, "[")) {
				return nil, fmt.Sprintf("bad path %q: want list items as [0] or [name]", path)
			}
			if i, err := strconv.Atoi(in); err == nil {
				if i < 0 {
					return nil, fmt.Sprintf("bad path %q: negative index %d", path, i)
				}
				segs = append(segs, setSeg{index: i})
			} else {
				segs = append(segs, setSeg{name: in})
			}
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return segs, ""
}

// setAt returns the override that put node n (or the value at path) in the tree, or "".
func (l *loader) setAt(n *yaml.Node, path string) string {
	if n != nil {
		if s, ok := l.sets[n]; ok {
			return s
		}
	}
	if path == "" {
		return ""
	}
	if ref, ok := l.idx[path]; ok && ref.val != nil {
		return l.sets[ref.val]
	}
	return ""
}
