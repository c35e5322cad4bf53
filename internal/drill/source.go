package drill

import (
	"context"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/source"
)

// The drill's credentials and the seams to the identity provider are internal/source's; these
// names keep the engine's vocabulary.
type (
	// Token is one live credential of the drill's population.
	Token = source.Token
	// Secret is a credential in clear that prints as its fingerprint.
	Secret = source.Secret
	// Population says which credentials to mint.
	Population = source.Population
	// Issuer is the identity provider as the drill and its actions reach it.
	Issuer = source.Provider
)

// NewSecret wraps a clear credential.
func NewSecret(v string) Secret { return source.NewSecret(v) }

// Fingerprint is the first 12 hex digits of the SHA-256 of v: how tokens appear in logs and
// reports.
func Fingerprint(v string) string { return redact.Fingerprint(v) }

// DefaultMintConcurrency bounds concurrent token requests while minting.
const DefaultMintConcurrency = source.DefaultMintConcurrency

// forEach runs fn for 0..n-1 with at most conc in flight (source.ForEach).
func forEach(ctx context.Context, n, conc int, fn func(context.Context, int) error) error {
	return source.ForEach(ctx, n, conc, fn)
}
