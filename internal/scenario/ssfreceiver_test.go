package scenario

import (
	"strings"
	"testing"
)

const ssfReceiverBase = confirmWindowBase + "  ssf_receiver:\n"

// TestSSFReceiver: recall.ssf_receiver defaults to the issuer's well-known metadata, push and
// a 2 s wait, takes its token from ${VAR} only, and places every bad key at its line and column.
func TestSSFReceiver(t *testing.T) {
	vars := env(map[string]string{"SSF_TOKEN": "secret-token-0123456789"})
	s, err := Parse("r.yaml", []byte(ssfReceiverBase+"    token: ${SSF_TOKEN}\n"), vars)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Recall.SSFReceiver
	if r == nil || r.Transmitter != "issuer" || r.Metadata != DefaultSSFMetadata || r.Delivery != SSFDeliveryPush ||
		r.Wait != DefaultSSFWait || r.PollInterval != 0 || r.Token != "secret-token-0123456789" || r.Verify == nil || *r.Verify != DefaultSSFVerify {
		t.Fatalf("defaults %+v", r)
	}
	s, err = Parse("r.yaml", []byte(ssfReceiverBase+"    token: ${SSF_TOKEN}\n    delivery: poll\n    events: [session-revoked, https://example.com/x]\n    metadata: http://127.0.0.1:1/.well-known/ssf-configuration/t\n"), vars)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Recall.SSFReceiver; r.PollInterval != DefaultSSFPollInterval || len(r.Events) != 2 {
		t.Errorf("poll: %+v", r)
	}
	for _, tc := range []struct{ add, want string }{
		{"    token: clear-text-token\n", "r.yaml:12:12: recall.ssf_receiver.token: write the bearer token as ${VAR}"},
		{"    delivery: push\n", "r.yaml:11:3: recall.ssf_receiver: token: required"},
		{"    token: ${SSF_TOKEN}\n    delivery: sms\n", `r.yaml:13:15: recall.ssf_receiver.delivery: unknown delivery "sms"`},
		{"    token: ${SSF_TOKEN}\n    transmitter: nope\n", `r.yaml:13:18: recall.ssf_receiver.transmitter: unknown component "nope" (have: issuer, edge-push)`},
		{"    token: ${SSF_TOKEN}\n    events: [session-revoked, revoked]\n", `r.yaml:13:31: recall.ssf_receiver.events[1]: unknown event type "revoked"`},
		{"    token: ${SSF_TOKEN}\n    metadata: ftp://x\n", `r.yaml:13:15: recall.ssf_receiver.metadata: "ftp://x": want an http(s) URL or a path`},
		{"    token: ${SSF_TOKEN}\n    poll_interval: 1s\n", "r.yaml:13:20: recall.ssf_receiver.poll_interval: only with delivery: poll"},
		{"    token: ${SSF_TOKEN}\n    wait: 6m\n", "r.yaml:13:11: recall.ssf_receiver.wait: 6m0s is more than 5m0s"},
		{"    token: ${SSF_TOKEN}\n    verify: -1s\n", "r.yaml:13:13: recall.ssf_receiver.verify: must be >= 0, got -1s"},
		{"    token: ${SSF_TOKEN}\n    colour: red\n", `r.yaml:13:5: recall.ssf_receiver.colour: unknown key "colour"`},
	} {
		_, err := Parse("r.yaml", []byte(ssfReceiverBase+tc.add), vars)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.add, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%q: the token is in the error: %v", tc.add, err)
		}
	}
}
