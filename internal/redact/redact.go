// Package redact turns what the system under test answered into text fit for a log line, an
// error or a report: one short line, with every credential the harness knows of, and anything
// that looks like one, replaced by its fingerprint or a marker.
package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// MaxExcerpt is the length in bytes of an excerpt, before its ellipsis.
const MaxExcerpt = 200

// maxScan is how much of a body Excerpt looks at: far more than it keeps, so that a credential
// cut by the excerpt's end is still found whole.
const maxScan = 4 << 10

// minSecret is the shortest value Add keeps: shorter ones would redact common words.
const minSecret = 4

// Fingerprint is the first 12 hex digits of the SHA-256 of v: how credentials appear in logs and
// reports. It is "" for "".
func Fingerprint(v string) string {
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:6])
}

// Set is the credentials a drill holds (tokens, client secrets, introspection credentials):
// Excerpt replaces each by "[fp:<fingerprint>]". The zero Set is ready; it is safe for
// concurrent use.
type Set struct {
	mu     sync.RWMutex
	values map[string]struct{}
	// idx indexes values for Text; nil when values changed since it was built.
	idx *index
}

// Add records secrets to redact; values shorter than 4 bytes are ignored.
func (s *Set) Add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]struct{}{}
	}
	for _, v := range secrets {
		if _, ok := s.values[v]; !ok && len(v) >= minSecret {
			s.values[v] = struct{}{}
			s.idx = nil
		}
	}
}

// index returns the index of s's values, built once per change of the set.
func (s *Set) index() *index {
	s.mu.RLock()
	idx := s.idx
	s.mu.RUnlock()
	if idx != nil {
		return idx
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idx == nil {
		vs := make([]string, 0, len(s.values))
		for v := range s.values {
			vs = append(vs, v)
		}
		s.idx = newIndex(vs)
	}
	return s.idx
}

// prefixLen is the length of the prefix index keys its values by: Text looks up every
// position of a text once, whatever the number of values.
const prefixLen = 8

// index finds known values in a text in time linear in the text: values of at least prefixLen
// bytes by their prefix, the few shorter ones by search.
type index struct {
	byPrefix map[string][]string // longest first
	short    []string
}

func newIndex(values []string) *index {
	idx := &index{byPrefix: map[string][]string{}}
	for _, v := range values {
		switch {
		case len(v) < minSecret:
		case len(v) < prefixLen:
			idx.short = append(idx.short, v)
		default:
			idx.byPrefix[v[:prefixLen]] = append(idx.byPrefix[v[:prefixLen]], v)
		}
	}
	for _, vs := range idx.byPrefix {
		sort.Slice(vs, func(i, j int) bool { return len(vs[i]) > len(vs[j]) })
	}
	sort.Slice(idx.short, func(i, j int) bool { return len(idx.short[i]) > len(idx.short[j]) })
	return idx
}

// replace replaces every value of idx in s by its fingerprint marker, the longest at each
// position.
func (idx *index) replace(s string) string {
	if len(idx.byPrefix) > 0 && len(s) >= prefixLen {
		var b strings.Builder
		last := 0
		for i := 0; i+prefixLen <= len(s); {
			if vs, ok := idx.byPrefix[s[i:i+prefixLen]]; ok {
				if m := longestAt(s[i:], vs); m != "" {
					b.WriteString(s[last:i])
					b.WriteString("[fp:" + Fingerprint(m) + "]")
					i += len(m)
					last = i
					continue
				}
			}
			i++
		}
		if last > 0 {
			b.WriteString(s[last:])
			s = b.String()
		}
	}
	for _, v := range idx.short {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "[fp:"+Fingerprint(v)+"]")
		}
	}
	return s
}

func longestAt(s string, vs []string) string {
	for _, v := range vs {
		if strings.HasPrefix(s, v) {
			return v
		}
	}
	return ""
}

// Global is the process-wide set every Excerpt redacts: the harness adds each credential it
// mints or is given.
var Global Set

var (
	// authValue is the value of an Authorization-like header or parameter.
	authValue = regexp.MustCompile(`(?i)\b(bearer|basic|dpop)\s+([A-Za-z0-9._~+/=-]{4,})`)
	// jwtLike is three base64url segments, the first of which decodes to a JSON header.
	jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	// secretParam is a form or JSON field that carries a credential.
	secretParam = regexp.MustCompile(`(?i)("?(?:access_token|refresh_token|id_token|client_secret|password|token|client_assertion)"?\s*[:=]\s*"?)([^"&\s,}]{4,})`)
)

// Excerpt returns b as one line of at most MaxExcerpt bytes (then "…"), with control characters
// and runs of white space collapsed, and credentials redacted: every value of extra and of
// Global, Authorization values, JWT-shaped strings and token or secret fields.
func Excerpt(b []byte, extra ...string) string {
	if len(b) > maxScan {
		b = b[:maxScan]
	}
	s := string(b)
	s = redactKnown(s, extra)
	s = authValue.ReplaceAllString(s, "$1 [redacted]")
	s = jwtLike.ReplaceAllStringFunc(s, func(m string) string { return "[fp:" + Fingerprint(m) + "]" })
	s = secretParam.ReplaceAllString(s, "${1}[redacted]")
	return oneLine(s, MaxExcerpt)
}

// Text returns s with the credentials Excerpt redacts replaced in the same way (every value of
// extra and of Global, Authorization values, JWT-shaped strings, token or secret fields), but
// whole: lines and length are kept, for log files (the docker runtime's saved container logs).
// Looking up Global's values costs time linear in s, not in how many credentials the drill
// holds.
func Text(s string, extra ...string) string {
	if len(extra) > 0 {
		s = newIndex(extra).replace(s)
	}
	s = Global.index().replace(s)
	s = jwtLike.ReplaceAllStringFunc(s, func(m string) string { return "[fp:" + Fingerprint(m) + "]" })
	// A value that is already a fingerprint stays: components log credentials that way, as
	// recall's own do, and the fingerprint ties the line to the report.
	s = authValue.ReplaceAllStringFunc(s, func(m string) string {
		sub := authValue.FindStringSubmatch(m)
		if fingerprintLike.MatchString(sub[2]) {
			return m
		}
		return sub[1] + " [redacted]"
	})
	return secretParam.ReplaceAllStringFunc(s, func(m string) string {
		sub := secretParam.FindStringSubmatch(m)
		if fingerprintLike.MatchString(sub[2]) || strings.HasPrefix(sub[2], "[fp:") || strings.HasPrefix(sub[2], "[redacted]") {
			return m
		}
		return sub[1] + "[redacted]"
	})
}

// fingerprintLike is a value that is already a fingerprint.
var fingerprintLike = regexp.MustCompile(`^[0-9a-f]{12}$`)

// String is Excerpt of a string.
func String(s string, extra ...string) string { return Excerpt([]byte(s), extra...) }

func redactKnown(s string, extra []string) string {
	for _, v := range extra {
		if len(v) >= minSecret && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "[fp:"+Fingerprint(v)+"]")
		}
	}
	Global.mu.RLock()
	defer Global.mu.RUnlock()
	if len(Global.values) == 0 {
		return s
	}
	for v := range Global.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "[fp:"+Fingerprint(v)+"]")
		}
	}
	return s
}

// oneLine collapses white space and control characters to single spaces, trims, and cuts to n
// bytes on a rune boundary.
func oneLine(s string, n int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if b.Len()+utf8.RuneLen(r) > n {
			b.WriteString("…")
			return b.String()
		}
		b.WriteRune(r)
	}
	return b.String()
}
