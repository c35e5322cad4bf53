package drill

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp/totp"
)

// Population says which credentials to mint: victims (to be recalled) and controls (must stay
// valid), spread over users and clients. Victims and controls never share a user or a client
// (when there are at least two), so that recalling a victim's user or client is not collateral
// damage by construction.
type Population struct {
	// Grant is client_credentials or password.
	Grant    string
	Victims  int
	Controls int
	// Users (password grant) and Clients are how many distinct ones to spread tokens over.
	Users   int
	Clients int
	Scope   string
	// MFA enrolls a TOTP factor for every user before minting (password grant), so that tokens
	// carry the factor they were established with (claim fid) and a revoke-mfa recall has
	// something to take back.
	MFA bool
	// RotateKeyBeforeControls rotates the issuer's signing key between minting victims and
	// controls, so that victims and controls are signed by different keys and a revoke-key
	// recall is not collateral damage by construction.
	RotateKeyBeforeControls bool
}

// DefaultMintConcurrency bounds concurrent token requests while minting.
const DefaultMintConcurrency = 32

// Issuer is how the harness reaches the issuer's APIs.
type Issuer struct {
	// URL is the issuer's endpoint as reached from the harness.
	URL *url.URL
	// AdminSecret authenticates the reference issuer's admin API.
	AdminSecret Secret
	// Client sends the requests (default: a client with a 30 s timeout).
	Client *http.Client
}

func (i Issuer) client() *http.Client {
	if i.Client == nil {
		return defaultClient
	}
	return i.Client
}

var defaultClient = &http.Client{Timeout: 30 * time.Second}

// split divides n identities between victims and controls in proportion, each side getting at
// least one when n >= 2 and both sides have tokens.
func split(n, victims, controls int) (v, c int) {
	if n < 1 {
		n = 1
	}
	if controls == 0 || n == 1 {
		return n, 0
	}
	if victims == 0 {
		return 0, n
	}
	v = n * victims / (victims + controls)
	v = max(1, min(n-1, v))
	return v, n - v
}

// Mint registers the population's clients (and users) at the reference issuer, then mints one
// access token per victim and control, concurrently. done is called after each token (for
// progress). Tokens are returned victims first, with Index set.
func Mint(ctx context.Context, iss Issuer, pop Population, drillID string, done func(n int)) ([]*Token, error) {
	tokens, _, err := mintPopulation(ctx, iss, pop, drillID, done)
	return tokens, err
}

// mintPopulation is Mint, also returning the users it registered (password grant), whose
// secrets the recovery measurement needs to log them in again after the recall.
func mintPopulation(ctx context.Context, iss Issuer, pop Population, drillID string, done func(n int)) ([]*Token, []identity, error) {
	nClients := max(1, pop.Clients)
	vc, cc := split(nClients, pop.Victims, pop.Controls)
	clients := make([]identity, nClients)
	for i := range clients {
		clients[i] = identity{ID: fmt.Sprintf("recall-%s-client-%d", drillID, i), Secret: randomSecret()}
	}
	regClients := make([]map[string]any, len(clients))
	for i, c := range clients {
		regClients[i] = map[string]any{"client_id": c.ID, "client_secret": c.Secret}
	}
	if err := adminPost(ctx, iss, "/admin/clients", map[string]any{"clients": regClients}); err != nil {
		return nil, nil, fmt.Errorf("register %d clients: %w", nClients, err)
	}
	var users []identity
	vu, cu := 0, 0
	if pop.Grant == "password" {
		nUsers := max(1, pop.Users)
		vu, cu = split(nUsers, pop.Victims, pop.Controls)
		users = make([]identity, nUsers)
		reg := make([]map[string]any, nUsers)
		for i := range users {
			users[i] = identity{ID: fmt.Sprintf("recall-%s-user-%d", drillID, i), Secret: randomSecret()}
			reg[i] = map[string]any{"username": users[i].ID, "password": users[i].Secret}
		}
		if err := adminPost(ctx, iss, "/admin/users", map[string]any{"users": reg}); err != nil {
			return nil, nil, fmt.Errorf("register %d users: %w", nUsers, err)
		}
		if pop.MFA {
			if err := forEach(ctx, nUsers, DefaultMintConcurrency, func(ctx context.Context, i int) error {
				var enr struct {
					Secret string `json:"secret"`
				}
				if err := adminPostInto(ctx, iss, "/admin/users/"+url.PathEscape(users[i].ID)+"/factors", struct{}{}, &enr); err != nil {
					return err
				}
				users[i].TOTP = enr.Secret
				return nil
			}); err != nil {
				return nil, nil, fmt.Errorf("enroll MFA factors: %w", err)
			}
		}
	}
	pick := func(ids []identity, nv, nc, i int, victim bool) identity {
		if len(ids) == 0 {
			return identity{}
		}
		if victim || nc == 0 {
			return ids[i%max(1, nv)]
		}
		return ids[nv+i%nc]
	}
	n := pop.Victims + pop.Controls
	tokens := make([]*Token, n)
	var minted atomic.Int64
	mint := func(ctx context.Context, idx int) error {
		victim := idx < pop.Victims
		i := idx
		if !victim {
			i = idx - pop.Victims
		}
		cl := pick(clients, vc, cc, i, victim)
		us := pick(users, vu, cu, i, victim)
		t, err := mintOne(ctx, iss, pop, cl, us)
		if err != nil {
			return err
		}
		t.Index, t.Victim = idx, victim
		tokens[idx] = t
		if done != nil {
			done(int(minted.Add(1)))
		}
		return nil
	}
	if err := forEach(ctx, pop.Victims, DefaultMintConcurrency, mint); err != nil {
		return nil, nil, fmt.Errorf("mint %d victims: %w", pop.Victims, err)
	}
	if pop.RotateKeyBeforeControls {
		if err := adminPost(ctx, iss, "/admin/keys/rotate", struct{}{}); err != nil {
			return nil, nil, fmt.Errorf("rotate the signing key before minting controls: %w", err)
		}
	}
	err := forEach(ctx, pop.Controls, DefaultMintConcurrency, func(ctx context.Context, i int) error { return mint(ctx, pop.Victims+i) })
	if err != nil {
		return nil, nil, fmt.Errorf("mint %d controls: %w", pop.Controls, err)
	}
	return tokens, users, nil
}

// identity is a client or user the drill registered; TOTP is the user's enrolled factor secret.
type identity struct{ ID, Secret, TOTP string }

func randomSecret() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mintOne(ctx context.Context, iss Issuer, pop Population, cl, us identity) (*Token, error) {
	form := url.Values{"grant_type": {pop.Grant}}
	if pop.Grant == "" {
		form.Set("grant_type", "client_credentials")
	}
	if pop.Grant == "password" {
		form.Set("username", us.ID)
		form.Set("password", us.Secret)
		if us.TOTP != "" {
			code, err := totp.GenerateCode(us.TOTP, time.Now())
			if err != nil {
				return nil, fmt.Errorf("TOTP code: %w", err)
			}
			form.Set("otp", code)
		}
	}
	if pop.Scope != "" {
		form.Set("scope", pop.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, iss.URL.JoinPath("/token").String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.ID), url.QueryEscape(cl.Secret))
	resp, err := iss.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token endpoint: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var tr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		return nil, fmt.Errorf("token endpoint: no access_token in the answer")
	}
	claims, err := ParseClaims(tr.AccessToken)
	if err != nil {
		return nil, fmt.Errorf("token endpoint: access token: %w", err)
	}
	return &Token{
		Access: NewSecret(tr.AccessToken), Refresh: NewSecret(tr.RefreshToken),
		Client: cl.ID, ClientSecret: NewSecret(cl.Secret), User: us.ID, Claims: claims,
	}, nil
}

func adminPost(ctx context.Context, iss Issuer, path string, body any) error {
	return adminPostInto(ctx, iss, path, body, nil)
}

// adminPostInto posts body as JSON to the admin API and decodes the answer into out (if set).
func adminPostInto(ctx context.Context, iss Issuer, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, iss.URL.JoinPath(path).String(), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+iss.AdminSecret.Reveal())
	resp, err := iss.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, strings.TrimSpace(string(answer)))
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			return fmt.Errorf("POST %s: decode answer: %w", path, err)
		}
	}
	return nil
}
