package source

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzParseClaims: decoding a token's claims never panics on any input, and the fingerprint of
// any credential is 12 hex digits.
func FuzzParseClaims(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	f.Add(enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc([]byte(`{"jti":"j","sub":"u","client_id":"c","iat":1700000000}`)) + ".sig")
	f.Add(enc([]byte(`{}`)) + "." + enc([]byte(`{"iat":1e400}`)) + ".")
	f.Add(enc([]byte(`{}`)) + "." + enc([]byte(`{"iat":"soon"}`)) + ".")
	f.Add("a.b")
	f.Add("..")
	f.Fuzz(func(t *testing.T, jwt string) {
		c, err := ParseClaims(jwt)
		if err == nil && strings.Count(jwt, ".") != 2 {
			t.Fatalf("ParseClaims(%q) = %+v, accepted without three parts", jwt, c)
		}
		if fp := Fingerprint(jwt); jwt != "" && len(fp) != 12 {
			t.Fatalf("Fingerprint(%q) = %q", jwt, fp)
		}
		if err != nil && strings.Contains(err.Error(), jwt) && len(jwt) > 16 {
			t.Fatalf("the error quotes the token: %v", err)
		}
	})
}
