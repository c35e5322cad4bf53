package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// Ack is the outcome of recalling one credential: when the request that recalled it was sent and
// when its acknowledgement arrived, on the harness clock. Acked is R(t), the instant TTC counts
// from. Err is set when the recall of that credential failed (no acknowledgement).
type Ack struct {
	Sent, Acked time.Time
	Err         error
}

// AckFunc receives one Ack per victim, identified by its position in the victims slice. It may be
// called concurrently.
type AckFunc func(victim int, a Ack)

// Action is a recall: what the trigger does to take credentials back. Do must call ack exactly
// once for every victim (with Err set for those it could not recall) and return when all are
// acknowledged, or ctx ends. Do is called once per drill, once the system runs.
type Action interface {
	Do(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error
}

// ActionFunc adapts a function to Action.
type ActionFunc func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error

// Do implements Action.
func (f ActionFunc) Do(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
	return f(ctx, iss, victims, ack)
}

// AdminRecallResult is the reference issuer's answer to POST /admin/recalls.
type AdminRecallResult struct {
	RecallID  string `json:"recall_id"`
	Type      string `json:"type"`
	Count     int    `json:"count"`
	Version   uint64 `json:"version"`
	AppliedAt string `json:"applied_at"`
}

// AdminRecall posts one recall to the reference issuer's admin API.
func AdminRecall(ctx context.Context, iss Issuer, typ string, values []string) (AdminRecallResult, error) {
	var res AdminRecallResult
	if iss.URL == nil {
		return res, errors.New("admin recall: no issuer endpoint")
	}
	body, _ := json.Marshal(map[string]any{"type": typ, "values": values})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, iss.URL.JoinPath("/admin/recalls").String(), bytes.NewReader(body))
	if err != nil {
		return res, fmt.Errorf("admin recall: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+iss.AdminSecret.Reveal())
	resp, err := iss.client().Do(req)
	if err != nil {
		return res, fmt.Errorf("admin recall: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("admin recall: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("admin recall: decode answer: %w", err)
	}
	return res, nil
}

// adminRecall builds an action that recalls, in one admin call, every distinct value key gives
// for the victims (their users, clients, sessions, keys).
func adminRecall(typ string, key func(*Token) string) ActionConstructor {
	return func(p ActionParams) (Action, error) {
		return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
			seen := map[string]bool{}
			var values []string
			for _, v := range victims {
				k := key(v)
				if k == "" {
					err := fmt.Errorf("recall %s: credential %s has no %s", typ, v.Access.Fingerprint(), typ)
					for i := range victims {
						ack(i, Ack{Sent: time.Now(), Acked: time.Now(), Err: err})
					}
					return err
				}
				if !seen[k] {
					seen[k] = true
					values = append(values, k)
				}
			}
			return ackAll(ctx, victims, ack, func(ctx context.Context) error {
				res, err := AdminRecall(ctx, iss, typ, values)
				if err == nil {
					p.Logger.Info("recall applied", "recall_id", res.RecallID, "type", typ, "values", len(values), "count", res.Count)
				}
				return err
			})
		}), nil
	}
}

// ackAll runs one request that recalls every victim and acknowledges them all with its instants.
func ackAll(ctx context.Context, victims []*Token, ack AckFunc, do func(context.Context) error) error {
	sent := time.Now()
	err := do(ctx)
	acked := time.Now()
	for i := range victims {
		ack(i, Ack{Sent: sent, Acked: acked, Err: err})
	}
	return err
}

func newRevokeTokens(p ActionParams) (Action, error) {
	switch p.Mode {
	case "", ModeBatch:
		return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
			jtis := make([]string, len(victims))
			for i, v := range victims {
				jtis[i] = v.Claims.JTI
			}
			return ackAll(ctx, victims, ack, func(ctx context.Context) error {
				res, err := AdminRecall(ctx, iss, "jti", jtis)
				if err == nil {
					p.Logger.Info("recall applied", "recall_id", res.RecallID, "type", "jti", "count", res.Count)
				}
				return err
			})
		}), nil
	case ModeRFC7009:
		return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
			return forEach(ctx, len(victims), p.Concurrency, func(ctx context.Context, i int) error {
				sent := time.Now()
				err := RevokeRFC7009(ctx, iss.client(), iss.URL, victims[i])
				ack(i, Ack{Sent: sent, Acked: time.Now(), Err: err})
				return err
			})
		}), nil
	}
	return nil, fmt.Errorf("revoke-tokens: unknown mode %q (have: batch, rfc7009)", p.Mode)
}

