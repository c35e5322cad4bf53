// This file wires the drill's Shared Signals transmitter (reference/ssf, internal/ssf) and the
// reference gateways and services of strategy ssf that receive from it.

package embedded

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/gateway"
)

var _ runtime.SSFTransmitters = (*Env)(nil)

// ssfTransmitterOf returns the reference/ssf component a receiver spec (a gateway or service of
// strategy ssf) receives from (runtime.SSFTransmitterOf).
func (e *Env) ssfTransmitterOf(s runtime.Spec) (string, error) {
	return runtime.SSFTransmitterOf(e.specs, s)
}

// checkSSF validates the transmitters' parameters and each receiver's transmitter, and gives
// every receiver (a gateway or service of strategy ssf) the bearer token of its transmitter's
// management API.
func (e *Env) checkSSF() []error {
	var errs []error
	e.ssfTokens = map[string]string{}
	for _, s := range e.specs {
		switch {
		case s.Use == runtime.UseSSF:
			if _, err := params.DecodeSSF(s.With); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", s.Name, err))
			}
		case s.Use == runtime.UseGateway || s.Use == runtime.UseService:
			if !runtime.IsSSFReceiver(s) {
				continue
			}
			if _, err := e.ssfTransmitterOf(s); err != nil {
				continue // placed by runtime.CheckSSF; Start fails on it
			}
			var b [24]byte
			_, _ = rand.Read(b[:])
			e.ssfTokens[s.Name] = hex.EncodeToString(b[:])
		}
	}
	return errs
}

// startSSF starts a transmitter whose receivers are the ssf gateways and services that name it,
// each with its own token and its own name as aud (SSF §8: authorization associates a receiver with its
// streams and aud). A restarted transmitter keeps its streams and records.
func (e *Env) startSSF(s runtime.Spec, addr string) (*running, error) {
	if old, ok := e.get(s.Name); ok && old.ssf != nil {
		ln, base, err := listen(addr)
		if err != nil {
			return nil, err
		}
		r := e.serve(s.Name, ln, base, ssfHandler(old.ssf), func() error { old.ssf.Close(); return nil })
		r.ssf = old.ssf
		return r, nil
	}
	p, err := params.DecodeSSF(s.With)
	if err != nil {
		return nil, err
	}
	var receivers []ssf.Receiver
	for _, g := range e.specs {
		if tok, ok := e.ssfTokens[g.Name]; ok {
			if t, _ := e.ssfTransmitterOf(g); t == s.Name {
				receivers = append(receivers, ssf.Receiver{Token: tok, Audience: []string{g.Name}})
			}
		}
	}
	if len(receivers) == 0 {
		return nil, fmt.Errorf("no reference gateway or service of strategy ssf receives from it")
	}
	key, err := ssf.NewKey(s.Name + "-1")
	if err != nil {
		return nil, err
	}
	ln, base, err := listen(addr)
	if err != nil {
		return nil, err
	}
	tx, err := ssf.New(ssf.Config{Issuer: base.String(), Key: key, Receivers: receivers,
		PushAttempts: p.PushAttempts, PushBackoff: p.PushBackoff})
	if err != nil {
		ln.Close()
		return nil, err
	}
	r := e.serve(s.Name, ln, base, ssfHandler(tx), func() error { tx.Close(); return nil })
	r.ssf = tx
	return r, nil
}

// ssfHandler serves the transmitter and the /healthz the runtime waits for.
func ssfHandler(tx *ssf.Transmitter) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.Handle("/", tx.Handler())
	return mux
}

// ssfReceiver fills the Guard config of a gateway or service of strategy ssf: its transmitter,
// token and, for push, the URL its SETs are pushed to (base, where it is about to listen, or
// the proxy of the declared link transmitter->receiver).
func (e *Env) ssfReceiver(s runtime.Spec, cfg *gateway.Config, base string) error {
	name, err := e.ssfTransmitterOf(s)
	if err != nil {
		return fmt.Errorf("with.transmitter: %w", err)
	}
	tx, ok := e.get(name)
	if !ok || tx.ssf == nil {
		return fmt.Errorf("transmitter %s is not running", name)
	}
	cfg.SSF.Transmitter = tx.ssf.Metadata().Issuer
	cfg.SSF.Token = e.ssfTokens[s.Name]
	cfg.SSF.PushURL = base + gateway.SSFPushPath
	if slices.Contains(e.links, runtime.Link{From: name, To: s.Name}) {
		// The declared link transmitter->gateway carries the pushes: the stream's endpoint is
		// its proxy, towards where the gateway is about to listen.
		u, err := url.Parse(base)
		if err != nil {
			return err
		}
		addr, err := e.px.add(runtime.Link{From: name, To: s.Name}, u.Host)
		if err != nil {
			return err
		}
		cfg.SSF.PushURL = "http://" + addr + gateway.SSFPushPath
	}
	return nil
}

// SSFTransmitters implements runtime.SSFTransmitters.
func (e *Env) SSFTransmitters() map[string]*ssf.Transmitter {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]*ssf.Transmitter{}
	for name, r := range e.running {
		if r.ssf != nil {
			out[name] = r.ssf
		}
	}
	return out
}
