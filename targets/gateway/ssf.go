package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/revocation"
)

// ssfReceiver is strategy SSF: an OpenID Shared Signals Framework 1.0 receiver.
//
//	start: GET /.well-known/ssf-configuration (SSF §7.2) ─► GET jwks_uri ─► POST configuration_endpoint (SSF §8.1.1.1)
//	push:  transmitter POST /ssf/events (RFC 8935) ─► validate ─► Set.Apply ─► truth.RuleApplied ─► 202
//	poll:  every PollInterval POST endpoint_url (RFC 8936) ─► validate ─► Set.Apply ─► ack
//
// Every SET is validated as SSF and RFC 8417 say (signature with the transmitter's key, typ,
// iss, aud, jti replay, iat window, one event, sub_id) by internal/ssf's Validator; an invalid
// one is answered 400 with its RFC 8935 §2.4 error (push) or reported in setErrs (poll, RFC
// 8936 §2.4.4) and never enforced. A valid event is enforced before it is acknowledged, so the
// enforcement instant recorded in the truth log precedes the acknowledgement.
type ssfReceiver struct {
	*setState
	cfg    Config
	client *http.Client
	v      *ssf.Validator
	push   string // the secret the transmitter authorises its pushes with
	stream ssf.StreamConfig
	meta   ssf.Metadata

	mu      sync.Mutex
	version uint64
	lastOK  atomic.Int64
	wg      sync.WaitGroup
}

// ssfEnforced maps the event types the reference receiver enforces to how: every one takes back
// what the subject names (CAEP 1.0 §3.1 session-revoked, §3.3 credential-change; RISC 1.0 §2.7
// credential-compromise, §2.3 account-disabled, §2.11 sessions-revoked).
var ssfEnforced = []string{ssf.CAEPSessionRevoked, ssf.CAEPCredentialChange,
	ssf.RISCCredentialCompromise, ssf.RISCAccountDisabled, ssf.RISCSessionsRevoked}

// ssfMaxSET bounds a pushed SET's size.
const ssfMaxSET = 64 << 10

func newSSF(cfg Config, s *setState) *ssfReceiver {
	c := cfg.SSF.Client
	if c == nil {
		c = &http.Client{Timeout: cfg.Timeout, Transport: newTransport()}
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	r := &ssfReceiver{setState: s, cfg: cfg, client: c, push: hex.EncodeToString(b[:])}
	redact.Global.Add(r.push)
	return r
}

func (r *ssfReceiver) held() *setState { return r.setState }

func (r *ssfReceiver) start(ctx, life context.Context) error {
	if err := retryUntil(ctx, r.cfg.PollInterval, func() error { return r.subscribe(ctx) }); err != nil {
		return fmt.Errorf("ssf: %w", err)
	}
	r.lastOK.Store(time.Now().UnixNano())
	r.log.Info("ssf stream created", "stream", r.stream.ID, "delivery", r.stream.Delivery.Method, "aud", []string(r.stream.Aud))
	if r.cfg.SSF.Delivery == SSFPoll {
		r.wg.Add(1)
		go r.pollLoop(life)
	}
	return nil
}

// subscribe reads the transmitter's metadata and keys and creates the stream.
func (r *ssfReceiver) subscribe(ctx context.Context) error {
	u, err := url.Parse(r.cfg.SSF.Transmitter)
	if err != nil {
		return err
	}
	// SSF §7.2.1: the well-known path goes between the host and the issuer's path.
	wk := *u
	wk.Path = "/.well-known/ssf-configuration" + strings.TrimSuffix(u.Path, "/")
	if err := r.getJSON(ctx, wk.String(), &r.meta); err != nil {
		return err
	}
	if r.meta.Issuer != strings.TrimSuffix(r.cfg.SSF.Transmitter, "/") {
		return fmt.Errorf("metadata issuer %q is not the transmitter %q (SSF §7.2.4)", r.meta.Issuer, r.cfg.SSF.Transmitter)
	}
	var keys jose.JSONWebKeySet
	if err := r.getJSON(ctx, r.meta.JWKSURI, &keys); err != nil {
		return err
	}
	req := map[string]any{"events_requested": ssfEnforced, "description": "recall reference gateway " + r.cfg.Name}
	if r.cfg.SSF.Delivery == SSFPush {
		req["delivery"] = ssf.Delivery{Method: ssf.MethodPush, EndpointURL: r.cfg.SSF.PushURL, AuthorizationHeader: "Bearer " + r.push}
	} else {
		req["delivery"] = ssf.Delivery{Method: ssf.MethodPoll}
	}
	var sc ssf.StreamConfig
	if err := r.do(ctx, http.MethodPost, r.meta.ConfigurationEndpoint, req, http.StatusCreated, &sc); err != nil {
		return err
	}
	if len(sc.Aud) == 0 || sc.Delivery == nil {
		return errors.New("stream configuration without aud or delivery")
	}
	r.stream = sc
	r.v = &ssf.Validator{Issuer: r.meta.Issuer, Audience: sc.Aud[0], Keys: &keys, Replay: true, MaxAge: 5 * time.Minute}
	return nil
}

func (r *ssfReceiver) getJSON(ctx context.Context, u string, out any) error {
	return r.do(ctx, http.MethodGet, u, nil, http.StatusOK, out)
}

// do sends a management or poll request with the receiver's bearer token and decodes the answer.
func (r *ssfReceiver) do(ctx context.Context, method, u string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.cfg.SSF.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %s", method, u, resp.StatusCode, redact.Excerpt(b, r.cfg.SSF.Token))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, u, err)
	}
	return nil
}

