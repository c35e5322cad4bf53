package issuer_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/recall-drills/recall/targets/issuer"
)

const adminSecret = "admin-secret-for-tests"

// env is one issuer behind an httptest server on 127.0.0.1.
type env struct {
	t   testing.TB
	iss *issuer.Issuer
	srv *httptest.Server
}

func newEnv(t testing.TB, mod func(*issuer.Config)) *env {
	t.Helper()
	cfg := issuer.Config{
		AdminSecret: adminSecret,
		Clients: []issuer.Client{
			{ID: "app", Secret: "app-secret", Scopes: []string{"read", "write"}},
			{ID: "other", Secret: "other-secret", Scopes: []string{"read"}},
			{ID: "gw", Secret: "gw-secret"},
		},
		Users: []issuer.User{{Username: "alice", Password: "alice-pw"}, {Username: "bob", Password: "bob-pw"}},
	}
	if mod != nil {
		mod(&cfg)
	}
	iss, err := issuer.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(iss.Handler())
	iss.SetBaseURL(srv.URL)
	t.Cleanup(func() {
		srv.Close()
		_ = iss.Close()
	})
	return &env{t: t, iss: iss, srv: srv}
}

// post sends a form with HTTP Basic client authentication (skipped when id is empty).
func (e *env) post(path, id, secret string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var m map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			e.t.Fatalf("%s %s: status %d, body not a JSON object: %q", req.Method, req.URL.Path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, m
}

type tokens struct {
	access, refresh string
}

// mustToken runs a grant with client app and fails the test unless it succeeds.
func (e *env) mustToken(form url.Values) tokens {
	e.t.Helper()
	return e.mustTokenAs("app", "app-secret", form)
}

func (e *env) mustTokenAs(id, secret string, form url.Values) tokens {
	e.t.Helper()
	status, m := e.post("/token", id, secret, form)
	if status != http.StatusOK {
		e.t.Fatalf("token %v: status %d: %v", form.Get("grant_type"), status, m)
	}
	at, _ := m["access_token"].(string)
	rt, _ := m["refresh_token"].(string)
	if at == "" {
		e.t.Fatalf("token: no access_token in %v", m)
	}
	return tokens{access: at, refresh: rt}
}

func (e *env) cc() string {
	e.t.Helper()
	return e.mustToken(url.Values{"grant_type": {"client_credentials"}}).access
}

func (e *env) login(user, pw string) tokens {
	e.t.Helper()
	return e.mustToken(url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}})
}

func (e *env) loginOTP(user, pw, secret string) tokens {
	e.t.Helper()
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return e.mustToken(url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}, "otp": {code}})
}

// introspect returns the introspection response for tok, asked by client gw.
func (e *env) introspect(tok string) map[string]any {
	e.t.Helper()
	status, m := e.post("/introspect", "gw", "gw-secret", url.Values{"token": {tok}})
	if status != http.StatusOK {
		e.t.Fatalf("introspect: status %d: %v", status, m)
	}
	return m
}

func (e *env) active(tok string) bool {
	e.t.Helper()
	a, ok := e.introspect(tok)["active"].(bool)
	if !ok {
		e.t.Fatalf("introspection without boolean active")
	}
	return a
}

// adminJSON sends a JSON body to an admin endpoint with the admin secret.
func (e *env) adminJSON(method, path string, body any, hdr map[string]string) (int, map[string]any) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminSecret)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return e.do(req)
}

func (e *env) recall(body map[string]any) map[string]any {
	e.t.Helper()
	status, m := e.adminJSON(http.MethodPost, "/admin/recalls", body, nil)
	if status != http.StatusOK {
		e.t.Fatalf("recall %v: status %d: %v", body["type"], status, m)
	}
	return m
}

func (e *env) enroll(user string) issuer.Enrollment {
	e.t.Helper()
	status, m := e.adminJSON(http.MethodPost, "/admin/users/"+user+"/factors", nil, nil)
	if status != http.StatusOK {
		e.t.Fatalf("enroll %s: status %d: %v", user, status, m)
	}
	en := issuer.Enrollment{FactorID: str(m["factor_id"]), Secret: str(m["secret"]), OTPAuthURI: str(m["otpauth_uri"])}
	if codes, ok := m["recovery_codes"].([]any); ok {
		for _, c := range codes {
			en.RecoveryCodes = append(en.RecoveryCodes, str(c))
		}
	}
	if en.FactorID == "" || en.Secret == "" || !strings.HasPrefix(en.OTPAuthURI, "otpauth://totp/") {
		e.t.Fatalf("enroll: incomplete answer %v", m)
	}
	return en
}

func (e *env) get(path string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// claims decodes a JWT's payload without verifying it.
func claims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact token: %d parts", len(parts))
	}
	return decodeSeg(t, parts[1])
}

func header(t testing.TB, tok string) map[string]any {
	t.Helper()
	return decodeSeg(t, strings.Split(tok, ".")[0])
}

func decodeSeg(t testing.TB, seg string) map[string]any {
	t.Helper()
	b, err := b64(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func totpCode(secret string) (string, error) { return totp.GenerateCode(secret, time.Now()) }

// claimsNoT decodes a JWT's payload without a testing.TB (nil on error).
func claimsNoT(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := b64(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
