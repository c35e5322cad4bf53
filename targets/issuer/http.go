package issuer

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Body limits of the admin API: a recall of 100k raw tokens is about 40 MB of JSON.
const (
	maxRecallBytes   = 256 << 20
	maxRegisterBytes = 64 << 20
)

func (i *Issuer) routes(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", i.handleToken)
	mux.HandleFunc("POST /revoke", i.handleRevoke)
	mux.HandleFunc("POST /introspect", i.handleIntrospect)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", i.handleMetadata)
	mux.HandleFunc("GET /.well-known/openid-configuration", i.handleMetadata)
	mux.HandleFunc("GET /jwks", i.handleJWKS)
	mux.HandleFunc("GET /revocations", i.handleRevocations)
	mux.Handle("POST /admin/recalls", i.admin(http.HandlerFunc(i.handleRecall)))
	mux.Handle("POST /admin/users", i.admin(http.HandlerFunc(i.handleAddUsers)))
	mux.Handle("POST /admin/clients", i.admin(http.HandlerFunc(i.handleAddClients)))
	mux.Handle("POST /admin/users/{username}/factors", i.admin(http.HandlerFunc(i.handleEnroll)))
	mux.Handle("POST /admin/keys/rotate", i.admin(http.HandlerFunc(i.handleRotate)))
	mux.Handle("GET /admin/keys", i.admin(http.HandlerFunc(i.handleKeys)))
	mux.Handle("GET /debug/recalls", i.admin(i.truth))
	if g != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// Introspection is an RFC 7662 introspection response. Inactive tokens carry only Active.
type Introspection struct {
	// Active is whether the token is valid now: signed by a key that is not revoked, unexpired,
	// of this issuer and audience, and not recalled.
	Active bool `json:"active"`
	// Subject is the sub claim.
	Subject string `json:"sub,omitempty"`
	// ClientID is the client the token was issued to.
	ClientID string `json:"client_id,omitempty"`
	// Scope is the space-separated scope.
	Scope string `json:"scope,omitempty"`
	// Expiry is exp, in Unix seconds.
	Expiry int64 `json:"exp,omitempty"`
	// IssuedAt is iat, in Unix seconds.
	IssuedAt int64 `json:"iat,omitempty"`
	// JTI is the token id (access tokens).
	JTI string `json:"jti,omitempty"`
	// Session is the sid claim.
	Session string `json:"sid,omitempty"`
	// Issuer is the iss claim.
	Issuer string `json:"iss,omitempty"`
	// Audience is the aud claim.
	Audience jwt.Audience `json:"aud,omitempty"`
	// TokenType is "Bearer" for access tokens and "refresh_token" for refresh tokens.
	TokenType string `json:"token_type,omitempty"`
	// Factor is the MFA factor the session used (fid), when any.
	Factor string `json:"fid,omitempty"`
}

// Introspect answers as POST /introspect would, checking iss against BaseURL (not checked when
// BaseURL is empty). It counts in the introspection metric.
func (i *Issuer) Introspect(raw string) Introspection {
	res, in := i.introspect(raw, i.BaseURL(), time.Now())
	i.m.introspections.WithLabelValues(res).Inc()
	return in
}

func (i *Issuer) introspect(raw, iss string, now time.Time) (string, Introspection) {
	if strings.Count(raw, ".") == 2 {
		c, _, res := i.check(raw, iss, now)
		if res != resultActive {
			return res, Introspection{}
		}
		return res, Introspection{
			Active: true, Subject: c.Subject, ClientID: c.ClientID, Scope: c.Scope, Expiry: c.Expiry,
			IssuedAt: c.IssuedAt, JTI: c.JTI, Session: c.Session, Issuer: c.Issuer, Audience: c.Audience,
			TokenType: "Bearer", Factor: c.Factor,
		}
	}
	rt := i.refresh.get(raw)
	if rt == nil {
		return resultUnknown, Introspection{}
	}
	f := rt.fam
	f.mu.Lock()
	used, dead := rt.used, f.dead
	f.mu.Unlock()
	switch {
	case used || dead:
		return resultRevoked, Introspection{}
	case !now.Before(rt.exp):
		return resultExpired, Introspection{}
	case i.recalled(f):
		return resultRevoked, Introspection{}
	}
	return resultActive, Introspection{
		Active: true, Subject: f.sess.sub, ClientID: f.sess.clientID, Scope: f.scope,
		Expiry: rt.exp.Unix(), IssuedAt: f.authTime, Session: f.sess.sid, Issuer: iss,
		TokenType: "refresh_token", Factor: f.sess.fid,
	}
}

// handleIntrospect serves POST /introspect (RFC 7662). Any authenticated client may introspect
// any token: resource servers are clients.
func (i *Issuer) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	if i.authenticate(w, r) == nil {
		return
	}
	raw := r.PostForm.Get("token")
	if raw == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	res, in := i.introspect(raw, i.issuerFor(r), time.Now())
	i.m.introspections.WithLabelValues(res).Inc()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, in)
}

