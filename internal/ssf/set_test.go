package ssf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func testKey(t testing.TB, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
}

func pubSet(keys ...jose.JSONWebKey) *jose.JSONWebKeySet {
	s := &jose.JSONWebKeySet{}
	for _, k := range keys {
		s.Keys = append(s.Keys, k.Public())
	}
	return s
}

// signRaw signs arbitrary claims with an arbitrary typ, to build SETs Sign refuses to make.
func signRaw(t *testing.T, key jose.JSONWebKey, typ string, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

var testNow = time.Unix(1_800_000_000, 0)

func goodClaims() map[string]any {
	return SET{
		Issuer: "https://tx.example", Audience: []string{"rx-1"}, IssuedAt: testNow, ID: "jti-1",
		Txn: "txn-1", SubID: IssSub("https://idp.example", "alice"), EventType: CAEPSessionRevoked,
		Event: map[string]any{"event_timestamp": testNow.Unix()},
	}.Claims()
}

func validator(keys *jose.JSONWebKeySet) *Validator {
	return &Validator{Issuer: "https://tx.example", Audience: "rx-1", Keys: keys, MaxAge: time.Hour,
		Now: func() time.Time { return testNow }}
}

func TestSignValidateRoundTrip(t *testing.T) {
	key := testKey(t, "k1")
	for name, sub := range map[string]Subject{
		"iss_sub":    IssSub("https://idp.example", "alice"),
		"email":      Email("alice@example.com"),
		"opaque":     Opaque("72e6991b"),
		"session_id": SessionID("sid-9", "https://idp.example", "alice"),
		"complex":    Complex(map[string]Subject{"user": Email("a@example.com"), "tenant": Opaque("t1")}),
	} {
		t.Run(name, func(t *testing.T) {
			raw, err := Sign(SET{Issuer: "https://tx.example", Audience: []string{"rx-1", "rx-2"}, IssuedAt: testNow,
				Txn: "t", SubID: sub, EventType: RISCCredentialCompromise,
				Event: map[string]any{"credential_type": "password"}}, key)
			if err != nil {
				t.Fatal(err)
			}
			jws, _ := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
			if typ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType]; typ != Typ {
				t.Errorf("typ header %v, want %s", typ, Typ)
			}
			if kid := jws.Signatures[0].Protected.KeyID; kid != "k1" {
				t.Errorf("kid %q", kid)
			}
			got, err := validator(pubSet(key)).Validate(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got.EventType != RISCCredentialCompromise || got.Event["credential_type"] != "password" ||
				got.Txn != "t" || len(got.ID) != 32 || !got.IssuedAt.Equal(testNow) || got.SubID.Format() != sub.Format() {
				t.Errorf("decoded %+v", got)
			}
		})
	}
}

func TestSignRefusesBadSubject(t *testing.T) {
	if _, err := Sign(SET{EventType: CAEPSessionRevoked, SubID: Subject{"format": "email"}}, testKey(t, "k")); err == nil {
		t.Fatal("signed a SET whose email subject has no email")
	}
}

// TestValidateRejects holds one malformed SET per check in Validate; each fails if its check is
// removed, because every other part of the SET is valid.
func TestValidateRejects(t *testing.T) {
	key, other := testKey(t, "k1"), testKey(t, "k1")
	mod := func(f func(c map[string]any)) string {
		c := goodClaims()
		f(c)
		return signRaw(t, key, Typ, c)
	}
	cases := []struct {
		name, raw, code, want string
		v                     func(v *Validator)
	}{
		{name: "not a JWS", raw: "not.a.jws", code: ErrInvalidRequest, want: "not a JWS"},
		{name: "no typ", raw: signRaw(t, key, "", goodClaims()), code: ErrInvalidRequest, want: "typ"},
		{name: "typ JWT", raw: signRaw(t, key, "JWT", goodClaims()), code: ErrInvalidRequest, want: "typ"},
		{name: "bad signature", raw: signRaw(t, other, Typ, goodClaims()), code: ErrInvalidKey, want: "signature"},
		{name: "unknown kid", raw: signRaw(t, testKey(t, "k9"), Typ, goodClaims()), code: ErrInvalidKey, want: "no key"},
		{name: "no keys", raw: mod(func(map[string]any) {}), code: ErrInvalidKey, want: "no transmitter keys",
			v: func(v *Validator) { v.Keys = nil }},
		{name: "no iss", raw: mod(func(c map[string]any) { delete(c, "iss") }), code: ErrInvalidIssuer, want: "no iss"},
		{name: "wrong iss", raw: mod(func(c map[string]any) { c["iss"] = "https://evil.example" }), code: ErrInvalidIssuer, want: "want"},
		{name: "wrong aud", raw: mod(func(c map[string]any) { c["aud"] = "rx-2" }), code: ErrInvalidAudience, want: "aud"},
		{name: "aud array without us", raw: mod(func(c map[string]any) { c["aud"] = []string{"rx-2", "rx-3"} }), code: ErrInvalidAudience, want: "aud"},
		{name: "no aud", raw: mod(func(c map[string]any) { delete(c, "aud") }), code: ErrInvalidAudience, want: "aud"},
		{name: "no jti", raw: mod(func(c map[string]any) { delete(c, "jti") }), code: ErrInvalidRequest, want: "jti"},
		{name: "no iat", raw: mod(func(c map[string]any) { delete(c, "iat") }), code: ErrInvalidRequest, want: "iat"},
		{name: "iat string", raw: mod(func(c map[string]any) { c["iat"] = "now" }), code: ErrInvalidRequest, want: "iat"},
		{name: "iat future", raw: mod(func(c map[string]any) { c["iat"] = testNow.Add(time.Hour).Unix() }), code: ErrInvalidRequest, want: "future"},
		{name: "iat too old", raw: mod(func(c map[string]any) { c["iat"] = testNow.Add(-3 * time.Hour).Unix() }), code: ErrInvalidRequest, want: "old"},
		{name: "exp present", raw: mod(func(c map[string]any) { c["exp"] = testNow.Add(time.Hour).Unix() }), code: ErrInvalidRequest, want: "exp"},
		{name: "sub present", raw: mod(func(c map[string]any) { c["sub"] = "alice" }), code: ErrInvalidRequest, want: "sub claim"},
		{name: "txn not string", raw: mod(func(c map[string]any) { c["txn"] = 5 }), code: ErrInvalidRequest, want: "txn"},
		{name: "no events", raw: mod(func(c map[string]any) { delete(c, "events") }), code: ErrInvalidRequest, want: "events"},
		{name: "events array", raw: mod(func(c map[string]any) { c["events"] = []string{CAEPSessionRevoked} }), code: ErrInvalidRequest, want: "events"},
		{name: "two events", raw: mod(func(c map[string]any) {
			c["events"] = map[string]any{CAEPSessionRevoked: map[string]any{}, RISCSessionsRevoked: map[string]any{}}
		}), code: ErrInvalidRequest, want: "exactly one"},
		{name: "zero events", raw: mod(func(c map[string]any) { c["events"] = map[string]any{} }), code: ErrInvalidRequest, want: "exactly one"},
		{name: "event not object", raw: mod(func(c map[string]any) { c["events"] = map[string]any{CAEPSessionRevoked: "x"} }), code: ErrInvalidRequest, want: "JSON object"},
		{name: "event type not URI", raw: mod(func(c map[string]any) { c["events"] = map[string]any{"session-revoked": map[string]any{}} }), code: ErrInvalidRequest, want: "not a URI"},
		{name: "event type not accepted", raw: mod(func(map[string]any) {}), code: ErrInvalidRequest, want: "not accepted",
			v: func(v *Validator) { v.Events = []string{RISCCredentialCompromise} }},
		{name: "no sub_id", raw: mod(func(c map[string]any) { delete(c, "sub_id") }), code: ErrInvalidRequest, want: "sub_id"},
		{name: "sub_id string", raw: mod(func(c map[string]any) { c["sub_id"] = "alice" }), code: ErrInvalidRequest, want: "JSON object"},
		{name: "sub_id no format", raw: mod(func(c map[string]any) { c["sub_id"] = map[string]any{"email": "a@b"} }), code: ErrInvalidRequest, want: "format"},
		{name: "sub_id unknown format", raw: mod(func(c map[string]any) { c["sub_id"] = map[string]any{"format": "nickname", "n": "al"} }), code: ErrInvalidRequest, want: "unknown subject format"},
		{name: "iss_sub without sub", raw: mod(func(c map[string]any) { c["sub_id"] = map[string]any{"format": "iss_sub", "iss": "x"} }), code: ErrInvalidRequest, want: `"sub"`},
		{name: "email without @", raw: mod(func(c map[string]any) { c["sub_id"] = map[string]any{"format": "email", "email": "alice"} }), code: ErrInvalidRequest, want: "@"},
		{name: "opaque without id", raw: mod(func(c map[string]any) { c["sub_id"] = map[string]any{"format": "opaque"} }), code: ErrInvalidRequest, want: `"id"`},
		{name: "account not acct", raw: mod(func(c map[string]any) { c["sub_id"] = map[string]any{"format": "account", "uri": "mailto:a@b"} }), code: ErrInvalidRequest, want: "acct:"},
		{name: "complex empty", raw: mod(func(c map[string]any) { c["sub_id"] = map[string]any{"format": "complex"} }), code: ErrInvalidRequest, want: "no members"},
		{name: "complex nested", raw: mod(func(c map[string]any) {
			c["sub_id"] = map[string]any{"format": "complex", "user": map[string]any{"format": "complex", "x": map[string]any{"format": "opaque", "id": "1"}}}
		}), code: ErrInvalidRequest, want: "simple subjects"},
		{name: "complex bad member", raw: mod(func(c map[string]any) {
			c["sub_id"] = map[string]any{"format": "complex", "session": map[string]any{"format": "opaque"}}
		}), code: ErrInvalidRequest, want: "sub_id.session"},
		{name: "aliases nested", raw: mod(func(c map[string]any) {
			c["sub_id"] = map[string]any{"format": "aliases", "identifiers": []any{map[string]any{"format": "aliases", "identifiers": []any{}}}}
		}), code: ErrInvalidRequest, want: "nest"},
		{name: "aliases empty", raw: mod(func(c map[string]any) { c["sub_id"] = map[string]any{"format": "aliases"} }), code: ErrInvalidRequest, want: "identifiers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := validator(pubSet(key))
			if tc.v != nil {
				tc.v(v)
			}
			_, err := v.Validate(tc.raw)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("accepted or untyped error: %v", err)
			}
			if e.Code != tc.code || !strings.Contains(e.Description, tc.want) {
				t.Errorf("got %s %q, want %s containing %q", e.Code, e.Description, tc.code, tc.want)
			}
		})
	}
	// The unmodified claims pass: the rejections above are due to their one change.
	if _, err := validator(pubSet(key)).Validate(mod(func(map[string]any) {})); err != nil {
		t.Fatalf("good SET rejected: %v", err)
	}
}

