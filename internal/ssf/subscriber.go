package ssf

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/recall-drills/recall/internal/redact"
)

// WellKnownURL is where a transmitter whose Issuer Identifier is issuer serves its
// configuration metadata: "/.well-known/ssf-configuration" inserted between the host and the
// issuer's path (SSF §7.2.1).
func WellKnownURL(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("ssf: issuer %q: want an http(s) URL (SSF §7.1)", issuer)
	}
	u.Path = "/.well-known/ssf-configuration" + strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// SubscriberConfig configures a Subscriber: recall as the Event Receiver of a transmitter it
// did not write.
type SubscriberConfig struct {
	// ConfigURL is the transmitter's configuration metadata document (SSF §7.2), e.g.
	// WellKnownURL(issuer).
	ConfigURL string
	// Token is the bearer token (RFC 6750) of the stream management API and of the poll
	// endpoint (SSF §7.1.1 authorization_schemes); it is added to the redaction set.
	Token string
	// Delivery is MethodPush (recall serves an RFC 8935 endpoint on PushListen) or MethodPoll
	// (recall polls the transmitter's RFC 8936 endpoint every PollInterval).
	Delivery string
	// Events are the event type URIs requested (SSF §8.1.1 events_requested).
	Events []string
	// PushListen is the push endpoint's listen address; default "127.0.0.1:0".
	PushListen string
	// PollInterval is the pause between two polls that returned nothing; default 100ms.
	PollInterval time.Duration
	// Description is the stream's description (SSF §8.1.1).
	Description string
	// MaxAge bounds how old a SET's iat may be (zero: unbounded), as Validator.MaxAge.
	MaxAge time.Duration
	// Verify, when positive, asks the transmitter for a verification event (SSF §8.1.4.2)
	// once the stream exists and waits this long for it: a stream whose events cannot reach
	// recall (a push endpoint the transmitter cannot reach) fails Subscribe instead of the
	// drill's measurement. A transmitter without verification_endpoint is not asked.
	Verify time.Duration
	Client *http.Client // default a client with a 10 s timeout
	Now    func() time.Time
}

// Delivered is one SET the subscriber received and validated, and when (push: the POST
// arrived; poll: the poll that returned it answered).
type Delivered struct {
	SET SET
	At  time.Time
}

// Rejection is one SET that failed validation, with the RFC 8935 §2.4 code and a redacted
// description.
type Rejection struct {
	At          time.Time
	Code        string
	Description string
}

// Subscriber is recall subscribed to a transmitter: a stream it created (SSF §8.1.1.1) and
// receives on, every SET validated against the transmitter's JWKS, iss and the stream's aud.
// Close deletes the stream (SSF §8.1.1.5).
type Subscriber struct {
	cfg    SubscriberConfig
	client *http.Client
	meta   Metadata
	stream StreamConfig
	val    *Validator
	now    func() time.Time

	srv      *http.Server
	ln       net.Listener
	pushAuth string

	mu       sync.Mutex
	got      []Delivered
	rejected []Rejection
	pollErr  string
	acks     []string
	errs     map[string]Error

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	state      string        // the verification request's state
	verified   chan struct{} // closed when its verification event arrived
	verifyOnce sync.Once
	verifyTook time.Duration
}

