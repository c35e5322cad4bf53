package drill

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/recall-drills/recall/internal/expect"
	"github.com/recall-drills/recall/internal/load"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TokenPlaceholder is replaced by the access token in clear in a probe's URL, header values and
// body.
const TokenPlaceholder = "{{token}}"

// DefaultProbePath is the request path of the default probe of a reference gateway or service.
const DefaultProbePath = "/api/whoami"

// Match classifies an answer. An empty Match matches nothing.
type Match struct {
	// Status lists the status codes that match; empty means any status (then Body or JSON must
	// decide).
	Status []int
	// Body, when set, must match the response body.
	Body *regexp.Regexp
	// JSON, when set, is a condition on the JSON body, e.g. `active == true` (RFC 7662).
	JSON *expect.JSONCond
}

func (m Match) empty() bool { return len(m.Status) == 0 && m.Body == nil && m.JSON == nil }

func (m Match) matches(code int, body []byte) bool {
	if m.empty() {
		return false
	}
	if len(m.Status) > 0 && !slices.Contains(m.Status, code) {
		return false
	}
	if m.Body != nil && !m.Body.Match(body) {
		return false
	}
	if m.JSON != nil && !m.JSON.Match(body) {
		return false
	}
	return true
}

// Probe asks one component whether a credential is honoured: a request template and the
// classification of its answer. A Probe is immutable and safe for concurrent use.
type Probe struct {
	Component string
	Method    string
	// URL is absolute; it may contain TokenPlaceholder (query-string credentials).
	URL    string
	Header http.Header
	Body   string
	// Accept and Reject classify an answer; anything else is an error (5xx, timeouts, refused).
	Accept, Reject Match

	tokenInURL, tokenInBody bool
	tokenHeaders            []string
}

// DefaultAccept and DefaultReject are the classification of a probe that does not say: 2xx
// accepts, 401 and 403 reject.
var (
	DefaultAccept = Match{Status: []int{200, 201, 202, 203, 204, 205, 206}}
	DefaultReject = Match{Status: []int{401, 403}}
)

// NewProbe prepares a probe: base is the component's endpoint; path (joined to base) or rawURL
// (absolute) names the request. A nil header defaults to Authorization: Bearer {{token}}.
func NewProbe(component string, base *url.URL, method, path, rawURL string, header http.Header, body string, accept, reject Match) (*Probe, error) {
	p := &Probe{Component: component, Method: method, Header: header.Clone(), Body: body, Accept: accept, Reject: reject}
	if p.Method == "" {
		p.Method = http.MethodGet
	}
	switch {
	case rawURL != "":
		u, err := url.Parse(rawURL)
		if err != nil || !u.IsAbs() {
			return nil, fmt.Errorf("probe %s: url %q is not absolute", component, rawURL)
		}
		p.URL = rawURL
	default:
		if base == nil {
			return nil, fmt.Errorf("probe %s: no endpoint and no absolute url", component)
		}
		if path == "" {
			path = DefaultProbePath
		}
		p.URL = strings.TrimSuffix(base.String(), "/") + "/" + strings.TrimPrefix(path, "/")
	}
	if p.Header == nil {
		p.Header = http.Header{"Authorization": {"Bearer " + TokenPlaceholder}}
	}
	if p.Accept.empty() {
		p.Accept = DefaultAccept
	}
	if p.Reject.empty() {
		p.Reject = DefaultReject
	}
	p.tokenInURL = strings.Contains(p.URL, TokenPlaceholder)
	p.tokenInBody = strings.Contains(p.Body, TokenPlaceholder)
	for k, vs := range p.Header {
		for _, v := range vs {
			if strings.Contains(v, TokenPlaceholder) {
				p.tokenHeaders = append(p.tokenHeaders, k)
				break
			}
		}
	}
	if !p.tokenInURL && !p.tokenInBody && len(p.tokenHeaders) == 0 {
		return nil, fmt.Errorf("probe %s: the request never carries the token: put %s in a header, the url or the body", component, TokenPlaceholder)
	}
	return p, nil
}

// NeedsBody reports whether classification reads the response body.
func (p *Probe) NeedsBody() bool {
	return p.Accept.Body != nil || p.Accept.JSON != nil || p.Reject.Body != nil || p.Reject.JSON != nil
}

// Fill writes the request for token into tgt, tagging its URL for attribution.
func (p *Probe) Fill(tgt *vegeta.Target, token string, tag uint64) {
	tgt.Method = p.Method
	u := p.URL
	if p.tokenInURL {
		u = strings.ReplaceAll(u, TokenPlaceholder, url.QueryEscape(token))
	}
	tgt.URL = load.Tag(u, tag)
	tgt.Header = p.Header
	if len(p.tokenHeaders) > 0 {
		h := make(http.Header, len(p.Header))
		for k, v := range p.Header {
			h[k] = v
		}
		for _, k := range p.tokenHeaders {
			vs := slices.Clone(p.Header[k])
			for i := range vs {
				vs[i] = strings.ReplaceAll(vs[i], TokenPlaceholder, token)
			}
			h[k] = vs
		}
		tgt.Header = h
	}
	tgt.Body = nil
	if p.Body != "" {
		b := p.Body
		if p.tokenInBody {
			b = strings.ReplaceAll(b, TokenPlaceholder, token)
		}
		tgt.Body = []byte(b)
	}
}

// Classify turns an answer into an outcome. code is 0 when the request failed in transport.
// Reject is checked first: an answer matching both is a reject (fail safe).
func (p *Probe) Classify(code int, body []byte) Outcome {
	if code == 0 {
		return Error
	}
	if p.Reject.matches(code, body) {
		return Reject
	}
	if p.Accept.matches(code, body) {
		return Accept
	}
	return Error
}
