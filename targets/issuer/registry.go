package issuer

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/pquerna/otp/totp"
)

// Subtleness ahead: secrets and passwords are kept as salted SHA-256, not with a password hash
// such as bcrypt or argon2. This issuer lives in memory for the length of a drill, its users are
// synthetic, and drills mint thousands of password-grant tokens per second on two cores, which a
// deliberately slow hash (50 ms per check) would make impossible. Comparisons are constant-time
// over fixed-length digests, and an unknown name is checked against a dummy digest so that its
// timing matches a known one.

type client struct {
	id     string
	salt   [16]byte
	hash   [32]byte
	scopes []string // sorted, deduplicated
}

type factor struct {
	id     string
	secret string // base32 TOTP secret
	// recovery holds the SHA-256 of the factor's unused recovery codes: each logs the user in
	// once in place of a one-time password, and they go with the factor when it is recalled.
	recovery map[[32]byte]bool
}

// RecoveryCodes is how many recovery codes an enrolment gives.
const RecoveryCodes = 4

type user struct {
	name string
	salt [16]byte
	hash [32]byte
	// factor is the enrolled TOTP factor, nil when none.
	factor *factor
	// mfa stays true once a factor was enrolled: after an MFA recall deletes the factor, the
	// user cannot log in until re-enrolled.
	mfa bool
	// kept are the recovery codes an MFA recall left behind (registry.keepCodes: the planted
	// defect); nil otherwise.
	kept map[[32]byte]bool
}

// registry holds clients and users. Reads (every token request) take the read lock.
type registry struct {
	mu      sync.RWMutex
	clients map[string]*client
	users   map[string]*user
	dummy   client // compared against for unknown names
	// keepCodes: an MFA recall leaves the factor's recovery codes usable (the planted defect).
	keepCodes bool
}

func newRegistry(keepCodes bool) *registry {
	r := &registry{clients: make(map[string]*client), users: make(map[string]*user), keepCodes: keepCodes}
	rand.Read(r.dummy.salt[:])
	r.dummy.hash = saltedHash(r.dummy.salt, rand.Text())
	return r
}

func saltedHash(salt [16]byte, secret string) [32]byte {
	h := sha256.New()
	h.Write(salt[:])
	h.Write([]byte(secret))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// AddClients registers clients, replacing the secret and scopes of ids already registered.
// Nothing is registered when one entry is invalid (empty id or secret).
func (i *Issuer) AddClients(cs []Client) error {
	built := make([]*client, 0, len(cs))
	for n, c := range cs {
		if c.ID == "" || c.Secret == "" {
			return fmt.Errorf("%w: client %d: client_id and client_secret are required", ErrInvalidRequest, n)
		}
		if u, err := url.Parse(c.BackchannelLogoutURI); c.BackchannelLogoutURI != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			return fmt.Errorf("%w: client %d: backchannel_logout_uri is not an absolute http(s) URL", ErrInvalidRequest, n)
		}
		nc := &client{id: c.ID, scopes: normScopes(c.Scopes)}
		rand.Read(nc.salt[:])
		nc.hash = saltedHash(nc.salt, c.Secret)
		built = append(built, nc)
	}
	i.reg.mu.Lock()
	defer i.reg.mu.Unlock()
	for _, c := range built {
		i.reg.clients[c.id] = c
	}
	for _, c := range cs {
		if c.BackchannelLogoutURI != "" {
			i.AddBackchannelClient(BackchannelClient{ClientID: c.ID, URI: c.BackchannelLogoutURI})
		}
	}
	return nil
}

// AddUsers registers users, replacing the password of usernames already registered (an enrolled
// factor is kept). Nothing is registered when one entry is invalid (empty username or password).
func (i *Issuer) AddUsers(us []User) error {
	type pw struct {
		salt [16]byte
		hash [32]byte
	}
	built := make([]pw, len(us))
	for n, u := range us {
		if u.Username == "" || u.Password == "" {
			return fmt.Errorf("%w: user %d: username and password are required", ErrInvalidRequest, n)
		}
		rand.Read(built[n].salt[:])
		built[n].hash = saltedHash(built[n].salt, u.Password)
	}
	i.reg.mu.Lock()
	defer i.reg.mu.Unlock()
	for n, u := range us {
		if old, ok := i.reg.users[u.Username]; ok {
			old.salt, old.hash = built[n].salt, built[n].hash
			continue
		}
		i.reg.users[u.Username] = &user{name: u.Username, salt: built[n].salt, hash: built[n].hash}
	}
	return nil
}

