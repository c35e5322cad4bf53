package gateway

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// BenchmarkValidate measures the validation hot path. "uncached" verifies ES256 on every call;
// "cached" hits the verified-token cache (a drill re-sends each live token many times);
// "uncached-fresh-tokens" is the cost per first sight of a token.
func BenchmarkValidate(b *testing.B) {
	f := newFakeIssuer(b)
	toks := make([]string, 1000)
	for i := range toks {
		toks[i] = f.mint(claim("sub", "user-"+strconv.Itoa(i)))
	}
	for _, bc := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", DefaultVerifiedCacheSize}} {
		b.Run(bc.name, func(b *testing.B) {
			v, err := NewValidator(Config{IssuerURL: f.URL, VerifiedCacheSize: bc.size})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if err := v.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := v.Validate(ctx, toks[i%len(toks)]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkHandler measures a whole request through the gateway handler (no network), per
// strategy, with 1000 live tokens.
func BenchmarkHandler(b *testing.B) {
	for _, strategy := range []Strategy{JWTOnly, Poll, Introspect} {
		b.Run(string(strategy), func(b *testing.B) {
			f := newFakeIssuer(b)
			g, _ := newTestGateway(b, Config{Strategy: strategy, IssuerURL: f.URL, ClientID: f.introspectID,
				ClientSecret: f.introspectPW})
			h := g.Handler()
			toks := make([]string, 1000)
			for i := range toks {
				toks[i] = f.mint(claim("sub", "user-"+strconv.Itoa(i)))
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if st := serve(h, toks[i%len(toks)]); st != http.StatusOK {
						b.Errorf("status %d", st)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkProxyHTTP measures requests over real loopback HTTP through a poll gateway that
// reverse-proxies to an upstream, with 1000 live tokens: the gateway's share of a drill.
func BenchmarkProxyHTTP(b *testing.B) {
	f := newFakeIssuer(b)
	up := upstreamEcho(b)
	_, srv := newTestGateway(b, Config{Strategy: Poll, IssuerURL: f.URL, Upstream: up.URL})
	toks := make([]string, 1000)
	for i := range toks {
		toks[i] = f.mint(claim("sub", "user-"+strconv.Itoa(i)))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/whoami", nil)
			req.Header.Set("Authorization", "Bearer "+toks[i%len(toks)])
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			i++
		}
	})
}
