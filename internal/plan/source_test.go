package plan

import (
	"strings"
	"testing"
)

// sourceBase is a scenario with a token source; %s is the tokens: block after its issuer.
const sourceBase = `name: s
system:
  runtime: external
  components:
    - {name: idp, kind: issuer, url: "https://idp.example.invalid"}
    - {name: api, kind: gateway, url: "https://api.example.invalid", probe: {path: /}}
tokens:
  issuer: idp
%s
traffic: {rate: 10/s, duration: 5s}
recall:
  at: 2s
  action: http
  with: {method: POST, url: "https://idp.example.invalid/admin/revoke", body: "{{token}}"}
`

// TestTokenSourceValidation: tokens.source is checked against the token source registry, each
// problem at its line and column: the kind, its with: parameters, the command's variable
// names, the keys that make no sense with a source, and the recall actions whose population a
// source cannot mint.
func TestTokenSourceValidation(t *testing.T) {
	t.Parallel()
	ok := []string{
		"  source: {kind: command, with: {run: [./tokens], env: {IDP_PW: x}, timeout: 10s, format: json}}",
		"  source: {kind: http, with: {url: \"https://console.example.invalid/keys?n={{count}}\", method: POST, headers: {Authorization: Bearer x}}}",
		"  clients: [{id: app, secret: s}]\n  source: {kind: command, with: {run: [./tokens]}}",
	}
	for _, tokens := range ok {
		s, err := Parse("s.yaml", []byte(strings.Replace(sourceBase, "%s", tokens, 1)))
		if err != nil {
			t.Errorf("%s:\n%v", tokens, err)
			continue
		}
		if _, err := Build(s, Options{}); err != nil {
			t.Errorf("%s: build: %v", tokens, err)
		}
	}
	for _, tc := range []struct{ tokens, want string }{
		{"  source: {kind: browser}", `s.yaml:9:18: tokens.source.kind: unknown token source "browser" (have: command, http, rp-sessions)`},
		{"  source: {with: {run: [x]}}", "s.yaml:9:3: tokens.source.kind: required: one of command, http, rp-sessions"},
		{"  source: {kind: command}", "s.yaml:9:3: tokens.source.with.run: required"},
		{"  source: {kind: command, with: {run: x}}", `s.yaml:9:39: tokens.source.with.run: want a non-empty list`},
		{"  source: {kind: command, with: {run: [x], shell: true}}", `s.yaml:9:51: tokens.source.with.shell: unknown key "shell" for tokens.source command (valid: env, format, run, timeout)`},
		{"  source: {kind: command, with: {run: [x], env: {BAD-NAME: v}}}", `s.yaml:9:60: tokens.source.with.env.BAD-NAME: bad variable name "BAD-NAME"`},
		{"  source: {kind: command, with: {run: [x], format: xml}}", `s.yaml:9:52: tokens.source.with.format: unknown format "xml" (have: auto, lines, json)`},
		{"  source: {kind: command, with: {run: [x], timeout: 0s}}", `s.yaml:9:53: tokens.source.with.timeout: must be > 0, got 0s`},
		{"  source: {kind: http, with: {url: ftp://x}}", `s.yaml:9:36: tokens.source.with.url: bad URL "ftp://x"`},
		{"  users: {file: users.csv}\n  source: {kind: command, with: {run: [x]}}", "s.yaml:9:3: tokens.users: not with tokens.source: the source gives the credentials"},
		{"  refresh_tokens: r.txt\n  source: {kind: command, with: {run: [x]}}", "s.yaml:9:19: tokens.refresh_tokens: not with tokens.source"},
		{"  clients: 3\n  source: {kind: command, with: {run: [x]}}", "s.yaml:9:12: tokens.clients: with tokens.source, list the clients"},
		{"  source: {kind: rp-sessions}", "s.yaml:9:3: tokens.source.with.rp: required"},
		{"  source: {kind: rp-sessions, with: {rp: shop}}", `tokens.source.with.rp: unknown component "shop" (have: idp, api)`},
		{"  source: {kind: rp-sessions, with: {rp: api}}", "tokens.source.with.rp: api is not a reference/rp"},
		{"  source: {kind: rp-sessions, with: {rp: api, users: 0}}", "tokens.source.with.users: want a whole number > 0"},
	} {
		_, err := Parse("s.yaml", []byte(strings.Replace(sourceBase, "%s", tc.tokens, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.tokens, err, tc.want)
		}
	}
	mfa := strings.Replace(strings.Replace(sourceBase, "%s", "  source: {kind: command, with: {run: [x]}}", 1),
		"  action: http\n  with: {method: POST, url: \"https://idp.example.invalid/admin/revoke\", body: \"{{token}}\"}\n", "  action: revoke-mfa\n", 1)
	mfa = strings.Replace(mfa, `url: "https://idp.example.invalid"}`, "use: reference/issuer}", 1)
	if _, err := Parse("s.yaml", []byte(mfa)); err == nil || !strings.Contains(err.Error(), "tokens.source: recall.action revoke-mfa needs MFA factors") {
		t.Errorf("revoke-mfa with a token source: %v", err)
	}
}
