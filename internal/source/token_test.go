package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestSecretNeverPrints writes a secret through every path a log line or report could take and
// checks that only its fingerprint comes out.
func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	const clear = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2ln"
	s := NewSecret(clear)
	tok := &Token{Access: s, Refresh: NewSecret("client-secret-value")}
	var logbuf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logbuf, nil))
	log.Info("minted", "token", s, "tok", tok)
	js, _ := json.Marshal(map[string]any{"t": s, "tok": tok})
	outputs := map[string]string{
		"%s": fmt.Sprintf("%s", s), "%v": fmt.Sprintf("%v", s), "%+v": fmt.Sprintf("%+v", tok),
		"%#v": fmt.Sprintf("%#v", tok), "%q": fmt.Sprintf("%q", s), "%x": fmt.Sprintf("%x", s),
		"slog": logbuf.String(), "json": string(js),
	}
	for name, out := range outputs {
		if strings.Contains(out, clear) || strings.Contains(out, "c2VjcmV0") || strings.Contains(out, "client-secret-value") {
			t.Errorf("%s leaked the secret: %s", name, out)
		}
	}
	if !strings.Contains(outputs["%s"], s.Fingerprint()) || len(s.Fingerprint()) != 12 {
		t.Errorf("fingerprint %q not printed: %s", s.Fingerprint(), outputs["%s"])
	}
	if s.Reveal() != clear {
		t.Error("Reveal lost the value")
	}
}

func TestParseClaims(t *testing.T) {
	t.Parallel()
	// header {"alg":"ES256","kid":"k1"}; payload with a float iat (RFC 7519 allows it).
	jwt := "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0." +
		"eyJqdGkiOiJqMSIsInN1YiI6ImFsaWNlIiwiY2xpZW50X2lkIjoiYzEiLCJzaWQiOiJzMSIsImZpZCI6ImYxIiwiaWF0IjoxNzAwMDAwMDAwLjV9.sig"
	c, err := ParseClaims(jwt)
	if err != nil {
		t.Fatal(err)
	}
	if c.JTI != "j1" || c.Subject != "alice" || c.ClientID != "c1" || c.Session != "s1" || c.KeyID != "k1" || c.Factor != "f1" || c.IssuedAt != 1700000000 {
		t.Errorf("ParseClaims = %+v", c)
	}
	if _, err := ParseClaims("a.b"); err == nil {
		t.Error("ParseClaims accepted a two-part token")
	}
}

func TestCheckExpiry(t *testing.T) {
	t.Parallel()
	now := time.Now()
	toks := []*Token{{Expiry: now.Add(time.Hour)}, {}, {Expiry: now.Add(10 * time.Second)}}
	if err := CheckExpiry(toks, now.Add(time.Minute)); err == nil || !strings.Contains(err.Error(), "1 of 3 tokens expire") || !strings.Contains(err.Error(), "natural expiry") {
		t.Errorf("CheckExpiry: %v", err)
	}
	if err := CheckExpiry(toks, now.Add(5*time.Second)); err != nil {
		t.Errorf("no token expires before the end: %v", err)
	}
}
