package truth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// serve mounts l at /debug/recalls, behind a bearer secret when secret is not empty.
func serve(t *testing.T, l *truth.Log, secret string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+truth.DebugPath, func(w http.ResponseWriter, r *http.Request) {
		if secret != "" && r.Header.Get("Authorization") != "Bearer "+secret {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		l.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRemoteMatchesLog(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	issuer := truth.NewLog("issuer", nil)
	issuer.RuleApplied(revocation.Rule{Version: 1, Type: revocation.JTI, Value: "a"}, at)
	issuer.RuleApplied(revocation.Rule{Version: 2, Type: revocation.Subject, Value: "alice"}, at.Add(time.Second))
	srv := serve(t, issuer, "s3cret")

	r := truth.NewRemote(srv.URL+"/", truth.WithBearer("s3cret"))
	for _, c := range []revocation.Claims{{JTI: "a"}, {JTI: "b", Subject: "alice"}, {JTI: "c", Subject: "bob"}} {
		want, wantOK := issuer.EnforcedSince(c)
		got, gotOK := r.EnforcedSince(c)
		if gotOK != wantOK || !got.Equal(want) {
			t.Errorf("EnforcedSince(%+v) = %v, %v; want %v, %v", c, got, gotOK, want, wantOK)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	if got := r.Component(); got != "issuer" {
		t.Errorf("Component() = %q, want issuer", got)
	}
	if got := len(r.Records()); got != 2 {
		t.Errorf("Records() has %d records, want 2", got)
	}
}

func TestRemoteCacheDefersToUpstream(t *testing.T) {
	t.Parallel()
	at := time.Now().Truncate(time.Millisecond)
	issuer := truth.NewLog("issuer", nil)
	issuer.RuleApplied(revocation.Rule{Version: 1, Type: revocation.JTI, Value: "a"}, at)
	issuer.RuleApplied(revocation.Rule{Version: 1, Type: revocation.JTI, Value: "b"}, at)
	gw := truth.NewLog("edge-cache", nil)
	gw.Cached("a", at.Add(5*time.Second)) // honoured after the recall: enforcement waits for it
	gw.Cached("b", at.Add(-time.Second))  // expired before the recall: the issuer's instant
	iss := truth.NewRemote(serve(t, issuer, "x").URL, truth.WithBearer("x"))
	r := truth.NewRemote(serve(t, gw, "").URL, truth.WithUpstream(iss))

	if got, ok := r.EnforcedSince(revocation.Claims{JTI: "a"}); !ok || !got.Equal(at.Add(5*time.Second)) {
		t.Errorf("a: got %v, %v; want the cache record %v", got, ok, at.Add(5*time.Second))
	}
	if got, ok := r.EnforcedSince(revocation.Claims{JTI: "b"}); !ok || !got.Equal(at) {
		t.Errorf("b: got %v, %v; want the issuer's %v", got, ok, at)
	}
	if _, ok := r.EnforcedSince(revocation.Claims{JTI: "c"}); ok {
		t.Error("c: never recalled, yet enforced")
	}
}

func TestRemoteErrors(t *testing.T) {
	t.Parallel()
	l := truth.NewLog("issuer", nil)
	l.RuleApplied(revocation.Rule{Version: 1, Type: revocation.JTI, Value: "a"}, time.Now())
	srv := serve(t, l, "right")

	wrong := truth.NewRemote(srv.URL, truth.WithBearer("wrong"))
	if _, ok := wrong.EnforcedSince(revocation.Claims{JTI: "a"}); ok {
		t.Error("answered without a snapshot")
	}
	if err := wrong.Err(); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Err() = %v, want a 401", err)
	}

	// A failed refetch keeps the previous snapshot.
	r := truth.NewRemote(srv.URL, truth.WithBearer("right"), truth.WithMaxAge(0))
	if err := r.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if _, ok := r.EnforcedSince(revocation.Claims{JTI: "a"}); !ok {
		t.Error("lost the snapshot after a failed refetch")
	}
	if r.Err() == nil {
		t.Error("Err() = nil after a failed refetch")
	}

	// SetBase drops the snapshot and reads the new place.
	l2 := truth.NewLog("issuer", nil)
	r.SetBase(serve(t, l2, "right").URL)
	if _, ok := r.EnforcedSince(revocation.Claims{JTI: "a"}); ok {
		t.Error("still answers from the old snapshot after SetBase")
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err() = %v after SetBase", err)
	}
}

func TestRemoteRejectsBadRecords(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"component":"x","records":[{"kind":"mystery","at":"2026-01-01T00:00:00Z"}]}`))
	}))
	t.Cleanup(srv.Close)
	err := truth.NewRemote(srv.URL).Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), `unknown kind "mystery"`) {
		t.Errorf("Fetch() = %v, want unknown kind", err)
	}
}

// TestRemoteSnapshot: a snapshot taken before the component goes away keeps answering, and
// does not change when the component's log does.
func TestRemoteSnapshot(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := truth.NewLog("edge", nil)
	l.RuleApplied(revocation.Rule{Version: 1, Type: revocation.JTI, Value: "a"}, at)
	srv := serve(t, l, "")
	r := truth.NewRemote(srv.URL)
	snap, err := r.Snapshot(context.Background())
	if err != nil || snap == nil {
		t.Fatalf("Snapshot: %v, %v", snap, err)
	}
	l.RuleApplied(revocation.Rule{Version: 2, Type: revocation.JTI, Value: "b"}, at.Add(time.Second))
	srv.Close()
	if got, ok := snap.EnforcedSince(revocation.Claims{JTI: "a"}); !ok || !got.Equal(at) {
		t.Errorf("snapshot: a enforced since %v, %v; want %v", got, ok, at)
	}
	if _, ok := snap.EnforcedSince(revocation.Claims{JTI: "b"}); ok {
		t.Error("snapshot: b enforced; want the records as they were when it was taken")
	}
	again, err := r.Snapshot(context.Background())
	if err == nil || again != snap {
		t.Errorf("Snapshot of a closed server: %v, %v; want the previous snapshot and an error", again, err)
	}
}
