// Package redact turns what the system under test answered into text fit for a log line, an
// error or a report: one short line, with every credential the harness knows of, and anything
// that looks like one, replaced by its fingerprint or a marker.
package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
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
}

// Add records secrets to redact; values shorter than 4 bytes are ignored.
func (s *Set) Add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]struct{}{}
	}
	for _, v := range secrets {
		if len(v) >= minSecret {
			s.values[v] = struct{}{}
		}
	}
}

// Global is the process-wide set every Excerpt redacts: the harness adds each credential it
// mints or is given.
var Global Set

var (
	// authValue is the value of an Authorization-like header or parameter.
	authValue = regexp.MustCompile(`(?i)\b(bearer|basic|dpop)\s+[A-Za-z0-9._~+/=-]{4,}`)
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
