package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
)

func validateCmd() *cobra.Command {
	var sets []string
	var verbose bool
	var po planOutput
	cmd := &cobra.Command{
		Use:   "validate SCENARIO...",
		Short: "check scenario files without starting anything",
		Long: `Loads each scenario strictly and plans it as 'recall run' would (registries, runtime,
probes), starting nothing, and prints one line per file of what it checked. Every problem is
reported as file:line:col: path: message. With -v, each file's plan follows its line.`,
		Example: `  recall validate scenarios/*.yaml
  recall validate -v scenarios/quickstart.yaml --set traffic.rate=6000/s`,
		Args:              args(1, -1, "at least one scenario file"),
		ValidArgsFunction: scenarioFiles,
		RunE: func(cmd *cobra.Command, paths []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			po.output = "text"
			var errs []error
			for _, path := range paths {
				s, err := loadScenario(path, sets)
				if err == nil {
					var p *planView
					dp, perr := buildPlan(s, slog.New(slog.DiscardHandler), planOptions{})
					if err = perr; err == nil {
						p = newPlanView(s, dp, readBench(po.bench))
						b := p.Budget
						fmt.Fprintf(stdout, "%s: ok: %d components (%d probed) on %s, %d victims + %d controls, recall %s at %s, %d faults, %d expectations; %d pairs, resolution ±%s",
							path, len(s.System.Components), b.ProbedComps, p.Runtime, p.Population.Victims, p.Population.Controls,
							s.Recall.Action, s.Recall.At.D, len(s.Faults), len(s.Expect), b.VictimPairs, report1(msDuration(b.ResolutionMS)))
						if n := len(p.Warnings); n > 0 {
							fmt.Fprintf(stdout, ", %d warning(s)", n)
						}
						fmt.Fprintln(stdout)
						if verbose {
							fmt.Fprintln(stdout)
							if err := p.writeText(stdout); err != nil {
								return withExit(exitCannotRun, err)
							}
							fmt.Fprintln(stdout)
						}
					}
				}
				if err != nil {
					fmt.Fprintln(stderr, err)
					errs = append(errs, fmt.Errorf("%s is not valid", path))
				}
			}
			if len(errs) > 0 {
				return withExit(exitCannotRun, errors.Join(errs...))
			}
			return nil
		},
	}
	setFlag(cmd, &sets)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print each scenario's plan, as 'recall plan' does")
	cmd.Flags().StringVar(&po.bench, "bench", defaultBenchFile(), "the rates 'recall bench' measured on this machine, for the plan's warnings")
	return cmd
}
