package source

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/oauth"
)

// TestMain makes the test binary its own token-source command: with RECALL_SOURCE_HELPER set
// it behaves as the mode says and exits (the standard re-exec trick: no shell, no go run).
func TestMain(m *testing.M) {
	if mode := os.Getenv("RECALL_SOURCE_HELPER"); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	n, _ := strconv.Atoi(os.Getenv("RECALL_COUNT"))
	cohort := os.Getenv("RECALL_COHORT")
	switch mode {
	case "lines":
		fmt.Println("# tokens for", cohort)
		for i := range n {
			fmt.Printf("tok-%s-%d-%s\n", cohort, i, os.Getenv("RECALL_SUB"))
		}
	case "json":
		for i := range n {
			b, _ := json.Marshal(map[string]any{"token": fmt.Sprintf("opq-%s-%d", cohort, i), "expires_in": 3600,
				"sub": fmt.Sprintf("user-%d", i%3), "client_id": "app-" + cohort, "jti": fmt.Sprintf("j%d", i), "scope": "ignored"})
			fmt.Println(string(b))
		}
	case "same":
		for i := range n {
			fmt.Printf("tok-%d\n", i)
		}
	case "few":
		fmt.Println("only-one-token")
	case "badjson":
		fmt.Println(`{"token": "secret-token-value-1"}`)
		fmt.Println(`{"token": "secret-token-value-2",`)
	case "exit3":
		fmt.Println("secret-token-on-stdout")
		fmt.Fprintln(os.Stderr, "starting")
		fmt.Fprintln(os.Stderr, "login failed: Authorization: Bearer abcdef123456 rejected, password="+os.Getenv("HELPER_PW"))
		return 3
	case "sleep":
		time.Sleep(time.Minute)
	case "huge":
		line := strings.Repeat("x", 1023) + "\n"
		for {
			if _, err := os.Stdout.WriteString(line); err != nil {
				return 1
			}
		}
	case "env":
		fmt.Println("home=" + os.Getenv("HOME") + ",secret=" + os.Getenv("RECALL_PARENT_SECRET") + ",pw=" + os.Getenv("HELPER_PW"))
	}
	return 0
}

func helperSource(t *testing.T, mode string, timeout time.Duration, max int) *External {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := []string{exe, "-test.run=^$"}
	env := map[string]string{"RECALL_SOURCE_HELPER": mode, "HELPER_PW": "helper-pw-271828"}
	return &External{Kind: KindCommand, What: CommandWhat(argv), Fetch: CommandFetch(argv, env, timeout, max), Format: FormatAuto,
		Clients: []*oauth.Client{{ID: "app-victims", Secret: "s"}}}
}