// RevokeRFC7009 revokes one access token at the issuer's RFC 7009 endpoint, authenticated as the
// client it was issued to. Note that a 200 proves little: servers answer 200 for unknown tokens.
func RevokeRFC7009(ctx context.Context, c *http.Client, issuer *url.URL, t *Token) error {
	form := url.Values{"token": {t.Access.Reveal()}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, issuer.JoinPath("/revoke").String(), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revoke %s: %w", t.Access.Fingerprint(), err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(t.Client), url.QueryEscape(t.ClientSecret.Reveal()))
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("revoke %s: %w", t.Access.Fingerprint(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke %s: %s", t.Access.Fingerprint(), resp.Status)
	}
	return nil
}

// Introspect asks the issuer's RFC 7662 endpoint whether t is active, authenticated as t's
// client.
func Introspect(ctx context.Context, c *http.Client, issuer *url.URL, t *Token) (bool, error) {
	form := url.Values{"token": {t.Access.Reveal()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, issuer.JoinPath("/introspect").String(), strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(t.Client), url.QueryEscape(t.ClientSecret.Reveal()))
	resp, err := c.Do(req)
	if err != nil {
		return false, fmt.Errorf("introspect %s: %w", t.Access.Fingerprint(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("introspect %s: %s", t.Access.Fingerprint(), resp.Status)
	}
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return false, fmt.Errorf("introspect %s: %w", t.Access.Fingerprint(), err)
	}
	return out.Active, nil
}

// forEach runs fn for 0..n-1 with at most conc in flight, stopping early when ctx ends; it
// returns the errors joined (at most 5 kept, then a count).
func forEach(ctx context.Context, n, conc int, fn func(context.Context, int) error) error {
	if conc <= 0 {
		conc = 1
	}
	var (
		mu     sync.Mutex
		errs   []error
		failed int
		wg     sync.WaitGroup
		sem    = make(chan struct{}, conc)
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return errors.Join(append(errs, ctx.Err())...)
		}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				mu.Lock()
				failed++
				if len(errs) < 5 {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if failed > len(errs) {
		errs = append(errs, fmt.Errorf("and %d more failures", failed-len(errs)))
	}
	return errors.Join(errs...)
}

// newHTTPAction: with {method, url, headers, body}; the body may contain {{jtis}} (a JSON array
// of the victims' jti) or {{subjects}}.
func newHTTPAction(p ActionParams) (Action, error) {
	k, _ := LookupAction("http")
	with := k.Params.Decode(p.With)
	method, rawURL, headers, body := with.String("method"), with.String("url"), with.Headers("headers"), with.String("body")
	if rawURL == "" {
		return nil, errors.New("http action: with.url is required")
	}
	return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
		b := body
		if strings.Contains(b, "{{") {
			var jtis, subs []string
			for _, v := range victims {
				jtis = append(jtis, v.Claims.JTI)
				if !slices.Contains(subs, v.Claims.Subject) {
					subs = append(subs, v.Claims.Subject)
				}
			}
			jj, _ := json.Marshal(jtis)
			sj, _ := json.Marshal(subs)
			b = strings.NewReplacer("{{jtis}}", string(jj), "{{subjects}}", string(sj)).Replace(b)
		}
		return ackAll(ctx, victims, ack, func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, method, rawURL, strings.NewReader(b))
			if err != nil {
				return fmt.Errorf("http action: %w", err)
			}
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			resp, err := iss.client().Do(req)
			if err != nil {
				return fmt.Errorf("http action: %w", err)
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				return fmt.Errorf("http action: %s %s: %s", method, rawURL, resp.Status)
			}
			return nil
		})
	}), nil
}

// newCommandAction: with {run: [argv...], timeout: "30s"}. The victims' access tokens are written
// one per line to a 0600 temp file named by $RECALL_TOKENS_FILE, their jti to $RECALL_JTIS_FILE;
// both are removed afterwards.
func newCommandAction(p ActionParams) (Action, error) {
	k, _ := LookupAction("command")
	with := k.Params.Decode(p.With)
	argv, timeout := with.Argv("run"), with.Duration("timeout")
	if len(argv) == 0 {
		return nil, errors.New("command action: with.run must be a non-empty list of strings (argv)")
	}
	return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
		tokFile, err := writeLines("recall-tokens-", victims, func(t *Token) string { return t.Access.Reveal() })
		if err != nil {
			return err
		}
		defer os.Remove(tokFile)
		jtiFile, err := writeLines("recall-jtis-", victims, func(t *Token) string { return t.Claims.JTI })
		if err != nil {
			return err
		}
		defer os.Remove(jtiFile)
		return ackAll(ctx, victims, ack, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Env = append(os.Environ(), "RECALL_TOKENS_FILE="+tokFile, "RECALL_JTIS_FILE="+jtiFile)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("command action %q: %w: %s", strings.Join(argv, " "), err, tail(string(out), 400))
			}
			return nil
		})
	}), nil
}

func writeLines(prefix string, victims []*Token, f func(*Token) string) (string, error) {
	file, err := os.CreateTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("command action: %w", err)
	}
	defer file.Close()
	for _, v := range victims {
		if _, err := fmt.Fprintln(file, f(v)); err != nil {
			os.Remove(file.Name())
			return "", fmt.Errorf("command action: %w", err)
		}
	}
	return file.Name(), nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
