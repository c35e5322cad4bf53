package issuer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/recall-drills/recall/targets/revocation"
)

// backchannelLogoutEvent is the events member of an OpenID Connect Back-Channel Logout 1.0
// logout token.
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// backchannelParallel bounds the logout tokens being delivered at once.
const backchannelParallel = 16

// BackchannelClient is a relying party that receives OpenID Connect Back-Channel Logout 1.0
// logout tokens at URI (its backchannel_logout_uri) when one of its sessions or users is
// recalled.
type BackchannelClient struct {
	ClientID, URI string
}

// backchannel holds the registered relying parties and delivers logout tokens.
type backchannel struct {
	mu      sync.RWMutex
	clients []BackchannelClient
	sem     chan struct{}
	client  *http.Client
}

// AddBackchannelClient registers a relying party for back-channel logout: from now on every
// recall of a session (sid) or a user (sub) posts it a logout token signed with the active key.
func (i *Issuer) AddBackchannelClient(c BackchannelClient) {
	i.bcl.mu.Lock()
	defer i.bcl.mu.Unlock()
	i.bcl.clients = append(i.bcl.clients, c)
}

// backchannelLogout posts a logout token per session and user rule of ev to every registered
// relying party, in the background; delivery failures are logged (the OP does not retry, as
// section 2.7 of the spec allows).
func (i *Issuer) backchannelLogout(ev revocation.Event) {
	i.bcl.mu.RLock()
	clients := append([]BackchannelClient(nil), i.bcl.clients...)
	i.bcl.mu.RUnlock()
	if len(clients) == 0 {
		return
	}
	iss := i.BaseURL()
	if iss == "" {
		// Every relying party would refuse a logout token without the iss of its ID tokens.
		i.log.Warn("back-channel logout not sent: the issuer has no configured base URL (Config.Issuer, -issuer) for the logout tokens' iss")
		return
	}
	for _, r := range ev.Rules {
		if r.Type != revocation.Session && r.Type != revocation.Subject {
			continue
		}
		for _, c := range clients {
			claims := map[string]any{
				"iss": iss, "aud": c.ClientID, "iat": time.Now().Unix(), "exp": time.Now().Add(2 * time.Minute).Unix(),
				"jti": randomJTI(), "events": map[string]any{backchannelLogoutEvent: map[string]any{}},
			}
			if r.Type == revocation.Session {
				claims["sid"] = r.Value
			} else {
				claims["sub"] = r.Value
			}
			tok, err := i.signLogoutToken(claims)
			if err != nil {
				i.log.Warn("sign logout token failed", "err", err)
				continue
			}
			i.bcl.sem <- struct{}{}
			go func(c BackchannelClient, tok string) {
				defer func() { <-i.bcl.sem }()
				i.postLogoutToken(c, tok)
			}(c, tok)
		}
	}
}

func (i *Issuer) signLogoutToken(claims map[string]any) (string, error) {
	k := i.keys.current()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		return "", err
	}
	return jwt.Signed(s).Claims(claims).Serialize()
}

func (i *Issuer) postLogoutToken(c BackchannelClient, tok string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URI, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		i.log.Warn("back-channel logout failed", "client", c.ClientID, "err", err)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := i.bcl.client.Do(req)
	if err != nil {
		i.log.Warn("back-channel logout failed", "client", c.ClientID, "err", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		i.log.Warn("back-channel logout refused", "client", c.ClientID, "status", resp.StatusCode)
	}
}

func randomJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