// handleRevoke serves POST /revoke (RFC 7009). Unknown, invalid, expired and already revoked
// tokens get 200 and change nothing. A token issued to another client is refused with 400
// unauthorized_client (RFC 7009 section 2.1). An access token is recalled by jti; a refresh
// token recalls its family and the session's access tokens.
func (i *Issuer) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	c := i.authenticate(w, r)
	if c == nil {
		return
	}
	raw := r.PostForm.Get("token")
	if raw == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	var req RecallRequest
	if strings.Count(raw, ".") == 2 {
		claims, _, res := i.check(raw, i.issuerFor(r), time.Now())
		if claims != nil && res != resultInvalid && claims.ClientID != c.id {
			oauthError(w, http.StatusBadRequest, "unauthorized_client", "token was issued to another client")
			return
		}
		if res != resultActive {
			w.WriteHeader(http.StatusOK)
			return
		}
		req = RecallRequest{Type: RecallJTI, Values: []string{claims.JTI}}
	} else {
		rt := i.refresh.get(raw)
		if rt == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		if rt.fam.sess.clientID != c.id {
			oauthError(w, http.StatusBadRequest, "unauthorized_client", "token was issued to another client")
			return
		}
		rt.fam.mu.Lock()
		dead := rt.fam.dead
		rt.fam.mu.Unlock()
		if dead {
			w.WriteHeader(http.StatusOK)
			return
		}
		req = RecallRequest{Type: RecallToken, Values: []string{raw}}
	}
	if _, err := i.Recall(background(r.Context()), req); err != nil {
		i.serverError(w, "revoke", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Metadata is the RFC 8414 authorization server metadata document.
type Metadata struct {
	// Issuer is the issuer identifier (the iss of tokens).
	Issuer string `json:"issuer"`
	// TokenEndpoint is the URL of POST /token.
	TokenEndpoint string `json:"token_endpoint"`
	// JWKSURI is the URL of the JWKS.
	JWKSURI string `json:"jwks_uri"`
	// RevocationEndpoint is the URL of the RFC 7009 endpoint.
	RevocationEndpoint string `json:"revocation_endpoint"`
	// IntrospectionEndpoint is the URL of the RFC 7662 endpoint.
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	// RevocationListEndpoint is the URL of GET /revocations (not standard).
	RevocationListEndpoint string `json:"revocation_list_endpoint"`
	// GrantTypesSupported are the grants of POST /token.
	GrantTypesSupported []string `json:"grant_types_supported"`
	// ResponseTypesSupported is empty: there is no authorization endpoint.
	ResponseTypesSupported []string `json:"response_types_supported"`
	// TokenEndpointAuthMethodsSupported are the client authentication methods.
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	// RevocationEndpointAuthMethodsSupported are the client authentication methods of /revoke.
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported"`
	// IntrospectionEndpointAuthMethodsSupported are those of /introspect.
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	// AccessTokenSigningAlgValuesSupported are the access-token signing algorithms.
	AccessTokenSigningAlgValuesSupported []string `json:"access_token_signing_alg_values_supported"`
}

// metadata builds the discovery document for base.
func metadata(base string) Metadata {
	auth := []string{"client_secret_basic", "client_secret_post"}
	return Metadata{
		Issuer:                                    base,
		TokenEndpoint:                             base + "/token",
		JWKSURI:                                   base + "/jwks",
		RevocationEndpoint:                        base + "/revoke",
		IntrospectionEndpoint:                     base + "/introspect",
		RevocationListEndpoint:                    base + "/revocations",
		GrantTypesSupported:                       []string{GrantClientCredentials, GrantPassword, GrantRefreshToken},
		ResponseTypesSupported:                    []string{},
		TokenEndpointAuthMethodsSupported:         auth,
		RevocationEndpointAuthMethodsSupported:    auth,
		IntrospectionEndpointAuthMethodsSupported: auth,
		AccessTokenSigningAlgValuesSupported:      []string{"ES256"},
	}
}

func (i *Issuer) handleMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, metadata(i.issuerFor(r)))
}

// handleJWKS serves the public keys that verify: standby, active and retired, never revoked.
func (i *Issuer) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(i.keys.JWKS())
}

