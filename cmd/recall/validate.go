package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
)

func validateCmd() *cobra.Command {
	var sets []string
	cmd := &cobra.Command{
		Use:   "validate SCENARIO...",
		Short: "check scenario files without starting anything",
		Long: `Loads each scenario strictly and plans it as 'recall run' would (registries, runtime,
probes), starting nothing. Every problem is reported as file:line:col: path: message.`,
		Example:           `  recall validate scenarios/*.yaml`,
		Args:              args(1, -1, "at least one scenario file"),
		ValidArgsFunction: scenarioFiles,
		RunE: func(cmd *cobra.Command, paths []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			var errs []error
			for _, path := range paths {
				s, err := loadScenario(path, sets)
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
		},
	}
	setFlag(cmd, &sets)
	return cmd
}
