package drill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/report"
)

// revoke-mfa: the bulk recall of MFA factors. One admin call recalls the factors of every
// victim's user (and, at the reference issuer, their recovery codes and every session they
// established); the components are then measured as for any recall: the victims are sessions
// established with a recalled factor. When the source can log users in (source.FactorProber),
// the action also shows, per user, that the ways back in are closed: a login with the old
// factor and one with a recovery code, each accepted just before the recall (the baseline) and
// tried again after the acknowledgement until refused, at most loginCheckFor. Recovery (tokens.recovery)
// re-enrols a factor before asking for a fresh credential: re-enrolment works.

// Bounds of the login checks after an MFA recall.
const (
	loginCheckFor   = 5 * time.Second
	loginCheckEvery = 25 * time.Millisecond
	loginCheckConc  = 8
)

// FactorCheck is what revoke-mfa learnt of one user's ways back in after the recall.
type FactorCheck struct {
	User string
	// Factors and RecoveryCodes are the provider's counts for the whole recall (on every
	// check alike; -1: not said).
	Factors, RecoveryCodes int
	// OldFactor and RecoveryCode are the two logins.
	OldFactor, RecoveryCode LoginOutcome
}

// LoginOutcome is one way of logging in, tried before and after the recall.
type LoginOutcome struct {
	// Checked: the source could try it. Baseline: accepted just before the recall.
	Checked, Baseline bool
	// Refused: refused after the recall, After the acknowledgement (an upper bound).
	Refused bool
	After   time.Duration
	// AcceptedAfter counts the logins accepted after the acknowledgement (each used a
	// recovery code up, for that way in).
	AcceptedAfter int
	// Err is why the check could not be made, or ended.
	Err error
}

var revokeMFAKind = ActionKind{Name: "revoke-mfa", Doc: "revoke the victims' users' MFA factors (with their recovery codes) and what they authenticated, in one call",
	NeedsIssuer: true,
	Population:  PopulationNeeds{Grant: "password", Why: "MFA factors belong to users", MFA: true},
	Recovery:    RecoveryNeeds{ReEnrolMFA: true},
	New:         newRevokeMFA}

func newRevokeMFA(p ActionParams) (Action, error) {
	return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
		if iss.Recaller == nil {
			err := errors.New("revoke-mfa needs a provider with a recall API (the reference issuer); for your provider use action http with group_by: sub, or command")
			failAll(victims, ack, err)
			return err
		}
		first := map[string]int{} // user -> its first victim
		var users []string
		for i, v := range victims {
			if v.User == "" {
				err := fmt.Errorf("recall mfa: credential %s has no user", v.ID())
				failAll(victims, ack, err)
				return err
			}
			if _, ok := first[v.User]; !ok {
				first[v.User] = i
				users = append(users, v.User)
			}
		}
		prober, _ := iss.Source.(source.FactorProber)
		checks := make([]*FactorCheck, len(users))
		for n, u := range users {
			checks[n] = &FactorCheck{User: u, Factors: -1, RecoveryCodes: -1}
		}
		if prober != nil {
			// The baseline: each way in works before the recall, so that a refusal after it
			// is the recall's doing. A recovery code used here is one the user no longer has.
			_ = forEach(ctx, len(users), loginCheckConc, func(ctx context.Context, n int) error {
				t := victims[first[users[n]]]
				baseline(ctx, &checks[n].OldFactor, func(ctx context.Context) (bool, error) { return prober.LoginWithFactor(ctx, t) })
				baseline(ctx, &checks[n].RecoveryCode, func(ctx context.Context) (bool, error) { return prober.LoginWithRecoveryCode(ctx, t) })
				return nil
			})
		}
		sent := time.Now()
		res, err := iss.Recaller.RecallBy(ctx, "mfa", users)
		acked := time.Now()
		for _, c := range checks {
			c.Factors, c.RecoveryCodes = res.Count, res.RecoveryCodes
		}
		// Acknowledged at once, so that time to consistency counts from acked; each user's
		// check is filled in below, before Do returns (the report is written after).
		for i := range victims {
			a := Ack{Sent: sent, Acked: acked, Err: err}
			if err == nil {
				for n, u := range users {
					if first[u] == i {
						a.Factor = checks[n]
					}
				}
			}
			ack(i, a)
		}
		if err == nil {
			p.Logger.Info("recall applied", "recall_id", res.ID, "type", "mfa", "users", len(users), "factors", res.Count, "recovery_codes", res.RecoveryCodes)
			if prober != nil {
				var wg sync.WaitGroup
				sem := make(chan struct{}, loginCheckConc)
				for n := range users {
					t := victims[first[users[n]]]
					for _, o := range []struct {
						out   *LoginOutcome
						login func(context.Context) (bool, error)
					}{
						{&checks[n].OldFactor, func(ctx context.Context) (bool, error) { return prober.LoginWithFactor(ctx, t) }},
						{&checks[n].RecoveryCode, func(ctx context.Context) (bool, error) { return prober.LoginWithRecoveryCode(ctx, t) }},
					} {
						wg.Add(1)
						go func() {
							defer wg.Done()
							sem <- struct{}{}
							defer func() { <-sem }()
							untilRefused(ctx, o.out, acked, o.login)
						}()
					}
				}
				wg.Wait()
			}
		}
		return err
	}), nil
}

