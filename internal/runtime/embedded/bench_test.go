package embedded

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/recall-drills/recall/internal/load"
	"github.com/recall-drills/recall/internal/runtime"
)

// BenchmarkStackCeiling measures the probe rate the in-process reference stack sustains through
// one gateway (poll strategy, reverse-proxying to the reference service), the figure that bounds
// a drill's resolution. Each iteration is one bounded vegeta attack (2 s, asked 20,000/s, 16
// workers, 1,000 live tokens re-sent in turn, as a drill does); the benchmark reports the median
// achieved rate over the iterations as probes/s. Run it with -benchtime=5x on a quiet machine:
//
//	go test ./internal/runtime/embedded/ -run '^$' -bench StackCeiling -benchtime 5x
func BenchmarkStackCeiling(b *testing.B) {
	for _, bc := range []struct {
		name string
		with map[string]any
	}{
		{"poll", map[string]any{"strategy": "poll", "upstream": "api"}},
		{"poll-no-upstream", map[string]any{"strategy": "poll"}},
	} {
		b.Run(bc.name, func(b *testing.B) { benchStack(b, bc.with) })
	}
}

func benchStack(b *testing.B, with map[string]any) {
	specs := []runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "api", Kind: "service", Use: runtime.UseService},
		{Name: "edge", Kind: "gateway", Use: runtime.UseGateway, With: with},
	}
	sec := runtime.Secrets{AdminSecret: "bench-admin", GatewayID: "gw", GatewaySecret: "gw-secret"}
	e, err := New(specs, sec)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	defer e.Close(ctx)
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	iss, _ := e.Endpoint("issuer")
	edge, _ := e.Endpoint("edge")
	toks := benchMint(b, iss, sec, 1000)
	target := edge.JoinPath("/api/whoami").String()

	var rates, cpus []float64
	b.ResetTimer()
	for range b.N {
		var i, ok, bad atomic.Int64
		targeter := func(t *vegeta.Target) error {
			n := i.Add(1)
			t.Method, t.URL = http.MethodGet, target
			t.Header = http.Header{"Authorization": {"Bearer " + toks[int(n)%len(toks)]}}
			return nil
		}
		const dur = 2 * time.Second
		began, cpu0 := time.Now(), cpuTime()
		load.Attack(ctx, targeter, load.Pacer(20000, 0, 0), load.Options{Workers: 16, Duration: dur}, func(r *vegeta.Result) {
			if r.Code == http.StatusOK {
				ok.Add(1)
			} else {
				bad.Add(1)
			}
		})
		rate := float64(ok.Load()) / time.Since(began).Seconds()
		cpus = append(cpus, float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(ok.Load()+bad.Load()))
		if bad.Load() > 0 {
			b.Logf("%d probes not 200", bad.Load())
		}
		rates = append(rates, rate)
	}
	b.StopTimer()
	sort.Float64s(rates)
	sort.Float64s(cpus)
	b.ReportMetric(rates[len(rates)/2], "probes/s")
	b.ReportMetric(cpus[len(cpus)/2], "cpu-µs/probe")
	b.Logf("achieved probes/s per run: %.0f; process CPU µs per probe: %.0f", rates, cpus)
}

// cpuTime is the CPU time (user + system) this process used so far. The CPU a probe costs the
// whole process (vegeta, gateway, service) is what a loaded machine cannot distort much: the
// achieved rate falls when other processes take the cores, the CPU per probe does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchMint mints n client_credentials tokens from the issuer.
func benchMint(b testing.TB, iss *url.URL, sec runtime.Secrets, n int) []string {
	b.Helper()
	toks := make([]string, n)
	for k := range toks {
		req, _ := http.NewRequest(http.MethodPost, iss.JoinPath("/token").String(),
			strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(sec.GatewayID, sec.GatewaySecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
			b.Fatalf("mint %d: status %d: %v", k, resp.StatusCode, err)
		}
		toks[k] = tr.AccessToken
	}
	return toks
}
