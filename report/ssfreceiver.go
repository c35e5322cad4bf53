package report

// KindSSFReceiver is the kind of the component recall.ssf_receiver adds to the report: recall
// itself, subscribed as an OpenID Shared Signals Event Receiver to a transmitter of the system
// under test.
const KindSSFReceiver = "ssf-receiver"

// SSFReceiver is what recall, as an SSF Event Receiver of the system under test's
// transmitter, saw: per recalled credential, recall acknowledged → event issued → event
// delivered to recall. Instants are milliseconds from the start of traffic on the drill's
// monotonic timeline. "Issued" is the event's event_timestamp (CAEP 1.0 §2) when the SET has
// one, else its iat; both are the transmitter's wall clock, and iat is whole seconds (RFC 8417
// §2.2), as event_timestamp often is too: figures that involve "issued" then have one second
// of resolution.
type SSFReceiver struct {
	// Transmitter is the component whose transmitter recall subscribed to; Issuer its SSF
	// issuer (SSF 1.0 §7.1), Metadata the document read.
	Transmitter string `json:"transmitter"`
	Issuer      string `json:"issuer,omitempty"`
	Metadata    string `json:"metadata"`
	// Stream is the stream recall created (SSF 1.0 §8.1.1.1), Delivery push or poll, Events
	// the event types the transmitter said it delivers on it (events_delivered).
	Stream   string   `json:"stream_id,omitempty"`
	Delivery string   `json:"delivery"`
	Events   []string `json:"events,omitempty"`
	// StreamDeleted is true when the stream was deleted at the end (SSF 1.0 §8.1.1.5);
	// DeleteError says why not.
	StreamDeleted bool   `json:"stream_deleted"`
	DeleteError   string `json:"delete_error,omitempty"`
	// VerificationMS is how long the verification event recall asked for at the start took to
	// arrive (SSF 1.0 §8.1.4: request → event delivered); absent when none was asked for.
	VerificationMS *float64 `json:"verification_ms,omitempty"`
	// Received counts the SETs that validated (signature with the transmitter's JWKS, iss,
	// aud, jti replay, events shape); Rejected the others, by reason; Unmatched the valid SETs
	// whose subject named no recalled credential.
	Received  int           `json:"received"`
	Rejected  int           `json:"rejected"`
	Reasons   []ReasonCount `json:"reasons,omitempty"`
	Unmatched int           `json:"unmatched"`
	// Recalled counts the credentials whose recall was acknowledged; WithEvent those a valid
	// SET named, WithoutEvent the others (the ssf_event_missing finding).
	Recalled     int `json:"recalled"`
	WithEvent    int `json:"with_event"`
	WithoutEvent int `json:"without_event"`
	// AckToIssuedMS is event issued − recall acknowledged: negative when the transmitter
	// stamped the event before the harness heard the recall's answer, or in whole seconds (the
	// second's start); AckToDeliveredMS
	// is event delivered to recall − recall acknowledged; IssuedToDeliveredMS the transmitter's
	// own part, delivered − issued. Over the credentials with an event.
	AckToIssuedMS       *Latency `json:"ack_to_issued_ms,omitempty"`
	AckToDeliveredMS    *Latency `json:"ack_to_delivered_ms,omitempty"`
	IssuedToDeliveredMS *Latency `json:"issued_to_delivered_ms,omitempty"`
	// Credentials lists, per recalled credential (at most MaxSSFCredentials, the first ones in
	// population order), its instants.
	Credentials []SSFCredential `json:"credentials,omitempty"`
	// Error says what went wrong with the subscription during the drill (a failed poll), "" when
	// nothing did.
	Error string `json:"error,omitempty"`
}

// MaxSSFCredentials bounds SSFReceiver.Credentials.
const MaxSSFCredentials = 1000

// SSFCredential is one recalled credential as the receiver saw it: its first SET.
type SSFCredential struct {
	Token            string  `json:"token"`
	AcknowledgedAtMS float64 `json:"acknowledged_at_ms"`
	// IssuedAtMS is the SET's iat, EventTimestampMS the event's event_timestamp (CAEP 1.0 §2)
	// when present, DeliveredAtMS when recall received the SET; all absent without an event.
	IssuedAtMS       *float64 `json:"issued_at_ms,omitempty"`
	EventTimestampMS *float64 `json:"event_timestamp_ms,omitempty"`
	DeliveredAtMS    *float64 `json:"delivered_at_ms,omitempty"`
	JTI              string   `json:"jti,omitempty"`
	EventType        string   `json:"event_type,omitempty"`
	// Subject is the subject format that named the credential (iss_sub, email, opaque,
	// jwt_id, complex, aliases).
	Subject string `json:"subject,omitempty"`
}

// Latency is a distribution of durations in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}
