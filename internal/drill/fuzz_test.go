package drill

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/recall-drills/recall/internal/load"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// FuzzProbe: a probe template built from any path, URL, header value and body either is refused
// with an error or fills requests that carry the token where {{token}} was written, keep the
// attribution tag recoverable, and never change the template (probes are shared by workers).
func FuzzProbe(f *testing.F) {
	f.Add("/api/whoami", "", "Bearer {{token}}", "", "tok-1", uint64(7))
	f.Add("", "https://h.example/introspect?token={{token}}", "", "", "a b&c#d", uint64(0))
	f.Add("/x#frag", "", "", `{"token":"{{token}}"}`, "{{token}}", uint64(1<<63))
	f.Add("", "http://127.0.0.1:1/%zz", "x", "y", "", uint64(3))
	base, _ := url.Parse("http://127.0.0.1:8080/base/")
	f.Fuzz(func(t *testing.T, path, rawURL, header, body, token string, tag uint64) {
		var h http.Header
		if header != "" {
			h = http.Header{"Authorization": {header}}
		}
		p, err := NewProbe("c", base, "", path, rawURL, h, body, Match{}, Match{})
		if err != nil {
			return
		}
		before := p.Header.Clone()
		var tgt vegeta.Target
		p.Fill(&tgt, token, tag)
		if got, ok := load.TagOf(tgt.URL); !ok || got != tag {
			t.Fatalf("tag of %q = %d, %v; want %d", tgt.URL, got, ok, tag)
		}
		if strings.Contains(p.URL, TokenPlaceholder) && !strings.Contains(tgt.URL, url.QueryEscape(token)) {
			t.Fatalf("URL %q does not carry the token", tgt.URL)
		}
		if strings.Contains(body, TokenPlaceholder) && !strings.Contains(string(tgt.Body), token) {
			t.Fatalf("body %q does not carry the token", tgt.Body)
		}
		for k, vs := range before {
			for i, v := range vs {
				if p.Header[k][i] != v {
					t.Fatalf("Fill changed the template's header %s: %q -> %q", k, v, p.Header[k][i])
				}
				if strings.Contains(v, TokenPlaceholder) && !strings.Contains(tgt.Header[k][i], token) {
					t.Fatalf("header %s = %q does not carry the token", k, tgt.Header[k][i])
				}
			}
		}
		if _, err := http.NewRequest(tgt.Method, strings.SplitN(tgt.URL, "#", 2)[0], nil); err != nil {
			// vegeta refuses such a target per request (counted as an error); only absolute
			// URLs reach here, so a refusal means the template let a bad URL through.
			if u, perr := url.Parse(p.URL); perr == nil && u.IsAbs() && !strings.Contains(p.URL, TokenPlaceholder) {
				t.Fatalf("template URL %q parses but its request does not: %v", p.URL, err)
			}
		}
	})
}
