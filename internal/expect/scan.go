package expect

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tDot
	tLBrace
	tRBrace
	tLBrack
	tRBrack
	tAssign
	tComma
	tString
	tOp
	tNumber   // 0.5, -3 (sign only where the grammar allows it)
	tPercent  // 10%  (num holds the fraction, 0.1)
	tDuration // 150ms, 2s, 1m30s (num holds milliseconds)
)

func (k tokKind) String() string {
	switch k {
	case tEOF:
		return "end of input"
	case tIdent:
		return "name"
	case tString:
		return "string"
	case tOp:
		return "operator"
	case tNumber:
		return "number"
	case tPercent:
		return "percentage"
	case tDuration:
		return "duration"
	}
	return "symbol"
}

// token is one lexical token; col is its 1-based column (in characters) in the input.
type token struct {
	kind tokKind
	text string  // as written
	str  string  // tString: the unquoted value
	num  float64 // tNumber, tPercent, tDuration
	col  int
}

// describe renders t for "unexpected ..." messages.
func (t token) describe() string {
	if t.kind == tEOF {
		return "end of input"
	}
	return strconv.Quote(t.text)
}

// scan splits s into tokens. It stops at the first lexical error, which carries its column.
func scan(s string) ([]token, *Error) {
	var toks []token
	col := func(i int) int { return utf8.RuneCountInString(s[:i]) + 1 }
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentPart(s[j]) {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: s[i:j], col: col(i)})
			i = j
		case isDigit(c) || (c == '-' && i+1 < len(s) && isDigit(s[i+1])) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			t, n, err := scanNumber(s, i)
			if err != nil {
				return nil, &Error{Column: col(i), Reason: err.Error()}
			}
			t.col = col(i)
			toks = append(toks, t)
			i += n
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c == '"' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, &Error{Column: col(i), Reason: "unterminated string"}
			}
			raw := s[i : j+1]
			val := raw[1 : len(raw)-1]
			if c == '"' {
				u, err := strconv.Unquote(raw)
				if err != nil {
					return nil, &Error{Column: col(i), Reason: fmt.Sprintf("bad string %s", raw)}
				}
				val = u
			}
			toks = append(toks, token{kind: tString, text: raw, str: val, col: col(i)})
			i = j + 1
		case c == '<' || c == '>' || c == '=' || c == '!':
			j := i + 1
			for j < len(s) && strings.IndexByte("<>=!", s[j]) >= 0 {
				j++
			}
			text := s[i:j]
			kind := tOp
			if text == "=" {
				kind = tAssign
			}
			toks = append(toks, token{kind: kind, text: text, col: col(i)})
			i = j
		default:
			kind, ok := map[byte]tokKind{'.': tDot, '{': tLBrace, '}': tRBrace, '[': tLBrack, ']': tRBrack, ',': tComma}[c]
			if !ok {
				r, _ := utf8.DecodeRuneInString(s[i:])
				return nil, &Error{Column: col(i), Reason: fmt.Sprintf("unexpected %q", string(r))}
			}
			toks = append(toks, token{kind: kind, text: s[i : i+1], col: col(i)})
			i++
		}
	}
	toks = append(toks, token{kind: tEOF, col: col(len(s))})
	return toks, nil
}

// scanNumber scans a number, a percentage or a Go duration starting at s[i]. It returns the
// token (without column) and the number of bytes consumed.
func scanNumber(s string, i int) (token, int, error) {
	j := i
	if s[j] == '-' {
		j++
	}
	for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
		j++
	}
	num := s[i:j]
	switch {
	case j < len(s) && s[j] == '%':
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return token{}, 0, fmt.Errorf("bad number %q", s[i:j+1])
		}
		return token{kind: tPercent, text: s[i : j+1], num: f / 100}, j + 1 - i, nil
	case j < len(s) && (isLetter(s[j]) || s[j] == 0xc2 || s[j] == 0xce): // unit letter, µ (U+00B5) or μ (U+03BC)
		// A Go duration: digits and units, possibly several (1m30s).
		for j < len(s) && (isDigit(s[j]) || s[j] == '.' || isLetter(s[j]) || s[j] >= 0x80) {
			j++
		}
		text := s[i:j]
		d, err := time.ParseDuration(text)
		if err != nil {
			return token{}, 0, fmt.Errorf("bad duration %q: want a Go duration like 150ms, 2s or 1m30s", text)
		}
		return token{kind: tDuration, text: text, num: float64(d) / float64(time.Millisecond)}, j - i, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return token{}, 0, fmt.Errorf("bad number %q", num)
	}
	return token{kind: tNumber, text: num, num: f}, j - i, nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isLetter(c byte) bool     { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isIdentStart(c byte) bool { return isLetter(c) || c == '_' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }
