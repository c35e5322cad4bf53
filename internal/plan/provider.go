package plan

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/internal/source"
	refsource "github.com/recall-drills/recall/internal/source/reference"
)

// providerTimeout bounds every request of the harness to the provider (discovery, token,
// revocation, introspection): a provider that does not answer is an error, never a hang.
const providerTimeout = 15 * time.Second

// provider returns how the drill connects to the scenario's identity provider: the reference
// issuer's admin API, or, for an issuer with oauth: or existing clients, the standards-based
// source over those accounts (internal/source). With tokens.source the credentials come from
// that command or request instead (source.External); the provider still recalls and confirms.
func provider(s *scenario.Scenario, issuer string, secrets runtime.Secrets, drillID string, env runtime.Environment) (source.Opener, []error) {
	var c *scenario.Component
	for i := range s.System.Components {
		if s.System.Components[i].Name == issuer {
			c = &s.System.Components[i]
		}
	}
	t := &s.Tokens
	if c != nil && c.Use == scenario.UseAPIKeys {
		// The API-key authority mints, recalls and confirms its own keys (admin API, lookup as
		// the client its runtime registered for the services).
		if t.Source != nil {
			return nil, []error{s.Errorf("tokens.source", "%s mints its keys itself: leave tokens.source out, or name another tokens.issuer", c.Use)}
		}
		return refsource.OpenAPIKeys(drill.NewSecret(secrets.AdminSecret), secrets.GatewayID, drill.NewSecret(secrets.GatewaySecret)), nil
	}
	if c == nil || (c.OAuth == nil && !t.Clients.IsList() && (t.Source == nil || c.Use == "reference/issuer")) {
		open := refsource.Open(drill.NewSecret(secrets.AdminSecret), drillID)
		ext, confirmer, err := tokenSource(s, nil, env, secrets.AdminSecret)
		if err != nil || ext == nil {
			return open, errList(err)
		}
		return func(ctx context.Context, u *url.URL) (*source.Provider, error) {
			p, err := open(ctx, u)
			if err == nil {
				p.Source = ext
				if confirmer != nil {
					p.Confirmer = confirmer
				}
			}
			return p, err
		}, nil
	}
	var errs []error
	if c.Use == "reference/issuer" && c.OAuth != nil {
		errs = append(errs, s.Errorf(compPath(s, c)+".oauth", "reference/issuer is reached through its admin API; oauth: is for your own provider"))
	}
	if !t.Clients.IsList() && t.Source == nil {
		errs = append(errs, s.Errorf("tokens.clients", "an issuer with oauth: has no admin API to register clients: list the existing ones ({id, secret, auth})"))
	}
	dir := filepath.Dir(s.Path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	var clients []*oauth.Client
	for i, ca := range t.Clients.List {
		cl := &oauth.Client{ID: ca.ID, Secret: ca.Secret, Auth: ca.Auth, KeyID: ca.KeyID, Scope: ca.Scope}
		if cl.Scope == "" {
			cl.Scope = t.Scope
		}
		if ca.KeyFile != "" {
			k, kid, err := oauth.LoadKey(rel(ca.KeyFile))
			if err != nil {
				errs = append(errs, s.Errorf(fmt.Sprintf("tokens.clients[%d].key_file", i), "%v", err))
			}
			cl.Key = k
			if cl.KeyID == "" {
				cl.KeyID = kid
			}
		}
		redact.Global.Add(ca.Secret)
		clients = append(clients, cl)
	}
	var users []source.User
	for _, u := range t.Users.List {
		users = append(users, source.User{Username: u.Username, Password: source.NewSecret(u.Password), TOTP: source.NewSecret(u.TOTP)})
	}
	if t.Users.File != "" {
		us, err := readUsers(rel(t.Users.File))
		if err != nil {
			errs = append(errs, s.Errorf("tokens.users.file", "%v", err))
		}
		users = append(users, us...)
	}
	var refresh []source.Secret
	if t.RefreshTokens != "" {
		lines, err := readLines(rel(t.RefreshTokens))
		if err != nil {
			errs = append(errs, s.Errorf("tokens.refresh_tokens", "%v", err))
		}
		for _, l := range lines {
			refresh = append(refresh, source.NewSecret(l))
		}
		// Tokens minted from one refresh token form one chain: each mint rotates it, so all
		// but the last hold a refresh token already used, and a replay of one kills the
		// others' family. An action that replays refresh tokens needs one per credential.
		if k, ok := drill.LookupAction(s.Recall.Action); ok && k.Population.RefreshTokens && len(lines) > 0 {
			if n := t.Victims + t.Controls; len(lines) < n {
				errs = append(errs, s.Errorf("tokens.refresh_tokens", "recall.action %s needs one refresh token per credential (victims + controls = %d), have %d: the tokens minted from one refresh token share its family, and replaying one would kill the others", k.Name, n, len(lines)))
			}
		}
	}
	o := c.OAuth
	if o == nil {
		o = &scenario.OAuth{}
	}
	var proxy *url.URL
	if o.Proxy != "" {
		var err error
		if proxy, err = url.Parse(o.Proxy); err != nil {
			errs = append(errs, s.Errorf(compPath(s, c)+".oauth.proxy", "%v", err))
		}
	}
	in := o.Introspection
	if in == nil {
		in = &scenario.Introspection{}
	}
	redact.Global.Add(in.Password, in.Token)
	set := oauth.Endpoints{Token: o.TokenEndpoint, Revocation: o.RevocationEndpoint, JWKS: o.JWKSURI, Introspection: in.Endpoint}
	ext, confirmer, err := tokenSource(s, clients, env, secrets.AdminSecret)
	if err != nil {
		errs = append(errs, err)
	}
	var need []string
	if ext == nil {
		need = append(need, "token_endpoint") // a token source mints without it
	}
	if s.Recall.Action == "revoke-tokens" && s.Recall.Mode == "rfc7009" {
		need = append(need, "revocation_endpoint")
	}
	if s.Recall.Confirm && confirmer == nil {
		need = append(need, "introspection_endpoint")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return func(ctx context.Context, issuerURL *url.URL) (*source.Provider, error) {
		hc := oauth.NewHTTPClient(providerTimeout, proxy)
		dctx, cancel := context.WithTimeout(ctx, 2*providerTimeout)
		defer cancel()
		var (
			eps oauth.Endpoints
			err error
		)
		if c.OAuth == nil && len(need) == 0 {
			// A token source, recalled by an http or command action and not confirmed:
			// nothing to discover, and the provider may serve no metadata.
			eps.Issuer = issuerURL.String()
		} else if eps, err = oauth.Discover(dctx, hc, issuerURL, o.Discovery, set, need...); err != nil {
			return nil, err
		}
		for _, cl := range clients {
			cl.Audience = eps.Token // a private_key_jwt assertion names the token endpoint, at every endpoint
		}
		var src source.Source = &source.Accounts{TokenURL: eps.Token, HTTP: hc, Clients: clients, Users: users, Refresh: refresh}
		if ext != nil {
			src = ext
		}
		p := &source.Provider{URL: issuerURL, Endpoints: eps, Source: src, HTTP: hc, Clients: clients}
		if eps.Introspection != "" {
			p.Confirmer = &source.Introspection{Introspector: oauth.Introspector{Endpoint: eps.Introspection, Auth: in.Auth,
				Username: in.Username, Password: in.Password, Token: in.Token, HTTP: hc}}
		}
		if confirmer != nil {
			p.Confirmer = confirmer
		}
		return p, nil
	}, nil
}

// errList is err as a list of errors (none when nil).
func errList(err error) []error {
	if err == nil {
		return nil
	}
	return []error{err}
}

// compPath is the scenario path of component c.
func compPath(s *scenario.Scenario, c *scenario.Component) string {
	for i := range s.System.Components {
		if &s.System.Components[i] == c {
			return fmt.Sprintf("system.components[%d]", i)
		}
	}
	return "system.components"
}

// readUsers reads username,password[,totp_secret] lines; # starts a comment line.
func readUsers(path string) ([]source.User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(io.LimitReader(f, 64<<20))
	r.Comment, r.FieldsPerRecord, r.TrimLeadingSpace = '#', -1, true
	var out []source.User
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if len(rec) < 2 || len(rec) > 3 || rec[0] == "" {
			ln, _ := r.FieldPos(0)
			return nil, fmt.Errorf("%s:%d: want username,password[,totp_secret], got %d fields", path, ln, len(rec))
		}
		u := source.User{Username: rec[0], Password: source.NewSecret(rec[1])}
		if len(rec) == 3 {
			u.TOTP = source.NewSecret(rec[2])
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no users", path)
	}
	return out, nil
}

// readLines reads the non-empty lines of a file.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(io.LimitReader(f, 64<<20))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no refresh tokens", path)
	}
	return out, nil
}
