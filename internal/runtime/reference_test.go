package runtime

import (
	"slices"
	"testing"
)

// TestReferenceUsesNameEveryComponent: the one list of reference components (params) holds
// every component the runtimes can run, once.
func TestReferenceUsesNameEveryComponent(t *testing.T) {
	for _, use := range []string{UseIssuer, UseGateway, UseService, UseNATS, UseAPIKeys, UseAPIKeyService, UseRP, UseSSF} {
		if n := slices.Index(ReferenceUses, use); n < 0 || slices.Index(ReferenceUses[n+1:], use) >= 0 {
			t.Errorf("%s: in ReferenceUses %d times, want once (%v)", use, count(ReferenceUses, use), ReferenceUses)
		}
	}
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}
