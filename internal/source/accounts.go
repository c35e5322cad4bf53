package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/recall-drills/recall/internal/oauth"
)

// User is an existing resource owner for the password grant; TOTP is its factor's secret, when
// the provider asks for a one-time code (sent as the otp parameter).
type User struct {
	Username string
	Password Secret
	TOTP     Secret
}

// Accounts is the Source for a standards-based provider and the accounts it already has: the
// scenario's clients, users (password grant) or refresh tokens (refresh_token grant). Victims and
// controls are spread over them as over registered ones: victims and controls never share a
// client, a user or a refresh token when there are at least two.
type Accounts struct {
	// TokenURL is the token endpoint.
	TokenURL string
	HTTP     *http.Client
	Clients  []*oauth.Client
	Users    []User
	// Refresh holds the refresh tokens of the refresh_token grant; each use keeps the rotated
	// one the provider returns.
	Refresh []Secret

	mu       sync.Mutex
	refresh  []*refreshSlot
	desc     Description
	minted   atomic.Int64
	opaque   atomic.Int64
	earliest atomic.Int64 // Unix nanoseconds of the earliest expiry; 0 when none
}

// refreshSlot serialises the uses of one refresh token, which may rotate at each use.
type refreshSlot struct {
	mu    sync.Mutex
	token string
}

var _ Source = (*Accounts)(nil)

// Check says whether the accounts can mint pop.
func (a *Accounts) Check(pop Population) error {
	if a.TokenURL == "" {
		return errors.New("no token endpoint: set oauth.token_endpoint or serve discovery")
	}
	if len(a.Clients) == 0 {
		return errors.New("tokens.clients lists no client")
	}
	var errs []error
	for _, c := range a.Clients {
		if err := c.Check(); err != nil {
			errs = append(errs, err)
		}
	}
	switch pop.Grant {
	case oauth.GrantPassword:
		if len(a.Users) == 0 {
			errs = append(errs, errors.New("the password grant needs tokens.users (a list or a file)"))
		}
	case oauth.GrantRefreshToken:
		if len(a.Refresh) == 0 {
			errs = append(errs, errors.New("the refresh_token grant needs tokens.refresh_tokens (a file)"))
		}
	}
	return errors.Join(errs...)
}

// Mint implements Source.
func (a *Accounts) Mint(ctx context.Context, pop Population, done func(int)) ([]*Token, error) {
	if err := a.Check(pop); err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.refresh == nil {
		for _, r := range a.Refresh {
			a.refresh = append(a.refresh, &refreshSlot{token: r.Reveal()})
		}
	}
	a.mu.Unlock()
	vc, cc := Split(len(a.Clients), pop.Victims, pop.Controls)
	vu, cu := Split(len(a.Users), pop.Victims, pop.Controls)
	vr, cr := Split(len(a.refresh), pop.Victims, pop.Controls)
	n := pop.Victims + pop.Controls
	tokens := make([]*Token, n)
	mint := func(ctx context.Context, idx int) error {
		victim := idx < pop.Victims
		i := idx
		if !victim {
			i -= pop.Victims
		}
		cl := a.Clients[Pick(vc, cc, i, victim)]
		var us *User
		if pop.Grant == oauth.GrantPassword {
			us = &a.Users[Pick(vu, cu, i, victim)]
		}
		var rs *refreshSlot
		if pop.Grant == oauth.GrantRefreshToken {
			rs = a.refresh[Pick(vr, cr, i, victim)]
		}
		t, err := a.mintOne(ctx, pop.Grant, cl, us, rs)
		if err != nil {
			return err
		}
		t.Index, t.Victim = idx, victim
		tokens[idx] = t
		if done != nil {
			done(int(a.minted.Add(1)))
		}
		return nil
	}
	if err := ForEach(ctx, pop.Victims, DefaultMintConcurrency, mint); err != nil {
		return nil, fmt.Errorf("mint %d victims: %w", pop.Victims, err)
	}
	if pop.NewSecondBeforeControls {
		if err := WaitForBoundary(ctx, tokens[:pop.Victims]); err != nil {
			return nil, err
		}
	}
	if err := ForEach(ctx, pop.Controls, DefaultMintConcurrency, func(ctx context.Context, i int) error { return mint(ctx, pop.Victims+i) }); err != nil {
		return nil, fmt.Errorf("mint %d controls: %w", pop.Controls, err)
	}
	a.mu.Lock()
	a.desc = Description{Kind: "accounts", Clients: len(a.Clients), Users: len(a.Users)}
	a.mu.Unlock()
	return tokens, nil
}

