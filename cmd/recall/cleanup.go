package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
)

func init() {
	register("cleanup", "remove containers and networks a killed docker drill left behind", func(args []string, stdout, stderr io.Writer) error {
		fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
		fs.SetOutput(stderr)
		timeout := fs.Duration("timeout", time.Minute, "give up after this long")
		fs.Usage = func() {
			fmt.Fprint(stderr, "Usage: recall cleanup [DRILL-ID]\n\nRemoves every container and network labelled by a drill (all drills without DRILL-ID).\nA drill cleans up after itself; this is for one that was killed (kill -9).\n\nFlags:\n")
			fs.PrintDefaults()
		}
		if err := fs.Parse(args); err != nil {
			return flagErr(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		n, err := runtime.Cleanup(ctx, fs.Arg(0))
		if err != nil {
			return withExit(exitCannotRun, fmt.Errorf("cleanup: %w", err))
		}
		fmt.Fprintf(stdout, "removed %d containers and networks\n", n)
		return nil
	})
	register("images", "build the reference components' container images (docker/)", func(args []string, stdout, stderr io.Writer) error {
		fs := flag.NewFlagSet("images", flag.ContinueOnError)
		fs.SetOutput(stderr)
		if err := fs.Parse(args); err != nil {
			return flagErr(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		infos, err := runtime.BuildReferenceImages(ctx, runtime.ImageOptions{Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			return withExit(exitCannotRun, err)
		}
		for _, im := range infos {
			state := "present"
			if im.Built {
				state = "built in " + im.BuildTime.Round(time.Millisecond).String()
			}
			fmt.Fprintf(stdout, "%-8s %-32s %6.1f MB  %s\n", im.Component, im.Ref, float64(im.Size)/1e6, state)
		}
		return nil
	})
}
