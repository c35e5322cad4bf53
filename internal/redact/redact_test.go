package redact

import (
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
