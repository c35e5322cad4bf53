// Command recall runs authentication recall drills: it starts an identity stack, drives it with
// live tokens, recalls credentials mid-run and measures, per component, how long the recalled
// credentials were still honoured.
//
// Exit status: 0 the drill passed, 1 it failed its expectations, 2 it could not run.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// Version is set at build time with -ldflags '-X main.Version=…'.
var Version = "dev"

// Exit codes.
const (
	exitPass      = 0
	exitFail      = 1
	exitCannotRun = 2
)

// exitError carries the exit status with an error, as k6's errext does.
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

// errFailed is returned when a drill ran and missed its expectations.
var errFailed = errors.New("drill failed its expectations")

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func([]string, io.Writer, io.Writer) error) {
	commands[name] = command{summary, run}
}

func main() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) }

// Main runs the program with args and returns the exit status; tests call it in-process.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitCannotRun
		}
		return exitPass
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "recall: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitCannotRun
	}
	err := cmd.run(args[1:], stdout, stderr)
	if err == nil {
		return exitPass
	}
	code := exitCannotRun
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, errFailed) && !errors.Is(err, errHelp) {
		fmt.Fprintf(stderr, "recall %s: %v\n", args[0], err)
	}
	if errors.Is(err, errHelp) {
		return exitPass
	}
	return code
}

// errHelp is returned by a subcommand that printed its help on request.
var errHelp = errors.New("help requested")

func usage(w io.Writer) {
	fmt.Fprint(w, `recall runs authentication recall drills: it starts an identity stack, sends real
traffic with live tokens, recalls credentials in the middle of the run and measures, for every
component, how long the recalled credentials were still honoured.

Usage:
  recall <command> [flags] [arguments]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Examples:
  recall run scenarios/quickstart.yaml            # the quickstart drill, in-process, no Docker
  recall run --out reports/today --seed 7 drill.yaml
  recall validate scenarios/*.yaml
  recall schema > recall.schema.json              # for your editor's YAML support

Exit status: 0 PASS, 1 FAIL (expectations missed), 2 the drill could not run.
Run 'recall <command> -h' for a command's flags.
`)
}
