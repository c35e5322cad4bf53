package ssf

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/recall-drills/recall/internal/redact"
)

// Delivery method URIs (SSF §6.1.1, §6.1.2).
const (
	MethodPush = "urn:ietf:rfc:8935"
	MethodPoll = "urn:ietf:rfc:8936"
)

// Stream statuses (SSF §8.1.2.1).
const (
	StatusEnabled  = "enabled"
	StatusPaused   = "paused"
	StatusDisabled = "disabled"
)

// Receiver is one party allowed to use the stream management API: the bearer token it presents
// and the "aud" its streams get. SSF §8 requires that authorization associate a Receiver with
// its streams and aud values; a receiver never sees another's streams (404).
type Receiver struct {
	Token    string
	Audience []string
}

// Config configures a Transmitter.
type Config struct {
	// Issuer is the transmitter's Issuer Identifier (SSF §7.1 "issuer") and the base of every
	// endpoint URL. SSF asks for https; drills run on loopback and containers, so http is allowed.
	Issuer string
	// Key signs SETs: a private JWK with KeyID and Algorithm set. Its public half is served at
	// jwks_uri.
	Key       jose.JSONWebKey
	Receivers []Receiver
	// EventsSupported is each stream's events_supported (SSF §8.1.1); nil means every CAEP and
	// RISC type in EventTypes.
	EventsSupported []string
	// MinVerificationInterval, when positive, answers 429 to a verification request that comes
	// sooner after the previous one (SSF §8.1.1 min_verification_interval, §8.1.4.2).
	MinVerificationInterval time.Duration
	// PushAttempts bounds the tries of one push delivery (default 3); only transport errors and
	// 5xx answers are retried, after PushBackoff (default 200ms) doubled each time. A 400 is the
	// receiver rejecting the SET (RFC 8935 §2.3) and is not retried.
	PushAttempts int
	PushBackoff  time.Duration
	// PollWait bounds how long a poll without returnImmediately waits for a SET (RFC 8936 §2.2);
	// default 5s.
	PollWait time.Duration
	// PollMaxEvents is how many SETs a poll returns when it names no maxEvents (default 100).
	PollMaxEvents int
	Client        *http.Client // for push; default a client with a 10s timeout
	Now           func() time.Time
}

// Record is the life of one SET: when it was sent (push: first POST started; poll: made
// available), delivered (push: the 202; poll: first returned by a poll) and acknowledged (push:
// the 202, RFC 8935 §2.2; poll: named in a poll's "ack", RFC 8936 §2.2), or why it failed.
type Record struct {
	JTI       string
	Stream    string
	EventType string
	Method    string
	Subject   Subject
	Sent      time.Time
	Delivered time.Time
	Acked     time.Time
	Attempts  int
	// Failed is set when delivery failed or the receiver reported an error for the SET; Status
	// is the last HTTP status (push), Err and Description the receiver's RFC 8935 §2.4 error
	// (redacted), Detail a redacted excerpt of what else went wrong.
	Failed      bool
	Status      int
	Err         string
	Description string
	Detail      string
}

// StreamConfig is a stream's configuration as the management API shows it (SSF §8.1.1).
type StreamConfig struct {
	ID                      string    `json:"stream_id"`
	Iss                     string    `json:"iss"`
	Aud                     audience  `json:"aud"`
	EventsSupported         []string  `json:"events_supported,omitempty"`
	EventsRequested         []string  `json:"events_requested,omitempty"`
	EventsDelivered         []string  `json:"events_delivered"`
	Delivery                *Delivery `json:"delivery"`
	MinVerificationInterval int       `json:"min_verification_interval,omitempty"`
	Description             string    `json:"description,omitempty"`
}

// Delivery is a stream's delivery method and its parameters (SSF §6.1). The authorization
// header is kept but never shown back: it is the receiver's secret.
type Delivery struct {
	Method              string `json:"method"`
	EndpointURL         string `json:"endpoint_url,omitempty"`
	AuthorizationHeader string `json:"authorization_header,omitempty"`
}

// audience marshals as one string when it has one value (SSF §8.1.1 "a string or an array").
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New("aud: want a string or an array of strings")
	}
	*a = l
	return nil
}