// Subscribe reads the transmitter's metadata and JWKS, creates a stream and starts receiving:
// for push, it serves the endpoint before the stream exists, so that the first SET finds it.
func Subscribe(ctx context.Context, cfg SubscriberConfig) (*Subscriber, error) {
	if cfg.Token == "" {
		return nil, errors.New("ssf receiver: no bearer token for the stream management API (SSF §8)")
	}
	redact.Global.Add(cfg.Token)
	if cfg.Delivery == "" {
		cfg.Delivery = MethodPush
	}
	if cfg.Delivery != MethodPush && cfg.Delivery != MethodPoll {
		return nil, fmt.Errorf("ssf receiver: delivery %q (have: %s, %s)", cfg.Delivery, MethodPush, MethodPoll)
	}
	if cfg.PushListen == "" {
		cfg.PushListen = "127.0.0.1:0"
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	s := &Subscriber{cfg: cfg, client: cfg.Client, now: cfg.Now, errs: map[string]Error{}, done: make(chan struct{}),
		state: NewJTI(), verified: make(chan struct{})}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.getJSON(ctx, cfg.ConfigURL, false, &s.meta); err != nil {
		return nil, fmt.Errorf("ssf receiver: configuration metadata: %w", err)
	}
	if s.meta.Issuer == "" || s.meta.JWKSURI == "" || s.meta.ConfigurationEndpoint == "" {
		return nil, fmt.Errorf("ssf receiver: metadata at %s lacks issuer, jwks_uri or configuration_endpoint (SSF §7.1)", cfg.ConfigURL)
	}
	if !containsStr(s.meta.DeliveryMethodsSupported, cfg.Delivery) && len(s.meta.DeliveryMethodsSupported) > 0 {
		return nil, fmt.Errorf("ssf receiver: transmitter %s supports delivery %v, not %s (SSF §7.1)", s.meta.Issuer, s.meta.DeliveryMethodsSupported, cfg.Delivery)
	}
	var keys jose.JSONWebKeySet
	if err := s.getJSON(ctx, s.meta.JWKSURI, false, &keys); err != nil {
		return nil, fmt.Errorf("ssf receiver: jwks_uri: %w", err)
	}
	if len(keys.Keys) == 0 {
		return nil, fmt.Errorf("ssf receiver: the JWKS at %s has no key", s.meta.JWKSURI)
	}

	req := map[string]any{"description": cfg.Description}
	if len(cfg.Events) > 0 {
		req["events_requested"] = cfg.Events
	}
	if cfg.Delivery == MethodPush {
		ln, err := net.Listen("tcp", cfg.PushListen)
		if err != nil {
			return nil, fmt.Errorf("ssf receiver: push endpoint: %w", err)
		}
		s.ln = ln
		s.pushAuth = "Bearer " + NewJTI() + NewJTI()
		redact.Global.Add(s.pushAuth, strings.TrimPrefix(s.pushAuth, "Bearer "))
		mux := http.NewServeMux()
		mux.HandleFunc("POST /ssf/push", s.servePush)
		s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = s.srv.Serve(ln) }()
		req["delivery"] = Delivery{Method: MethodPush, EndpointURL: "http://" + ln.Addr().String() + "/ssf/push", AuthorizationHeader: s.pushAuth}
	} else {
		req["delivery"] = Delivery{Method: MethodPoll}
	}
	// SSF §8.1.1.1: 201 Created (200 is accepted too: some transmitters answer it) with the
	// stream's configuration.
	status, body, err := s.do(ctx, http.MethodPost, s.meta.ConfigurationEndpoint, req)
	if err != nil {
		s.stopPush()
		return nil, fmt.Errorf("ssf receiver: create stream: %w", err)
	}
	if status != http.StatusCreated && status != http.StatusOK {
		s.stopPush()
		return nil, fmt.Errorf("ssf receiver: create stream at %s: %d: %s", s.meta.ConfigurationEndpoint, status, s.excerpt(body))
	}
	if err := json.Unmarshal(body, &s.stream); err != nil || s.stream.ID == "" {
		s.stopPush()
		return nil, fmt.Errorf("ssf receiver: create stream: the answer is not a stream configuration with a stream_id: %s", s.excerpt(body))
	}
	if len(s.stream.Aud) == 0 {
		_ = s.deleteStream(ctx)
		s.stopPush()
		return nil, fmt.Errorf("ssf receiver: stream %s has no aud (SSF §8.1.1)", s.stream.ID)
	}
	// SSF §8.1.1: the stream's iss MUST be the iss of its SETs, which must be the metadata's
	// issuer: a stream of another issuer would have every SET refused. Some transmitters leave
	// it out, which the SETs' own iss check covers.
	if s.stream.Iss != "" && s.stream.Iss != s.meta.Issuer {
		_ = s.deleteStream(ctx)
		s.stopPush()
		return nil, fmt.Errorf("ssf receiver: stream %s has iss %q, not the transmitter's issuer %q (SSF §8.1.1): its SETs would all be refused", s.stream.ID, s.stream.Iss, s.meta.Issuer)
	}
	s.val = &Validator{Issuer: s.meta.Issuer, Audience: s.stream.Aud[0], Keys: &keys, Replay: true, MaxAge: cfg.MaxAge, Now: s.now}
	rctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if cfg.Delivery == MethodPoll {
		if s.stream.Delivery == nil || s.stream.Delivery.EndpointURL == "" {
			cancel()
			_ = s.deleteStream(ctx)
			return nil, fmt.Errorf("ssf receiver: poll stream %s has no delivery.endpoint_url (SSF §6.1.2)", s.stream.ID)
		}
		go s.pollLoop(rctx)
	} else {
		close(s.done)
	}
	if cfg.Verify > 0 && s.meta.VerificationEndpoint != "" {
		if err := s.verify(ctx, cfg.Verify); err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Close(cctx)
			return nil, err
		}
	}
	return s, nil
}