// Enrollment is a newly enrolled TOTP factor, as POST /admin/users/{username}/factors returns it.
type Enrollment struct {
	// FactorID is the id that tokens of sessions established with this factor carry as fid.
	FactorID string `json:"factor_id"`
	// Secret is the base32 TOTP secret (SHA-1, 6 digits, 30 s).
	Secret string `json:"secret"`
	// OTPAuthURI is the otpauth:// URI of the factor.
	OTPAuthURI string `json:"otpauth_uri"`
	// RecoveryCodes are single-use codes that log the user in instead of a one-time password
	// (recovery_code in the password grant) while this factor is enrolled.
	RecoveryCodes []string `json:"recovery_codes"`
}

// EnrollFactor enrols a new TOTP factor for username, replacing any factor it had (sessions
// established with the old factor are not recalled by this; use an MFA recall). From then on
// the password grant requires an otp for this user.
func (i *Issuer) EnrollFactor(username string) (Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "recall-issuer", AccountName: username})
	if err != nil {
		return Enrollment{}, fmt.Errorf("generate totp: %w", err)
	}
	f := &factor{id: "f_" + rand.Text()[:20], secret: key.Secret(), recovery: map[[32]byte]bool{}}
	codes := make([]string, RecoveryCodes)
	for n := range codes {
		codes[n] = "rc-" + rand.Text()[:16]
		f.recovery[sha256.Sum256([]byte(codes[n]))] = true
	}
	i.reg.mu.Lock()
	defer i.reg.mu.Unlock()
	u, ok := i.reg.users[username]
	if !ok {
		return Enrollment{}, fmt.Errorf("%w: %q", ErrUnknownUser, username)
	}
	u.factor, u.mfa, u.kept = f, true, nil
	return Enrollment{FactorID: f.id, Secret: f.secret, OTPAuthURI: key.URL(), RecoveryCodes: codes}, nil
}

// authClient checks a client's credentials. It returns nil for an unknown id or a wrong secret,
// in time independent of which.
func (r *registry) authClient(id, secret string) *client {
	r.mu.RLock()
	c, ok := r.clients[id]
	r.mu.RUnlock()
	if !ok {
		equalHash(r.dummy.hash, saltedHash(r.dummy.salt, secret))
		return nil
	}
	if !equalHash(c.hash, saltedHash(c.salt, secret)) {
		return nil
	}
	return c
}

// authUser checks a user's password and returns a snapshot of the user, or false.
func (r *registry) authUser(name, password string) (user, bool) {
	r.mu.RLock()
	u, ok := r.users[name]
	var snap user
	if ok {
		snap = *u
		if u.factor != nil {
			f := *u.factor
			snap.factor = &f
		}
	}
	r.mu.RUnlock()
	if !ok {
		equalHash(r.dummy.hash, saltedHash(r.dummy.salt, password))
		return user{}, false
	}
	return snap, equalHash(snap.hash, saltedHash(snap.salt, password))
}

// useRecoveryCode consumes code if it is an unused recovery code of user name's factor fid.
func (r *registry) useRecoveryCode(name, fid, code string) bool {
	sum := sha256.Sum256([]byte(code))
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.users[name]
	if ok && u.factor == nil && u.kept[sum] {
		delete(u.kept, sum) // the planted defect: a code that outlived its recalled factor
		return true
	}
	if !ok || u.factor == nil || u.factor.id != fid || !u.factor.recovery[sum] {
		return false
	}
	delete(u.factor.recovery, sum)
	return true
}

// deleteFactors removes the factors of the named users (of every user when all), with their
// recovery codes, and returns the ids of the factors removed, how many unused recovery codes
// went with them, and how many names were unknown.
func (r *registry) deleteFactors(names []string, all bool) (ids []string, codes, unknown int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	del := func(u *user) {
		if u.factor != nil {
			ids = append(ids, u.factor.id)
			if r.keepCodes {
				u.kept = u.factor.recovery
			} else {
				codes += len(u.factor.recovery)
			}
			u.factor = nil // and its recovery codes
		}
	}
	if all {
		for _, u := range r.users {
			del(u)
		}
		return ids, codes, 0
	}
	for _, n := range names {
		u, ok := r.users[n]
		if !ok {
			unknown++
			continue
		}
		del(u)
	}
	return ids, codes, unknown
}

// normScopes sorts and deduplicates scopes, dropping empty ones.
func normScopes(s []string) []string {
	out := slices.DeleteFunc(slices.Clone(s), func(x string) bool { return x == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// grantScope resolves a requested scope string against the allowed scopes: empty asks for all
// of them. It returns false when a requested scope is not allowed.
func grantScope(requested string, allowed []string) (string, bool) {
	if strings.TrimSpace(requested) == "" {
		return strings.Join(allowed, " "), true
	}
	req := normScopes(strings.Fields(requested))
	for _, s := range req {
		if _, ok := slices.BinarySearch(allowed, s); !ok {
			return "", false
		}
	}
	return strings.Join(req, " "), true
}