type stream struct {
	cfg     StreamConfig
	owner   int // index in Config.Receivers
	status  string
	reason  string
	lastVer time.Time
	held    []*queued          // push SETs held while paused (SSF §8.1.2.1)
	pending []*queued          // poll SETs not yet returned
	out     map[string]*queued // poll SETs returned, not yet acknowledged
	notify  chan struct{}      // closed and replaced when pending grows
}

type queued struct {
	jti string
	raw string
	rec *Record
}

// Transmitter is an SSF transmitter: metadata, JWKS, stream management, push and poll.
type Transmitter struct {
	cfg     Config
	base    *url.URL
	client  *http.Client
	mu      sync.Mutex
	streams map[string]*stream
	records []*Record
	wg      sync.WaitGroup
	seq     int
}

// New checks cfg and returns a Transmitter; serve it with Handler.
func New(cfg Config) (*Transmitter, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("ssf: issuer %q: want an http(s) URL with no query or fragment (SSF §7.1)", cfg.Issuer)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if cfg.Key.Key == nil || cfg.Key.KeyID == "" || cfg.Key.Algorithm == "" || cfg.Key.IsPublic() {
		return nil, errors.New("ssf: Key must be a private JWK with kid and alg")
	}
	if len(cfg.Receivers) == 0 {
		return nil, errors.New("ssf: no receivers: the management API needs at least one bearer token (SSF §8)")
	}
	for i, r := range cfg.Receivers {
		if len(r.Token) < 16 || len(r.Audience) == 0 {
			return nil, fmt.Errorf("ssf: receivers[%d]: want a token of at least 16 bytes and an audience", i)
		}
		redact.Global.Add(r.Token)
	}
	if cfg.EventsSupported == nil {
		for _, v := range EventTypes {
			cfg.EventsSupported = append(cfg.EventsSupported, v)
		}
		slices.Sort(cfg.EventsSupported)
	}
	if cfg.PushAttempts <= 0 {
		cfg.PushAttempts = 3
	}
	if cfg.PushBackoff <= 0 {
		cfg.PushBackoff = 200 * time.Millisecond
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 5 * time.Second
	}
	if cfg.PollMaxEvents <= 0 {
		cfg.PollMaxEvents = 100
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := cfg.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	return &Transmitter{cfg: cfg, base: u, client: c, streams: map[string]*stream{}}, nil
}

// Endpoint paths under the issuer's path.
const (
	pathJWKS   = "/jwks"
	pathStream = "/ssf/stream"
	pathStatus = "/ssf/status"
	pathVerify = "/ssf/verify"
	pathPoll   = "/ssf/poll/"
)

func (t *Transmitter) url(p string) string { return t.cfg.Issuer + p }

// WellKnownPath is where the metadata is served: "/.well-known/ssf-configuration" inserted
// between host and the issuer's path (SSF §7.2.1).
func (t *Transmitter) WellKnownPath() string { return "/.well-known/ssf-configuration" + t.base.Path }

// Metadata is the Transmitter Configuration Metadata (SSF §7.1).
type Metadata struct {
	SpecVersion              string              `json:"spec_version"`
	Issuer                   string              `json:"issuer"`
	JWKSURI                  string              `json:"jwks_uri"`
	DeliveryMethodsSupported []string            `json:"delivery_methods_supported"`
	ConfigurationEndpoint    string              `json:"configuration_endpoint"`
	StatusEndpoint           string              `json:"status_endpoint"`
	VerificationEndpoint     string              `json:"verification_endpoint"`
	AuthorizationSchemes     []map[string]string `json:"authorization_schemes"`
	DefaultSubjects          string              `json:"default_subjects"`
}

// Metadata returns the transmitter's configuration metadata. add_subject_endpoint and
// remove_subject_endpoint are absent: subjects are not managed, every subject is in every
// stream, which default_subjects "ALL" says (SSF §7.1).
func (t *Transmitter) Metadata() Metadata {
	return Metadata{
		SpecVersion:              "1_0", // SSF §7.1: the final 1_0 specification
		Issuer:                   t.cfg.Issuer,
		JWKSURI:                  t.url(pathJWKS),
		DeliveryMethodsSupported: []string{MethodPush, MethodPoll},
		ConfigurationEndpoint:    t.url(pathStream),
		StatusEndpoint:           t.url(pathStatus),
		VerificationEndpoint:     t.url(pathVerify),
		// SSF §7.1.1: the management API and the poll endpoint take a bearer token (RFC 6750).
		AuthorizationSchemes: []map[string]string{{"spec_urn": "urn:ietf:rfc:6750"}},
		DefaultSubjects:      "ALL",
	}
}

// Handler serves the metadata, the JWKS, the stream management API and the poll endpoints.
func (t *Transmitter) Handler() http.Handler {
	mux := http.NewServeMux()
	p := t.base.Path
	mux.HandleFunc("GET "+t.WellKnownPath(), func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, t.Metadata())
	})
	mux.HandleFunc("GET "+p+pathJWKS, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{t.cfg.Key.Public()}})
	})
	mux.HandleFunc(p+pathStream, t.auth(t.serveStream))
	mux.HandleFunc(p+pathStatus, t.auth(t.serveStatus))
	mux.HandleFunc("POST "+p+pathVerify, t.auth(t.serveVerify))
	mux.HandleFunc("POST "+p+pathPoll+"{stream_id}", t.auth(t.servePoll))
	return mux
}

