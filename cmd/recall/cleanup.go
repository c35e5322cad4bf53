package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/recall-drills/recall/internal/runtime/docker"
)

func cleanupCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "cleanup [DRILL-ID]",
		Short: "remove containers and networks a killed docker drill left behind",
		Long: `Removes every container and network labelled by a drill (all drills without DRILL-ID).
A drill cleans up after itself; this is for one that was killed (kill -9).`,
		Args:              args(0, 1, "at most one drill id"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			id := ""
			if len(a) == 1 {
				id = a[0]
			}
			n, err := docker.Cleanup(ctx, id)
			if err != nil {
				return withExit(exitCannotRun, fmt.Errorf("cleanup: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d containers and networks\n", n)
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	return cmd
}

func imagesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "images",
		Short: "build the reference components' container images (docker/)",
		Args:  args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			infos, err := docker.BuildReferenceImages(ctx, docker.ImageOptions{Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				return withExit(exitCannotRun, err)
			}
			for _, im := range infos {
				state := "present"
				if im.Built {
					state = "built in " + im.BuildTime.Round(time.Millisecond).String()
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-8s %-32s %6.1f MB  %s\n", im.Component, im.Ref, float64(im.Size)/1e6, state)
			}
			return nil
		},
	}
}
