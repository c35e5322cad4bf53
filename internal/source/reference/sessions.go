package reference

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/source"
)

// Paths of the reference relying party (targets/rp).
const (
	pathRPSessions = "/admin/sessions"
	// rpBatch is how many sessions one admin call opens (the app takes at most 100,000).
	rpBatch = 10_000
)

// RP is the reference relying party (targets/rp) as the drill reaches it: cookie sessions
// opened through its admin API, as completed logins would open them, and the session store's
// view of one (GET /admin/sessions/{id}, past the app's cache), which confirms a recall.
//
// The credential is the cookie's value; a probe carries it as Cookie: rp_session={{token}}.
// Each session is labelled with its sub and sid, so that revoke-users and revoke-sessions
// recall it at the issuer (which posts the app a back-channel logout token), and with its id as
// jti, so that the app's ground truth (whose cache is keyed by session id) knows it.
type RP struct {
	// Endpoint is where the harness reaches the app; resolved at each call, since the system
	// runs only once the plan is built.
	Endpoint    func() (*url.URL, error)
	AdminSecret source.Secret
	// Users is how many users the victims' sessions are spread over; the controls' sessions are
	// of as many other users, so that a recall of the victims' users spares them.
	Users int
	HTTP  *http.Client
}

var _ source.Confirmer = (*RP)(nil)

// rpUser names the i-th user of a cohort: victims are u0.., controls (offset Users) the next.
func rpUser(i int) string { return fmt.Sprintf("rp-user-%d", i) }

// Fetch is the source.Fetch of tokens.source rp-sessions: it opens c.Count sessions of the
// cohort's users (a fresh OP session id each) and answers them as JSON lines of credentials.
func (r *RP) Fetch(ctx context.Context, c source.Call) ([]byte, error) {
	users := max(r.Users, 1)
	type want struct {
		Sub string `json:"sub"`
		SID string `json:"sid"`
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	for done := 0; done < c.Count; {
		n := min(rpBatch, c.Count-done)
		ws := make([]want, n)
		for k := range ws {
			i := done + k
			switch c.Cohort {
			case source.CohortVictims:
				ws[k].Sub = rpUser(i % users)
			case source.CohortControls:
				ws[k].Sub = rpUser(users + i%users)
			default: // reissue: a new login of the same user
				if c.Sub == "" {
					return nil, errors.New("re-issue without a sub")
				}
				ws[k].Sub = c.Sub
			}
			ws[k].SID = "op-" + randomSecret()[:16]
		}
		var got struct {
			Sessions []struct {
				ID  string `json:"id"`
				Sub string `json:"sub"`
				SID string `json:"sid"`
			} `json:"sessions"`
		}
		if err := r.do(ctx, http.MethodPost, pathRPSessions, map[string]any{"sessions": ws}, &got); err != nil {
			return nil, err
		}
		if len(got.Sessions) != n {
			return nil, fmt.Errorf("POST %s: %d sessions opened, want %d", pathRPSessions, len(got.Sessions), n)
		}
		for _, s := range got.Sessions {
			_ = enc.Encode(map[string]string{"token": s.ID, "jti": s.ID, "sub": s.Sub, "sid": s.SID})
		}
		done += n
	}
	return out.Bytes(), nil
}

// Active implements source.Confirmer: whether the app's session store still holds the session
// live (its cache aside), i.e. whether the back-channel logout reached it and was accepted.
func (r *RP) Active(ctx context.Context, t *source.Token) (bool, error) {
	var got struct {
		Active *bool `json:"active"`
	}
	id := t.Access.Reveal()
	if err := r.do(ctx, http.MethodGet, pathRPSessions+"/"+url.PathEscape(id), nil, &got, id); err != nil {
		return false, err
	}
	if got.Active == nil {
		return false, errors.New("session status without active")
	}
	return *got.Active, nil
}

// do sends one admin call; hide are values (a session id in the path) that its errors must not
// quote, beside the admin secret.
func (r *RP) do(ctx context.Context, method, path string, body, out any, hide ...string) error {
	hide = append(hide, r.AdminSecret.Reveal())
	u, err := r.Endpoint()
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	// The path may hold a session id: errors name the route, not the id.
	what := method + " " + pathRPSessions
	req, err := http.NewRequestWithContext(ctx, method, u.JoinPath(path).String(), rd)
	if err != nil {
		return fmt.Errorf("%s: %s", what, redact.String(err.Error(), hide...))
	}
	req.Header.Set("Authorization", "Bearer "+r.AdminSecret.Reveal())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := r.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s", what, redact.String(err.Error(), hide...))
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(resp.Body, 64<<20)); err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", what, resp.Status, redact.Excerpt(buf.Bytes(), hide...))
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		return fmt.Errorf("%s: decode answer: %v", what, err)
	}
	return nil
}
