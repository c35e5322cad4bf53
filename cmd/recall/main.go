// Command recall runs authentication recall drills: it starts an identity stack, drives it with
// live tokens, recalls credentials mid-run and measures, per component, how long the recalled
// credentials were still honoured.
//
// Exit status: 0 the drill passed, 1 it failed its expectations or a probed component was
// unavailable, 2 it could not run.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"

	"github.com/spf13/cobra"

	_ "github.com/recall-drills/recall/internal/runtime/builtin" // the runtimes system.runtime names
)

// Version is set at build time with -ldflags '-X main.Version=…'.
var Version = "dev"

// Exit codes.
const (
	exitPass      = 0
	exitFail      = 1
	exitCannotRun = 2
)

// exitError carries the exit status with an error, as k6's errext does. Main maps it to the
// process's exit status in one place; an error without one is exit 2 (could not run).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withExit attaches an exit code to err (nil stays nil).
func withExit(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// errFailed is returned when a drill ran and FAILed (an expectation missed, a component unavailable).
var errFailed = errors.New("drill failed: an expectation was missed or a probed component was unavailable")

func main() { os.Exit(run()) }

// run runs the program on the process's arguments and returns its exit status.
func run() int { return Main(os.Args[1:], os.Stdout, os.Stderr) }

// Main runs the program with args and returns the exit status; tests call it in-process. Each
// call builds its own command tree, so concurrent calls share no flag state.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	if len(args) == 0 {
		root.SetOut(stderr)
		_ = root.Help()
		return exitCannotRun
	}
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitPass
	}
	code := exitCannotRun
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, errFailed) {
		name := "recall"
		if cmd != nil && cmd != root {
			name += " " + cmd.Name()
		}
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
	}
	return code
}

// newRoot builds the command tree writing to stdout and stderr.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "recall",
		Short: "run authentication recall drills",
		Long: `recall runs authentication recall drills: it starts an identity stack, sends real
traffic with live tokens, recalls credentials in the middle of the run and measures, for every
component, how long the recalled credentials were still honoured.

Exit status: 0 PASS, 1 FAIL (expectations missed, or a probed component unavailable), 2 the drill
could not run.`,
		Example: `  recall run scenarios/quickstart.yaml            # the quickstart drill, in-process, no Docker
  recall run drill.yaml --out reports/today --seed 7
  recall plan scenarios/quickstart.yaml           # what the drill will do, starting nothing
  recall validate scenarios/*.yaml
  recall init --discovery https://idp.example.com > drill.yaml
  recall schema > recall.schema.json              # for your editor's YAML support
  source <(recall completion bash)                # shell completion (also zsh, fish)`,
		Version:       Version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate(fmt.Sprintf("recall {{.Version}} (%s %s/%s)\n", goruntime.Version(), goruntime.GOOS, goruntime.GOARCH))
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withExit(exitCannotRun, fmt.Errorf("%w (see 'recall help %s')", err, c.Name()))
	})
	root.AddCommand(
		runCmd(), planCmd(), validateCmd(), initCmd(), reportCmd(), compareCmd(), benchCmd(),
		schemaCmd(), imagesCmd(), cleanupCmd(), versionCmd(),
	)
	return root
}

// args is a cobra.PositionalArgs that wants between lo and hi arguments (hi < 0: no bound),
// saying what they are.
func args(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) < lo || (hi >= 0 && len(a) > hi) {
			return withExit(exitCannotRun, fmt.Errorf("want %s, got %d argument(s) (see 'recall help %s')", what, len(a), cmd.Name()))
		}
		return nil
	}
}

// scenarioFiles completes scenario files (*.yaml, *.yml) for a command's arguments.
func scenarioFiles(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []cobra.Completion{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}

// oneScenarioFile completes the first argument as a scenario file, and nothing after it.
func oneScenarioFile(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return scenarioFiles(cmd, args, toComplete)
}

// jsonFiles completes report files.
func jsonFiles(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []cobra.Completion{"json"}, cobra.ShellCompDirectiveFilterFileExt
}

// setFlag adds --set path=value (repeatable) to cmd.
func setFlag(cmd *cobra.Command, sets *[]string) {
	cmd.Flags().StringArrayVar(sets, "set", nil, "override one value of the scenario, as path=value (e.g. traffic.rate=5000/s, recall.at=20s, system.components[edge].with.interval=3s); repeatable")
	_ = cmd.RegisterFlagCompletionFunc("set", setCompletions)
}
