// Package scenarios holds the scenarios shipped with recall; `recall init` writes Quickstart.
package scenarios

import _ "embed"

// Quickstart is scenarios/quickstart.yaml: the in-process drill against the reference stack.
//
//go:embed quickstart.yaml
var Quickstart []byte
