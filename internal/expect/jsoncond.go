package expect

import (
	"bytes"
	"encoding/json"
	"strings"
)

// JSONCond is a condition on a JSON document, used by probes to classify an answer by its body
// (RFC 7662 introspection answers 200 for every token and says "active": false for a recalled
// one). It is written
//
//	cond    = path op literal
//	path    = ( key | index ) { "." key | index }
//	index   = "[" digits "]" | "[" string "]"
//	key     = ident
//	op      = "<" | "<=" | "==" | "!=" | ">=" | ">"
//	literal = "true" | "false" | "null" | number | string
//
// for example active == true, token.status != "revoked", items[0].count > 0. Ordering
// operators need a number. A path that is absent from the document never matches.
//
// The zero JSONCond matches every document. JSONCond implements encoding.TextUnmarshaler and
// encoding.TextMarshaler, giving back the text as written.
type JSONCond struct {
	// Text is the condition as written.
	Text string

	path  []any // string keys and int indices
	op    string
	value any // bool, nil, float64, string
}

// ParseJSONCond parses a JSON condition. The error, if any, is an [*Error].
func ParseJSONCond(s string) (JSONCond, error) {
	p := parser{what: "JSON condition", input: s}
	toks, err := scan(s)
	if err != nil {
		return JSONCond{}, p.wrap(err)
	}
	p.toks = toks
	c, err := p.jsonCond()
	if err != nil {
		return JSONCond{}, p.wrap(err)
	}
	c.Text = s
	return c, nil
}

func (p *parser) jsonCond() (JSONCond, *Error) {
	var c JSONCond
	switch t := p.peek(); t.kind {
	case tIdent:
		c.path = append(c.path, p.next().text)
	case tLBrack:
	default:
		return c, unexpected(t, "a field name like active")
	}
	for {
		switch p.peek().kind {
		case tDot:
			p.next()
			t := p.next()
			if t.kind != tIdent {
				return c, unexpected(t, "a field name after \".\"")
			}
			c.path = append(c.path, t.text)
			continue
		case tLBrack:
			p.next()
			t := p.next()
			switch {
			case t.kind == tString:
				c.path = append(c.path, t.str)
			case t.kind == tNumber && t.num >= 0 && t.num == float64(int(t.num)) && !strings.Contains(t.text, "."):
				c.path = append(c.path, int(t.num))
			default:
				return c, unexpected(t, "an index like [0] or a quoted key like [\"x-y\"]")
			}
			if t := p.next(); t.kind != tRBrack {
				return c, unexpected(t, "\"]\"")
			}
			continue
		}
		break
	}
	op := p.next()
	if op.kind != tOp && op.kind != tAssign {
		return c, unexpected(op, "a comparison operator ("+strings.Join(Ops, ", ")+")")
	}
	if !contains(Ops, op.text) {
		return c, errAt(op, "unknown operator %q (want one of %s)", op.text, strings.Join(Ops, ", "))
	}
	c.op = op.text
	v := p.next()
	switch {
	case v.kind == tIdent && v.text == "true":
		c.value = true
	case v.kind == tIdent && v.text == "false":
		c.value = false
	case v.kind == tIdent && v.text == "null":
		c.value = nil
	case v.kind == tNumber:
		c.value = v.num
	case v.kind == tString:
		c.value = v.str
	default:
		return c, unexpected(v, "true, false, null, a number or a quoted string")
	}
	if _, isNum := c.value.(float64); !isNum && c.op != "==" && c.op != "!=" {
		return c, errAt(op, "operator %s needs a number, got %s", c.op, v.text)
	}
	if t := p.next(); t.kind != tEOF {
		return c, unexpected(t, "end of input")
	}
	return c, nil
}

// MustParseJSONCond is like ParseJSONCond but panics on error.
func MustParseJSONCond(s string) JSONCond {
	c, err := ParseJSONCond(s)
	if err != nil {
		panic(err)
	}
	return c
}

// Match reports whether the JSON document body satisfies c. A body that is not JSON, or lacks
// the path, does not match. The zero JSONCond matches everything.
func (c JSONCond) Match(body []byte) bool {
	if c.op == "" {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return false
	}
	v, ok := lookupPath(doc, c.path)
	if !ok {
		return false
	}
	switch want := c.value.(type) {
	case float64:
		n, isNum := v.(json.Number)
		if !isNum {
			return c.op == "!="
		}
		f, err := n.Float64()
		if err != nil {
			return false
		}
		return compare(f, c.op, want)
	default:
		eq := v == c.value
		if c.op == "!=" {
			return !eq
		}
		return eq
	}
}

func lookupPath(doc any, path []any) (any, bool) {
	cur := doc
	for _, el := range path {
		switch k := el.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			cur, ok = m[k]
			if !ok {
				return nil, false
			}
		case int:
			a, ok := cur.([]any)
			if !ok || k >= len(a) {
				return nil, false
			}
			cur = a[k]
		}
	}
	return cur, true
}

// String returns the condition as written.
func (c JSONCond) String() string { return c.Text }

// MarshalText returns the condition as written.
func (c JSONCond) MarshalText() ([]byte, error) { return []byte(c.Text), nil }

// UnmarshalText parses a condition.
func (c *JSONCond) UnmarshalText(b []byte) error {
	p, err := ParseJSONCond(string(b))
	if err != nil {
		return err
	}
	*c = p
	return nil
}
