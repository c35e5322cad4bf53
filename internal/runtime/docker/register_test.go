package docker

import (
	"testing"

	"github.com/recall-drills/recall/internal/runtime"
)

// TestRegistered: the docker runtime registers itself under its name, with its own type as
// prototype, and says for `recall plan` which image each component runs from.
func TestRegistered(t *testing.T) {
	t.Parallel()
	k, err := runtime.Lookup("docker")
	if err != nil {
		t.Fatal(err)
	}
	if got := runtime.NameOf((*Env)(nil)); got != "docker" {
		t.Errorf("NameOf(*docker.Env) = %q", got)
	}
	for _, tc := range []struct {
		s    runtime.Spec
		want string
	}{
		{runtime.Spec{Name: "edge", Image: "example/edge:1"}, "container of example/edge:1"},
		{runtime.Spec{Name: "issuer", Use: runtime.UseIssuer}, "container built from reference/issuer"},
		{runtime.Spec{Name: "api", URL: "https://api.example.com/x"}, "at https://api.example.com/x"},
	} {
		if got := k.Reached(tc.s); got != tc.want {
			t.Errorf("Reached(%s) = %q, want %q", tc.s.Name, got, tc.want)
		}
	}
}