// SSFPollMaxEvents is how many SETs a poll receiver asks for in one poll (RFC 8936's
// maxEvents): more than that available take further polls.
const SSFPollMaxEvents = 100

// ServeHTTP is the push endpoint (RFC 8935 §2): the SET is enforced before the 202 answers.
func (r *ssfReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	tok, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(tok), []byte(r.push)) != 1 {
		// A general HTTP error takes its own status (RFC 8935 §2.3): a missing or wrong bearer
		// token is 401 (RFC 6750 §3), and the SET is not processed.
		w.Header().Set("WWW-Authenticate", `Bearer realm="ssf"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, ssfMaxSET+1))
	if err != nil || len(b) > ssfMaxSET {
		writeSETError(w, &ssf.Error{Code: ssf.ErrInvalidRequest, Description: "unreadable or too large"})
		return
	}
	if e := r.receive(string(b)); e != nil {
		writeSETError(w, e)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func writeSETError(w http.ResponseWriter, e *ssf.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(e)
}

// receive validates one SET and enforces it; the error is what the transmitter is told.
func (r *ssfReceiver) receive(raw string) *ssf.Error {
	set, err := r.v.Validate(raw)
	if err != nil {
		var e *ssf.Error
		if !errors.As(err, &e) {
			e = &ssf.Error{Code: ssf.ErrInvalidRequest, Description: err.Error()}
		}
		r.log.Warn("ssf: SET rejected", "err", e.Code, "description", redact.String(e.Description, raw))
		return e
	}
	if set.EventType == ssf.SSFVerification {
		return nil
	}
	if slices.Contains(r.cfg.SSF.Ignore, set.EventType) || !slices.Contains(ssfEnforced, set.EventType) {
		r.log.Debug("ssf: event type not enforced", "type", set.EventType, "jti", set.ID)
		return nil
	}
	// An event without the claims its type requires (RISC credential-compromise's
	// credential_type, CAEP credential-change's credential_type and change_type) is invalid:
	// rejected like any invalid SET, never enforced.
	if e := ssf.CheckEventClaims(set.EventType, set.Event); e != nil {
		r.log.Warn("ssf: SET rejected", "err", e.Code, "description", redact.String(e.Description, raw))
		return e
	}
	rules, err := ssfRules(set)
	if err != nil {
		r.log.Warn("ssf: event not enforceable", "type", set.EventType, "jti", set.ID, "err", err)
		return nil // acknowledged: the SET is valid, this receiver does not know the subject
	}
	r.mu.Lock()
	r.version++
	r.apply(r.version, rules)
	r.mu.Unlock()
	return nil
}

// ssfRules is what a valid event takes back: its subject (RFC 9493, SSF §3) named as a rule.
// iss_sub and a complex subject's user recall the user's tokens, a complex subject's session
// that session, jwt_id the token itself (SSF §3.5.1). The rule is bounded by the event's
// event_timestamp (CAEP 1.0 §2), or the SET's iat, so credentials issued later are honoured.
func ssfRules(set *ssf.SET) ([]revocation.Rule, error) {
	before := set.IssuedAt.Unix()
	if ts, ok := set.Event["event_timestamp"].(json.Number); ok {
		if n, err := ts.Int64(); err == nil && n > 0 {
			before = n
		}
	}
	id := "ssf:" + set.ID
	rule := func(t revocation.Type, v string, bounded bool) revocation.Rule {
		r := revocation.Rule{RecallID: id, Type: t, Value: v}
		if bounded {
			r.IssuedBefore = before
		}
		return r
	}
	sub := map[string]any(set.SubID)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	switch set.SubID.Format() {
	case ssf.FormatIssSub:
		return []revocation.Rule{rule(revocation.Subject, str(sub, "sub"), true)}, nil
	case ssf.FormatJWTID:
		return []revocation.Rule{rule(revocation.JTI, str(sub, "jti"), false)}, nil
	case ssf.FormatComplex:
		if s, ok := sub["session"].(map[string]any); ok && str(s, "id") != "" {
			return []revocation.Rule{rule(revocation.Session, str(s, "id"), true)}, nil
		}
		if u, ok := sub["user"].(map[string]any); ok && u["format"] == ssf.FormatIssSub {
			return []revocation.Rule{rule(revocation.Subject, str(u, "sub"), true)}, nil
		}
	}
	return nil, fmt.Errorf("subject format %q names nothing this gateway enforces", set.SubID.Format())
}

// pollLoop is RFC 8936: a poll with returnImmediately every PollInterval, more at once while
// moreAvailable, and the SETs received acknowledged right after they are enforced (an
// acknowledgement-only request, §2.4.2), not at the next interval.
func (r *ssfReceiver) pollLoop(life context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		for more := true; more && life.Err() == nil; {
			var err error
			if more, err = r.pollOnce(life); err != nil {
				if life.Err() == nil {
					r.log.Warn("ssf poll failed", "err", err)
				}
				break
			}
		}
		select {
		case <-life.Done():
			return
		case <-t.C:
		}
	}
}

type pollAnswer struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable"`
}

func (r *ssfReceiver) pollOnce(ctx context.Context) (more bool, err error) {
	var a pollAnswer
	if err := r.do(ctx, http.MethodPost, r.stream.Delivery.EndpointURL, map[string]any{"returnImmediately": true, "maxEvents": SSFPollMaxEvents}, http.StatusOK, &a); err != nil {
		r.m.syncFailures.Inc()
		return false, err
	}
	r.lastOK.Store(time.Now().UnixNano())
	if len(a.Sets) == 0 {
		return false, nil
	}
	ack := []string{}
	errs := map[string]*ssf.Error{}
	for jti, raw := range a.Sets {
		if e := r.receive(raw); e != nil {
			errs[jti] = e
		} else {
			ack = append(ack, jti)
		}
	}
	body := map[string]any{"returnImmediately": true, "maxEvents": 0, "ack": ack}
	if len(errs) > 0 {
		body["setErrs"] = errs
	}
	if err := r.do(ctx, http.MethodPost, r.stream.Delivery.EndpointURL, body, http.StatusOK, nil); err != nil {
		return false, err
	}
	return a.MoreAvailable, nil
}

func (r *ssfReceiver) check(_ context.Context, _ string, t *Token) error {
	if err := r.revoked(t); err != nil {
		return err
	}
	return r.status()
}

// status: a poll receiver whose polls fail for MaxStaleness counts as unreachable; a push
// receiver cannot tell silence from no news.
func (r *ssfReceiver) status() error {
	if r.cfg.SSF.Delivery != SSFPoll {
		return nil
	}
	if age := time.Since(time.Unix(0, r.lastOK.Load())); age > r.cfg.MaxStaleness {
		return fmt.Errorf("%w: last successful ssf poll %s ago", ErrUnavailable, age.Round(time.Millisecond))
	}
	return nil
}

// close deletes the stream (SSF §8.1.1.5), so that the transmitter does not deliver to a
// receiver that is gone.
func (r *ssfReceiver) close() error {
	r.wg.Wait()
	if r.stream.ID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	u := r.meta.ConfigurationEndpoint + "?stream_id=" + url.QueryEscape(r.stream.ID)
	if err := r.do(ctx, http.MethodDelete, u, nil, http.StatusNoContent, nil); err != nil {
		r.log.Debug("ssf stream not deleted", "err", err)
	}
	return nil
}
