package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/scenarios"
)

func initCmd() *cobra.Command {
	var discovery, name string
	var force bool
	cmd := &cobra.Command{
		Use:   "init [FILE]",
		Short: "write a commented starter scenario",
		Long: `Writes a commented starter scenario to FILE (default recall.yaml; - for stdout). Without
--discovery it is the quickstart: the reference stack in-process, no Docker needed. With
--discovery URL it reads the provider's metadata (RFC 8414 authorization server metadata, then
OpenID Connect Discovery), fills in its endpoints, and leaves ${VAR} placeholders for the
secrets, to be set in the environment. An existing FILE is kept unless --force.`,
		Example: `  recall init && recall run recall.yaml
  recall init --discovery https://idp.example.com/realms/staging staging.yaml
  recall init - > drill.yaml`,
		Args:              args(0, 1, "at most one file"),
		ValidArgsFunction: scenarioFiles,
		RunE: func(cmd *cobra.Command, a []string) error {
			path := "recall.yaml"
			if len(a) == 1 {
				path = a[0]
			}
			src := scenarios.Quickstart
			if discovery != "" {
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				defer cancel()
				md, err := discover(ctx, discovery)
				if err != nil {
					return withExit(exitCannotRun, fmt.Errorf("--discovery: %w", err))
				}
				if name == "" {
					name = "drill"
				}
				if src, err = providerScenario(name, md); err != nil {
					return withExit(exitCannotRun, err)
				}
			}
			if path == "-" {
				_, err := cmd.OutOrStdout().Write(src)
				return err
			}
			if _, err := os.Stat(path); err == nil && !force {
				return withExit(exitCannotRun, fmt.Errorf("%s exists: keep it, or overwrite it with --force", path))
			}
			if err := writeFile(path, func(w io.Writer) error { _, err := w.Write(src); return err }); err != nil {
				return withExit(exitCannotRun, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: next, 'recall validate %s' and 'recall plan %s'\n", path, path, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&discovery, "discovery", "", "the provider's issuer URL or metadata URL: fill in its endpoints from its RFC 8414 / OpenID Connect metadata")
	cmd.Flags().StringVar(&name, "name", "", "the scenario's name (with --discovery; default drill)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite FILE if it exists")
	return cmd
}

// providerMetadata is what init writes into the scenario: the endpoints internal/oauth
// discovered (the one discovery recall run uses too) and the document they were read from.
type providerMetadata struct {
	Issuer                string
	TokenEndpoint         string
	RevocationEndpoint    string
	IntrospectionEndpoint string
	JWKSURI               string
	GrantTypes            []string
	AuthMethods           []string
	// Document is the URL the metadata was read from.
	Document string
}

// discover reads the provider's metadata with oauth.Discover (no proxy: only the URL given is
// contacted): raw is a metadata document when its path holds /.well-known/, else the issuer,
// tried at RFC 8414's place, then OpenID Connect's.
func discover(ctx context.Context, raw string) (*providerMetadata, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	doc := ""
	if strings.Contains(u.Path, "/.well-known/") {
		doc = u.String()
	}
	eps, err := oauth.Discover(ctx, oauth.NewHTTPClient(10*time.Second, nil), u, doc, oauth.Endpoints{})
	if err != nil {
		return nil, err
	}
	md := &providerMetadata{Issuer: eps.Issuer, TokenEndpoint: eps.Token, RevocationEndpoint: eps.Revocation,
		IntrospectionEndpoint: eps.Introspection, JWKSURI: eps.JWKS, GrantTypes: eps.GrantTypes, AuthMethods: eps.AuthMethods,
		Document: eps.Discovery}
	for _, e := range []string{md.Issuer, md.TokenEndpoint, md.RevocationEndpoint, md.IntrospectionEndpoint, md.JWKSURI} {
		if strings.ContainsAny(e, "\n\r\"'{}$") {
			return nil, fmt.Errorf("%s: an endpoint holds characters a scenario cannot carry as is: %q", md.Document, redact.String(e))
		}
	}
	return md, nil
}

// providerScenario renders the starter scenario for a discovered provider.
func providerScenario(name string, md *providerMetadata) ([]byte, error) {
	var b bytes.Buffer
	err := providerTmpl.Execute(&b, struct {
		Name string
		*providerMetadata
		ClientCredentials bool
		ClientAuth        string
	}{name, md, len(md.GrantTypes) == 0 || contains(md.GrantTypes, "client_credentials"), clientAuth(md.AuthMethods)})
	return b.Bytes(), err
}

// clientAuth picks the drill client's authentication from the metadata's
// token_endpoint_auth_methods_supported: client_secret_basic when listed or when the list is
// absent (RFC 8414's default), then client_secret_post, then private_key_jwt; none only when the
// provider offers nothing else recall speaks.
func clientAuth(supported []string) string {
	if len(supported) == 0 {
		return "client_secret_basic"
	}
	for _, m := range []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"} {
		if contains(supported, m) {
			return m
		}
	}
	return "client_secret_basic"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var providerTmpl = template.Must(template.New("").Parse(`# {{.Name}}: a recall drill against {{.Issuer}}, written by 'recall init --discovery'.
#
# The endpoints below were read from {{.Document}}.
# Secrets are ${VAR} placeholders, expanded from the environment when the scenario is loaded
# (they never appear in reports). Set them, then:
#
#   export RECALL_CLIENT_ID=…       # a client allowed the client_credentials grant
{{- if eq .ClientAuth "private_key_jwt"}}
#   export RECALL_CLIENT_KEY_FILE=… # its private key (PEM or private JWK), for private_key_jwt
{{- else if ne .ClientAuth "none"}}
#   export RECALL_CLIENT_SECRET=…   # its secret
{{- end}}
{{- if .IntrospectionEndpoint}}
#   export RECALL_INTROSPECT_USER=… RECALL_INTROSPECT_PASSWORD=…   # allowed to introspect (RFC 7662)
#   export RECALL_INTROSPECT_BASIC=$(printf %s "$RECALL_INTROSPECT_USER:$RECALL_INTROSPECT_PASSWORD" | base64)
{{- end}}
{{- if not .RevocationEndpoint}}
#   export RECALL_REVOKE_URL=https://…   # the provider's endpoint that revokes one token (see recall:)
{{- end}}
#   export RECALL_GATEWAY_URL=https://…  # a component that accepts the provider's tokens
#   recall validate this.yaml && recall plan this.yaml && recall run this.yaml
#
# What the drill does: mints tokens.victims + tokens.controls access tokens, probes each
# component with them, revokes the victims' tokens at recall.at ({{if .RevocationEndpoint}}RFC 7009, one call per
# token{{else}}the metadata advertises no revocation_endpoint: an http action you complete{{end}}) and measures, per component, how long
# the revoked tokens were still accepted.{{if not .ClientCredentials}}
#
# Note: the metadata's grant_types_supported lacks client_credentials; use tokens.grant: password
# with users the provider knows, or enable the grant for the drill's client.{{end}}
name: {{.Name}}
seed: 1
system:
  # The provider and the components under test already run somewhere: recall starts nothing.
  runtime: external
  components:
    # The provider, reached by standards only: url is its issuer identifier.
    - name: issuer
      kind: issuer
      url: {{.Issuer}}
      oauth:
        # The metadata document init read; recall run reads it again.
        discovery: {{.Document}}
        # The endpoints it named when init ran, set here so that the file says what the drill
        # calls: a set endpoint wins over the discovered one. Delete a line to follow the
        # provider's metadata at run time instead (report.json records each as set or discovered).
        token_endpoint: {{.TokenEndpoint}}
{{- if .RevocationEndpoint}}
        revocation_endpoint: {{.RevocationEndpoint}}   # RFC 7009
{{- end}}
{{- if .JWKSURI}}
        jwks_uri: {{.JWKSURI}}
{{- end}}
{{- if .IntrospectionEndpoint}}
        # RFC 7662, for recall.confirm. auth: client introspects as the client that owns each
        # token instead, if the provider allows it.
        introspection:
          endpoint: {{.IntrospectionEndpoint}}
          auth: basic                      # client | basic | bearer | none
          username: ${RECALL_INTROSPECT_USER}
          password: ${RECALL_INTROSPECT_PASSWORD}
      # The provider's own view: its introspection endpoint, probed directly, shows when the
      # source itself stops honouring a revoked token.
      probe:
        method: POST
        url: {{.IntrospectionEndpoint}}
        headers: {Content-Type: application/x-www-form-urlencoded, Authorization: "Basic ${RECALL_INTROSPECT_BASIC}"}
        body: "token={{"{{"}}token{{"}}"}}"
        accept: {status: [200], json: "active == true"}
        reject: {status: [200], json: "active == false"}
{{- end}}
    # A component that accepts the provider's access tokens (an API gateway, a service). Its
    # probe sends "Authorization: Bearer <token>"; 401 and 403 count as rejects.
    - name: gateway
      kind: gateway
      url: ${RECALL_GATEWAY_URL}
      probe: {path: /}
tokens:
  issuer: issuer
  grant: client_credentials
  # The provider's existing clients the drill mints with (recall registers none). auth is
  # recall's choice (client_secret_basic, then _post, then private_key_jwt) among the metadata's
  # token_endpoint_auth_methods_supported{{if .AuthMethods}}: {{range $i, $m := .AuthMethods}}{{if $i}}, {{end}}{{$m}}{{end}}{{else}}, absent: RFC 8414's default{{end}}.
  clients:
    - id: ${RECALL_CLIENT_ID}
{{- if eq .ClientAuth "private_key_jwt"}}
      key_file: ${RECALL_CLIENT_KEY_FILE}
{{- else if ne .ClientAuth "none"}}
      secret: "${RECALL_CLIENT_SECRET}"
{{- end}}
      auth: {{.ClientAuth}}
      # scope: …                       # requested with this client's tokens
  victims: 100      # recalled at recall.at
  controls: 20      # must stay valid throughout
traffic:
  rate: 200/s       # 'recall plan' shows the resolution this gives; 'recall bench' what this machine can drive
  duration: 60s
recall:
  at: 20s
{{- if .RevocationEndpoint}}
  action: revoke-tokens
  mode: rfc7009     # one call per token to revocation_endpoint, as the client that owns it
{{- else}}
  # The metadata names no revocation_endpoint: recall each token by the provider's own API.
  # Complete this call (method, url, headers, body) as that API wants it; {{"{{"}}token{{"}}"}} makes it
  # one call per victim token.
  action: http
  with:
    method: POST
    url: ${RECALL_REVOKE_URL}
    headers: {Content-Type: application/x-www-form-urlencoded}
    body: "token={{"{{"}}token{{"}}"}}"
{{- end}}
{{- if .IntrospectionEndpoint}}
  confirm: true     # ask the introspection endpoint whether each revocation took effect
{{- end}}
expect:
  - time_to_consistency.p99 < 10s
  - resurrections == 0
  - false_rejects == 0
`))
