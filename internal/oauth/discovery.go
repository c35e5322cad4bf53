package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/recall-drills/recall/internal/redact"
)

// Endpoints are a provider's endpoints as the harness uses them.
type Endpoints struct {
	// Issuer is the issuer identifier the metadata gave (or the configured one).
	Issuer string `json:"issuer,omitempty"`
	// Discovery is the metadata document that was read, "" when every endpoint was set.
	Discovery     string `json:"discovery,omitempty"`
	Token         string `json:"token_endpoint,omitempty"`
	Revocation    string `json:"revocation_endpoint,omitempty"`
	Introspection string `json:"introspection_endpoint,omitempty"`
	JWKS          string `json:"jwks_uri,omitempty"`
	// AuthMethods are the token endpoint's advertised client authentication methods.
	AuthMethods []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// GrantTypes are the advertised grant types (grant_types_supported).
	GrantTypes []string `json:"grant_types_supported,omitempty"`
	// Source says, per endpoint name, "discovered" or "set".
	Source map[string]string `json:"source,omitempty"`
}

// metadata is the part of RFC 8414 / OpenID Connect Discovery metadata the harness reads.
type metadata struct {
	Issuer                string   `json:"issuer"`
	TokenEndpoint         string   `json:"token_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
	GrantTypes            []string `json:"grant_types_supported"`
}

// DiscoveryError is a failed discovery: every URL tried and what it answered.
type DiscoveryError struct {
	Tried []string
	Errs  []error
}

func (e *DiscoveryError) Error() string {
	parts := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		parts[i] = err.Error()
	}
	return "discovery failed: " + strings.Join(parts, "; ")
}

// WellKnown returns the metadata URLs tried for issuer, in order: RFC 8414's
// /.well-known/oauth-authorization-server inserted before the issuer's path, then OpenID
// Connect's /.well-known/openid-configuration appended to it.
func WellKnown(issuer *url.URL) []string {
	path := strings.TrimSuffix(issuer.EscapedPath(), "/")
	u8414 := *issuer
	u8414.RawPath, u8414.Path = "", ""
	u8414.RawQuery, u8414.Fragment = "", ""
	rfc := u8414.String() + "/.well-known/oauth-authorization-server" + path
	oidc := *issuer
	oidc.RawQuery, oidc.Fragment = "", ""
	return []string{rfc, strings.TrimSuffix(oidc.String(), "/") + "/.well-known/openid-configuration"}
}

// Discover resolves a provider's endpoints. set holds the endpoints given by hand (they win);
// discovery is the metadata URL given by hand ("" tries WellKnown(issuer) in order). When every
// endpoint the drill needs is set, need lists them, and nothing is fetched.
func Discover(ctx context.Context, hc *http.Client, issuer *url.URL, discovery string, set Endpoints, need ...string) (Endpoints, error) {
	out := set
	out.Source = map[string]string{}
	mark := func(name, v string) {
		if v != "" {
			out.Source[name] = "set"
		}
	}
	mark("token_endpoint", set.Token)
	mark("revocation_endpoint", set.Revocation)
	mark("introspection_endpoint", set.Introspection)
	mark("jwks_uri", set.JWKS)
	if discovery == "" && allSet(set, need) {
		if out.Issuer == "" && issuer != nil {
			out.Issuer = issuer.String()
		}
		return out, nil
	}
	urls := []string{discovery}
	if discovery == "" {
		if issuer == nil {
			return out, errors.New("discovery: no issuer url")
		}
		urls = WellKnown(issuer)
	}
	derr := &DiscoveryError{}
	for _, u := range urls {
		md, err := fetchMetadata(ctx, hc, u)
		if err != nil {
			derr.Tried = append(derr.Tried, u)
			derr.Errs = append(derr.Errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		out.Discovery = u
		if out.Issuer == "" {
			out.Issuer = md.Issuer
		}
		fill := func(name string, dst *string, v string) {
			if *dst == "" && v != "" {
				*dst = v
				out.Source[name] = "discovered"
			}
		}
		fill("token_endpoint", &out.Token, md.TokenEndpoint)
		fill("revocation_endpoint", &out.Revocation, md.RevocationEndpoint)
		fill("introspection_endpoint", &out.Introspection, md.IntrospectionEndpoint)
		fill("jwks_uri", &out.JWKS, md.JWKSURI)
		if len(out.AuthMethods) == 0 {
			out.AuthMethods = md.AuthMethods
		}
		if len(out.GrantTypes) == 0 {
			out.GrantTypes = md.GrantTypes
		}
		if out.Token == "" {
			return out, fmt.Errorf("discovery %s: the metadata names no token_endpoint", u)
		}
		return out, nil
	}
	return out, derr
}

func allSet(e Endpoints, need []string) bool {
	if len(need) == 0 {
		return false
	}
	for _, n := range need {
		switch n {
		case "token_endpoint":
			if e.Token == "" {
				return false
			}
		case "revocation_endpoint":
			if e.Revocation == "" {
				return false
			}
		case "introspection_endpoint":
			if e.Introspection == "" {
				return false
			}
		case "jwks_uri":
			if e.JWKS == "" {
				return false
			}
		}
	}
	return true
}

func fetchMetadata(ctx context.Context, hc *http.Client, u string) (metadata, error) {
	var md metadata
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return md, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return md, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := readLimited(resp)
	if err != nil {
		return md, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return md, fmt.Errorf("GET %s: %s: %s", u, resp.Status, redact.Excerpt(b))
	}
	if err := decodeJSON("GET "+u, b, &md); err != nil {
		return md, err
	}
	return md, nil
}