// Close waits for verification events still being delivered.
func (t *Transmitter) Close() { t.wg.Wait() }

type authedFunc func(w http.ResponseWriter, r *http.Request, receiver int)

// auth requires a receiver's bearer token (SSF §8: "MUST use standard HTTP authentication";
// 401 when missing or wrong, as each endpoint's error table says).
func (t *Transmitter) auth(next authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok {
			for i, rc := range t.cfg.Receivers {
				if subtle.ConstantTimeCompare([]byte(tok), []byte(rc.Token)) == 1 {
					w.Header().Set("Cache-Control", "no-store")
					next(w, r, i)
					return
				}
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="ssf"`)
		httpError(w, http.StatusUnauthorized, "missing or unknown bearer token")
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": http.StatusText(code), "description": msg})
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %v", err)
	}
	return nil
}

// lookup returns the caller's stream id, or writes 404 (SSF §8.1.1.2 and friends: "no Event
// Stream with the given stream_id for this Event Receiver"). t.mu must be held.
func (t *Transmitter) lookup(w http.ResponseWriter, id string, receiver int) *stream {
	if id == "" {
		httpError(w, http.StatusBadRequest, "stream_id is required")
		return nil
	}
	s := t.streams[id]
	if s == nil || s.owner != receiver {
		httpError(w, http.StatusNotFound, "no stream "+strconv.Quote(id))
		return nil
	}
	return s
}

func (t *Transmitter) show(s *stream) StreamConfig {
	c := s.cfg
	if c.Delivery != nil {
		d := *c.Delivery
		d.AuthorizationHeader = ""
		c.Delivery = &d
	}
	return c
}

// receiverSupplied is what a receiver may send when it creates, updates or replaces a stream
// (SSF §8.1.1.1), plus the transmitter-supplied fields, which must match when present
// (SSF §8.1.1.3).
type receiverSupplied struct {
	ID              string    `json:"stream_id"`
	Iss             *string   `json:"iss"`
	Aud             *audience `json:"aud"`
	EventsRequested *[]string `json:"events_requested"`
	EventsDelivered *[]string `json:"events_delivered"`
	Delivery        *Delivery `json:"delivery"`
	Description     *string   `json:"description"`
}

func (t *Transmitter) delivery(d *Delivery, id string) (*Delivery, error) {
	// SSF §8.1.1.1: no delivery means poll, with a transmitter-supplied endpoint_url.
	if d == nil || d.Method == MethodPoll {
		return &Delivery{Method: MethodPoll, EndpointURL: t.url(pathPoll + id)}, nil
	}
	if d.Method != MethodPush {
		return nil, fmt.Errorf("delivery.method %q not supported (have: %s, %s)", d.Method, MethodPush, MethodPoll)
	}
	u, err := url.Parse(d.EndpointURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("delivery.endpoint_url %q: want an http(s) URL", d.EndpointURL)
	}
	if d.AuthorizationHeader != "" {
		redact.Global.Add(d.AuthorizationHeader, strings.TrimPrefix(d.AuthorizationHeader, "Bearer "))
	}
	return &Delivery{Method: MethodPush, EndpointURL: d.EndpointURL, AuthorizationHeader: d.AuthorizationHeader}, nil
}

func (t *Transmitter) eventsDelivered(requested []string) []string {
	var out []string
	for _, e := range t.cfg.EventsSupported {
		if requested == nil || slices.Contains(requested, e) {
			out = append(out, e)
		}
	}
	return out
}

func (t *Transmitter) serveStream(w http.ResponseWriter, r *http.Request, receiver int) {
	switch r.Method {
	case http.MethodPost:
		t.createStream(w, r, receiver)
	case http.MethodGet:
		t.mu.Lock()
		defer t.mu.Unlock()
		// SSF §8.1.1.2: with stream_id, that stream; without, all the receiver's streams.
		if id := r.URL.Query().Get("stream_id"); id != "" {
			if s := t.lookup(w, id, receiver); s != nil {
				writeJSON(w, http.StatusOK, t.show(s))
			}
			return
		}
		list := []StreamConfig{}
		for _, s := range t.sortedStreams() {
			if s.owner == receiver {
				list = append(list, t.show(s))
			}
		}
		writeJSON(w, http.StatusOK, list)
	case http.MethodPatch, http.MethodPut:
		t.updateStream(w, r, receiver, r.Method == http.MethodPut)
	case http.MethodDelete:
		t.mu.Lock()
		defer t.mu.Unlock()
		// SSF §8.1.1.5: stream_id as a query parameter; 204 when removed.
		if s := t.lookup(w, r.URL.Query().Get("stream_id"), receiver); s != nil {
			delete(t.streams, s.cfg.ID)
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		w.Header().Set("Allow", "GET, POST, PATCH, PUT, DELETE")
		httpError(w, http.StatusMethodNotAllowed, r.Method+" not allowed")
	}
}

func (t *Transmitter) sortedStreams() []*stream {
	out := make([]*stream, 0, len(t.streams))
	for _, s := range t.streams {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *stream) int { return strings.Compare(a.cfg.ID, b.cfg.ID) })
	return out
}

// createStream is SSF §8.1.1.1: 201 with the configuration; several streams per receiver are
// allowed, each with a new stream_id.
func (t *Transmitter) createStream(w http.ResponseWriter, r *http.Request, receiver int) {
	var req receiverSupplied
	if err := decodeBody(r, &req); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	id := fmt.Sprintf("s%d-%s", t.seq, NewJTI()[:8])
	d, err := t.delivery(req.Delivery, id)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	s := &stream{owner: receiver, status: StatusEnabled, out: map[string]*queued{}, notify: make(chan struct{})}
	s.cfg = StreamConfig{ID: id, Iss: t.cfg.Issuer, Aud: t.cfg.Receivers[receiver].Audience,
		EventsSupported: t.cfg.EventsSupported, Delivery: d,
		MinVerificationInterval: int(t.cfg.MinVerificationInterval / time.Second)}
	if req.EventsRequested != nil {
		s.cfg.EventsRequested = *req.EventsRequested
	}
	s.cfg.EventsDelivered = t.eventsDelivered(s.cfg.EventsRequested)
	if req.Description != nil {
		s.cfg.Description = *req.Description
	}
	t.streams[id] = s
	writeJSON(w, http.StatusCreated, t.show(s))
}

// updateStream is SSF §8.1.1.3 (PATCH: fields present are changed, others kept) and §8.1.1.4
// (PUT: every receiver-supplied field replaced). Transmitter-supplied fields other than
// stream_id may be present but must match; aud cannot be updated.
func (t *Transmitter) updateStream(w http.ResponseWriter, r *http.Request, receiver int, replace bool) {
	var req receiverSupplied
	if err := decodeBody(r, &req); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.lookup(w, req.ID, receiver)
	if s == nil {
		return
	}
	if req.Iss != nil && *req.Iss != s.cfg.Iss {
		httpError(w, http.StatusBadRequest, "iss does not match the stream's")
		return
	}
	if req.Aud != nil && !slices.Equal(*req.Aud, s.cfg.Aud) {
		httpError(w, http.StatusBadRequest, "aud cannot be updated (SSF §8.1.1)")
		return
	}
	if req.EventsDelivered != nil && !slices.Equal(*req.EventsDelivered, s.cfg.EventsDelivered) {
		httpError(w, http.StatusBadRequest, "events_delivered does not match the stream's")
		return
	}
	next := s.cfg
	if req.Delivery != nil || replace {
		d, err := t.delivery(req.Delivery, s.cfg.ID)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		next.Delivery = d
	}
	if req.EventsRequested != nil || replace {
		next.EventsRequested = nil
		if req.EventsRequested != nil {
			next.EventsRequested = *req.EventsRequested
		}
		next.EventsDelivered = t.eventsDelivered(next.EventsRequested)
	}
	if req.Description != nil || replace {
		next.Description = ""
		if req.Description != nil {
			next.Description = *req.Description
		}
	}
	s.cfg = next
	writeJSON(w, http.StatusOK, t.show(s))
}

type statusBody struct {
	ID     string `json:"stream_id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// serveStatus is SSF §8.1.2.1 (GET ?stream_id=) and §8.1.2.2 (POST {stream_id, status,
// reason}). Enabling a paused push stream sends the SETs held meanwhile, in order.
func (t *Transmitter) serveStatus(w http.ResponseWriter, r *http.Request, receiver int) {
	switch r.Method {
	case http.MethodGet:
		t.mu.Lock()
		defer t.mu.Unlock()
		if s := t.lookup(w, r.URL.Query().Get("stream_id"), receiver); s != nil {
			writeJSON(w, http.StatusOK, statusBody{ID: s.cfg.ID, Status: s.status, Reason: s.reason})
		}
	case http.MethodPost:
		var req statusBody
		if err := decodeBody(r, &req); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		if req.Status != StatusEnabled && req.Status != StatusPaused && req.Status != StatusDisabled {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("status %q (have: enabled, paused, disabled)", req.Status))
			return
		}
		t.mu.Lock()
		s := t.lookup(w, req.ID, receiver)
		if s == nil {
			t.mu.Unlock()
			return
		}
		s.status, s.reason = req.Status, req.Reason
		var flush []*queued
		switch req.Status {
		case StatusEnabled:
			flush, s.held = s.held, nil
		case StatusDisabled: // SSF §8.1.2.1: not held for later transmission
			for _, q := range s.held {
				q.rec.Failed, q.rec.Detail = true, "stream disabled while the SET was held"
			}
			s.held = nil
		}
		d := s.cfg.Delivery
		t.mu.Unlock()
		writeJSON(w, http.StatusOK, req)
		for _, q := range flush {
			t.wg.Add(1)
			go func() {
				defer t.wg.Done()
				t.push(context.Background(), d, q)
			}()
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		httpError(w, http.StatusMethodNotAllowed, r.Method+" not allowed")
	}
}

// serveVerify is SSF §8.1.4.2: 204 at once, then a verification event (SSF §8.1.4.1) whose
// sub_id is the opaque stream_id and which echoes state.
func (t *Transmitter) serveVerify(w http.ResponseWriter, r *http.Request, receiver int) {
	var req struct {
		ID    string `json:"stream_id"`
		State string `json:"state"`
	}
	if err := decodeBody(r, &req); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	t.mu.Lock()
	s := t.lookup(w, req.ID, receiver)
	if s == nil {
		t.mu.Unlock()
		return
	}
	now := t.cfg.Now()
	if iv := t.cfg.MinVerificationInterval; iv > 0 && !s.lastVer.IsZero() && now.Sub(s.lastVer) < iv {
		t.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int((iv-now.Sub(s.lastVer)).Seconds())+1))
		httpError(w, http.StatusTooManyRequests, "verification requested sooner than min_verification_interval")
		return
	}
	s.lastVer = now
	t.mu.Unlock()
	ev := map[string]any{}
	if req.State != "" {
		ev["state"] = req.State
	}
	w.WriteHeader(http.StatusNoContent)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		_, _ = t.Emit(context.Background(), req.ID, SSFVerification, Opaque(req.ID), ev, "")
	}()
}

