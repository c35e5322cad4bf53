package issuer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/issuer"
)

// TestRecallEmitsSSF: with Config.SSF, each recall of users, sessions, tokens and clients emits
// one CAEP session-revoked SET per recalled value on the transmitter's stream, its subject
// naming that value (iss_sub with the issuer's iss, a complex session, jwt_id, opaque client);
// an issued_before recall names no subject and emits nothing.
func TestRecallEmitsSSF(t *testing.T) {
	rx := newSSFSink(t)
	key, _ := ssf.NewKey("iss-ssf-1")
	tx, err := ssf.New(ssf.Config{Issuer: "http://127.0.0.1:1/ssf", Key: key,
		Receivers: []ssf.Receiver{{Token: "issuer-ssf-test-token-0123", Audience: []string{"recall"}}}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *issuer.Config) { c.SSF = tx })
	stream := rx.create(t, tx)
	iss := e.srv.URL
	for _, tc := range []struct {
		req  issuer.RecallRequest
		want ssf.Subject
	}{
		{issuer.RecallRequest{Type: issuer.RecallSubject, Values: []string{"alice"}}, ssf.IssSub(iss, "alice")},
		{issuer.RecallRequest{Type: issuer.RecallSession, Values: []string{"sid-1"}}, ssf.SessionID("sid-1", "", "")},
		{issuer.RecallRequest{Type: issuer.RecallJTI, Values: []string{"jti-1"}}, ssf.Subject{"format": ssf.FormatJWTID, "iss": iss, "jti": "jti-1"}},
		{issuer.RecallRequest{Type: issuer.RecallClient, Values: []string{"other"}}, ssf.Opaque("other")},
	} {
		before := len(tx.Records())
		if _, err := e.iss.Recall(context.Background(), tc.req); err != nil {
			t.Fatalf("%s: %v", tc.req.Type, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(tx.Records()) == before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		recs := tx.Records()
		if len(recs) != before+1 {
			t.Fatalf("%s: %d SETs emitted, want 1", tc.req.Type, len(recs)-before)
		}
		r := recs[before]
		if r.Stream != stream || r.EventType != ssf.CAEPSessionRevoked || !sameSubject(r.Subject, tc.want) {
			t.Errorf("%s: SET %+v, want session-revoked about %v on %s", tc.req.Type, r, tc.want, stream)
		}
	}
	_, _ = e.iss.Recall(context.Background(), issuer.RecallRequest{Type: issuer.RecallIssuedBefore})
	_ = e.iss.Close() // waits for the emissions in flight
	if n := len(tx.Records()); n != 4 {
		t.Errorf("an issued_before recall emitted SETs: %d records, want 4", n)
	}
}

func sameSubject(a, b ssf.Subject) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		switch w := v.(type) {
		case ssf.Subject:
			bw, ok := b[k].(ssf.Subject)
			if !ok || !sameSubject(w, bw) {
				return false
			}
		default:
			if b[k] != v {
				return false
			}
		}
	}
	return true
}

// ssfSink is a push receiver that answers 202 to everything.
type ssfSink struct{ srv *httptest.Server }

func newSSFSink(t *testing.T) *ssfSink {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	t.Cleanup(srv.Close)
	return &ssfSink{srv: srv}
}

// create makes a push stream to the sink through the transmitter's management API.
func (s *ssfSink) create(t *testing.T, tx *ssf.Transmitter) string {
	t.Helper()
	mgmt := httptest.NewServer(tx.Handler())
	t.Cleanup(mgmt.Close)
	body := `{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"` + s.srv.URL + `"}}`
	req, _ := http.NewRequest(http.MethodPost, mgmt.URL+"/ssf/ssf/stream", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer issuer-ssf-test-token-0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create stream: %v %v", err, resp)
	}
	resp.Body.Close()
	st := tx.Streams()
	if len(st) != 1 {
		t.Fatalf("%d streams", len(st))
	}
	return st[0].ID
}
