package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
)

// keyState is the life cycle of a signing key:
//
//	standby ──rotate──► active ──rotate──► retired
//	   └───────────────────┴───────────────────┴──kid recall──► revoked
//
// Standby, active and retired keys are in the JWKS and verify tokens; only the active key signs.
// Revoked keys are gone from the JWKS and their tokens are inactive.
type keyState int

const (
	keyStandby keyState = iota
	keyActive
	keyRetired
	keyRevoked
)

func (s keyState) String() string {
	return [...]string{"standby", "active", "retired", "revoked"}[s]
}

type signingKey struct {
	kid    string
	priv   *ecdsa.PrivateKey
	signer jose.Signer
	state  keyState // guarded by keyRing.mu
}

// keyRing holds the signing keys. Every mint reads the active key under the read lock.
type keyRing struct {
	mu      sync.RWMutex
	keys    []*signingKey // creation order
	byID    map[string]*signingKey
	active  *signingKey
	standby int    // how many standby keys rotation keeps published ahead
	jwks    []byte // cached JWKS document
}

// KeyInfo describes one signing key, for KeyInfos.
type KeyInfo struct {
	// KID is the key id (the JWS kid header).
	KID string `json:"kid"`
	// State is standby, active, retired or revoked.
	State string `json:"state"`
}

func newKeyRing(n int) (*keyRing, error) {
	kr := &keyRing{byID: make(map[string]*signingKey), standby: n - 1}
	for k := range n {
		key, err := newSigningKey()
		if err != nil {
			return nil, err
		}
		if k == 0 {
			key.state = keyActive
			kr.active = key
		}
		kr.add(key)
	}
	kr.rebuild()
	return kr, nil
}

func newSigningKey() (*signingKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey, Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("key thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)[:16] // RFC 7638 thumbprint, shortened
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("at+jwt"),
	)
	if err != nil {
		return nil, fmt.Errorf("new signer: %w", err)
	}
	return &signingKey{kid: kid, priv: priv, signer: signer, state: keyStandby}, nil
}

func (kr *keyRing) add(k *signingKey) {
	kr.keys = append(kr.keys, k)
	kr.byID[k.kid] = k
}

// rebuild re-encodes the JWKS; the caller holds mu (or owns kr).
func (kr *keyRing) rebuild() {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range kr.keys {
		if k.state == keyRevoked {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.ES256), Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic("issuer: encode jwks: " + err.Error()) // only ECDSA P-256 public keys: cannot fail
	}
	kr.jwks = b
}

// current returns the active key.
func (kr *keyRing) current() *signingKey {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.active
}

// lookup returns the key with kid and its state, or nil.
func (kr *keyRing) lookup(kid string) (*signingKey, keyState) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	k := kr.byID[kid]
	if k == nil {
		return nil, keyRevoked
	}
	return k, k.state
}

// JWKS returns the encoded key set.
func (kr *keyRing) JWKS() []byte {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.jwks
}

// rotate makes the oldest standby key active (or a new key when there is none), retires the
// active key and tops the standby keys up. It returns the new active kid.
func (kr *keyRing) rotate() (string, error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if err := kr.rotateLocked(); err != nil {
		return "", err
	}
	kr.rebuild()
	return kr.active.kid, nil
}

func (kr *keyRing) rotateLocked() error {
	var next *signingKey
	standby := 0
	for _, k := range kr.keys {
		if k.state == keyStandby {
			if next == nil {
				next = k
			}
			standby++
		}
	}
	if next == nil {
		k, err := newSigningKey()
		if err != nil {
			return err
		}
		kr.add(k)
		next = k
	} else {
		standby--
	}
	for ; standby < kr.standby; standby++ {
		k, err := newSigningKey()
		if err != nil {
			return err
		}
		kr.add(k)
	}
	if kr.active != nil {
		kr.active.state = keyRetired
	}
	next.state = keyActive
	kr.active = next
	return nil
}

// known reports which of kids exist (in any state).
func (kr *keyRing) known(kids []string) (unknown []string) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	for _, kid := range kids {
		if kr.byID[kid] == nil {
			unknown = append(unknown, kid)
		}
	}
	return unknown
}

// moveOffActive rotates while the active key is among kids, so that no new token is signed with
// a key about to be revoked. Each rotation promotes a standby key or creates a fresh one, so
// len(kids)+1 rotations always suffice.
func (kr *keyRing) moveOffActive(kids []string) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	for range len(kids) + 1 {
		if !slices.Contains(kids, kr.active.kid) {
			break
		}
		if err := kr.rotateLocked(); err != nil {
			return err
		}
	}
	kr.rebuild()
	return nil
}

// revoke marks kids revoked and drops them from the JWKS.
func (kr *keyRing) revoke(kids []string) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	for _, kid := range kids {
		if k := kr.byID[kid]; k != nil && k != kr.active {
			k.state = keyRevoked
		}
	}
	kr.rebuild()
}

// infos lists every key and its state, in creation order.
func (kr *keyRing) infos() []KeyInfo {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	out := make([]KeyInfo, 0, len(kr.keys))
	for _, k := range kr.keys {
		out = append(out, KeyInfo{KID: k.kid, State: k.state.String()})
	}
	return out
}

// RotateKey makes a new signing key active and returns its kid. The previous active key stays
// in the JWKS and keeps verifying until it is recalled (RecallKey). When keys were published in
// advance (Config.Keys > 1) the oldest of them becomes active and a new one is published, so that
// gateways caching the JWKS already know the key that now signs.
func (i *Issuer) RotateKey() (string, error) {
	kid, err := i.keys.rotate()
	if err != nil {
		return "", fmt.Errorf("rotate key: %w", err)
	}
	i.log.Info("signing key rotated", "kid", kid)
	return kid, nil
}

// ActiveKeyID returns the kid of the key that signs new access tokens.
func (i *Issuer) ActiveKeyID() string { return i.keys.current().kid }

// KeyInfos lists every signing key with its state, in creation order.
func (i *Issuer) KeyInfos() []KeyInfo { return i.keys.infos() }
