package scenario

import (
	"strings"
	"testing"
	"time"
)

const confirmWindowBase = `name: base
system:
  components:
    - {name: issuer, kind: issuer, use: reference/issuer}
    - {name: edge-push, kind: gateway, use: reference/gateway, with: {strategy: push}}
traffic:
  rate: 1000/s
  duration: 40s
recall:
  at: 15s
`

// TestConfirmWindow: recall.confirm_window defaults to 2s, takes a duration with confirm: true,
// and is refused, at its line and column, without confirm, when not positive, and when longer
// than traffic.
func TestConfirmWindow(t *testing.T) {
	s, err := Parse("w.yaml", []byte(confirmWindowBase+"  confirm: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Recall.ConfirmWindow != 2*time.Second {
		t.Errorf("default window %s, want 2s", s.Recall.ConfirmWindow)
	}
	s, err = Parse("w.yaml", []byte(confirmWindowBase+"  confirm: true\n  confirm_window: 12s\n"))
	if err != nil || s.Recall.ConfirmWindow != 12*time.Second {
		t.Fatalf("window %v, err %v: want 12s", s.Recall.ConfirmWindow, err)
	}
	for _, tc := range []struct{ add, want string }{
		{"  confirm_window: 5s\n", "w.yaml:11:19: recall.confirm_window: only with confirm: true"},
		{"  confirm: true\n  confirm_window: 0s\n", "w.yaml:12:19: recall.confirm_window: must be > 0, got 0s"},
		{"  confirm: true\n  confirm_window: 41s\n", "w.yaml:12:19: recall.confirm_window: 41s is longer than traffic (duration 40s)"},
		{"  confirm: true\n  confirm_window: soon\n", "w.yaml:12:19: recall.confirm_window: bad duration"},
	} {
		_, err := Parse("w.yaml", []byte(confirmWindowBase+tc.add))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.add, err, tc.want)
		}
	}
}
