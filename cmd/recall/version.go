package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
)

func init() {
	register("version", "print the version", func(args []string, stdout, stderr io.Writer) error {
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		fs.SetOutput(stderr)
		if err := fs.Parse(args); err != nil {
			return flagErr(err)
		}
		fmt.Fprintf(stdout, "recall %s (%s %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	})
}

// flagErr maps flag parsing errors: -h is not a failure.
func flagErr(err error) error {
	if err == flag.ErrHelp {
		return errHelp
	}
	return withExit(exitCannotRun, err)
}