// ErrNotDelivered is returned by Emit for an event type the stream does not deliver.
var ErrNotDelivered = errors.New("ssf: event type not in the stream's events_delivered")

// Emit signs one SET of eventType about subject and delivers it on the stream: pushed now (and
// retried as Config says), held if the stream is paused, or queued for the receiver's next poll.
// It returns the record as it stands when Emit returns; Records shows later changes (poll
// delivery and acknowledgement). The verification event is always allowed (SSF §8.1.4).
func (t *Transmitter) Emit(ctx context.Context, streamID, eventType string, subject Subject, event map[string]any, txn string) (Record, error) {
	t.mu.Lock()
	s := t.streams[streamID]
	if s == nil {
		t.mu.Unlock()
		return Record{}, fmt.Errorf("ssf: no stream %q", streamID)
	}
	if eventType != SSFVerification && !slices.Contains(s.cfg.EventsDelivered, eventType) {
		t.mu.Unlock()
		return Record{}, fmt.Errorf("%w: %s on stream %s", ErrNotDelivered, eventType, streamID)
	}
	if s.status == StatusDisabled {
		t.mu.Unlock()
		return Record{}, fmt.Errorf("ssf: stream %s is disabled", streamID)
	}
	now := t.cfg.Now()
	set := SET{Issuer: t.cfg.Issuer, Audience: s.cfg.Aud, IssuedAt: now, ID: NewJTI(), Txn: txn,
		SubID: subject, EventType: eventType, Event: event}
	raw, err := Sign(set, t.cfg.Key)
	if err != nil {
		t.mu.Unlock()
		return Record{}, err
	}
	d := s.cfg.Delivery
	rec := &Record{JTI: set.ID, Stream: streamID, EventType: eventType, Method: d.Method, Subject: subject}
	t.records = append(t.records, rec)
	q := &queued{jti: set.ID, raw: raw, rec: rec}
	switch {
	case d.Method == MethodPoll:
		rec.Sent = now
		s.pending = append(s.pending, q)
		close(s.notify)
		s.notify = make(chan struct{})
		out := *rec
		t.mu.Unlock()
		return out, nil
	case s.status == StatusPaused:
		s.held = append(s.held, q)
		out := *rec
		t.mu.Unlock()
		return out, nil
	}
	t.mu.Unlock()
	t.push(ctx, d, q)
	t.mu.Lock()
	defer t.mu.Unlock()
	return *rec, nil
}

