package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRefstack runs the command in-process: the first stdout line is the JSON the README
// promises, every gateway accepts a fresh token, a recall is enforced by the push gateway and
// ignored by the jwt-only one, and closing stop shuts the stack down.
func TestRefstack(t *testing.T) {
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-poll-interval", "200ms", "-cache-ttl", "300ms"}, pw, io.Discard, stop)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %v", err)
	}
	go io.Copy(io.Discard, pr)
	var st Stack
	if err := json.Unmarshal([]byte(line), &st); err != nil {
		t.Fatalf("first line is not the stack JSON: %v: %q", err, line)
	}
	if st.Issuer == "" || st.Service == "" || len(st.Gateways) != 4 || st.ClientID == "" || st.AdminSecret == "" {
		t.Fatalf("incomplete stack JSON: %+v", st)
	}
	// No well-known admin secret: a random one, printed, and the only key to ground truth.
	if st.AdminSecret == "admin-secret" || len(st.AdminSecret) < 32 {
		t.Errorf("admin secret %q: want a random one of at least 32 characters", st.AdminSecret)
	}
	debug := func(base, bearer string) int {
		req, _ := http.NewRequest(http.MethodGet, base+"/debug/recalls", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, base := range []string{st.Issuer, st.Service, st.Gateways["push"], st.Gateways["jwt-only"]} {
		if got := debug(base, ""); got != http.StatusUnauthorized {
			t.Errorf("%s/debug/recalls without the admin secret: %d, want 401", base, got)
		}
		if got := debug(base, st.AdminSecret); got != http.StatusOK {
			t.Errorf("%s/debug/recalls with the admin secret: %d, want 200", base, got)
		}
	}

	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, st.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(st.ClientID, st.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("no token: %s", resp.Status)
	}
	status := func(gw string) int {
		req, _ := http.NewRequest(http.MethodGet, st.Gateways[gw]+"/api/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for gw := range st.Gateways {
		if got := status(gw); got != http.StatusOK {
			t.Errorf("gateway %s: %d before the recall, want 200", gw, got)
		}
	}

	// Recall the token: every token of the demo client, issued until now.
	body := `{"type":"client","values":["` + st.ClientID + `"]}`
	req, _ = http.NewRequest(http.MethodPost, st.Issuer+"/admin/recalls", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+st.AdminSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("recall: %v %v", err, resp)
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for status("push") != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("push gateway still accepts the recalled token after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := status("jwt-only"); got != http.StatusOK {
		t.Errorf("jwt-only gateway: %d after the recall, want 200 (it never learns)", got)
	}

	close(stop)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("refstack did not shut down")
	}
	if _, err := http.Get(st.Issuer + "/healthz"); err == nil {
		t.Error("issuer still answers after shutdown")
	}
}

// TestRandomAdminSecret: two runs never share an admin secret.
func TestRandomAdminSecret(t *testing.T) {
	a, b := randomHex(), randomHex()
	if a == b || len(a) != 64 {
		t.Errorf("randomHex gave %q and %q: want two different 64-hex secrets", a, b)
	}
}
