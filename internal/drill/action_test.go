package drill

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/source"
	refsource "github.com/recall-drills/recall/internal/source/reference"
	"github.com/recall-drills/recall/targets/revocation"
)

// fakeIssuer records the RFC 7009 revocations it receives.
type fakeIssuer struct {
	mu      sync.Mutex
	revoked []string
	fail    atomic.Bool
}

// fakeRecaller records the recalls-by-attribute it is asked for, or fails them all.
type fakeRecaller struct {
	mu      sync.Mutex
	recalls []map[string]any
	err     error
}

func (f *fakeRecaller) RecallBy(_ context.Context, by string, values []string) (source.RecallResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return source.RecallResult{}, f.err
	}
	vs := make([]any, len(values))
	for i, v := range values {
		vs[i] = v
	}
	f.recalls = append(f.recalls, map[string]any{"type": by, "values": vs})
	return source.RecallResult{ID: "rc1", Count: len(values)}, nil
}

func (f *fakeIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/revoke":
		id, secret, _ := r.BasicAuth()
		if id != "c1" || secret != "s1" || f.fail.Load() {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		r.ParseForm()
		f.revoked = append(f.revoked, r.PostForm.Get("token"))
	}
}

func victims(n int) []*Token {
	out := make([]*Token, n)
	for i := range out {
		out[i] = &Token{Index: i, Victim: true, Access: NewSecret("tok-" + string(rune('a'+i))), Client: "c1", Owner: &oauth.Client{ID: "c1", Secret: "s1"},
			Claims: revocation.Claims{JTI: "j" + string(rune('a'+i)), Subject: "user-" + string(rune('a'+i%2))}}
	}
	return out
}

func collect(t *testing.T, a Action, iss Issuer, vs []*Token) ([]Ack, error) {
	t.Helper()
	acks := make([]Ack, len(vs))
	var n atomic.Int32
	err := a.Do(context.Background(), iss, vs, func(i int, ack Ack) { acks[i] = ack; n.Add(1) })
	if int(n.Load()) != len(vs) {
		t.Fatalf("%d acks for %d victims", n.Load(), len(vs))
	}
	return acks, err
}

