// Package ssf is recall's side of the OpenID Shared Signals Framework 1.0 (final, 29 August
// 2025): Security Event Tokens (RFC 8417) carrying CAEP 1.0 and RISC events about subjects named
// as RFC 9493 says, signed and validated here, and a transmitter that serves the SSF metadata
// and stream management API and delivers SETs by push (RFC 8935) and poll (RFC 8936).
//
// Section numbers in comments are those of the documents named: "SSF §8.1.1" is section 8.1.1
// of openid-sharedsignals-framework-1_0 (final), "RFC 8936 §2.4" is section 2.4 of that RFC.
package ssf

import (
	"fmt"
	"sort"
	"strings"
)

// Subject is a Subject Identifier (RFC 9493 §3) or an SSF Complex Subject (SSF §3.3): a JSON
// object whose "format" member names its format. It is what a SET's top-level "sub_id" claim
// holds (SSF §3.1, RFC 9493 §4).
type Subject map[string]any

// Format is the subject's "format" member, "" when there is none or it is not a string.
func (s Subject) Format() string {
	f, _ := s["format"].(string)
	return f
}

// Subject identifier formats (RFC 9493 §3.2 and SSF §3.3, §3.5).
const (
	FormatAccount   = "account"           // RFC 9493 §3.2.1
	FormatAliases   = "aliases"           // RFC 9493 §3.2.8
	FormatDID       = "did"               // RFC 9493 §3.2.6
	FormatEmail     = "email"             // RFC 9493 §3.2.2
	FormatIssSub    = "iss_sub"           // RFC 9493 §3.2.3
	FormatOpaque    = "opaque"            // RFC 9493 §3.2.4
	FormatPhone     = "phone_number"      // RFC 9493 §3.2.5
	FormatURI       = "uri"               // RFC 9493 §3.2.7
	FormatComplex   = "complex"           // SSF §3.3
	FormatJWTID     = "jwt_id"            // SSF §3.5.1
	FormatSAMLID    = "saml_assertion_id" // SSF §3.5.2
	FormatIPAddress = "ip-addresses"      // SSF §3.5.3
)

// IssSub is an "iss_sub" subject identifier (RFC 9493 §3.2.3).
func IssSub(iss, sub string) Subject { return Subject{"format": FormatIssSub, "iss": iss, "sub": sub} }

// Email is an "email" subject identifier (RFC 9493 §3.2.2).
func Email(addr string) Subject { return Subject{"format": FormatEmail, "email": addr} }

// Opaque is an "opaque" subject identifier (RFC 9493 §3.2.4).
func Opaque(id string) Subject { return Subject{"format": FormatOpaque, "id": id} }

// Complex is an SSF Complex Subject (SSF §3.3): members such as "user", "session", "device",
// "tenant", each a simple subject identifier, that together name one subject principal.
func Complex(members map[string]Subject) Subject {
	s := Subject{"format": FormatComplex}
	for k, v := range members {
		s[k] = v
	}
	return s
}

// SessionID names a session the way CAEP 1.0 §3.1 (Session Revoked) does with a complex
// subject: its "session" member is the opaque session identifier and, when the user is known,
// its "user" member is the iss_sub pair of the session's owner.
func SessionID(sid, iss, sub string) Subject {
	m := map[string]Subject{"session": Opaque(sid)}
	if iss != "" && sub != "" {
		m["user"] = IssSub(iss, sub)
	}
	return Complex(m)
}

// requiredMembers lists, per simple format, the string members it MUST contain.
var requiredMembers = map[string][]string{
	FormatAccount: {"uri"},                    // RFC 9493 §3.2.1
	FormatDID:     {"url"},                    // RFC 9493 §3.2.6
	FormatEmail:   {"email"},                  // RFC 9493 §3.2.2
	FormatIssSub:  {"iss", "sub"},             // RFC 9493 §3.2.3
	FormatOpaque:  {"id"},                     // RFC 9493 §3.2.4
	FormatPhone:   {"phone_number"},           // RFC 9493 §3.2.5
	FormatURI:     {"uri"},                    // RFC 9493 §3.2.7
	FormatJWTID:   {"iss", "jti"},             // SSF §3.5.1
	FormatSAMLID:  {"issuer", "assertion_id"}, // SSF §3.5.2
}

