package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
)

func init() {
	register("validate", "check scenario files without starting anything", func(args []string, stdout, stderr io.Writer) error {
		fs := flag.NewFlagSet("validate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() {
			fmt.Fprint(stderr, "Usage: recall validate SCENARIO...\n\nLoads each scenario strictly and plans it as `recall run` would (registries, runtime,\nprobes), starting nothing. Every problem is reported as file:line:col: path: message.\n")
		}
		if err := fs.Parse(args); err != nil {
			return flagErr(err)
		}
		if fs.NArg() == 0 {
			fs.Usage()
			return withExit(exitCannotRun, errors.New("want at least one scenario file"))
		}
		var errs []error
		for _, path := range fs.Args() {
			s, err := loadScenario(path)
			if err == nil {
				_, err = buildPlan(s, slog.New(slog.DiscardHandler), planOptions{})
			}
			if err != nil {
				fmt.Fprintln(stderr, err)
				errs = append(errs, fmt.Errorf("%s is not valid", path))
				continue
			}
			fmt.Fprintf(stdout, "%s: ok (%d components, %d expectations)\n", path, len(s.System.Components), len(s.Expect))
		}
		if len(errs) > 0 {
			return withExit(exitCannotRun, errors.Join(errs...))
		}
		return nil
	})
}