func TestActionBatchAndUsers(t *testing.T) {
	t.Parallel()
	f := &fakeRecaller{}
	iss := Issuer{Recaller: f}

	a, _ := NewAction("revoke-tokens", ActionParams{})
	acks, err := collect(t, a, iss, victims(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.recalls) != 1 || f.recalls[0]["type"] != "jti" || len(f.recalls[0]["values"].([]any)) != 3 {
		t.Errorf("batch recall sent %v", f.recalls)
	}
	for _, ack := range acks {
		if ack.Err != nil || ack.Acked.Before(ack.Sent) || !ack.Acked.Equal(acks[0].Acked) {
			t.Errorf("batch acks must share one instant: %+v", acks)
		}
	}
	// revoke-users sends each distinct subject once.
	a, _ = NewAction("revoke-users", ActionParams{})
	if _, err := collect(t, a, iss, victims(4)); err != nil {
		t.Fatal(err)
	}
	if got := f.recalls[1]; got["type"] != "sub" || len(got["values"].([]any)) != 2 {
		t.Errorf("revoke-users sent %v", got)
	}
	// A failed recall fails every credential's ack.
	acks, err = collect(t, a, Issuer{Recaller: &fakeRecaller{err: errors.New("401 Unauthorized")}}, victims(2))
	if err == nil || acks[0].Err == nil || acks[1].Err == nil {
		t.Errorf("unauthorized recall: err %v acks %+v", err, acks)
	}
	// A provider without a recall API fails them too, saying what to use instead.
	acks, err = collect(t, a, Issuer{}, victims(2))
	if err == nil || acks[0].Err == nil || !strings.Contains(err.Error(), "group_by") {
		t.Errorf("no recaller: err %v acks %+v", err, acks)
	}
}

// TestActionRFC7009OneByOne: each credential gets its own acknowledgement instant, and failures
// are per credential.
func TestActionRFC7009OneByOne(t *testing.T) {
	t.Parallel()
	f := &fakeIssuer{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	a, err := NewAction("revoke-tokens", ActionParams{Mode: "rfc7009", Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	vs := victims(5)
	vs[2].Owner = &oauth.Client{ID: "c1", Secret: "wrong"}
	acks, err := collect(t, a, Issuer{URL: u, Endpoints: refsource.Endpoints(u)}, vs)
	if err == nil || acks[2].Err == nil {
		t.Errorf("the credential with a bad client secret was acknowledged: %v", err)
	}
	if len(f.revoked) != 4 {
		t.Errorf("revoked %d tokens, want 4", len(f.revoked))
	}
	distinct := map[time.Time]bool{}
	for i, ack := range acks {
		if i != 2 && ack.Err != nil {
			t.Errorf("ack %d: %v", i, ack.Err)
		}
		distinct[ack.Acked] = true
	}
	if len(distinct) < 4 {
		t.Errorf("one-by-one acks share instants: %d distinct", len(distinct))
	}
	if _, err := NewAction("revoke-tokens", ActionParams{Mode: "carrier-pigeon"}); err == nil || !strings.Contains(err.Error(), "have: batch, rfc7009") {
		t.Errorf("unknown mode: %v", err)
	}
	if _, err := NewAction("revoke-everything", ActionParams{}); err == nil || !strings.Contains(err.Error(), "revoke-tokens") {
		t.Errorf("unknown action: %v", err)
	}
}

// TestActionCommand runs a command that reads the victims' jti file; the token file is removed
// afterwards and never left on disk.
func TestActionCommand(t *testing.T) {
	t.Parallel()
	out := t.TempDir() + "/seen"
	a, err := NewAction("command", ActionParams{With: map[string]any{"run": []any{"sh", "-c", `cp "$RECALL_JTIS_FILE" ` + out + `; echo "$RECALL_TOKENS_FILE" > ` + out + `.path`}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collect(t, a, Issuer{}, victims(2)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if string(b) != "ja\njb\n" {
		t.Errorf("jti file %q", b)
	}
	p, _ := os.ReadFile(out + ".path")
	if _, err := os.Stat(strings.TrimSpace(string(p))); !os.IsNotExist(err) {
		t.Errorf("token file %s left behind", p)
	}
	if _, err := NewAction("command", ActionParams{With: map[string]any{"run": "not a list"}}); err == nil {
		t.Error("a command that is not a list was accepted")
	}
	fails, _ := NewAction("command", ActionParams{With: map[string]any{"run": []any{"false"}}})
	if acks, err := collect(t, fails, Issuer{}, victims(1)); err == nil || acks[0].Err == nil {
		t.Error("a failing command acknowledged the recall")
	}
}

// TestActionHTTPForms: a per-credential placeholder sends one call per credential with its own
// acknowledgement; group_by sends one call per distinct value and stamps the group's
// credentials; a failure quotes an excerpt without the token.
func TestActionHTTPForms(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.URL.RawQuery+"|"+r.Header.Get("X-Token"))
		mu.Unlock()
		if r.URL.Query().Get("sub") == "user-b" || r.Header.Get("X-Token") == "tok-c" {
			http.Error(w, "<html>\nrefused tok-c\n</html>", http.StatusForbidden)
		}
	}))
	defer srv.Close()
	a, err := NewAction("http", ActionParams{Concurrency: 2, With: map[string]any{"url": srv.URL + "/revoke?jti={{jti}}", "headers": map[string]any{"X-Token": "{{token}}"}}})
	if err != nil {
		t.Fatal(err)
	}
	vs := victims(4)
	acks, err := collect(t, a, Issuer{}, vs)
	if len(calls) != 4 || err == nil || acks[2].Err == nil || acks[0].Err != nil || strings.Contains(acks[2].Err.Error(), "tok-c") ||
		!strings.Contains(acks[2].Err.Error(), "403") || strings.Contains(acks[2].Err.Error(), "\n") {
		t.Errorf("per credential: calls %q, err %v, ack 2 %v", calls, err, acks[2].Err)
	}
	mu.Lock()
	calls = nil
	mu.Unlock()
	g, err := NewAction("http", ActionParams{With: map[string]any{"url": srv.URL + "/users?sub={{sub}}", "group_by": "sub"}})
	if err != nil {
		t.Fatal(err)
	}
	acks, _ = collect(t, g, Issuer{}, vs) // subjects user-a (0, 2) and user-b (1, 3)
	if len(calls) != 2 {
		t.Errorf("group_by sub: %d calls, want 2 (%q)", len(calls), calls)
	}
	if acks[0].Err != nil || acks[2].Err != nil || acks[1].Err == nil || acks[3].Err == nil || !acks[0].Acked.Equal(acks[2].Acked) {
		t.Errorf("group_by acks: %+v: want user-a's two stamped together, user-b's two failed", acks)
	}
	if _, err := NewAction("http", ActionParams{With: map[string]any{"url": srv.URL, "group_by": "sub", "body": "{{token}}"}}); err == nil {
		t.Error("group_by with {{token}} was accepted")
	}
}

// TestActionHTTPIssuedBefore: {{issued_before}} is T, the whole second after the victims'
// latest iat, in Unix seconds, the same in every call whatever the form (here one per group,
// each group's own latest iat being earlier); a template that names it asks the population for
// controls minted from T on, one that does not asks nothing; victims without iat have no T, and
// every recall fails saying so.
func TestActionHTTPIssuedBefore(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.URL.Query().Get("nbf")+"|"+string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	with := map[string]any{"url": srv.URL + "/not-before?nbf={{issued_before}}", "body": `{"notBefore": {{issued_before}}}`, "group_by": "sub"}
	a, err := NewAction("http", ActionParams{With: with})
	if err != nil {
		t.Fatal(err)
	}
	vs := victims(4) // user-a: 0, 2; user-b: 1, 3
	for i, v := range vs {
		v.Claims.IssuedAt = 1_700_000_000 + int64(i)
	}
	acks, err := collect(t, a, Issuer{}, vs)
	if err != nil {
		t.Fatal(err)
	}
	want := `1700000004|{"notBefore": 1700000004}`
	if len(bodies) != 2 || bodies[0] != want || bodies[1] != want {
		t.Errorf("calls %q: want 2, each %q", bodies, want)
	}
	for i, ack := range acks {
		if ack.Err != nil {
			t.Errorf("ack %d: %v", i, ack.Err)
		}
	}
	k, _ := LookupAction("http")
	if !k.PopulationFor(with).NewSecond {
		t.Error("{{issued_before}} in the url and body: the controls are not minted from T on")
	}
	if !k.PopulationFor(map[string]any{"url": srv.URL, "headers": map[string]any{"X-Not-Before": "{{issued_before}}"}}).NewSecond {
		t.Error("{{issued_before}} in a header: the controls are not minted from T on")
	}
	if k.PopulationFor(map[string]any{"url": srv.URL + "/revoke?jti={{jti}}"}).NewSecond {
		t.Error("no {{issued_before}}: the population waits for T anyway")
	}
	for _, v := range vs {
		v.Claims.IssuedAt = 0
	}
	acks, err = collect(t, a, Issuer{}, vs)
	if err == nil || acks[0].Err == nil || !strings.Contains(acks[0].Err.Error(), "no iat") || len(bodies) != 2 {
		t.Errorf("victims without iat: err %v, ack %v, %d calls; want every recall failed, no call", err, acks[0].Err, len(bodies))
	}
}

// TestActionHTTPGroupByKid: a key recall at a provider's admin API is one call per signing key,
// not one per credential: group_by kid sends one call per distinct kid of the victims, with
// {{kid}} filled, and stamps every credential the key signed; {{kid}} is refused with another
// group_by, whose groups need not share a key.
func TestActionHTTPGroupByKid(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		mu.Unlock()
	}))
	defer srv.Close()
	a, err := NewAction("http", ActionParams{With: map[string]any{"method": "DELETE", "url": srv.URL + "/keys/{{kid}}", "group_by": "kid"}})
	if err != nil {
		t.Fatal(err)
	}
	vs := victims(5)
	for i, v := range vs {
		v.Claims.KeyID = []string{"k1", "k1", "k1", "k2", "k2"}[i]
	}
	acks, err := collect(t, a, Issuer{}, vs)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(calls)
	if !slices.Equal(calls, []string{"DELETE /keys/k1", "DELETE /keys/k2"}) {
		t.Errorf("calls %q: want one DELETE per kid", calls)
	}
	if !acks[0].Acked.Equal(acks[2].Acked) || !acks[3].Acked.Equal(acks[4].Acked) || acks[1].Err != nil {
		t.Errorf("acks %+v: want each key's credentials stamped together", acks)
	}
	if _, err := NewAction("http", ActionParams{With: map[string]any{"url": srv.URL + "/keys/{{kid}}", "group_by": "sub"}}); err == nil || !strings.Contains(err.Error(), "{{kid}}") {
		t.Errorf("group_by sub with {{kid}}: %v; want refused", err)
	} // A recall by key has the controls signed by another key, or it would take them too.
	k, _ := LookupAction("http")
	for _, tc := range []struct {
		with map[string]any
		want bool
	}{
		{map[string]any{"method": "DELETE", "url": srv.URL + "/keys/{{kid}}", "group_by": "kid"}, true},
		{map[string]any{"url": srv.URL + "/keys", "body": `{"kid": "{{kid}}"}`}, true},
		{map[string]any{"url": srv.URL + "/keys", "group_by": "kid"}, true},
		{map[string]any{"url": srv.URL + "/revoke?jti={{jti}}", "group_by": "sub"}, false},
	} {
		if got := k.PopulationFor(tc.with).ExtraKey; got != tc.want {
			t.Errorf("with %v: population ExtraKey %v, want %v", tc.with, got, tc.want)
		}
	}
}

// TestActionRFC7009HintAndClient: revoke-tokens rfc7009 sends token_type_hint access_token by
// default, the one with.token_type_hint names, none when it says none; with.client sends every
// revocation as that client of the provider instead of the token's owner.
func TestActionRFC7009HintAndClient(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _, _ := r.BasicAuth()
		r.ParseForm()
		hint, sent := r.PostForm["token_type_hint"]
		mu.Lock()
		if sent {
			got = append(got, id+":"+strings.Join(hint, ","))
		} else {
			got = append(got, id+":-")
		}
		mu.Unlock()
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	iss := Issuer{URL: u, Endpoints: oauth.Endpoints{Revocation: srv.URL + "/revoke"}, Clients: []*oauth.Client{{ID: "other", Secret: "s2"}}}
	for _, tc := range []struct {
		with map[string]any
		want string
	}{
		{nil, "c1:access_token"},
		{map[string]any{"token_type_hint": "refresh_token"}, "c1:refresh_token"},
		{map[string]any{"token_type_hint": "none"}, "c1:-"},
		{map[string]any{"client": "other"}, "other:access_token"},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		a, err := NewAction("revoke-tokens", ActionParams{Mode: "rfc7009", Concurrency: 2, With: tc.with})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := collect(t, a, iss, victims(3)); err != nil {
			t.Errorf("with %v: %v", tc.with, err)
		}
		mu.Lock()
		if len(got) != 3 || got[0] != tc.want || got[1] != tc.want || got[2] != tc.want {
			t.Errorf("with %v: revocations %q, want 3 of %s", tc.with, got, tc.want)
		}
		mu.Unlock()
	}
}
