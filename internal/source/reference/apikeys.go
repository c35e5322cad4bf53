package reference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/targets/revocation"
)

// Paths of the reference API-key authority (targets/apikey).
const (
	pathAPIKeys       = "/admin/keys"
	PathKeyIntrospect = "/introspect"
)

// RecallAPIKey is the attribute an API-key recall goes by (source.Recaller): the key ids.
const RecallAPIKey = "api_key"

// APIKeys is the reference API-key authority reached at URL (targets/apikey): a source.Source
// that mints long-lived keys through POST /admin/keys (one call per cohort), a source.Recaller
// that recalls them by id through POST /admin/recalls, and a source.Confirmer that asks
// POST /introspect as the lookup client the runtime registered. A key is opaque to the drill:
// its id is its jti, its subject apikey:<id>.
type APIKeys struct {
	URL         *url.URL
	AdminSecret source.Secret
	// ClientID and ClientSecret authenticate introspection (HTTP Basic); empty: no Confirmer.
	ClientID     string
	ClientSecret source.Secret
	HTTP         *http.Client

	mu     sync.Mutex
	minted int
}

var (
	_ source.Source    = (*APIKeys)(nil)
	_ source.Recaller  = (*APIKeys)(nil)
	_ source.Confirmer = (*APIKeys)(nil)
)

// OpenAPIKeys returns the Opener of the reference API-key authority. clientID and clientSecret
// are the lookup client its runtime registered (the gateways' credentials), for confirmation.
func OpenAPIKeys(adminSecret source.Secret, clientID string, clientSecret source.Secret) source.Opener {
	return func(_ context.Context, u *url.URL) (*source.Provider, error) {
		if u == nil {
			return nil, errors.New("reference api-key authority: no endpoint")
		}
		hc := oauth.NewHTTPClient(30*time.Second, nil)
		a := &APIKeys{URL: u, AdminSecret: adminSecret, ClientID: clientID, ClientSecret: clientSecret, HTTP: hc}
		p := &source.Provider{URL: u, Endpoints: oauth.Endpoints{Issuer: u.String(), Introspection: u.JoinPath(PathKeyIntrospect).String()},
			Source: a, Recaller: a, HTTP: hc}
		if clientID != "" {
			p.Confirmer = a
		}
		return p, nil
	}
}

// apiKey is one key of POST /admin/keys's answer.
type apiKey struct {
	ID    string `json:"id"`
	Key   string `json:"key"`
	Owner string `json:"owner"`
}

// mint mints n keys owned by owner-prefixed names.
func (a *APIKeys) mint(ctx context.Context, cohort string, n int) ([]*source.Token, error) {
	owners := make([]string, n)
	for i := range owners {
		owners[i] = fmt.Sprintf("drill-%s-%d", cohort, i)
	}
	var res struct {
		Keys []apiKey `json:"keys"`
	}
	if err := a.i().post(ctx, pathAPIKeys, map[string]any{"owners": owners}, &res); err != nil {
		return nil, fmt.Errorf("mint %d api keys (%s): %w", n, cohort, err)
	}
	if len(res.Keys) != n {
		return nil, fmt.Errorf("mint %d api keys (%s): the authority gave %d", n, cohort, len(res.Keys))
	}
	out := make([]*source.Token, n)
	for i, k := range res.Keys {
		if k.ID == "" || k.Key == "" {
			return nil, fmt.Errorf("mint api keys (%s): key %d has no id or no key", cohort, i)
		}
		out[i] = keyToken(k)
	}
	a.mu.Lock()
	a.minted += n
	a.mu.Unlock()
	return out, nil
}

// keyToken is the drill's credential of key k: opaque, never expiring, its id as jti. Its
// owner, the machine or partner it was issued to, is its client: the identity a recovery
// re-issues a key for.
func keyToken(k apiKey) *source.Token {
	return &source.Token{Access: source.NewSecret(k.Key), Client: k.Owner, Opaque: true,
		Claims: revocation.Claims{JTI: k.ID, Subject: "apikey:" + k.ID, ClientID: "apikey"}}
}

// i is an Issuer over the same URL and secret, for its admin post.
func (a *APIKeys) i() *Issuer { return &Issuer{URL: a.URL, AdminSecret: a.AdminSecret, HTTP: a.HTTP} }