// TestCommandSourceMints: the command is called once for the victims and once for the
// controls with RECALL_COHORT and RECALL_COUNT, and its lines or JSON lines become the
// population, labels and expiry included; a re-issue is a third call for one credential.
func TestCommandSourceMints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := helperSource(t, "lines", 10*time.Second, 0)
	toks, err := src.Mint(ctx, Population{Victims: 4, Controls: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 6 || toks[0].Access.Reveal() != "tok-victims-0-" || !toks[3].Victim || toks[4].Victim ||
		toks[4].Access.Reveal() != "tok-controls-0-" || toks[5].Index != 5 || !toks[0].Opaque {
		t.Fatalf("tokens %v", toks)
	}
	toks[1].Claims.Subject = "alice"
	nt, err := src.Reissue(ctx, toks[1], false)
	if err != nil || nt.Access.Reveal() != "tok-reissue-0-alice" || nt.Index != 1 || !nt.Victim {
		t.Errorf("reissue: %v, %v: want one credential of the reissue cohort for RECALL_SUB=alice", nt, err)
	}

	src = helperSource(t, "json", 10*time.Second, 0)
	toks, err = src.Mint(ctx, Population{Victims: 5, Controls: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := toks[2]
	if v.Claims.Subject != "user-2" || v.Claims.JTI != "j2" || v.Client != "app-victims" || v.Owner == nil || v.Owner.ID != "app-victims" ||
		time.Until(v.Expiry) < 59*time.Minute || time.Until(v.Expiry) > time.Hour {
		t.Errorf("victim %+v: want the labels, the owning client and the expiry from expires_in", v)
	}
	if c := toks[5]; c.Owner != nil || c.Client != "app-controls" {
		t.Errorf("control %+v: a client_id not in tokens.clients has no owner", c)
	}
	d := src.Describe()
	if d.Kind != KindCommand || d.Opaque != 6 || d.Clients != 2 || d.Users != 3 || d.Expiry.IsZero() {
		t.Errorf("describe %+v", d)
	}
}

// TestCommandSourceEnv: the command gets its env: and what a program needs (HOME), not the rest
// of the harness's environment.
func TestCommandSourceEnv(t *testing.T) {
	t.Setenv("RECALL_PARENT_SECRET", "parent-secret-value")
	src := helperSource(t, "env", 10*time.Second, 0)
	out, err := src.Fetch(context.Background(), Call{Cohort: CohortVictims, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(string(out))
	if want := "home=" + os.Getenv("HOME") + ",secret=,pw=helper-pw-271828"; got != want {
		t.Errorf("the command saw %q, want %q", got, want)
	}
}

// TestCommandSourceErrors: every way a command can fail gives an error that names the command
// and says what went wrong, quotes at most one redacted line of stderr, never the output
// (credentials) nor a secret, and returns within the bounds set.
func TestCommandSourceErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode    string
		pop     Population
		timeout time.Duration
		max     int
		want    []string
	}{
		{"badjson", Population{Victims: 2}, 10 * time.Second, 0, []string{"victims, count 2", "not JSON", "line 2"}},
		{"few", Population{Victims: 3}, 10 * time.Second, 0, []string{"gave 1 credentials, want 3"}},
		{"same", Population{Victims: 2, Controls: 2}, 10 * time.Second, 0, []string{"controls, count 2", "credential 1", "already given for the victims"}},
		{"exit3", Population{Victims: 1}, 10 * time.Second, 0, []string{"exit status 3", "stderr: login failed", "Bearer [redacted]"}},
		{"sleep", Population{Victims: 1}, 300 * time.Millisecond, 0, []string{"did not finish within 300ms"}},
		{"huge", Population{Victims: 1}, time.Minute, 1 << 20, []string{"printed more than 1048576 bytes"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := helperSource(t, tc.mode, tc.timeout, tc.max).Mint(context.Background(), tc.pop, nil)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q: want %q", msg, w)
				}
			}
			if !strings.Contains(msg, "tokens.source command") || strings.Contains(msg, "\n") || len(msg) > 400 {
				t.Errorf("error %q: want one short line naming the source", msg)
			}
			for _, secret := range []string{"secret-token", "abcdef123456", "helper-pw-271828", "only-one-token", "starting"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q quotes %q", msg, secret)
				}
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

// TestParseCredentials: the formats, and errors that locate a problem without quoting the output.
func TestParseCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		out, format string
		n           int
		err         string
	}{
		{"a1234\n\n# c\nb1234\n", FormatAuto, 2, ""},
		{`["a1234", {"access_token": "b1234", "token_type": "Bearer", "expires_in": 60}]`, FormatAuto, 2, ""},
		{"{\"token\": \"a1234\"}\n{\"token\": \"b1234\", \"sid\": \"s\"}\n", FormatJSON, 2, ""},
		{"", FormatAuto, 0, ""},
		{"Bearer a1234\n", FormatLines, 0, "line 1 holds white space"},
		{"[\"a1234\",\n 42]", FormatAuto, 0, "credential 2: want a string or an object with token, got a number"},
		{"{\"token\": \"a1234\"}\n{\"refresh_token\": \"r1234\"}\n", FormatAuto, 0, "line 2: no token"},
		{`{"token": "a1234", "expires_in": -5}`, FormatAuto, 0, "expires_in -5"},
		{`{"token": 12345}`, FormatAuto, 0, "token: want a string, got a JSON number"},
		{`["a1234"] trailing-secret`, FormatAuto, 0, "more output after the JSON array"},
		{"a1234", FormatJSON, 0, "not JSON"},
	} {
		creds, err := ParseCredentials([]byte(tc.out), tc.format)
		switch {
		case tc.err == "" && (err != nil || len(creds) != tc.n):
			t.Errorf("%q: %d credentials, %v; want %d", tc.out, len(creds), err, tc.n)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.out, err, tc.err)
		case err != nil && (strings.Contains(err.Error(), "a1234") || strings.Contains(err.Error(), "secret")):
			t.Errorf("%q: error %q quotes the output", tc.out, err)
		}
	}
}

// TestHTTPSource: the template's placeholders are filled per call, a 2xx body is read, and an
// error answer is quoted in one short redacted line, without the URL's query.
func TestHTTPSource(t *testing.T) {
	t.Parallel()
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Query().Get("cohort")+"/"+r.Header.Get("X-Count"))
		if r.Header.Get("Authorization") != "Bearer console-key-1234" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "<html>\n<body>forbidden for %s</body>\n%s</html>", r.Header.Get("Authorization"), strings.Repeat("pad ", 500))
			return
		}
		n, _ := strconv.Atoi(r.Header.Get("X-Count"))
		for i := range n {
			fmt.Fprintf(w, "{\"token\": \"key-%s-%d\", \"client_id\": \"console\"}\n", r.URL.Query().Get("cohort"), i)
		}
	}))
	defer srv.Close()
	tmpl := HTTPTemplate{Method: "POST", URL: srv.URL + "/keys?cohort={{cohort}}&api_key=query-secret",
		Headers: map[string]string{"Authorization": "Bearer console-key-1234", "X-Count": "{{count}}"}, Timeout: 5 * time.Second}
	src := &External{Kind: KindHTTP, What: tmpl.What(), Fetch: tmpl.Fetch(), Format: FormatAuto}
	toks, err := src.Mint(context.Background(), Population{Victims: 3, Controls: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 4 || toks[3].Access.Reveal() != "key-controls-0" || toks[0].Client != "console" || strings.Join(asked, ",") != "victims/3,controls/1" {
		t.Errorf("tokens %v, asked %v", toks, asked)
	}
	tmpl.Headers = map[string]string{"Authorization": "Bearer wrong-key-5678", "X-Count": "{{count}}"}
	src = &External{Kind: KindHTTP, What: tmpl.What(), Fetch: tmpl.Fetch(), Format: FormatAuto}
	_, err = src.Mint(context.Background(), Population{Victims: 1}, nil)
	if err == nil {
		t.Fatal("a 403 minted")
	}
	msg := err.Error()
	if !strings.Contains(msg, "403 Forbidden") || !strings.Contains(msg, "<html> <body>forbidden for ") || strings.Contains(msg, "wrong-key") ||
		strings.Contains(msg, "query-secret") || strings.Contains(msg, "\n") || len(msg) > 400 {
		t.Errorf("error %q: want the status and a short redacted excerpt, no query", msg)
	}
}

// TestExternalKeySplit: for a key recall the source rotates its provider's key when called for
// the controls, and Mint checks it did: a control signed by a victim's kid, or a credential that
// names no key (an opaque token without a kid label), stops the drill before traffic with an
// error naming the credential by fingerprint and saying what to do, never quoting it. A kid
// label names an opaque token's key; without a key recall nothing is checked.
func TestExternalKeySplit(t *testing.T) {
	t.Parallel()
	jwt := func(kid, jti string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"ES256","typ":"at+jwt","kid":"`+kid+`"}`)) + "." +
			enc([]byte(`{"sub":"u-`+jti+`","jti":"`+jti+`","exp":4102444800}`)) + ".c2lnbmF0dXJl"
	}
	source := func(victims, controls func(i int) string) *External {
		return &External{Kind: KindHTTP, What: "GET https://idp.example.invalid/mint", Format: FormatAuto,
			Fetch: func(_ context.Context, c Call) ([]byte, error) {
				line := victims
				if c.Cohort == CohortControls {
					line = controls
				}
				var out []byte
				for i := range c.Count {
					out = append(out, line(i)+"\n"...)
				}
				return out, nil
			}}
	}
	key := Population{Victims: 3, Controls: 2, RotateKeyBeforeControls: true}
	for _, tc := range []struct {
		name              string
		victims, controls func(i int) string
		pop               Population
		err               []string
	}{
		{"rotated", func(i int) string { return jwt("k1", fmt.Sprint("v", i)) }, func(i int) string { return jwt("k2", fmt.Sprint("c", i)) }, key, nil},
		{"labelled opaque", func(i int) string { return fmt.Sprintf(`{"token":"opq-v%d-secret","kid":"k1"}`, i) },
			func(i int) string { return fmt.Sprintf(`{"token":"opq-c%d-secret","kid":"k2"}`, i) }, key, nil},
		{"not rotated", func(i int) string { return jwt("k1", fmt.Sprint("v", i)) }, func(i int) string { return jwt("k1", fmt.Sprint("c", i)) }, key,
			[]string{`control 1 (`, `is signed by kid "k1", as victims are`, "RECALL_COHORT=controls"}},
		{"opaque victim", func(i int) string { return fmt.Sprintf("opq-v%d-secret", i) }, func(i int) string { return jwt("k2", fmt.Sprint("c", i)) }, key,
			[]string{"victim 1 (", "names no signing key"}},
		{"opaque control", func(i int) string { return jwt("k1", fmt.Sprint("v", i)) }, func(i int) string { return fmt.Sprintf("opq-c%d-secret", i) }, key,
			[]string{"control 1 (", "names no signing key"}},
		{"no key recall", func(i int) string { return jwt("k1", fmt.Sprint("v", i)) }, func(i int) string { return jwt("k1", fmt.Sprint("c", i)) },
			Population{Victims: 3, Controls: 2}, nil},
	} {
		toks, err := source(tc.victims, tc.controls).Mint(context.Background(), tc.pop, nil)
		if tc.err == nil {
			if err != nil || len(toks) != 5 {
				t.Errorf("%s: %d tokens, %v", tc.name, len(toks), err)
			} else if tc.pop.RotateKeyBeforeControls && (toks[0].Claims.KeyID != "k1" || toks[4].Claims.KeyID != "k2") {
				t.Errorf("%s: kids %q, %q: want k1 for victims, k2 for controls", tc.name, toks[0].Claims.KeyID, toks[4].Claims.KeyID)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: minted %d tokens, want refused", tc.name, len(toks))
			continue
		}
		for _, want := range tc.err {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q, want %q in it", tc.name, err, want)
			}
		}
		if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "c2lnbmF0dXJl") {
			t.Errorf("%s: error %q quotes a credential", tc.name, err)
		}
	}
}