// verify is SSF §8.1.4.2: POST {stream_id, state} to the verification endpoint (204, or 200),
// then wait for the verification event that echoes state (§8.1.4.1).
func (s *Subscriber) verify(ctx context.Context, wait time.Duration) error {
	began := time.Now()
	status, body, err := s.do(ctx, http.MethodPost, s.meta.VerificationEndpoint, map[string]string{"stream_id": s.stream.ID, "state": s.state})
	if err != nil {
		return fmt.Errorf("ssf receiver: verification request: %w", err)
	}
	if status != http.StatusNoContent && status != http.StatusOK && status != http.StatusAccepted {
		return fmt.Errorf("ssf receiver: verification request at %s: %d: %s", s.meta.VerificationEndpoint, status, s.excerpt(body))
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-s.verified:
		s.verifyTook = time.Since(began)
		return nil
	case <-timer.C:
		how := "polling " + s.stream.Delivery.EndpointURL
		if s.cfg.Delivery == MethodPush {
			how = "on the push endpoint " + s.stream.Delivery.EndpointURL + " (can the transmitter reach the harness's loopback? else use poll)"
		}
		if r := s.Rejected(); len(r) > 0 {
			how += "; rejected: " + r[len(r)-1].Code + ": " + r[len(r)-1].Description
		}
		if e := s.PollError(); e != "" {
			how += "; poll: " + e
		}
		return fmt.Errorf("ssf receiver: no verification event within %s %s (SSF §8.1.4)", wait, how)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Verified returns how long the verification event took to arrive after its request, and
// false when none was asked for or it never came.
func (s *Subscriber) Verified() (time.Duration, bool) {
	select {
	case <-s.verified:
		return s.verifyTook, s.verifyTook > 0
	default:
		return 0, false
	}
}

// Metadata is the transmitter's configuration metadata as read.
func (s *Subscriber) Metadata() Metadata { return s.meta }

// Stream is the stream's configuration as the transmitter answered its creation.
func (s *Subscriber) Stream() StreamConfig { return s.stream }

// Received returns a copy of every SET validated so far, in the order received.
func (s *Subscriber) Received() []Delivered {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivered(nil), s.got...)
}

// Rejected returns a copy of every rejection so far.
func (s *Subscriber) Rejected() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejection(nil), s.rejected...)
}

// PollError is the last poll failure, redacted ("" when none).
func (s *Subscriber) PollError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pollErr
}

// Close stops receiving (a poll stream is polled once more to acknowledge what was received)
// and deletes the stream (SSF §8.1.1.5). It is safe to call twice.
func (s *Subscriber) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.cancel()
		<-s.done
		if s.cfg.Delivery == MethodPoll {
			s.poll(ctx, 0) // acknowledge only (RFC 8936 §2.4.2: maxEvents 0)
		}
		err = s.deleteStream(ctx)
		s.stopPush()
	})
	return err
}

func (s *Subscriber) stopPush() {
	if s.srv != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(cctx)
	} else if s.ln != nil {
		_ = s.ln.Close()
	}
}

func (s *Subscriber) deleteStream(ctx context.Context) error {
	u, err := url.Parse(s.meta.ConfigurationEndpoint)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("stream_id", s.stream.ID)
	u.RawQuery = q.Encode()
	status, body, err := s.do(ctx, http.MethodDelete, u.String(), nil)
	if err != nil {
		return fmt.Errorf("ssf receiver: delete stream %s: %w", s.stream.ID, err)
	}
	if status != http.StatusNoContent && status != http.StatusOK {
		return fmt.Errorf("ssf receiver: delete stream %s: %d: %s", s.stream.ID, status, s.excerpt(body))
	}
	return nil
}