// knownFormats is every format ValidateSubject understands, for error messages.
func knownFormats() string {
	names := []string{FormatAliases, FormatComplex, FormatIPAddress}
	for k := range requiredMembers {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// ValidateSubject checks that v is a subject identifier of a known format with the members that
// format requires (RFC 9493 §3.2, SSF §3.3 and §3.5). A complex subject's members must each be
// a valid simple subject (SSF §3.3: "one or more Simple Subject Members"); aliases' identifiers
// must not themselves be aliases (RFC 9493 §3.2.8). extra names formats agreed out of band
// between the parties (SSF §3.4), which are accepted with any members.
func ValidateSubject(v any, extra ...string) error {
	return validateSubject(v, "sub_id", true, extra)
}

func validateSubject(v any, path string, complexOK bool, extra []string) error {
	m, ok := v.(map[string]any)
	if !ok {
		if s, isSub := v.(Subject); isSub {
			m = s
		} else {
			return fmt.Errorf("%s: want a JSON object, got %s", path, jsonKind(v))
		}
	}
	f, ok := m["format"].(string)
	if !ok || f == "" {
		return fmt.Errorf("%s: no \"format\" member (RFC 9493 §3)", path)
	}
	for _, e := range extra {
		if f == e {
			return nil
		}
	}
	switch f {
	case FormatComplex:
		if !complexOK {
			return fmt.Errorf("%s: a complex subject's members must be simple subjects (SSF §3.3)", path)
		}
		n := 0
		for k, mv := range m {
			if k == "format" {
				continue
			}
			n++
			if err := validateSubject(mv, path+"."+k, false, extra); err != nil {
				return err
			}
		}
		if n == 0 {
			return fmt.Errorf("%s: complex subject has no members (SSF §3.3)", path)
		}
		return nil
	case FormatAliases:
		ids, ok := m["identifiers"].([]any)
		if !ok || len(ids) == 0 {
			return fmt.Errorf("%s: aliases needs a non-empty \"identifiers\" array (RFC 9493 §3.2.8)", path)
		}
		for i, id := range ids {
			if sm, ok := id.(map[string]any); ok && sm["format"] == FormatAliases {
				return fmt.Errorf("%s.identifiers[%d]: aliases must not nest (RFC 9493 §3.2.8)", path, i)
			}
			if err := validateSubject(id, fmt.Sprintf("%s.identifiers[%d]", path, i), false, extra); err != nil {
				return err
			}
		}
		return nil
	case FormatIPAddress:
		ips, ok := m["ip-addresses"].([]any)
		if !ok || len(ips) == 0 {
			return fmt.Errorf("%s: ip-addresses needs a non-empty \"ip-addresses\" array (SSF §3.5.3)", path)
		}
		return nil
	}
	req, ok := requiredMembers[f]
	if !ok {
		return fmt.Errorf("%s: unknown subject format %q (have: %s)", path, f, knownFormats())
	}
	for _, k := range req {
		s, ok := m[k].(string)
		if !ok || s == "" {
			return fmt.Errorf("%s: format %q needs a non-empty string %q", path, f, k)
		}
	}
	if f == FormatAccount && !strings.HasPrefix(m["uri"].(string), "acct:") {
		return fmt.Errorf("%s: account uri must use the acct: scheme (RFC 9493 §3.2.1)", path)
	}
	if f == FormatEmail && !strings.Contains(m["email"].(string), "@") {
		return fmt.Errorf("%s: email has no @ (RFC 9493 §3.2.2)", path)
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case []any:
		return "an array"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
