package scenario

import (
	"strings"
	"testing"
)

// TestBadURLErrorHidesUserinfo: a URL that does not parse once ${VAR} is expanded into its
// userinfo (a '/' in a password) is quoted in the error without the userinfo, so the secret
// the variable held is not printed.
func TestBadURLErrorHidesUserinfo(t *testing.T) {
	const secret = "pa/ss-word-from-env"
	src := `name: s
system:
  runtime: external
  components:
    - {name: issuer, kind: issuer, use: reference/issuer, url: "http://127.0.0.1:1"}
    - name: edge
      kind: gateway
      url: "http://${USER_X}:${PASS_X}@127.0.0.1:2"
      probe: {url: "http://u:${PASS_X}@127.0.0.1:2/x", headers: {Authorization: "Bearer {{token}}"}}
traffic: {rate: 10/s, duration: 2s}
recall: {at: 1s}
`
	env := map[string]string{"USER_X": "user-from-env", "PASS_X": secret}
	_, err := Parse("s.yaml", []byte(src), WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	if err == nil {
		t.Fatal("a URL whose password holds '/' parsed")
	}
	msg := err.Error()
	if !strings.Contains(msg, "bad URL") || !strings.Contains(msg, "xxxxx@127.0.0.1:2") {
		t.Errorf("want the bad URL quoted with its userinfo hidden:\n%s", msg)
	}
	for _, s := range []string{secret, "user-from-env"} {
		if strings.Contains(msg, s) {
			t.Errorf("the error quotes %q from the environment:\n%s", s, msg)
		}
	}
}

func TestShownURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://a:b@h:1/p@q":   "http://xxxxx@q",
		"http://h/p?x=a@b":     "http://h/p?x=a@b",
		"ftp://x":              "ftp://x",
		"u:p/w@h":              "xxxxx@h",
		"https://t@h#f":        "https://xxxxx@h#f",
		"http://a:b/c@d@h:1/x": "http://xxxxx@h:1/x",
	} {
		if got := shownURL(in); got != want {
			t.Errorf("shownURL(%q) = %q, want %q", in, got, want)
		}
	}
}
