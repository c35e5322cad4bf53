package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/gateway"
)

// This file runs the drill's Shared Signals transmitters (reference/ssf) for the docker
// runtime. A transmitter stays in the harness, as in the embedded runtime, because the
// ssf-event action emits on it and reads every SET's instants from it in process
// (runtime.SSFTransmitters); an image of its own would need a remote API for both. Its
// receivers, the reference gateways and services of strategy ssf, run in containers:
//
//	harness: transmitter on http://<drill network's gateway address>:<port>
//	   ▲ metadata, JWKS, stream management, poll (RFC 8936)   │ push (RFC 8935)
//	   │                                                      ▼
//	container "edge-ssf-poll"                  http://127.0.0.1:<published port>/ssf/events
//	                                             of container "edge-ssf-push" (or of the proxy
//	                                             of a declared link ssf->edge-ssf-push, which
//	                                             the toxiproxy container publishes)
//
// The transmitter listens on the address the host has on the drill's bridge network (its
// gateway), where the containers on that network reach the host, and nowhere else: not on
// 0.0.0.0. Its issuer URL, the iss of its SETs, is that address. A gateway is given its
// management token in RECALL_SSF_TOKEN and the URL it is pushed at in -ssf-push-url, which
// only the harness knows: the host port it publishes the gateway's (or the proxy's) port on.

// ssfTransmitter is a harness-side reference/ssf, once started.
type ssfTransmitter struct {
	tx  *ssf.Transmitter
	srv *http.Server
}

var _ runtime.SSFTransmitters = (*Env)(nil)

// SSFTransmitters implements runtime.SSFTransmitters.
func (d *Env) SSFTransmitters() map[string]*ssf.Transmitter {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]*ssf.Transmitter{}
	for _, c := range d.comps {
		if c.ssf != nil {
			out[c.name] = c.ssf.tx
		}
	}
	return out
}

// planSSF plans a reference/ssf: no container; its receivers wait for it.
func (d *Env) planSSF(c *dcomp, s runtime.Spec) error {
	if _, err := params.DecodeSSF(s.With); err != nil {
		return err
	}
	c.httpPort = referencePort // an endpoint, once started (it serves no container port)
	c.timeout = d.startTimeout
	return nil
}

// planSSFReceiver adds strategy ssf's flags to a reference gateway's or service's plan (the
// images take the same ones): its transmitter (an
// address known once the network exists), its token, delivery and ignored event types; and,
// for push, the URL it is pushed at, known once its host port (or its link's proxy's) is.
func (d *Env) planSSFReceiver(c *dcomp, s runtime.Spec, gc gateway.Config) error {
	tx, err := runtime.SSFTransmitterOf(d.specs, s)
	if err != nil {
		return fmt.Errorf("with.transmitter: %w", err)
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	redact.Global.Add(tok)
	d.ssfTokens[c.name] = tok
	c.env["RECALL_SSF_TOKEN"] = tok
	c.deps = append(c.deps, tx)
	c.cmd = append(c.cmd, "-ssf-delivery", gc.SSF.Delivery)
	for _, ev := range gc.SSF.Ignore {
		c.cmd = append(c.cmd, "-ssf-ignore", ev)
	}
	link := runtime.Link{From: tx, To: c.name}
	_, viaLink := d.lk.byLink[link]
	push := gc.SSF.Delivery != gateway.SSFPoll
	c.lateArgs = func(hostPort string) ([]string, error) {
		d.mu.Lock()
		txc := d.byName[tx]
		var base string
		if txc != nil && txc.endpoint != nil {
			base = txc.endpoint.String()
		}
		d.mu.Unlock()
		if base == "" {
			return nil, fmt.Errorf("transmitter %s is not running", tx)
		}
		args := []string{"-ssf-transmitter", base}
		if !push {
			return args, nil
		}
		addr := loopback.String() + ":" + hostPort
		if viaLink {
			a, ok := d.harnessAddr(link)
			if !ok {
				return nil, fmt.Errorf("link %s: its proxy is not up", link)
			}
			addr = a
		}
		return append(args, "-ssf-push-url", "http://"+addr+gateway.SSFPushPath), nil
	}
	return nil
}

// startSSF starts a transmitter in the harness whose receivers are the ssf gateways and
// services that name it, each with its own token and its own name as aud (SSF §8:
// authorization associates a receiver with its streams and aud), listening on the drill
// network's gateway address.
func (d *Env) startSSF(ctx context.Context, c *dcomp, s runtime.Spec) error {
	began := time.Now()
	p, err := params.DecodeSSF(s.With)
	if err != nil {
		return fmt.Errorf("component %s: %w", c.name, err)
	}
	var receivers []ssf.Receiver
	for _, g := range d.specs {
		if tok, ok := d.ssfTokens[g.Name]; ok {
			if t, _ := runtime.SSFTransmitterOf(d.specs, g); t == c.name {
				receivers = append(receivers, ssf.Receiver{Token: tok, Audience: []string{g.Name}})
			}
		}
	}
	if len(receivers) == 0 {
		return fmt.Errorf("component %s: no reference gateway or service of strategy ssf receives from it", c.name)
	}
	d.mu.Lock()
	host := d.hostIP
	d.mu.Unlock()
	if !host.IsValid() {
		return fmt.Errorf("component %s: the drill network has no gateway address for its containers to reach the harness at", c.name)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host.String(), "0"))
	if err != nil {
		return fmt.Errorf("component %s: listen on the drill network's gateway address: %w", c.name, err)
	}
	base := &url.URL{Scheme: "http", Host: net.JoinHostPort(host.String(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))}
	key, err := ssf.NewKey(c.name + "-1")
	if err != nil {
		ln.Close()
		return err
	}
	tx, err := ssf.New(ssf.Config{Issuer: base.String(), Key: key, Receivers: receivers,
		PushAttempts: p.PushAttempts, PushBackoff: p.PushBackoff})
	if err != nil {
		ln.Close()
		return fmt.Errorf("component %s: %w", c.name, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.Handle("/", tx.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Warn("ssf transmitter stopped serving", "component", c.name, "err", err)
		}
	}()
	d.mu.Lock()
	c.ssf = &ssfTransmitter{tx: tx, srv: srv}
	c.endpoint = base
	d.startup[c.name] = time.Since(began)
	d.mu.Unlock()
	d.log.Info("component started", "component", c.name, "in", "harness", "endpoint", base.String(), "receivers", len(receivers))
	return nil
}

// closeSSF stops the transmitters, once their receivers' containers are gone.
func (d *Env) closeSSF() {
	d.mu.Lock()
	var txs []*ssfTransmitter
	for _, c := range d.comps {
		if c.ssf != nil {
			txs = append(txs, c.ssf)
		}
	}
	d.mu.Unlock()
	for _, t := range txs {
		_ = t.srv.Close()
		t.tx.Close()
	}
}

// networkGateway reads the address the host has on the drill's network.
func (d *Env) networkGateway(ctx context.Context, id string) error {
	res, err := d.cli.NetworkInspect(ctx, id, networkInspectOptions)
	if err != nil {
		return fmt.Errorf("docker runtime: inspect network: %w", err)
	}
	for _, cfg := range res.Network.IPAM.Config {
		if cfg.Gateway.IsValid() && cfg.Gateway.Is4() {
			d.mu.Lock()
			d.hostIP = cfg.Gateway
			d.mu.Unlock()
			return nil
		}
	}
	return errors.New("docker runtime: the drill network has no IPv4 gateway address")
}
