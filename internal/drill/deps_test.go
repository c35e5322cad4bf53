package drill

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoViewDependency guards the layering: the engine writes the report model (package
// report) and never depends on a view of it (report/text, report/html, ...), directly or through
// another package of the module. It walks the non-test imports of this package and of every
// module package they reach, as go/build sees them for this platform.
func TestNoViewDependency(t *testing.T) {
	const module = "github.com/recall-drills/recall"
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(path string, via []string)
	walk = func(path string, via []string) {
		if seen[path] {
			return
		}
		seen[path] = true
		dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(path, module), "/")))
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("reading the imports of %s (%s): %v", path, dir, err)
		}
		for _, imp := range pkg.Imports {
			chain := append(append([]string(nil), via...), imp)
			if strings.HasPrefix(imp, module+"/report/") {
				t.Errorf("internal/drill depends on the view %s: %s", imp, strings.Join(chain, " → "))
				continue
			}
			if imp == module || strings.HasPrefix(imp, module+"/") {
				walk(imp, chain)
			}
		}
	}
	walk(module+"/internal/drill", []string{module + "/internal/drill"})
	if !seen[module+"/report"] {
		t.Errorf("the walk never reached package report, which internal/drill writes: the test is not reading the imports")
	}
}
