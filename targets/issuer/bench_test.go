package issuer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/recall-drills/recall/targets/issuer"
)

// Benchmarks call the handler directly (no TCP) so that they measure the issuer.

func tokenRequest(form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://issuer.test/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("app", "app-secret")
	return r
}

func benchIssuer(b *testing.B) *issuer.Issuer {
	b.Helper()
	iss, err := issuer.New(issuer.Config{
		Issuer:      "http://issuer.test",
		AdminSecret: adminSecret,
		Clients:     []issuer.Client{{ID: "app", Secret: "app-secret", Scopes: []string{"read"}}},
		Users:       []issuer.User{{Username: "alice", Password: "alice-pw"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = iss.Close() })
	return iss
}

func mintDirect(b *testing.B, h http.Handler, form url.Values) string {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, tokenRequest(form))
	if w.Code != http.StatusOK {
		b.Fatalf("token: %d %s", w.Code, w.Body)
	}
	var resp issuer.TokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		b.Fatal(err)
	}
	return resp.AccessToken
}

func BenchmarkMintClientCredentials(b *testing.B) {
	h := benchIssuer(b).Handler()
	form := url.Values{"grant_type": {"client_credentials"}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mintDirect(b, h, form)
		}
	})
}

func BenchmarkMintPassword(b *testing.B) {
	h := benchIssuer(b).Handler()
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mintDirect(b, h, form)
		}
	})
}

func BenchmarkIntrospect(b *testing.B) {
	iss := benchIssuer(b)
	h := iss.Handler()
	tok := mintDirect(b, h, url.Values{"grant_type": {"client_credentials"}})
	// Some rules in the set, as during a drill.
	vals := make([]string, 10000)
	for k := range vals {
		vals[k] = fmt.Sprintf("jti-%d", k)
	}
	if _, err := iss.RecallTokens(context.Background(), vals...); err != nil {
		b.Fatal(err)
	}
	body := url.Values{"token": {tok}}.Encode()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "http://issuer.test/introspect", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("app", "app-secret")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"active":true`)) {
				b.Fatalf("introspect: %d %s", w.Code, w.Body)
			}
		}
	})
}

func jtis(n int) []string {
	vals := make([]string, n)
	for k := range vals {
		vals[k] = fmt.Sprintf("%026d", k) // as long as a real jti
	}
	return vals
}

// BenchmarkRecall100kJTI is one in-process recall of 100k fresh jtis.
func BenchmarkRecall100kJTI(b *testing.B) {
	vals := jtis(100_000)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		iss := benchIssuer(b)
		b.StartTimer()
		res, err := iss.Recall(context.Background(), issuer.RecallRequest{Type: issuer.RecallJTI, Values: vals})
		if err != nil || res.Count != len(vals) {
			b.Fatalf("recall: %v %+v", err, res.Count)
		}
	}
}

// BenchmarkRecall100kJTIHTTP is the same through POST /admin/recalls, JSON decoding included.
func BenchmarkRecall100kJTIHTTP(b *testing.B) {
	body, err := json.Marshal(map[string]any{"type": "jti", "values": jtis(100_000)})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		h := benchIssuer(b).Handler()
		r := httptest.NewRequest(http.MethodPost, "http://issuer.test/admin/recalls", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+adminSecret)
		w := httptest.NewRecorder()
		b.StartTimer()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("recall: %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkRecall100kTokens recalls 100k raw access tokens (JWT-shaped; resolved to jtis without
// signature checks) through POST /admin/recalls.
func BenchmarkRecall100kTokens(b *testing.B) {
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"k","typ":"at+jwt"}`))
	toks := make([]string, 100_000)
	for k, jti := range jtis(len(toks)) {
		payload := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"http://issuer.test","sub":"app","aud":"recall-api","client_id":"app","jti":"` + jti + `","sid":"s","iat":1,"exp":2}`))
		toks[k] = head + "." + payload + "." + strings.Repeat("A", 86)
	}
	body, err := json.Marshal(map[string]any{"type": "token", "values": toks})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		h := benchIssuer(b).Handler()
		r := httptest.NewRequest(http.MethodPost, "http://issuer.test/admin/recalls", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+adminSecret)
		w := httptest.NewRecorder()
		b.StartTimer()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"count":100000`)) {
			b.Fatalf("recall: %d %s", w.Code, w.Body)
		}
	}
}
