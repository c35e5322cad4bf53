// This file wires the reference components beyond the OAuth stack into the embedded runtime: the
// API-key authority and service (targets/apikey) and the relying party (targets/rp). Their with:
// keys are read here and mean what the targets packages' Config fields say.

package embedded

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/targets/apikey"
	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/issuer"
	"github.com/recall-drills/recall/targets/rp"
)

// apiKeyServiceConfig reads a reference/apikey-service's with: parameters through
// internal/params (the rules validation applies); authority is the name of the
// reference/apikeys component it trusts ("" when with.authority is absent).
func apiKeyServiceConfig(s runtime.Spec) (cfg apikey.ServiceConfig, authority string, err error) {
	p, err := params.DecodeAPIKeyService(s.With)
	if err != nil {
		return cfg, "", err
	}
	cfg.Strategy, cfg.FailMode = apikey.Strategy(p.Strategy), gateway.FailMode(p.FailMode)
	cfg.PollInterval, cfg.CacheTTL, cfg.MaxStaleness = p.Interval, p.CacheTTL, p.MaxStaleness
	return cfg, p.Authority, nil
}

// checkAPIKeys validates the API-key components and relying parties of the specs: a service's parameters, and the
// authority it names (or the only one).
func (e *Env) checkAPIKeys() []error {
	var errs []error
	var authorities []string
	for _, s := range e.specs {
		if s.Use == runtime.UseAPIKeys {
			authorities = append(authorities, s.Name)
		}
	}
	for _, s := range e.specs {
		if s.Use == runtime.UseRP {
			if _, err := rpConfig(s); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", s.Name, err))
			}
		}
		if s.Use != runtime.UseAPIKeyService {
			continue
		}
		_, auth, err := apiKeyServiceConfig(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("component %s: %w", s.Name, err))
		}
		switch {
		case auth == "" && len(authorities) != 1:
			errs = append(errs, fmt.Errorf("component %s: with.authority: say which %s component it trusts (have: %s)", s.Name, runtime.UseAPIKeys, strings.Join(authorities, ", ")))
		case auth != "" && !slices.Contains(authorities, auth):
			errs = append(errs, fmt.Errorf("component %s: with.authority: no %s component %q (have: %s)", s.Name, runtime.UseAPIKeys, auth, strings.Join(authorities, ", ")))
		}
	}
	return errs
}

// startAPIKeys starts an API-key authority (addr: see start). A restarted authority keeps its
// keys and recalls, as the issuer does.
func (e *Env) startAPIKeys(s runtime.Spec, addr string) (*running, error) {
	if old, ok := e.get(s.Name); ok && old.apikeys != nil {
		ln, base, err := listen(addr)
		if err != nil {
			return nil, err
		}
		r := e.serve(s.Name, ln, base, old.apikeys.Handler(), old.apikeys.Close)
		r.truth, r.apikeys = old.truth, old.apikeys
		return r, nil
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	a, err := apikey.NewAuthority(apikey.AuthorityConfig{
		Name: s.Name, AdminSecret: e.secrets.AdminSecret, SigningSecret: secret, NATSURL: e.natsURLFor(s.Name),
		Clients: []apikey.Client{{ID: e.secrets.GatewayID, Secret: e.secrets.GatewaySecret}},
		Logger:  e.log.With("component", s.Name),
	})
	if err != nil {
		return nil, err
	}
	ln, base, err := listen(addr)
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	r := e.serve(s.Name, ln, base, a.Handler(), a.Close)
	r.truth, r.apikeys = a.Truth(), a
	return r, nil
}

// startAPIKeyService starts a reference/apikey-service against its authority.
func (e *Env) startAPIKeyService(ctx context.Context, s runtime.Spec, addr string) (*running, error) {
	cfg, auth, err := apiKeyServiceConfig(s)
	if err != nil {
		return nil, err
	}
	var authority *running
	e.mu.Lock()
	for _, r := range e.running {
		if r.apikeys != nil && (auth == "" || r.name == auth) {
			authority = r
		}
	}
	e.mu.Unlock()
	if authority == nil {
		return nil, errors.New("no reference/apikeys authority running")
	}
	cfg.Name = s.Name
	cfg.AuthorityURL = e.issuerURLFor(s.Name, authority)
	cfg.NATSURL = e.natsURLFor(s.Name)
	if cfg.Strategy != apikey.Lookup {
		cfg.SigningSecret = authority.apikeys.SigningSecret()
	}
	cfg.ClientID, cfg.ClientSecret = e.secrets.GatewayID, e.secrets.GatewaySecret
	cfg.DebugSecret = e.secrets.AdminSecret
	cfg.Truth = authority.truth
	cfg.Logger = e.log.With("component", s.Name)
	ln, base, err := listen(addr)
	if err != nil {
		return nil, err
	}
	svc, err := apikey.NewService(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	r := e.serve(s.Name, ln, base, svc.Handler(), svc.Close)
	r.truth = svc.Truth()
	return r, nil
}

// rpConfig reads a reference/rp's with: parameters through internal/params.
func rpConfig(s runtime.Spec) (rp.Config, error) {
	p, err := params.DecodeRP(s.With)
	if err != nil {
		return rp.Config{}, err
	}
	return rp.Config{ClientID: p.ClientID, SessionCacheTTL: p.SessionCacheTTL, CacheOnLogout: p.CacheOnLogout}, nil
}

// startRP starts a reference/rp trusting the reference issuer, and registers it with the issuer
// for back-channel logout.
func (e *Env) startRP(ctx context.Context, s runtime.Spec, addr string) (*running, error) {
	cfg, err := rpConfig(s)
	if err != nil {
		return nil, err
	}
	iss := e.issuer()
	if iss == nil {
		return nil, errors.New("no issuer running")
	}
	cfg.Name = s.Name
	cfg.IssuerURL = e.issuerURLFor(s.Name, iss)
	cfg.Issuer = iss.endpoint.String()
	cfg.AdminSecret = e.secrets.AdminSecret
	cfg.Logger = e.log // the app adds its component name
	ln, base, err := listen(addr)
	if err != nil {
		return nil, err
	}
	app, err := rp.New(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if addr == "" && iss.issuer != nil {
		// The issuer posts this app a logout token when one of its sessions or users is recalled.
		iss.issuer.AddBackchannelClient(issuer.BackchannelClient{ClientID: cfg.ClientID, URI: base.JoinPath("/backchannel-logout").String()})
	}
	r := e.serve(s.Name, ln, base, app.Handler(), func() error { return nil })
	r.truth = app.Truth()
	return r, nil
}