func TestValidateAcceptsApplicationTyp(t *testing.T) {
	key := testKey(t, "k1")
	if _, err := validator(pubSet(key)).Validate(signRaw(t, key, "application/secevent+JWT", goodClaims())); err != nil {
		t.Fatalf("RFC 7515 §4.1.9 typ form rejected: %v", err)
	}
}

func TestValidateRejectsHMACAndNone(t *testing.T) {
	key := testKey(t, "k1")
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")},
		(&jose.SignerOptions{}).WithType(Typ))
	b, _ := json.Marshal(goodClaims())
	jws, _ := s.Sign(b)
	raw, _ := jws.CompactSerialize()
	if _, err := validator(pubSet(key)).Validate(raw); err == nil {
		t.Fatal("HS256 SET accepted")
	}
}

func TestValidateReplay(t *testing.T) {
	key := testKey(t, "k1")
	raw := signRaw(t, key, Typ, goodClaims())
	v := validator(pubSet(key))
	v.Replay = true
	if _, err := v.Validate(raw); err != nil {
		t.Fatal(err)
	}
	// The same SET again is a transmitter's redelivery: valid, and marked so.
	if set, err := v.Validate(raw); err != nil || !set.Redelivered {
		t.Fatalf("redelivery of the same SET: %+v, %v; want valid and Redelivered", set, err)
	}
	// Another SET under a jti seen before is a replay.
	c := goodClaims()
	c["txn"] = "another"
	if _, err := v.Validate(signRaw(t, key, Typ, c)); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Fatalf("another SET with the same jti: %v", err)
	}
	// Without Replay the same SET passes twice, not marked: the mark above is the replay check's.
	v2 := validator(pubSet(key))
	for i := 0; i < 2; i++ {
		if set, err := v2.Validate(raw); err != nil || set.Redelivered {
			t.Fatal(set, err)
		}
	}
}

