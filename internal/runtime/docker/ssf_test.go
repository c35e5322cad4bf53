package docker

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/ssf"
)

// ssfSpecs is a transmitter and its two receivers, by push and by poll.
func ssfSpecs() []runtime.Spec {
	return []runtime.Spec{
		{Name: "issuer", Use: runtime.UseIssuer},
		{Name: "ssf", Use: runtime.UseSSF, With: map[string]any{"push_attempts": 4}},
		{Name: "edge-push", Use: runtime.UseGateway, With: map[string]any{"strategy": "ssf"}},
		{Name: "edge-poll", Use: runtime.UseGateway, With: map[string]any{"strategy": "ssf", "delivery": "poll", "interval": "1s", "ignore_event": "session-revoked"}},
	}
}

// TestDockerSSFPlan: the transmitter is planned in the harness (no image, no container), each
// receiver's container gets its strategy ssf flags and its own token in its environment (never
// in a flag, always redacted from logs), waits for the transmitter, and learns at creation the
// URLs only the harness knows: the transmitter's, and for push where it is pushed at (its own
// published port, or its declared link's proxy).
func TestDockerSSFPlan(t *testing.T) {
	t.Parallel()
	link := runtime.Link{From: "ssf", To: "edge-push"}
	d, err := New(ssfSpecs(), runtime.Secrets{AdminSecret: "adm"}, WithDrillID("ssfplan"), WithLinks(link))
	if err != nil {
		t.Fatal(err)
	}
	tx, push, poll := d.byName["ssf"], d.byName["edge-push"], d.byName["edge-poll"]
	if tx.ref != "" || tx.image != "" || tx.wait != nil {
		t.Errorf("transmitter planned as a container: %+v", tx)
	}
	if !slices.Contains(tx.deps, DefaultToxiproxyAlias) {
		t.Errorf("transmitter deps %v: its push link's proxy must be up first", tx.deps)
	}
	if px := d.byName[DefaultToxiproxyAlias]; px == nil || !slices.Contains(px.ports, "10001/tcp") {
		t.Errorf("toxiproxy %+v: want the link's port published", px)
	}
	pushTok, pollTok := push.env["RECALL_SSF_TOKEN"], poll.env["RECALL_SSF_TOKEN"]
	if pushTok == "" || pollTok == "" || pushTok == pollTok {
		t.Errorf("tokens %q, %q: want one per receiver", pushTok, pollTok)
	}
	for _, tok := range []string{pushTok, pollTok} {
		if !slices.Contains(d.held(), tok) {
			t.Errorf("a receiver's token is not redacted from the logs")
		}
	}
	for _, c := range []*dcomp{push, poll} {
		if cmd := strings.Join(c.cmd, " "); strings.Contains(cmd, pushTok) || strings.Contains(cmd, pollTok) || !strings.Contains(cmd, "-strategy ssf") {
			t.Errorf("%s command %q: want -strategy ssf and no token", c.name, cmd)
		}
		if !slices.Contains(c.deps, "ssf") {
			t.Errorf("%s deps %v: want the transmitter", c.name, c.deps)
		}
	}
	if cmd := strings.Join(poll.cmd, " "); !strings.Contains(cmd, "-ssf-delivery poll") || !strings.Contains(cmd, "-ssf-ignore "+ssf.CAEPSessionRevoked) || !strings.Contains(cmd, "-interval 1s") {
		t.Errorf("poll receiver command %q", cmd)
	}
	if _, err := push.lateArgs("4242"); err == nil || !strings.Contains(err.Error(), "transmitter ssf is not running") {
		t.Errorf("push receiver created before its transmitter runs: %v", err)
	}
	tx.endpoint = &url.URL{Scheme: "http", Host: "172.30.0.1:41000"}
	if got, err := poll.lateArgs("4243"); err != nil || strings.Join(got, " ") != "-ssf-transmitter http://172.30.0.1:41000" {
		t.Errorf("poll receiver's late args = %v, %v", got, err)
	}
	if _, err := push.lateArgs("4242"); err == nil || !strings.Contains(err.Error(), "proxy is not up") {
		t.Errorf("push receiver created before its link's proxy is up: %v", err)
	}
	d.lk.harness = map[runtime.Link]string{link: "127.0.0.1:5555"}
	if got, err := push.lateArgs("4242"); err != nil || strings.Join(got, " ") != "-ssf-transmitter http://172.30.0.1:41000 -ssf-push-url http://127.0.0.1:5555/ssf/events" {
		t.Errorf("push receiver's late args through its link = %v, %v", got, err)
	}
	if err := d.Pause(context.Background(), "ssf"); err == nil || !strings.Contains(err.Error(), "runs in the harness") {
		t.Errorf("Pause(transmitter) = %v, want it said that it runs in the harness", err)
	}

	// Without the link, a push receiver is pushed at its own published port.
	d, err = New(ssfSpecs(), runtime.Secrets{AdminSecret: "adm"}, WithDrillID("ssfplan2"))
	if err != nil {
		t.Fatal(err)
	}
	d.byName["ssf"].endpoint = &url.URL{Scheme: "http", Host: "172.30.0.1:41000"}
	if got, err := d.byName["edge-push"].lateArgs("4242"); err != nil || strings.Join(got, " ") != "-ssf-transmitter http://172.30.0.1:41000 -ssf-push-url http://127.0.0.1:4242/ssf/events" {
		t.Errorf("push receiver's late args = %v, %v", got, err)
	}
	if txs := d.SSFTransmitters(); len(txs) != 0 {
		t.Errorf("SSFTransmitters before Start = %v", txs)
	}
}

// TestDockerSSFLinksValidation: a transmitter's only link is to a push receiver of its own.
func TestDockerSSFLinksValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		link runtime.Link
		want string
	}{
		{runtime.Link{From: "ssf", To: "edge-poll"}, "link ssf->edge-poll: edge-poll receives by poll"},
		{runtime.Link{From: "ssf", To: "issuer"}, "link ssf->issuer: a reference/ssf component's only link is to a reference gateway or service of strategy ssf"},
	} {
		_, err := New(ssfSpecs(), runtime.Secrets{AdminSecret: "adm"}, WithDrillID("bad"), WithLinks(tc.link))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("link %s: New = %v, want %q", tc.link, err, tc.want)
		}
	}
}

// TestDockerSSFCheck: the runtime's positioned check accepts strategy ssf and the transmitter,
// refuses a container's keys on the transmitter (it runs in the harness) and places a receiver
// with no transmitter at its with.transmitter.
func TestDockerSSFCheck(t *testing.T) {
	t.Parallel()
	k, err := runtime.Lookup("docker")
	if err != nil {
		t.Fatal(err)
	}
	if errs := k.Check(ssfSpecs()); len(errs) != 0 {
		t.Errorf("Check(ssf stack) = %v", errs)
	}
	specs := ssfSpecs()
	specs[1].Image = "example/ssf:1"
	if errs := k.Check(specs); len(errs) != 1 || errs[0].Component != 1 || errs[0].Field != "image" || !strings.Contains(errs[0].Msg, "in the harness") {
		t.Errorf("Check(transmitter with an image) = %+v", errs)
	}
	specs = ssfSpecs()[2:]
	if errs := k.Check(specs); len(errs) != 2 || errs[0].Field != "with.transmitter" {
		t.Errorf("Check(receivers without a transmitter) = %+v", errs)
	}
	if got := k.Reached(ssfSpecs()[1]); !strings.Contains(got, "harness") {
		t.Errorf("Reached(transmitter) = %q", got)
	}
}