// push is RFC 8935 §2.1: POST the SET as application/secevent+jwt, with the stream's
// authorization header (SSF §6.1.1). 202 is success and acknowledgement (§2.2); 400 carries an
// {"err","description"} body (§2.3, §2.4) and is final; transport errors and 5xx are retried.
func (t *Transmitter) push(ctx context.Context, d *Delivery, q *queued) {
	backoff := t.cfg.PushBackoff
	for attempt := 1; attempt <= t.cfg.PushAttempts; attempt++ {
		now := t.cfg.Now()
		t.mu.Lock()
		if q.rec.Sent.IsZero() {
			q.rec.Sent = now
		}
		q.rec.Attempts = attempt
		t.mu.Unlock()
		status, body, err := t.post(ctx, d, q.raw)
		at := t.cfg.Now()
		t.mu.Lock()
		q.rec.Status = status
		switch {
		case err == nil && status == http.StatusAccepted:
			q.rec.Delivered, q.rec.Acked = at, at
			q.rec.Failed, q.rec.Detail = false, ""
			t.mu.Unlock()
			return
		case err == nil && status == http.StatusBadRequest:
			var e Error
			q.rec.Failed = true
			if json.Unmarshal(body, &e) == nil && e.Code != "" {
				q.rec.Err = redact.String(e.Code, q.raw)
				q.rec.Description = redact.String(e.Description, q.raw)
				q.rec.Detail = ""
			} else {
				q.rec.Detail = "400: " + redact.Excerpt(body, q.raw)
			}
			t.mu.Unlock()
			return
		case err != nil:
			q.rec.Failed, q.rec.Detail = true, redact.String(err.Error(), q.raw)
		default:
			q.rec.Failed, q.rec.Detail = true, fmt.Sprintf("%d: %s", status, redact.Excerpt(body, q.raw))
		}
		t.mu.Unlock()
		if ctx.Err() != nil || (err == nil && status < 500) || attempt == t.cfg.PushAttempts {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

func (t *Transmitter) post(ctx context.Context, d *Delivery, raw string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.EndpointURL, strings.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/secevent+jwt")
	req.Header.Set("Accept", "application/json")
	if d.AuthorizationHeader != "" {
		req.Header.Set("Authorization", d.AuthorizationHeader)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, body, nil
}

// pollRequest is RFC 8936 §2.2.
type pollRequest struct {
	MaxEvents         *int             `json:"maxEvents"`
	ReturnImmediately bool             `json:"returnImmediately"`
	Ack               []string         `json:"ack"`
	SetErrs           map[string]Error `json:"setErrs"`
}

// servePoll is RFC 8936 §2.4: acknowledgements and errors for SETs returned earlier are
// recorded first, then up to maxEvents pending SETs are returned as {"sets": {jti: SET},
// "moreAvailable": bool} (§2.3); maxEvents 0 is an acknowledge-only request (§2.4.2). Without
// returnImmediately the poll waits up to PollWait for a SET.
func (t *Transmitter) servePoll(w http.ResponseWriter, r *http.Request, receiver int) {
	var req pollRequest
	if err := decodeBody(r, &req); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	id := r.PathValue("stream_id")
	t.mu.Lock()
	s := t.lookup(w, id, receiver)
	if s == nil {
		t.mu.Unlock()
		return
	}
	if s.cfg.Delivery.Method != MethodPoll {
		t.mu.Unlock()
		httpError(w, http.StatusBadRequest, "stream "+id+" is not a poll stream")
		return
	}
	now := t.cfg.Now()
	for _, jti := range req.Ack {
		if q := s.out[jti]; q != nil {
			q.rec.Acked = now
			delete(s.out, jti)
		}
	}
	for jti, e := range req.SetErrs {
		if q := s.out[jti]; q != nil {
			q.rec.Failed = true
			q.rec.Err = redact.String(e.Code, q.raw)
			q.rec.Description = redact.String(e.Description, q.raw)
			delete(s.out, jti)
		}
	}
	max := t.cfg.PollMaxEvents
	if req.MaxEvents != nil {
		max = *req.MaxEvents
	}
	if max > 0 && !req.ReturnImmediately && len(s.pending) == 0 && s.status == StatusEnabled {
		ch := s.notify
		t.mu.Unlock()
		timer := time.NewTimer(t.cfg.PollWait)
		select {
		case <-ch:
		case <-timer.C:
		case <-r.Context().Done():
		}
		timer.Stop()
		t.mu.Lock()
		if t.streams[id] != s {
			t.mu.Unlock()
			httpError(w, http.StatusNotFound, "stream "+id+" deleted")
			return
		}
	}
	sets := map[string]string{}
	if s.status == StatusEnabled { // SSF §8.1.2.1: paused and disabled streams transmit nothing
		n := min(max, len(s.pending))
		at := t.cfg.Now()
		for _, q := range s.pending[:n] {
			sets[q.jti] = q.raw
			q.rec.Delivered = at
			q.rec.Attempts++
			s.out[q.jti] = q
		}
		s.pending = s.pending[n:]
	}
	more := s.status == StatusEnabled && len(s.pending) > 0
	t.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"sets": sets, "moreAvailable": more})
}

// Records returns a copy of every SET's record, in the order they were emitted.
func (t *Transmitter) Records() []Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Record, len(t.records))
	for i, r := range t.records {
		out[i] = *r
	}
	return out
}

// Streams returns the configuration of every stream, ordered by id.
func (t *Transmitter) Streams() []StreamConfig {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []StreamConfig
	for _, s := range t.sortedStreams() {
		out = append(out, t.show(s))
	}
	return out
}
