package reference

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/targets/issuer"
)

// TestReferenceSourceRecallerConfirmer drives the reference issuer through the three seams:
// mint registers clients and users and returns JWTs with claims, RecallBy takes one back, the
// confirmer sees it inactive and the other still active, Reissue gives a fresh valid one, and a
// wrong admin secret is an error that quotes no secret.
func TestReferenceSourceRecallerConfirmer(t *testing.T) {
	t.Parallel()
	iss, err := issuer.New(issuer.Config{AdminSecret: "adm-secret-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	srv := httptest.NewServer(iss.Handler())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ctx := context.Background()
	prov, err := Open(source.NewSecret("adm-secret-1"), "t1")(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := prov.Source.Mint(ctx, source.Population{Grant: "password", Victims: 3, Controls: 1, Users: 2, Clients: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 4 || toks[0].Claims.JTI == "" || toks[0].Opaque || toks[0].Owner == nil || toks[0].User == "" || toks[3].Victim {
		t.Fatalf("minted %+v", toks)
	}
	if toks[0].User == toks[3].User || toks[0].Client == toks[3].Client {
		t.Errorf("victim and control share an identity: %s/%s vs %s/%s", toks[0].User, toks[0].Client, toks[3].User, toks[3].Client)
	}
	if d := prov.Source.Describe(); d.Kind != "reference" || d.Clients != 2 || d.Users != 2 {
		t.Errorf("describe %+v", d)
	}
	if _, err := prov.Recaller.RecallBy(ctx, "jti", []string{toks[0].Claims.JTI}); err != nil {
		t.Fatal(err)
	}
	if active, err := prov.Confirmer.Active(ctx, toks[0]); err != nil || active {
		t.Errorf("recalled token: active %v, err %v", active, err)
	}
	if active, err := prov.Confirmer.Active(ctx, toks[1]); err != nil || !active {
		t.Errorf("untouched token: active %v, err %v", active, err)
	}
	fresh, err := prov.Source.Reissue(ctx, toks[0], false)
	if err != nil || fresh.Access.Reveal() == toks[0].Access.Reveal() || fresh.User != toks[0].User {
		t.Fatalf("reissue: %v", err)
	}
	if active, err := prov.Confirmer.Active(ctx, fresh); err != nil || !active {
		t.Errorf("fresh token: active %v, err %v", active, err)
	}
	bad := &Issuer{URL: u, AdminSecret: source.NewSecret("wrong-admin-secret")}
	_, err = bad.RecallBy(ctx, "jti", []string{"x"})
	if err == nil || strings.Contains(err.Error(), "wrong-admin-secret") || strings.Contains(err.Error(), "\n") {
		t.Errorf("wrong admin secret: %v", err)
	}
}
