package main

import (
	"flag"
	"io"

	"github.com/recall-drills/recall/internal/scenario"
)

func init() {
	register("schema", "print the JSON Schema of scenario files (for editors)", func(args []string, stdout, stderr io.Writer) error {
		fs := flag.NewFlagSet("schema", flag.ContinueOnError)
		fs.SetOutput(stderr)
		if err := fs.Parse(args); err != nil {
			return flagErr(err)
		}
		b, err := scenario.Schema()
		if err != nil {
			return withExit(exitCannotRun, err)
		}
		_, err = stdout.Write(append(b, '\n'))
		return err
	})
}
