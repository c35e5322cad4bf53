package issuer

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"
)

// Grant types of POST /token.
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
)

// maxFormBytes bounds the body of /token, /revoke and /introspect.
const maxFormBytes = 64 << 10

// TokenResponse is the body of a successful POST /token (RFC 6749 section 5.1).
type TokenResponse struct {
	// AccessToken is the JWT access token.
	AccessToken string `json:"access_token"`
	// TokenType is always "Bearer".
	TokenType string `json:"token_type"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int64 `json:"expires_in"`
	// RefreshToken is the new refresh token (password and refresh_token grants only).
	RefreshToken string `json:"refresh_token,omitempty"`
	// Scope is the granted scope, space-separated.
	Scope string `json:"scope,omitempty"`
}

// oauthError writes an RFC 6749 section 5.2 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="recall-issuer"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// parseForm reads an application/x-www-form-urlencoded body. Parameters in the URL query are
// ignored: credentials do not belong in URLs.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return false
	}
	return true
}

// authenticate identifies the client by HTTP Basic (RFC 6749 section 2.3.1, form-urlencoded
// id and secret) or by client_id/client_secret in the body; using both is an error. On failure
// it writes 401 invalid_client (or 400 invalid_request) and returns nil.
func (i *Issuer) authenticate(w http.ResponseWriter, r *http.Request) *client {
	id, secret, basic := r.BasicAuth()
	formID, formSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	switch {
	case basic && formSecret != "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "more than one client authentication method")
		return nil
	case basic:
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "malformed client credentials")
			return nil
		}
		if formID != "" && formID != id {
			oauthError(w, http.StatusBadRequest, "invalid_request", "client_id does not match the authenticated client")
			return nil
		}
	default:
		id, secret = formID, formSecret
	}
	if id == "" || secret == "" {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication required")
		return nil
	}
	c := i.reg.authClient(id, secret)
	if c == nil {
		i.m.clientAuthFailures.Inc()
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return nil
	}
	return c
}

// handleToken serves POST /token.
func (i *Issuer) handleToken(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	c := i.authenticate(w, r)
	if c == nil {
		return
	}
	grant := r.PostForm.Get("grant_type")
	var (
		resp TokenResponse
		ok   bool
	)
	switch grant {
	case GrantClientCredentials:
		resp, ok = i.grantClientCredentials(w, r, c)
	case GrantPassword:
		resp, ok = i.grantPassword(w, r, c)
	case GrantRefreshToken:
		resp, ok = i.grantRefresh(w, r, c)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "supported: client_credentials, password, refresh_token")
		return
	}
	if !ok {
		return
	}
	i.m.tokens.WithLabelValues(grant).Inc()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

func (i *Issuer) grantClientCredentials(w http.ResponseWriter, r *http.Request, c *client) (TokenResponse, bool) {
	scope, ok := grantScope(r.PostForm.Get("scope"), c.scopes)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "scope not allowed for this client")
		return TokenResponse{}, false
	}
	sess := session{sub: c.id, clientID: c.id, sid: newSID()}
	tok, _, err := i.mint(r.Context(), i.issuerFor(r), sess, scope)
	if err != nil {
		i.serverError(w, "mint", err)
		return TokenResponse{}, false
	}
	return TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(i.tokenTTL / time.Second), Scope: scope}, true
}

func (i *Issuer) grantPassword(w http.ResponseWriter, r *http.Request, c *client) (TokenResponse, bool) {
	name, pw := r.PostForm.Get("username"), r.PostForm.Get("password")
	if name == "" || pw == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "username and password are required")
		return TokenResponse{}, false
	}
	scope, ok := grantScope(r.PostForm.Get("scope"), c.scopes)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "scope not allowed for this client")
		return TokenResponse{}, false
	}
	u, ok := i.reg.authUser(name, pw)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid resource owner credentials")
		return TokenResponse{}, false
	}
	sess := session{sub: u.name, clientID: c.id, sid: newSID(), amr: []string{"pwd"}}
	switch {
	case u.factor != nil && r.PostForm.Get("recovery_code") != "":
		// A recovery code stands in for the one-time password, once; the session is still one
		// established with this factor, and dies with it.
		if !i.reg.useRecoveryCode(u.name, u.factor.id, r.PostForm.Get("recovery_code")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid or used recovery code")
			return TokenResponse{}, false
		}
		sess.fid = u.factor.id
		sess.amr = []string{"pwd", "mfa"}
	case u.factor != nil:
		code := r.PostForm.Get("otp")
		if code == "" {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "one-time password required (otp)")
			return TokenResponse{}, false
		}
		if !totp.Validate(code, u.factor.secret) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid one-time password")
			return TokenResponse{}, false
		}
		sess.fid = u.factor.id
		sess.amr = []string{"pwd", "otp", "mfa"}
	case u.mfa && r.PostForm.Get("recovery_code") != "" && i.reg.useRecoveryCode(u.name, "", r.PostForm.Get("recovery_code")):
		sess.amr = []string{"pwd", "mfa"} // the planted defect: no factor, yet a way in
	case u.mfa:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "MFA factor recalled: enrolment required")
		return TokenResponse{}, false
	}
	tok, claims, err := i.mint(r.Context(), i.issuerFor(r), sess, scope)
	if err != nil {
		i.serverError(w, "mint", err)
		return TokenResponse{}, false
	}
	fam := &family{sess: sess, scope: scope, authTime: claims.IssuedAt}
	rt := i.refresh.issue(fam, time.Now().Add(i.refreshTTL))
	return TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(i.tokenTTL / time.Second), RefreshToken: rt, Scope: scope}, true
}

// grantRefresh rotates a refresh token. Presenting a token that was already rotated is taken
// as theft (RFC 9700 section 4.14.2): the whole family is recalled — its refresh tokens and,
// through a session rule, every access token of the session.
func (i *Issuer) grantRefresh(w http.ResponseWriter, r *http.Request, c *client) (TokenResponse, bool) {
	raw := r.PostForm.Get("refresh_token")
	if raw == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return TokenResponse{}, false
	}
	rt := i.refresh.get(raw)
	if rt == nil || rt.fam.sess.clientID != c.id {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid refresh token")
		return TokenResponse{}, false
	}
	fam := rt.fam
	now := time.Now()
	fam.mu.Lock()
	switch {
	case rt.used:
		wasAlive := !fam.dead
		fam.dead = true
		fam.mu.Unlock()
		if wasAlive {
			i.m.refreshReuse.Inc()
			i.log.Warn("refresh token reuse: recalling session", "sid", fam.sess.sid, "token", fingerprint(raw))
			if _, err := i.Recall(background(r.Context()), RecallRequest{Type: RecallSession, Values: []string{fam.sess.sid}}); err != nil {
				i.log.Error("recall session after refresh token reuse", "sid", fam.sess.sid, "err", err)
			}
		}
		oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token already used")
		return TokenResponse{}, false
	case now.After(rt.exp):
		fam.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token expired")
		return TokenResponse{}, false
	case fam.dead || i.recalled(fam):
		fam.dead = true
		fam.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token revoked")
		return TokenResponse{}, false
	}
	scope := fam.scope
	if req := r.PostForm.Get("scope"); req != "" {
		var ok bool
		if scope, ok = grantScope(req, normScopes(strings.Fields(fam.scope))); !ok {
			fam.mu.Unlock()
			oauthError(w, http.StatusBadRequest, "invalid_scope", "scope exceeds the original grant")
			return TokenResponse{}, false
		}
	}
	rt.used = true
	next := i.refresh.issue(fam, now.Add(i.refreshTTL))
	fam.mu.Unlock()

	sess := fam.sess
	if i.rotNewSID {
		sess.sid = newSID() // the planted defect (Config.RotationNewSession)
	}
	tok, _, err := i.mint(r.Context(), i.issuerFor(r), sess, scope)
	if err != nil {
		i.serverError(w, "mint", err)
		return TokenResponse{}, false
	}
	return TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(i.tokenTTL / time.Second), RefreshToken: next, Scope: scope}, true
}

func (i *Issuer) serverError(w http.ResponseWriter, what string, err error) {
	i.log.Error(what, "err", err)
	oauthError(w, http.StatusInternalServerError, "server_error", what+" failed")
}
