package runtime

import (
	"fmt"
	"slices"
	"strings"

	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/targets/gateway"
)

// This file holds what the runtimes that run the drill's Shared Signals transmitter
// (reference/ssf) share: which transmitter a receiver (a reference gateway or service of
// strategy ssf) receives from, and the positioned check of both.

// receiverParams decodes the with: of a reference gateway or service.
func receiverParams(s Spec) (params.Gateway, error) {
	if s.Use == UseService {
		return params.DecodeService(s.With)
	}
	return params.DecodeGateway(s.With)
}

// SSFTransmitterOf returns the reference/ssf component a receiver spec (a reference gateway or
// service of strategy ssf) receives from: its with.transmitter, or the only one ("" and an
// error otherwise).
func SSFTransmitterOf(specs []Spec, s Spec) (string, error) {
	g, err := receiverParams(s)
	if err != nil {
		return "", err
	}
	var have []string
	for _, o := range specs {
		if o.Use == UseSSF {
			have = append(have, o.Name)
		}
	}
	switch {
	case g.Transmitter == "" && len(have) == 1:
		return have[0], nil
	case g.Transmitter == "":
		return "", fmt.Errorf("say which %s component it receives from (have: %s)", UseSSF, strings.Join(have, ", "))
	case !slices.Contains(have, g.Transmitter):
		return "", fmt.Errorf("no %s component %q (have: %s)", UseSSF, g.Transmitter, strings.Join(have, ", "))
	}
	return g.Transmitter, nil
}

// IsSSFReceiver says whether s is a reference gateway or service of strategy ssf: a receiver
// of the drill's transmitter.
func IsSSFReceiver(s Spec) bool {
	if s.Use != UseGateway && s.Use != UseService {
		return false
	}
	g, err := receiverParams(s)
	return err == nil && g.Strategy == string(gateway.SSF)
}

// CheckSSF is the positioned check of a runtime that runs reference/ssf: each receiver's
// transmitter, and a transmitter that no receiver receives from.
func CheckSSF(specs []Spec) []FieldError {
	var out []FieldError
	used, bad := map[string]bool{}, false
	for i, s := range specs {
		if !IsSSFReceiver(s) {
			continue
		}
		name, err := SSFTransmitterOf(specs, s)
		if err != nil {
			g, _ := receiverParams(s)
			// An unknown component name is placed by the with: block's own check.
			if g.Transmitter == "" || slices.ContainsFunc(specs, func(o Spec) bool { return o.Name == g.Transmitter }) {
				out = append(out, FieldError{Component: i, Field: "with.transmitter", Msg: err.Error()})
			}
			bad = true
		}
		used[name] = true
	}
	for i, s := range specs {
		if bad {
			break // which transmitter a gateway meant is not known
		}
		if s.Use == UseSSF && !used[s.Name] {
			out = append(out, FieldError{Component: i, Field: "use", Msg: "no reference gateway or service of strategy ssf receives from " + s.Name + ": add one with {strategy: ssf}"})
		}
	}
	return out
}

// CheckSSFLink checks a declared link from a reference/ssf component: it must go to a receiver
// (a gateway or service of strategy ssf), delivery push, that receives from that transmitter.
// The link carries the transmitter's pushes (RFC 8935) to the receiver's /ssf/events, so that
// a fault can cut or slow one receiver's deliveries; a poll receiver reaches the transmitter
// itself, and its link would go the other way.
func CheckSSFLink(specs []Spec, l Link) error {
	var to *Spec
	for i := range specs {
		if specs[i].Name == l.To {
			to = &specs[i]
		}
	}
	if to == nil || !IsSSFReceiver(*to) {
		return fmt.Errorf("link %s: a %s component's only link is to a reference gateway or service of strategy ssf, delivery push, that receives from it", l, UseSSF)
	}
	g, _ := receiverParams(*to)
	if g.Delivery == gateway.SSFPoll {
		return fmt.Errorf("link %s: %s receives by poll: the transmitter pushes nothing to it (a link carries pushes)", l, l.To)
	}
	if tx, err := SSFTransmitterOf(specs, *to); err != nil || tx != l.From {
		return fmt.Errorf("link %s: %s does not receive from %s", l, l.To, l.From)
	}
	return nil
}
