package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/source"
)

// Placeholders of the http action. Per credential: {{token}}, {{jti}}, {{sub}}, {{client_id}},
// {{sid}}, {{kid}}. For the whole set (or a group): {{jtis}} and {{subjects}}, JSON arrays. For
// the whole recall: {{issued_before}}.
var credentialPlaceholders = []string{"{{token}}", "{{jti}}", "{{sub}}", "{{client_id}}", "{{sid}}", "{{kid}}"}

// issuedBeforePlaceholder is T of a recall of everything issued before an instant, in Unix
// seconds: the whole second after the victims' latest iat ([source.Boundary]). A scenario whose
// http action names it has its controls minted from T on, some within T's second
// ([httpPopulation]), as for revoke-issued-before, so that a provider's not-before call can be
// drilled at the same boundary.
const issuedBeforePlaceholder = "{{issued_before}}"

// httpPopulation is what the http action's parameters ask of the population: with
// {{issued_before}} in its url, a header or its body, the source waits for T between the victims
// and the controls; a recall by signing key ({{kid}}, or group_by: kid) has the controls signed
// by another key than the victims (the reference issuer rotates; an external source must), or
// retiring the victims' keys would take the controls with them.
func httpPopulation(with map[string]any) PopulationNeeds {
	all := httpTemplates(with)
	groupBy, _ := with["group_by"].(string)
	return PopulationNeeds{NewSecond: strings.Contains(all, issuedBeforePlaceholder),
		ExtraKey: strings.Contains(all, "{{kid}}") || groupBy == "kid"}
}

// httpTemplates is every template of the http action's parameters, concatenated: url, body and
// header values.
func httpTemplates(with map[string]any) string {
	all, _ := with["url"].(string)
	if b, ok := with["body"].(string); ok {
		all += b
	}
	if h, ok := with["headers"].(map[string]any); ok {
		for _, v := range h {
			all += fmt.Sprint(v)
		}
	}
	return all
}

// groupKeys are the values of the http action's group_by, and what each reads of a token.
var groupKeys = map[string]func(*Token) string{
	"client_id": func(t *Token) string { return t.Claims.ClientID },
	"sub":       func(t *Token) string { return t.Claims.Subject },
	"sid":       func(t *Token) string { return t.Claims.Session },
	"kid":       func(t *Token) string { return t.Claims.KeyID },
}

// httpAction is the http recall. It has three forms: one call for every victim (no per-credential
// placeholder), one call per credential (a per-credential placeholder in the url, a header or the
// body; at most Concurrency in flight), and one call per distinct group_by value, whose
// acknowledgement stamps every credential of the group.
type httpAction struct {
	method, url, body string
	headers           map[string]string
	groupBy           string
	concurrency       int
	perCredential     bool
	// issuedBefore: a template names {{issued_before}}.
	issuedBefore bool
}

// newHTTPAction: with {method, url, headers, body, group_by}.
func newHTTPAction(p ActionParams) (Action, error) {
	a := &httpAction{headers: map[string]string{}, concurrency: p.Concurrency}
	a.method, _ = p.With["method"].(string)
	if a.method == "" {
		a.method = http.MethodPost
	}
	a.url, _ = p.With["url"].(string)
	if a.url == "" {
		return nil, errors.New("http action: with.url is required")
	}
	if u, err := url.Parse(strings.NewReplacer("{{", "", "}}", "").Replace(a.url)); err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("http action: with.url %q is not an absolute URL", redactURL(a.url))
	}
	if h, ok := p.With["headers"].(map[string]any); ok {
		for k, v := range h {
			a.headers[k] = fmt.Sprint(v)
		}
	}
	a.body, _ = p.With["body"].(string)
	if g, ok := p.With["group_by"]; ok {
		s, _ := g.(string)
		if _, known := groupKeys[s]; !known {
			return nil, fmt.Errorf("http action: with.group_by must be client_id, sub, sid or kid, got %v", g)
		}
		a.groupBy = s
	}
	all := httpTemplates(p.With)
	a.issuedBefore = strings.Contains(all, issuedBeforePlaceholder)
	for _, ph := range credentialPlaceholders {
		if strings.Contains(all, ph) {
			a.perCredential = true
		}
	}
	// A group's call names what its credentials share, not one credential of it: {{kid}} only
	// when they share a key.
	if a.groupBy != "" {
		for _, ph := range []string{"{{token}}", "{{jti}}", "{{kid}}"} {
			if strings.Contains(all, ph) && ph != "{{"+a.groupBy+"}}" {
				return nil, fmt.Errorf("http action: group_by %s sends one call per group: use {{%s}} (and {{jtis}}, {{subjects}}), not %s", a.groupBy, a.groupBy, ph)
			}
		}
	}
	return a, nil
}

