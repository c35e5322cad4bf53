package reference

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/targets/apikey"
)

// TestAPIKeysMintRecallConfirm drives the API-key authority through the drill's seams: victims
// then controls minted in one call each, opaque keys labelled with their id as jti and an owner
// each; a recall by api_key takes back exactly the victims, which the lookup confirms inactive
// while the controls stay active; a recall by another attribute is refused, naming api_key.
func TestAPIKeysMintRecallConfirm(t *testing.T) {
	t.Parallel()
	a, err := apikey.NewAuthority(apikey.AuthorityConfig{AdminSecret: "admin-secret-value", Clients: []apikey.Client{{ID: "svc", Secret: "svc-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	p, err := OpenAPIKeys(source.NewSecret("admin-secret-value"), "svc", source.NewSecret("svc-secret"))(context.Background(), u)
	if err != nil || p.Confirmer == nil || p.Recaller == nil {
		t.Fatalf("open: %v %+v", err, p)
	}
	ctx := context.Background()
	toks, err := p.Source.Mint(ctx, source.Population{Victims: 3, Controls: 2}, nil)
	if err != nil || len(toks) != 5 {
		t.Fatalf("mint: %d, %v", len(toks), err)
	}
	owners := map[string]bool{}
	var ids []string
	for i, tk := range toks {
		if tk.Index != i || tk.Victim != (i < 3) || !tk.Opaque || tk.Claims.JTI == "" || !strings.HasPrefix(tk.Access.Reveal(), "rk_") || owners[tk.Client] {
			t.Errorf("token %d: %+v", i, tk)
		}
		owners[tk.Client] = true
		if tk.Victim {
			ids = append(ids, tk.Claims.JTI)
		}
	}
	if _, err := p.Recaller.RecallBy(ctx, "sub", ids); err == nil || !strings.Contains(err.Error(), "api_key") {
		t.Errorf("recall by sub: %v, want a refusal naming api_key", err)
	}
	res, err := p.Recaller.RecallBy(ctx, RecallAPIKey, ids)
	if err != nil || res.Count != 3 || res.ID == "" {
		t.Fatalf("recall: %+v %v", res, err)
	}
	for _, tk := range toks {
		active, err := p.Confirmer.Active(ctx, tk)
		if err != nil || active == tk.Victim {
			t.Errorf("token %d (victim %v): active %v, %v", tk.Index, tk.Victim, active, err)
		}
	}
	nt, err := p.Source.Reissue(ctx, toks[0], false)
	if err != nil || nt.Index != 0 || !nt.Victim || nt.Client != toks[0].Client || nt.Access.Reveal() == toks[0].Access.Reveal() {
		t.Fatalf("reissue: %+v %v", nt, err)
	}
	if active, err := p.Confirmer.Active(ctx, nt); err != nil || !active {
		t.Errorf("re-issued key: active %v, %v", active, err)
	}
	if _, err := p.Source.Mint(ctx, source.Population{Victims: 1, MFA: true}, nil); err == nil {
		t.Error("an MFA population was minted as api keys")
	}
}
