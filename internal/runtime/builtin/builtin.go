// Package builtin links recall's own runtimes into a program: importing it (for its side
// effect) registers each of them with package runtime. A runtime is a package that calls
// runtime.Register in its init; adding one to recall is that package plus one line here.
package builtin

import (
	_ "github.com/recall-drills/recall/internal/runtime/docker"   // system.runtime: docker
	_ "github.com/recall-drills/recall/internal/runtime/embedded" // system.runtime: embedded
	_ "github.com/recall-drills/recall/internal/runtime/external" // system.runtime: external
)