// redactURL hides a URL's userinfo and the values of its query (either may come from ${VAR}:
// an API key, a password), then redacts what the harness knows to be secret.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if u.RawQuery != "" {
			q := u.Query()
			for k := range q {
				q[k] = []string{"xxxxx"}
			}
			u.RawQuery = q.Encode()
		}
		return redact.String(hideUserinfo(u))
	}
	return redact.String(raw)
}

// hideUserinfo is u as reports and logs show it: its userinfo, user name included, replaced by
// "xxxxx" (url.URL.Redacted hides only the password).
func hideUserinfo(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = url.User("xxxxx")
	return c.String()
}

// Do implements Action.
func (a *httpAction) Do(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
	// T is the whole recall's, whatever the form: every call names the same instant.
	before := ""
	if a.issuedBefore {
		t, err := source.Boundary(victims)
		if err != nil {
			err = fmt.Errorf("http action: %s: %w", issuedBeforePlaceholder, err)
			failAll(victims, ack, err)
			return err
		}
		before = strconv.FormatInt(t.Unix(), 10)
	}
	switch {
	case a.groupBy != "":
		key := groupKeys[a.groupBy]
		var order []string
		groups := map[string][]int{}
		for i, v := range victims {
			k := key(v)
			if k == "" {
				err := fmt.Errorf("http action: credential %s has no %s to group by", v.ID(), a.groupBy)
				failAll(victims, ack, err)
				return err
			}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], i)
		}
		return forEach(ctx, len(order), a.concurrency, func(ctx context.Context, g int) error {
			idx := groups[order[g]]
			members := make([]*Token, len(idx))
			for j, i := range idx {
				members[j] = victims[i]
			}
			sent := time.Now()
			err := a.call(ctx, iss, members, members[0], before)
			acked := time.Now()
			for _, i := range idx {
				ack(i, Ack{Sent: sent, Acked: acked, Err: err})
			}
			return err
		})
	case a.perCredential:
		return forEach(ctx, len(victims), a.concurrency, func(ctx context.Context, i int) error {
			sent := time.Now()
			err := a.call(ctx, iss, victims[i:i+1], victims[i], before)
			ack(i, Ack{Sent: sent, Acked: time.Now(), Err: err})
			return err
		})
	}
	return ackAll(ctx, victims, ack, func(ctx context.Context) error { return a.call(ctx, iss, victims, nil, before) })
}

// call sends one request for set; one, when set, fills the per-credential placeholders, and
// before, when set, {{issued_before}}.
func (a *httpAction) call(ctx context.Context, iss Issuer, set []*Token, one *Token, before string) error {
	var jtis, subs []string
	for _, v := range set {
		jtis = append(jtis, v.Claims.JTI)
		if !slices.Contains(subs, v.Claims.Subject) {
			subs = append(subs, v.Claims.Subject)
		}
	}
	jj, _ := json.Marshal(jtis)
	sj, _ := json.Marshal(subs)
	pairs := []string{"{{jtis}}", string(jj), "{{subjects}}", string(sj)}
	if before != "" {
		pairs = append(pairs, issuedBeforePlaceholder, before)
	}
	var secrets []string
	if one != nil {
		c := one.Claims
		pairs = append(pairs, "{{token}}", one.Access.Reveal(), "{{jti}}", c.JTI, "{{sub}}", c.Subject,
			"{{client_id}}", c.ClientID, "{{sid}}", c.Session, "{{kid}}", c.KeyID)
		secrets = append(secrets, one.Access.Reveal())
	}
	urlPairs := slices.Clone(pairs)
	for i := 1; i < len(urlPairs); i += 2 {
		urlPairs[i] = url.QueryEscape(urlPairs[i])
	}
	fill := strings.NewReplacer(pairs...)
	target := strings.NewReplacer(urlPairs...).Replace(a.url)
	shown := redactURL(a.url) // the template: never the filled URL, which may carry a token
	req, err := http.NewRequestWithContext(ctx, a.method, target, strings.NewReader(fill.Replace(a.body)))
	if err != nil {
		return fmt.Errorf("http action %s %s: %s", a.method, shown, redact.String(err.Error(), secrets...))
	}
	for k, v := range a.headers {
		req.Header.Set(k, fill.Replace(v))
		if strings.EqualFold(k, "Authorization") || strings.Contains(strings.ToLower(k), "token") || strings.Contains(strings.ToLower(k), "key") {
			redact.Global.Add(v)
		}
	}
	resp, err := iss.Client().Do(req)
	if err != nil {
		return fmt.Errorf("http action %s %s: %s", a.method, shown, redact.String(err.Error(), secrets...))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		who := ""
		if one != nil {
			who = " (" + one.ID() + ")"
		}
		return fmt.Errorf("http action %s %s%s: %s: %s", a.method, shown, who, resp.Status, redact.Excerpt(b, secrets...))
	}
	return nil
}