func TestValidateProprietaryFormat(t *testing.T) {
	key := testKey(t, "k1")
	c := goodClaims()
	c["sub_id"] = map[string]any{"format": "x-tenant", "t": "1"}
	raw := signRaw(t, key, Typ, c)
	v := validator(pubSet(key))
	if _, err := v.Validate(raw); err == nil {
		t.Fatal("unagreed format accepted")
	}
	v.Formats = []string{"x-tenant"}
	if _, err := v.Validate(raw); err != nil {
		t.Fatalf("agreed format (SSF §3.4) rejected: %v", err)
	}
}

// TestCheckEventClaims: a credential-compromise needs a non-empty credential_type string (RISC
// 1.0 §2.7), a credential-change that and a change_type CAEP 1.0 §3.3.1 lists; a credential type
// outside CAEP's list passes (it allows types agreed between the parties); other event types
// need nothing.
func TestCheckEventClaims(t *testing.T) {
	for _, c := range []struct {
		name, typ string
		ev        map[string]any
		ok        bool
	}{
		{"compromise without credential_type", RISCCredentialCompromise, map[string]any{"event_timestamp": 1}, false},
		{"compromise with an empty credential_type", RISCCredentialCompromise, map[string]any{"credential_type": ""}, false},
		{"compromise with a numeric credential_type", RISCCredentialCompromise, map[string]any{"credential_type": 3}, false},
		{"compromise with password", RISCCredentialCompromise, map[string]any{"credential_type": "password"}, true},
		{"compromise with an agreed type", RISCCredentialCompromise, map[string]any{"credential_type": "oauth-refresh-token"}, true},
		{"change without change_type", CAEPCredentialChange, map[string]any{"credential_type": "password"}, false},
		{"change without credential_type", CAEPCredentialChange, map[string]any{"change_type": "update"}, false},
		{"change with change_type rotate", CAEPCredentialChange, map[string]any{"credential_type": "password", "change_type": "rotate"}, false},
		{"change with both", CAEPCredentialChange, map[string]any{"credential_type": "password", "change_type": "revoke"}, true},
		{"session-revoked with nothing", CAEPSessionRevoked, map[string]any{}, true},
	} {
		e := CheckEventClaims(c.typ, c.ev)
		if c.ok != (e == nil) || (e != nil && e.Code != ErrInvalidRequest) {
			t.Errorf("%s: %v; want ok %v (else invalid_request)", c.name, e, c.ok)
		}
	}
}