// baseline tries a login once before the recall.
func baseline(ctx context.Context, o *LoginOutcome, login func(context.Context) (bool, error)) {
	refused, err := login(ctx)
	o.Checked = err == nil
	o.Baseline = err == nil && !refused
	o.Err = err
}

// untilRefused tries a login again and again after the recall's acknowledgement at acked, until
// refused or loginCheckFor has passed; a login whose baseline was not accepted is not tried.
func untilRefused(ctx context.Context, o *LoginOutcome, acked time.Time, login func(context.Context) (bool, error)) {
	if !o.Baseline {
		return
	}
	for {
		refused, err := login(ctx)
		if err != nil {
			o.Err = err
			return
		}
		if refused {
			o.Refused, o.After = true, time.Since(acked)
			return
		}
		o.AcceptedAfter++
		if time.Since(acked) > loginCheckFor {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(loginCheckEvery):
		}
	}
}

// finishMFA writes report.Recall.MFA from revoke-mfa's checks, the components' time to
// consistency and the recovery, and a critical finding for each way back in left open.
func (d *drill) finishMFA() {
	rep := d.rep
	var checks []*FactorCheck
	for _, a := range d.acks {
		if a.Factor != nil {
			checks = append(checks, a.Factor)
		}
	}
	if len(checks) == 0 {
		return
	}
	m := &report.MFARecall{Users: len(checks), Factors: checks[0].Factors, RecoveryCodes: checks[0].RecoveryCodes}
	for _, c := range rep.Components {
		if c.Probed && c.Converged > 0 {
			m.SessionsDeadMS = max(m.SessionsDeadMS, c.TTCMS.Max)
		}
	}
	var open []string
	add := func(lc *report.LoginCheck, o LoginOutcome, what, user string) {
		if o.Checked {
			lc.Checked++
		}
		if !o.Baseline {
			return
		}
		lc.Baseline++
		switch {
		case o.Refused:
			lc.Refused++
			lc.RefusedMS = max(lc.RefusedMS, millis(o.After))
		case o.AcceptedAfter > 0: // never refused, and accepted after the recall at least once
			lc.Accepted++
			if len(open) < maxFindingTokens {
				open = append(open, what+" of "+user)
			}
		}
	}
	for _, c := range checks {
		add(&m.OldFactor, c.OldFactor, "factor", c.User)
		add(&m.RecoveryCode, c.RecoveryCode, "recovery code", c.User)
	}
	if r := rep.Recovery; r != nil {
		m.Reenrolled, m.ReenrolMS = r.Reissued, r.ReissueMS.Max
	}
	rep.Recall.MFA = m
	if n := m.OldFactor.Accepted + m.RecoveryCode.Accepted; n > 0 {
		rep.Findings = append(rep.Findings, report.Finding{Kind: "mfa_login_survived", Severity: report.Critical, Count: n,
			Message: fmt.Sprintf("%d logins with a recalled factor or its recovery codes were still accepted %s after the MFA recall (%s): the recall left a way back in.",
				n, loginCheckFor, strings.Join(open, ", "))})
	}
}
