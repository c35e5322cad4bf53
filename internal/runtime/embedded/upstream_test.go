package embedded

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/targets/truth"
)

// TestEmbeddedUpstreamInProcess: a gateway reaches its embedded upstream in memory, and the
// upstream's faults still show through it as they would over loopback: a paused service holds
// the request, a killed one gives 502, a restarted one answers again.
func TestEmbeddedUpstreamInProcess(t *testing.T) {
	t.Parallel()
	e, sec := startProxyStack(t)
	ctx := context.Background()
	iss, _ := e.Endpoint("issuer")
	edge, _ := e.Endpoint("edge")
	tok := benchMint(t, iss, sec, 1)[0]
	call := func(timeout time.Duration) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, edge.JoinPath("/api/whoami").String(), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil}}
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if code, body, err := call(5 * time.Second); err != nil || code != http.StatusOK || !strings.Contains(body, `"via":"gateway"`) {
		t.Fatalf("through the gateway: %d %q %v; want 200 from the service", code, body, err)
	}
	if err := e.Pause(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	if code, _, err := call(300 * time.Millisecond); err == nil {
		t.Errorf("paused service: the gateway answered %d, want the request held", code)
	}
	if err := e.Unpause(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	if err := e.Kill(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	if code, _, err := call(5 * time.Second); err != nil || code != http.StatusBadGateway {
		t.Errorf("killed service: %d %v, want 502", code, err)
	}
	if err := e.Restart(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	if code, _, err := call(5 * time.Second); err != nil || code != http.StatusOK {
		t.Errorf("restarted service: %d %v, want 200", code, err)
	}
}

// startProxyStack starts an issuer, a service "api" and a jwt-only gateway "edge" in front of it.
func startProxyStack(t *testing.T) (*Env, runtime.Secrets) {
	t.Helper()
	specs := []runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "api", Kind: "service", Use: runtime.UseService},
		{Name: "edge", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "jwt-only", "upstream": "api"}},
	}
	sec := runtime.Secrets{AdminSecret: "admin-test", GatewayID: "gw", GatewaySecret: "gw-secret"}
	e, err := New(specs, sec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, sec
}

// TestEmbeddedDebugRecallsNeedAdminSecret: every component's ground truth over HTTP needs the
// admin secret, as the issuer's always did, and a Remote holding it reads it.
func TestEmbeddedDebugRecallsNeedAdminSecret(t *testing.T) {
	t.Parallel()
	e, sec := startProxyStack(t)
	for _, name := range []string{"issuer", "api", "edge"} {
		ep, _ := e.Endpoint(name)
		for _, bearer := range []string{"", "wrong"} {
			req, _ := http.NewRequest(http.MethodGet, ep.JoinPath(truth.DebugPath).String(), nil)
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with bearer %q: %d, want 401", name, truth.DebugPath, bearer, resp.StatusCode)
			}
		}
		if err := truth.NewRemote(ep.String(), truth.WithBearer(sec.AdminSecret)).Fetch(t.Context()); err != nil {
			t.Errorf("%s: Remote with the admin secret: %v", name, err)
		}
	}
}