// handleRevocations serves GET /revocations[?since=V] (revocation.List). It is public: the list
// holds token ids and subjects, no secrets. It stays cheap under polling: a poller that is up to
// date gets a 304 or an empty delta, and the full list is encoded once per version.
func (i *Issuer) handleRevocations(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if s := r.URL.Query().Get("since"); s != "" {
		var err error
		if since, err = strconv.ParseUint(s, 10, 64); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "since must be a non-negative integer")
			return
		}
	}
	current := i.Version()
	etag := `"` + strconv.FormatUint(current, 10) + `"`
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var (
		version uint64
		body    []byte
		err     error
	)
	if since == 0 {
		version, body, err = i.list.full()
	} else {
		v, delta := i.list.snapshot(since)
		version = v
		body, err = encodeList(v, false, delta)
	}
	if err != nil {
		i.serverError(w, "revocation list", err)
		return
	}
	w.Header().Set("ETag", `"`+strconv.FormatUint(version, 10)+`"`)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(body)
}

// etagMatch reports whether an If-None-Match header matches etag (weak comparison, RFC 9110).
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// admin wraps h with Bearer AdminSecret authentication (constant-time).
func (i *Issuer) admin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			tok, ok = strings.CutPrefix(auth, "bearer ")
		}
		if !ok || !equalHash(sha256.Sum256([]byte(tok)), i.adminHash) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="recall-issuer-admin"`)
			adminError(w, http.StatusUnauthorized, "unauthorized", "admin bearer secret required")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func adminError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, desc})
}

// decodeJSON decodes a JSON body strictly (unknown fields are errors).
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			adminError(w, http.StatusRequestEntityTooLarge, "invalid_request", "body too large")
			return false
		}
		adminError(w, http.StatusBadRequest, "invalid_request", "malformed JSON: "+err.Error())
		return false
	}
	return true
}

// handleRecall serves POST /admin/recalls.
func (i *Issuer) handleRecall(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Type   RecallType      `json:"type"`
		Values []string        `json:"values"`
		Before json.RawMessage `json:"before"`
		All    bool            `json:"all"`
	}
	if !decodeJSON(w, r, maxRecallBytes, &body) {
		return
	}
	req := RecallRequest{Type: body.Type, Values: body.Values, All: body.All, IdempotencyKey: r.Header.Get("Idempotency-Key")}
	if b := bytes.TrimSpace(body.Before); len(b) > 0 && !bytes.Equal(b, []byte("null")) {
		if b[0] == '"' {
			if err := json.Unmarshal(b, &req.Before); err != nil {
				adminError(w, http.StatusBadRequest, "invalid_request", "before: "+err.Error())
				return
			}
		} else {
			req.Before = string(b)
		}
	}
	res, err := i.Recall(r.Context(), req)
	switch {
	case errors.Is(err, ErrInvalidRecall):
		adminError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	case errors.Is(err, ErrIdempotencyConflict):
		adminError(w, http.StatusUnprocessableEntity, "idempotency_conflict", err.Error())
		return
	case err != nil:
		i.log.Error("recall", "err", err)
		adminError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (i *Issuer) handleAddUsers(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Users []User `json:"users"`
	}
	if !decodeJSON(w, r, maxRegisterBytes, &body) {
		return
	}
	if err := i.AddUsers(body.Users); err != nil {
		adminError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": len(body.Users)})
}

func (i *Issuer) handleAddClients(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Clients []Client `json:"clients"`
	}
	if !decodeJSON(w, r, maxRegisterBytes, &body) {
		return
	}
	if err := i.AddClients(body.Clients); err != nil {
		adminError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": len(body.Clients)})
}

func (i *Issuer) handleEnroll(w http.ResponseWriter, r *http.Request) {
	e, err := i.EnrollFactor(r.PathValue("username"))
	switch {
	case errors.Is(err, ErrUnknownUser):
		adminError(w, http.StatusNotFound, "not_found", err.Error())
		return
	case err != nil:
		i.log.Error("enrol factor", "err", err)
		adminError(w, http.StatusInternalServerError, "server_error", "enrolment failed")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, e)
}

func (i *Issuer) handleRotate(w http.ResponseWriter, _ *http.Request) {
	kid, err := i.RotateKey()
	if err != nil {
		i.log.Error("rotate key", "err", err)
		adminError(w, http.StatusInternalServerError, "server_error", "rotation failed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"kid": kid})
}

func (i *Issuer) handleKeys(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]KeyInfo{"keys": i.KeyInfos()})
}
