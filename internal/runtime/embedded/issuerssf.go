package embedded

// This file makes a reference issuer a Shared Signals transmitter of its own recalls
// (with.ssf_token): the provider under test emits SSF events after a recall, and recall
// subscribes to them as a receiver (recall.ssf_receiver).

import (
	"net/http"
	"net/url"

	"github.com/recall-drills/recall/internal/ssf"
)

// IssuerSSFPath is the transmitter's path under the issuer: its Issuer Identifier is the
// issuer's base URL plus this path, so its metadata is at
// /.well-known/ssf-configuration/ssf (SSF 1.0 §7.2.1).
const IssuerSSFPath = "/ssf"

// IssuerSSFAudience is the aud of the streams of the issuer's transmitter.
const IssuerSSFAudience = "recall"

// newIssuerSSF is the transmitter of the issuer at base, for one receiver holding token.
func newIssuerSSF(name string, base *url.URL, token string) (*ssf.Transmitter, error) {
	key, err := ssf.NewKey(name + "-ssf-1")
	if err != nil {
		return nil, err
	}
	return ssf.New(ssf.Config{Issuer: base.String() + IssuerSSFPath, Key: key,
		Receivers: []ssf.Receiver{{Token: token, Audience: []string{IssuerSSFAudience}}}})
}

// withIssuerSSF serves the transmitter's metadata and endpoints beside the issuer's.
func withIssuerSSF(issuer http.Handler, tx *ssf.Transmitter) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(IssuerSSFPath+"/", tx.Handler())
	mux.Handle("/.well-known/ssf-configuration"+IssuerSSFPath, tx.Handler())
	mux.Handle("/", issuer)
	return mux
}

// IssuerSSF returns the transmitter of the reference issuer component name, when it runs one
// (with.ssf_token): tests compare the instants it recorded with the drill's report.
func (e *Env) IssuerSSF(name string) (*ssf.Transmitter, bool) {
	r, ok := e.get(name)
	if !ok || r.issuerSSF == nil {
		return nil, false
	}
	return r.issuerSSF, true
}