// servePush is the RFC 8935 receiver: the stream's authorization header is required (SSF
// §6.1.1), a valid SET is answered 202 (§2.2), an invalid one 400 with {"err","description"}
// (§2.3, §2.4).
func (s *Subscriber) servePush(w http.ResponseWriter, r *http.Request) {
	at := s.now()
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(s.pushAuth)) != 1 {
		writeJSON(w, http.StatusUnauthorized, Error{Code: ErrAuthFailed, Description: "missing or wrong authorization header"})
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, Error{Code: ErrInvalidRequest, Description: "reading the body failed"})
		return
	}
	if e := s.accept(string(raw), at); e != nil {
		writeJSON(w, http.StatusBadRequest, e)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// accept validates raw and records it; a rejection is recorded and returned.
func (s *Subscriber) accept(raw string, at time.Time) *Error {
	set, err := s.val.Validate(raw)
	if err != nil {
		e, ok := err.(*Error)
		if !ok {
			e = &Error{Code: ErrInvalidRequest, Description: err.Error()}
		}
		e = &Error{Code: e.Code, Description: redact.String(e.Description, raw)}
		s.mu.Lock()
		s.rejected = append(s.rejected, Rejection{At: at, Code: e.Code, Description: e.Description})
		s.mu.Unlock()
		return e
	}
	if set.Redelivered {
		return nil // acknowledged again; it arrived, and was counted, the first time
	}
	if set.EventType == SSFVerification {
		// SSF §8.1.4.1: not about any subject of the drill; the one that echoes our state
		// answers the verification request.
		if st, _ := set.Event["state"].(string); st == s.state {
			s.verifyOnce.Do(func() { close(s.verified) })
		}
		return nil
	}
	s.mu.Lock()
	s.got = append(s.got, Delivered{SET: *set, At: at})
	s.mu.Unlock()
	return nil
}

func (s *Subscriber) pollLoop(ctx context.Context) {
	defer close(s.done)
	for ctx.Err() == nil {
		more := s.poll(ctx, 100)
		if more {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(s.cfg.PollInterval):
		}
	}
}

// poll is one RFC 8936 §2.2 request: the acknowledgements and errors of the SETs received
// before, and up to max SETs, returned at once (returnImmediately, so that Close is never held
// by a long poll). It reports whether the transmitter has more (moreAvailable, §2.3).
func (s *Subscriber) poll(ctx context.Context, max int) bool {
	s.mu.Lock()
	acks, errs := s.acks, s.errs
	s.acks, s.errs = nil, map[string]Error{}
	s.mu.Unlock()
	req := map[string]any{"maxEvents": max, "returnImmediately": true}
	if len(acks) > 0 {
		req["ack"] = acks
	}
	if len(errs) > 0 {
		req["setErrs"] = errs
	}
	status, body, err := s.do(ctx, http.MethodPost, s.stream.Delivery.EndpointURL, req)
	at := s.now()
	if err != nil || status != http.StatusOK {
		s.mu.Lock()
		// Not acknowledged: the transmitter will return these SETs again; remember the acks.
		s.acks = append(acks, s.acks...)
		for k, v := range errs {
			s.errs[k] = v
		}
		if err != nil {
			s.pollErr = redact.String(err.Error())
		} else {
			s.pollErr = fmt.Sprintf("%d: %s", status, s.excerpt(body))
		}
		s.mu.Unlock()
		return false
	}
	var resp struct {
		Sets          map[string]string `json:"sets"`
		MoreAvailable bool              `json:"moreAvailable"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		s.mu.Lock()
		s.pollErr = "poll answer is not {sets, moreAvailable}: " + s.excerpt(body)
		s.mu.Unlock()
		return false
	}
	for jti, raw := range resp.Sets {
		e := s.accept(raw, at)
		s.mu.Lock()
		if e != nil {
			s.errs[jti] = *e // RFC 8936 §2.4.4: setErrs
		} else {
			s.acks = append(s.acks, jti)
		}
		s.mu.Unlock()
	}
	return resp.MoreAvailable
}

func (s *Subscriber) excerpt(b []byte) string { return redact.Excerpt(b, s.cfg.Token) }

func (s *Subscriber) do(ctx context.Context, method, u string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, errors.New(redact.String(err.Error(), s.cfg.Token))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, nil
}

// getJSON reads a public document (metadata, JWKS): no credentials are sent unless auth.
func (s *Subscriber) getJSON(ctx context.Context, u string, auth bool, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if auth {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return errors.New(redact.String(err.Error(), s.cfg.Token))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d: %s", u, resp.StatusCode, s.excerpt(b))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: not JSON: %s", u, s.excerpt(b))
	}
	return nil
}

func containsStr(l []string, s string) bool { return contains(l, s) }
