package plan

// The tests plan scenarios on the built-in runtimes, which a program links in with this import
// (cmd/recall does); the plan package itself names none of them.
import _ "github.com/recall-drills/recall/internal/runtime/builtin"
