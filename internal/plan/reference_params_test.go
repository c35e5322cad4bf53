package plan

import (
	"os"
	"strings"
	"testing"
)

// TestValidDockerRefusesEmbeddedOnlyComponents: the docker runtime takes no flag for the
// gateway's upstream keys, so validation says so at the key, before any container starts; the
// embedded runtime accepts the same scenario. The gateway's JWKS keys are flags of its image,
// and the API-key and relying-party components have images: both runtimes accept them.
func TestValidDockerRefusesEmbeddedOnlyComponents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, component, want string }{
		{"upstream_max_inflight", "    - {name: edge2, use: reference/gateway, with: {strategy: poll, upstream_max_inflight: 64}}\n",
			"system.components[2].with.upstream_max_inflight: the docker runtime cannot set upstream_max_inflight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(minimal, "traffic:", tc.component+"traffic:", 1)
			if _, err := Parse("s.yaml", []byte(src)); err != nil {
				t.Fatalf("runtime embedded: %v", err)
			}
			_, err := Parse("s.yaml", []byte(strings.Replace(src, "runtime: embedded", "runtime: docker", 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "s.yaml:") {
				t.Errorf("runtime docker: error = %v\nwant (positioned) %s", err, tc.want)
			}
		})
	}
	jwks := "    - {name: edge2, use: reference/gateway, with: {strategy: jwt-only, jwks_ttl: 30s, jwks_refetch: ttl, jwks_min_refresh: 2s}}\n"
	src := strings.Replace(strings.Replace(minimal, "traffic:", jwks+"traffic:", 1), "runtime: embedded", "runtime: docker", 1)
	if _, err := Parse("s.yaml", []byte(src)); err != nil {
		t.Errorf("runtime docker refuses the gateway's jwks_* keys: %v", err)
	}
	apikeys := "    - {name: keys, use: reference/apikeys}\n    - {name: kapi, use: reference/apikey-service, with: {strategy: poll}, probe: {path: /whoami}}\n"
	src = strings.Replace(strings.Replace(minimal, "traffic:", apikeys+"traffic:", 1), "runtime: embedded", "runtime: docker", 1)
	if _, err := Parse("s.yaml", []byte(src)); err != nil {
		t.Errorf("runtime docker refuses the API-key components, which have images: %v", err)
	}
	app := "    - {name: app, use: reference/rp, with: {cache_on_logout: keep}, probe: {path: /whoami}}\n"
	src = strings.Replace(strings.Replace(minimal, "traffic:", app+"traffic:", 1), "runtime: embedded", "runtime: docker", 1)
	if _, err := Parse("s.yaml", []byte(src)); err != nil {
		t.Errorf("runtime docker refuses the relying party, which has an image: %v", err)
	}
}

// TestValidDockerSSF: the docker runtime runs the Shared Signals scenario as it is (its
// transmitter in the harness, its receivers in gateway containers), and places what it cannot
// do at its key: a container's keys on the transmitter.
func TestValidDockerSSF(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../scenarios/ssf-caep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), "runtime: embedded", "runtime: docker", 1)
	if _, err := Parse("ssf-caep.yaml", []byte(src)); err != nil {
		t.Errorf("runtime docker: %v", err)
	}
	src = strings.Replace(src, "use: reference/ssf,", "use: reference/ssf, image: example/ssf:1,", 1)
	_, err = Parse("ssf-caep.yaml", []byte(src))
	want := "system.components[1].image: the docker runtime runs reference/ssf (component ssf) in the harness"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "ssf-caep.yaml:") {
		t.Errorf("transmitter with an image: error = %v\nwant (positioned) %s", err, want)
	}
}
