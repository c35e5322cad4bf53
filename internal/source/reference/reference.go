// Package reference is the token source, recaller and confirmer of the reference issuer
// (targets/issuer): it registers the drill's own clients and users through the issuer's admin
// API, mints through its standard token endpoint, recalls through POST /admin/recalls, and
// confirms by RFC 7662 introspection. The drill engine sees it only through the interfaces of
// internal/source.
package reference

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/source"
)

// Paths of the reference issuer.
const (
	PathToken      = "/token"
	PathRevoke     = "/revoke"
	PathIntrospect = "/introspect"
	PathJWKS       = "/jwks"
	pathClients    = "/admin/clients"
	pathUsers      = "/admin/users"
	pathRotate     = "/admin/keys/rotate"
	pathRecalls    = "/admin/recalls"
)

// Issuer is the reference issuer reached at URL, administered with AdminSecret. It is a
// source.Source, a source.Recaller and (through Confirmer) a source.Confirmer.
type Issuer struct {
	URL         *url.URL
	AdminSecret source.Secret
	// DrillID labels the clients and users it registers.
	DrillID string
	HTTP    *http.Client

	mu      sync.Mutex
	users   map[string]*user
	clients int
	nUsers  int
	minted  atomic.Int64
}

type user struct {
	id, secret, totp string
	// recovery are the current factor's recovery codes not used yet by the drill.
	recovery []string
}

var (
	_ source.Source       = (*Issuer)(nil)
	_ source.Recaller     = (*Issuer)(nil)
	_ source.FactorProber = (*Issuer)(nil)

	_ source.IssuedBeforeRecaller = (*Issuer)(nil)
)

// Open returns the Opener of the reference issuer: its endpoints are fixed paths under the
// issuer's URL.
func Open(adminSecret source.Secret, drillID string) source.Opener {
	return func(_ context.Context, u *url.URL) (*source.Provider, error) {
		if u == nil {
			return nil, errors.New("reference issuer: no endpoint")
		}
		hc := oauth.NewHTTPClient(30*time.Second, nil)
		iss := &Issuer{URL: u, AdminSecret: adminSecret, DrillID: drillID, HTTP: hc}
		eps := Endpoints(u)
		return &source.Provider{
			URL: u, Endpoints: eps, Source: iss, Recaller: iss, HTTP: hc,
			Confirmer: &source.Introspection{Introspector: oauth.Introspector{Endpoint: eps.Introspection, Auth: oauth.IntrospectAsClient, HTTP: hc}},
		}, nil
	}
}

// Endpoints are the reference issuer's standard endpoints under u.
func Endpoints(u *url.URL) oauth.Endpoints {
	return oauth.Endpoints{
		Issuer: u.String(), Token: u.JoinPath(PathToken).String(), Revocation: u.JoinPath(PathRevoke).String(),
		Introspection: u.JoinPath(PathIntrospect).String(), JWKS: u.JoinPath(PathJWKS).String(),
		Source: map[string]string{"token_endpoint": "set", "revocation_endpoint": "set", "introspection_endpoint": "set", "jwks_uri": "set"},
	}
}

