package scenario

import (
	"bytes"
	_ "embed" // schema.json
)

//go:embed schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft 2020-12) of scenario files, for editors and `recall
// schema`. It is generated from the Go types of this package with invopop/jsonschema —
// descriptions from the doc comments, defaults from the Default* values, enumerations from the
// lists (Runtimes, Kinds, DefaultActions, ...) — by `go generate ./internal/scenario`, which
// writes schema.json; a test fails when the committed file no longer matches the types.
//
// The schema checks shapes and names; only Load checks references between fields, timelines
// and the kinds known to the engine's registries.
func Schema() ([]byte, error) {
	return bytes.Clone(schemaJSON), nil
}