func (a *Accounts) mintOne(ctx context.Context, grant string, cl *oauth.Client, us *User, rs *refreshSlot) (*Token, error) {
	g := oauth.Grant{Type: grant}
	if us != nil {
		g.Username, g.Password = us.Username, us.Password.Reveal()
		if us.TOTP.Reveal() != "" {
			code, err := totp.GenerateCode(us.TOTP.Reveal(), time.Now())
			if err != nil {
				return nil, fmt.Errorf("user %s: TOTP code: %w", us.Username, err)
			}
			g.Extra = map[string][]string{"otp": {code}}
		}
	}
	if rs != nil {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		g.RefreshToken = rs.token
	}
	is, err := oauth.RequestToken(ctx, a.HTTP, a.TokenURL, cl, g)
	if err != nil {
		if us != nil {
			return nil, fmt.Errorf("client %s, user %s: %w", cl.ID, us.Username, err)
		}
		return nil, fmt.Errorf("client %s: %w", cl.ID, err)
	}
	if rs != nil && is.Refresh != "" {
		rs.token = is.Refresh // rotated: the old one may be dead now
	}
	t := &Token{Access: NewSecret(is.Access), Refresh: NewSecret(is.Refresh), Client: cl.ID, Owner: cl}
	if us != nil {
		t.User = us.Username
	}
	Describe(t, is)
	if t.Opaque {
		a.opaque.Add(1)
	}
	if !t.Expiry.IsZero() {
		ns := t.Expiry.UnixNano()
		for {
			old := a.earliest.Load()
			if (old != 0 && old <= ns) || a.earliest.CompareAndSwap(old, ns) {
				break
			}
		}
	}
	return t, nil
}

// Reissue implements Source: a fresh token for t's user (password grant) or client. The
// refresh_token grant re-issues from the identity's current refresh token.
func (a *Accounts) Reissue(ctx context.Context, t *Token, _ bool) (*Token, error) {
	cl := t.Owner
	if cl == nil {
		return nil, fmt.Errorf("credential %s: no client to re-issue for", t.ID())
	}
	var us *User
	grant := oauth.GrantClientCredentials
	if t.User != "" {
		for i := range a.Users {
			if a.Users[i].Username == t.User {
				us, grant = &a.Users[i], oauth.GrantPassword
			}
		}
		if us == nil {
			return nil, fmt.Errorf("user %s: no password to log in again with", t.User)
		}
	}
	var rs *refreshSlot
	if t.Refresh.Reveal() != "" && us == nil && len(a.refresh) > 0 {
		grant = oauth.GrantRefreshToken
		rs = a.refresh[0]
		for _, s := range a.refresh {
			if s.token == t.Refresh.Reveal() {
				rs = s
			}
		}
	}
	nt, err := a.mintOne(ctx, grant, cl, us, rs)
	if err != nil {
		return nil, err
	}
	nt.Index, nt.Victim = t.Index, t.Victim
	return nt, nil
}

// Describe implements Source.
func (a *Accounts) Describe() Description {
	a.mu.Lock()
	d := a.desc
	a.mu.Unlock()
	d.Kind = "accounts"
	d.Opaque = int(a.opaque.Load())
	if ns := a.earliest.Load(); ns != 0 {
		d.Expiry = time.Unix(0, ns)
	}
	return d
}