func randomSecret() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Mint registers the population's clients (and users, and their MFA factors) at the issuer,
// then mints one access token per victim and control, concurrently; with
// RotateKeyBeforeControls it rotates the signing key between victims and controls.
func (i *Issuer) Mint(ctx context.Context, pop source.Population, done func(int)) ([]*source.Token, error) {
	nClients := max(1, pop.Clients)
	vc, cc := source.Split(nClients, pop.Victims, pop.Controls)
	clients := make([]*oauth.Client, nClients)
	reg := make([]map[string]any, nClients)
	for k := range clients {
		secret := randomSecret()
		redact.Global.Add(secret)
		clients[k] = &oauth.Client{ID: fmt.Sprintf("recall-%s-client-%d", i.DrillID, k), Secret: secret, Auth: oauth.AuthBasic, Scope: pop.Scope}
		reg[k] = map[string]any{"client_id": clients[k].ID, "client_secret": secret}
	}
	if err := i.post(ctx, pathClients, map[string]any{"clients": reg}, nil); err != nil {
		return nil, fmt.Errorf("register %d clients: %w", nClients, err)
	}
	var users []*user
	vu, cu := 0, 0
	if pop.Grant == oauth.GrantPassword {
		nUsers := max(1, pop.Users)
		vu, cu = source.Split(nUsers, pop.Victims, pop.Controls)
		users = make([]*user, nUsers)
		regU := make([]map[string]any, nUsers)
		for k := range users {
			users[k] = &user{id: fmt.Sprintf("recall-%s-user-%d", i.DrillID, k), secret: randomSecret()}
			redact.Global.Add(users[k].secret)
			regU[k] = map[string]any{"username": users[k].id, "password": users[k].secret}
		}
		if err := i.post(ctx, pathUsers, map[string]any{"users": regU}, nil); err != nil {
			return nil, fmt.Errorf("register %d users: %w", nUsers, err)
		}
		if pop.MFA {
			if err := source.ForEach(ctx, nUsers, source.DefaultMintConcurrency, func(ctx context.Context, k int) error {
				return i.enrol(ctx, users[k])
			}); err != nil {
				return nil, fmt.Errorf("enroll MFA factors: %w", err)
			}
		}
	}
	i.mu.Lock()
	i.users = map[string]*user{}
	for _, u := range users {
		i.users[u.id] = u
	}
	i.clients, i.nUsers = nClients, len(users)
	i.mu.Unlock()
	n := pop.Victims + pop.Controls
	tokens := make([]*source.Token, n)
	mint := func(ctx context.Context, idx int) error {
		victim := idx < pop.Victims
		k := idx
		if !victim {
			k -= pop.Victims
		}
		cl := clients[source.Pick(vc, cc, k, victim)]
		var us *user
		if len(users) > 0 {
			us = users[source.Pick(vu, cu, k, victim)]
		}
		t, err := i.mintOne(ctx, pop.Grant, cl, us)
		if err != nil {
			return err
		}
		t.Index, t.Victim = idx, victim
		tokens[idx] = t
		if done != nil {
			done(int(i.minted.Add(1)))
		}
		return nil
	}
	if err := source.ForEach(ctx, pop.Victims, source.DefaultMintConcurrency, mint); err != nil {
		return nil, fmt.Errorf("mint %d victims: %w", pop.Victims, err)
	}
	if pop.RotateKeyBeforeControls {
		if err := i.post(ctx, pathRotate, struct{}{}, nil); err != nil {
			return nil, fmt.Errorf("rotate the signing key before minting controls: %w", err)
		}
	}
	if pop.NewSecondBeforeControls {
		if err := source.WaitForBoundary(ctx, tokens[:pop.Victims]); err != nil {
			return nil, err
		}
	}
	if err := source.ForEach(ctx, pop.Controls, source.DefaultMintConcurrency, func(ctx context.Context, k int) error { return mint(ctx, pop.Victims+k) }); err != nil {
		return nil, fmt.Errorf("mint %d controls: %w", pop.Controls, err)
	}
	return tokens, nil
}

func (i *Issuer) enrol(ctx context.Context, u *user) error {
	var enr struct {
		Secret        string   `json:"secret"`
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if err := i.post(ctx, pathUsers+"/"+url.PathEscape(u.id)+"/factors", struct{}{}, &enr); err != nil {
		return err
	}
	redact.Global.Add(enr.Secret)
	redact.Global.Add(enr.RecoveryCodes...)
	i.mu.Lock()
	u.totp, u.recovery = enr.Secret, enr.RecoveryCodes
	i.mu.Unlock()
	return nil
}

func (i *Issuer) mintOne(ctx context.Context, grant string, cl *oauth.Client, us *user) (*source.Token, error) {
	acc := &source.Accounts{TokenURL: i.URL.JoinPath(PathToken).String(), HTTP: i.HTTP, Clients: []*oauth.Client{cl}}
	if us != nil {
		i.mu.Lock()
		acc.Users = []source.User{{Username: us.id, Password: source.NewSecret(us.secret), TOTP: source.NewSecret(us.totp)}}
		i.mu.Unlock()
	}
	if grant == "" {
		grant = oauth.GrantClientCredentials
	}
	ts, err := acc.Mint(ctx, source.Population{Grant: grant, Victims: 1}, nil)
	if err != nil {
		return nil, err
	}
	return ts[0], nil
}

// Reissue implements source.Source: the user logs in again (enrolling a new factor first when
// newFactor is set), or the client asks for a new token.
func (i *Issuer) Reissue(ctx context.Context, t *source.Token, newFactor bool) (*source.Token, error) {
	if t.Owner == nil {
		return nil, fmt.Errorf("credential %s: no client to re-issue for", t.ID())
	}
	var us *user
	if t.User != "" {
		i.mu.Lock()
		us = i.users[t.User]
		i.mu.Unlock()
		if us == nil {
			return nil, fmt.Errorf("user %s: not registered by this drill", t.User)
		}
		if newFactor {
			if err := i.enrol(ctx, us); err != nil {
				return nil, fmt.Errorf("re-enrol a factor: %w", err)
			}
		}
	}
	grant := oauth.GrantClientCredentials
	if us != nil {
		grant = oauth.GrantPassword
	}
	nt, err := i.mintOne(ctx, grant, t.Owner, us)
	if err != nil {
		return nil, err
	}
	nt.Index, nt.Victim = t.Index, t.Victim
	return nt, nil
}

// Describe implements source.Source.
func (i *Issuer) Describe() source.Description {
	i.mu.Lock()
	defer i.mu.Unlock()
	return source.Description{Kind: "reference", Clients: i.clients, Users: i.nUsers}
}

// AdminRecallResult is the reference issuer's answer to POST /admin/recalls.
type AdminRecallResult struct {
	RecallID      string `json:"recall_id"`
	Type          string `json:"type"`
	Count         int    `json:"count"`
	RecoveryCodes *int   `json:"recovery_codes"`
	Version       uint64 `json:"version"`
	AppliedAt     string `json:"applied_at"`
}

// RecallBy implements source.Recaller with one admin recall.
func (i *Issuer) RecallBy(ctx context.Context, by string, values []string) (source.RecallResult, error) {
	var res AdminRecallResult
	if err := i.post(ctx, pathRecalls, map[string]any{"type": by, "values": values}, &res); err != nil {
		return source.RecallResult{Count: -1, RecoveryCodes: -1}, fmt.Errorf("admin recall: %w", err)
	}
	out := source.RecallResult{ID: res.RecallID, Count: res.Count, RecoveryCodes: -1}
	if by == "mfa" {
		out.RecoveryCodes = 0 // omitted when none went
		if res.RecoveryCodes != nil {
			out.RecoveryCodes = *res.RecoveryCodes
		}
	}
	return out, nil
}

// RecallIssuedBefore implements source.IssuedBeforeRecaller with one admin recall of type
// issued_before.
func (i *Issuer) RecallIssuedBefore(ctx context.Context, before time.Time) (source.RecallResult, error) {
	var res AdminRecallResult
	if err := i.post(ctx, pathRecalls, map[string]any{"type": "issued_before", "before": before.UTC().Format(time.RFC3339Nano)}, &res); err != nil {
		return source.RecallResult{Count: -1}, fmt.Errorf("admin recall issued_before %s: %w", before.UTC().Format(time.RFC3339Nano), err)
	}
	return source.RecallResult{ID: res.RecallID, Count: res.Count}, nil
}

// post sends body as JSON to the admin API and decodes the answer into out (if set).
func (i *Issuer) post(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.URL.JoinPath(path).String(), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+i.AdminSecret.Reveal())
	hc := i.HTTP
	if hc == nil {
		hc = oauth.NewHTTPClient(30*time.Second, nil)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %s", path, redact.String(err.Error(), i.AdminSecret.Reveal()))
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(http.MaxBytesReader(nil, resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, redact.Excerpt(buf.Bytes(), i.AdminSecret.Reveal()))
	}
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			return fmt.Errorf("POST %s: decode answer: %v: %s", path, err, redact.Excerpt(buf.Bytes()))
		}
	}
	return nil
}