// Mint implements source.Source: one admin call for the victims, one for the controls. API keys
// have no users, factors, signing keys or iat: a population that needs them is refused.
func (a *APIKeys) Mint(ctx context.Context, pop source.Population, done func(int)) ([]*source.Token, error) {
	switch {
	case pop.MFA:
		return nil, errors.New("the api-key authority mints keys, not MFA sessions: the recall action needs the reference issuer")
	case pop.RotateKeyBeforeControls:
		return nil, errors.New("api keys are not signed by a rotating key: the recall action needs the reference issuer")
	case pop.NewSecondBeforeControls:
		return nil, errors.New("api keys carry no iat: the recall action needs the reference issuer")
	}
	victims, err := a.mint(ctx, source.CohortVictims, pop.Victims)
	if err != nil {
		return nil, err
	}
	for i, t := range victims {
		t.Index, t.Victim = i, true
	}
	if done != nil {
		done(len(victims))
	}
	tokens := victims
	if pop.Controls > 0 {
		controls, err := a.mint(ctx, source.CohortControls, pop.Controls)
		if err != nil {
			return nil, err
		}
		for i, t := range controls {
			t.Index = pop.Victims + i
		}
		tokens = append(tokens, controls...)
		if done != nil {
			done(len(tokens))
		}
	}
	return tokens, nil
}

// Reissue implements source.Source: a recalled key's owner is given a new key.
func (a *APIKeys) Reissue(ctx context.Context, t *source.Token, _ bool) (*source.Token, error) {
	var res struct {
		Keys []apiKey `json:"keys"`
	}
	owner := t.Client
	if owner == "" {
		owner = "drill-reissue"
	}
	if err := a.i().post(ctx, pathAPIKeys, map[string]any{"owners": []string{owner}}, &res); err != nil {
		return nil, fmt.Errorf("re-issue an api key: %w", err)
	}
	if len(res.Keys) != 1 {
		return nil, fmt.Errorf("re-issue an api key: the authority gave %d", len(res.Keys))
	}
	nt := keyToken(res.Keys[0])
	nt.Index, nt.Victim = t.Index, t.Victim
	return nt, nil
}

// Describe implements source.Source.
func (a *APIKeys) Describe() source.Description {
	a.mu.Lock()
	defer a.mu.Unlock()
	return source.Description{Kind: "reference-apikeys", Clients: a.minted, Opaque: a.minted}
}

// RecallBy implements source.Recaller: by api_key (or jti: a key's id is its jti), one
// POST /admin/recalls {ids}.
func (a *APIKeys) RecallBy(ctx context.Context, by string, values []string) (source.RecallResult, error) {
	if by != RecallAPIKey && by != "jti" {
		return source.RecallResult{Count: -1}, fmt.Errorf("the api-key authority recalls keys by id (%s), not by %s", RecallAPIKey, by)
	}
	var res struct {
		RecallID string `json:"recall_id"`
		Revoked  int    `json:"revoked"`
	}
	if err := a.i().post(ctx, pathRecalls, map[string]any{"ids": values}, &res); err != nil {
		return source.RecallResult{Count: -1}, fmt.Errorf("recall api keys: %w", err)
	}
	return source.RecallResult{ID: res.RecallID, Count: res.Revoked}, nil
}

// Active implements source.Confirmer: the authority's own lookup (RFC 7662 shaped).
func (a *APIKeys) Active(ctx context.Context, t *source.Token) (bool, error) {
	form := url.Values{"token": {t.Access.Reveal()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL.JoinPath(PathKeyIntrospect).String(), strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(a.ClientID), url.QueryEscape(a.ClientSecret.Reveal()))
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return false, fmt.Errorf("introspect api key %s: %s", t.ID(), redact.String(err.Error(), t.Access.Reveal(), a.ClientSecret.Reveal()))
	}
	defer resp.Body.Close()
	var body struct {
		Active bool `json:"active"`
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("introspect api key %s: %s", t.ID(), resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return false, fmt.Errorf("introspect api key %s: %v", t.ID(), err)
	}
	return body.Active, nil
}
