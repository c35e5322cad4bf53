package drill

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/recall-drills/recall/internal/expect"
	"github.com/recall-drills/recall/internal/load"
)

func TestProbeFillAndClassify(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("http://127.0.0.1:9/")
	p, err := NewProbe("gw", base, "", "", "", nil, "", Match{}, Match{})
	if err != nil {
		t.Fatal(err)
	}
	var tgt vegeta.Target
	p.Fill(&tgt, "tok-1", 42)
	if tgt.Method != http.MethodGet || !strings.HasPrefix(tgt.URL, "http://127.0.0.1:9/api/whoami#") {
		t.Errorf("target %s %s", tgt.Method, tgt.URL)
	}
	if tag, _ := load.TagOf(tgt.URL); tag != 42 {
		t.Errorf("tag %d", tag)
	}
	if got := tgt.Header.Get("Authorization"); got != "Bearer tok-1" {
		t.Errorf("Authorization %q", got)
	}
	if p.Header.Get("Authorization") != "Bearer "+TokenPlaceholder {
		t.Error("Fill changed the probe's template")
	}
	for _, tc := range []struct {
		code int
		want Outcome
	}{{200, Accept}, {204, Accept}, {401, Reject}, {403, Reject}, {500, Error}, {503, Error}, {0, Error}, {302, Error}} {
		if got := p.Classify(tc.code, nil); got != tc.want {
			t.Errorf("Classify(%d) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

// TestProbeIntrospection classifies RFC 7662 answers by their JSON body, token in the body.
func TestProbeIntrospection(t *testing.T) {
	t.Parallel()
	active := expect.MustParseJSONCond("active == true")
	inactive := expect.MustParseJSONCond("active == false")
	p, err := NewProbe("issuer", nil, http.MethodPost, "", "http://127.0.0.1:9/introspect",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "token="+TokenPlaceholder,
		Match{Status: []int{200}, JSON: &active}, Match{Status: []int{200}, JSON: &inactive})
	if err != nil {
		t.Fatal(err)
	}
	var tgt vegeta.Target
	p.Fill(&tgt, "abc", 1)
	if string(tgt.Body) != "token=abc" || !p.NeedsBody() {
		t.Errorf("body %q needsBody %v", tgt.Body, p.NeedsBody())
	}
	for body, want := range map[string]Outcome{`{"active":true}`: Accept, `{"active":false}`: Reject, `not json`: Error} {
		if got := p.Classify(200, []byte(body)); got != want {
			t.Errorf("Classify(%s) = %v, want %v", body, got, want)
		}
	}
}

func TestProbeBodyMatchAndErrors(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("http://h")
	p, err := NewProbe("svc", base, "GET", "/x?t="+TokenPlaceholder, "", http.Header{"X-Trace": {"1"}}, "",
		Match{Status: []int{200}, Body: regexp.MustCompile(`"ok"`)}, Match{})
	if err != nil {
		t.Fatal(err)
	}
	var tgt vegeta.Target
	p.Fill(&tgt, "a b", 3)
	if !strings.HasPrefix(tgt.URL, "http://h/x?t=a+b#") {
		t.Errorf("url %s", tgt.URL)
	}
	if p.Classify(200, []byte(`{"status":"ok"}`)) != Accept || p.Classify(200, []byte(`{}`)) != Error {
		t.Error("body match not applied")
	}
	if _, err := NewProbe("svc", base, "GET", "/x", "", http.Header{"X-Trace": {"1"}}, "", Match{}, Match{}); err == nil ||
		!strings.Contains(err.Error(), "never carries the token") {
		t.Errorf("a probe without the token: err %v", err)
	}
	if _, err := NewProbe("svc", nil, "GET", "", "relative/url", nil, "", Match{}, Match{}); err == nil {
		t.Error("a relative url was accepted")
	}
}
