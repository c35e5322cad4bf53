package redact

import (
	"fmt"
	"strings"
	"testing"
)

func TestExcerpt(t *testing.T) {
	t.Parallel()
	page := "<html>\n<head><title>404 Not Found</title></head>\n<body>" + strings.Repeat("<p>lorem ipsum</p>\n", 200) + "</body></html>"
	got := Excerpt([]byte(page))
	if strings.Contains(got, "\n") || len(got) > MaxExcerpt+len("…") || !strings.HasPrefix(got, "<html> <head><title>404 Not Found") || !strings.HasSuffix(got, "…") {
		t.Errorf("excerpt of a page: %q", got)
	}
	var s Set
	s.Add("sekrit-value-1", "ab") // "ab" is too short to redact
	Global.Add("held-token-xyz")
	cases := map[string]string{
		`{"error":"invalid_client","client_secret":"plain-secret"}`: "plain-secret",
		"Authorization: Bearer abc.def.ghi-123":                     "abc.def.ghi-123",
		"Basic ZGVtbzpkZW1vLXNlY3JldA==":                            "ZGVtbzpkZW1vLXNlY3JldA",
		"got eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln back":        "eyJhbGciOiJFUzI1NiJ9",
		"token=opaque-abcdef&x=1":                                   "opaque-abcdef",
		"the drill held held-token-xyz here":                        "held-token-xyz",
		"given extra-secret-9":                                      "extra-secret-9",
	}
	for in, secret := range cases {
		out := Excerpt([]byte(in), "extra-secret-9")
		if strings.Contains(out, secret) {
			t.Errorf("Excerpt(%q) = %q still holds %q", in, out, secret)
		}
	}
	if out := Excerpt([]byte("held-token-xyz")); !strings.Contains(out, Fingerprint("held-token-xyz")) {
		t.Errorf("a held token is not replaced by its fingerprint: %q", out)
	}
	if out := String("ab cd"); out != "ab cd" {
		t.Errorf("short values are not secrets: %q", out)
	}
	if Fingerprint("") != "" || len(Fingerprint("x")) != 12 {
		t.Error("fingerprint")
	}
}

// TestText: Text redacts what Excerpt does (held and given values, Authorization values, JWTs,
// secret fields) but keeps every line and the whole length, for log files; a held value is
// found wherever it sits, also among many thousands, and overlapping values redact the longest.
func TestText(t *testing.T) {
	t.Parallel()
	Global.Add("text-held-opaque-7f3a", "short1")
	for i := range 20000 {
		Global.Add(fmt.Sprintf("bulk-token-%06d-zz", i))
	}
	in := strings.Repeat("GET /x\n", 300) +
		"API_KEY=text-held-opaque-7f3a\n" +
		"DB=postgres://app:given+pa/ss@db/x\n" +
		"X-Raw: bulk-token-019999-zz and bulk-token-000000-zz;short1\n" +
		"Authorization: Basic ZGVtbzpkZW1vLXNlY3JldA==\n" +
		"body token=opaque-abcdef&client_secret=cs-123456\n" +
		"jwt eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln end\n"
	out := Text(in, "given+pa/ss", "given+pa/ss-longer")
	for _, secret := range []string{"text-held-opaque-7f3a", "given+pa/ss", "bulk-token-019999-zz", "bulk-token-000000-zz", "short1",
		"ZGVtbzpkZW1vLXNlY3JldA", "opaque-abcdef", "cs-123456", "eyJhbGciOiJFUzI1NiJ9"} {
		if strings.Contains(out, secret) {
			t.Errorf("Text still holds %q", secret)
		}
	}
	if got, want := strings.Count(out, "\n"), strings.Count(in, "\n"); got != want {
		t.Errorf("Text kept %d of %d lines", got, want)
	}
	for _, want := range []string{"[fp:" + Fingerprint("text-held-opaque-7f3a") + "]", "[fp:" + Fingerprint("bulk-token-019999-zz") + "]", "GET /x\nGET /x", "postgres://app:[fp:"} {
		if !strings.Contains(out, want) {
			t.Errorf("Text lacks %q:\n%s", want, out[len(out)-400:])
		}
	}
	if in := `level=DEBUG msg="token refused" token=1a2b3c4d5e6f`; Text(in) != in {
		t.Errorf("Text redacted a fingerprint: %q", Text(in))
	}
	if Text("nothing to hide here") != "nothing to hide here" {
		t.Error("Text changed a text without credentials")
	}
}

// TestTextKeepsFingerprints: a credential a component already logs as its fingerprint stays
// readable (it ties the line to the report), in any of the forms Text redacts.
func TestTextKeepsFingerprints(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`token refused token=1a2b3c4d5e6f`, `Authorization: Bearer 1a2b3c4d5e6f`, `{"access_token":"1a2b3c4d5e6f"}`} {
		if got := Text(in); got != in {
			t.Errorf("Text(%q) = %q", in, got)
		}
	}
	if got := Text("Bearer 1a2b3c4d5e6f7a8b"); strings.Contains(got, "1a2b3c4d5e6f7a8b") {
		t.Errorf("a longer hex credential is kept: %q", got)
	}
}