// LoginWithFactor implements source.FactorProber: t's user logs in with its password and a
// one-time code of the factor the drill enrolled for it (which an MFA recall must have
// deleted), as t's client.
func (i *Issuer) LoginWithFactor(ctx context.Context, t *source.Token) (bool, error) {
	us, err := i.userOf(t)
	if err != nil {
		return false, err
	}
	i.mu.Lock()
	secret := us.totp
	i.mu.Unlock()
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		return false, fmt.Errorf("user %s: TOTP code: %w", us.id, err)
	}
	return i.login(ctx, t, us, "otp", code)
}

// LoginWithRecoveryCode implements source.FactorProber with the next recovery code of the
// factor the drill enrolled for t's user: accepted, it is used up.
func (i *Issuer) LoginWithRecoveryCode(ctx context.Context, t *source.Token) (bool, error) {
	us, err := i.userOf(t)
	if err != nil {
		return false, err
	}
	i.mu.Lock()
	if len(us.recovery) == 0 {
		i.mu.Unlock()
		return false, fmt.Errorf("user %s: no recovery code left", us.id)
	}
	code := us.recovery[0]
	i.mu.Unlock()
	refused, err := i.login(ctx, t, us, "recovery_code", code)
	if err == nil && !refused {
		i.mu.Lock()
		if len(us.recovery) > 0 && us.recovery[0] == code {
			us.recovery = us.recovery[1:]
		}
		i.mu.Unlock()
	}
	return refused, err
}

func (i *Issuer) userOf(t *source.Token) (*user, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	us := i.users[t.User]
	switch {
	case t.Owner == nil:
		return nil, fmt.Errorf("credential %s: no client to log in as", t.ID())
	case us == nil || us.totp == "":
		return nil, fmt.Errorf("credential %s: no MFA user of this drill", t.ID())
	}
	return us, nil
}

// login is one password-grant request with the extra parameter; refused is invalid_grant.
func (i *Issuer) login(ctx context.Context, t *source.Token, us *user, key, value string) (bool, error) {
	i.mu.Lock()
	pw := us.secret
	i.mu.Unlock()
	g := oauth.Grant{Type: oauth.GrantPassword, Username: us.id, Password: pw, Extra: map[string][]string{key: {value}}}
	_, err := oauth.RequestToken(ctx, i.HTTP, i.URL.JoinPath(PathToken).String(), t.Owner, g)
	var se *oauth.StatusError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &se) && se.Status == http.StatusBadRequest && strings.HasPrefix(se.Excerpt, "invalid_grant"):
		return true, nil
	}
	return false, err
}
