package docker

import (
	"context"
	"log/slog"
)

// EnsureImage returns the reference of an image built from files (a build context held in
// memory: a Dockerfile and what it copies), named recall-<component> and tagged by its content,
// building it only when the engine has no image of that tag. It never pulls: a Dockerfile FROM
// scratch needs nothing else. Tests build their own components with it.
func EnsureImage(ctx context.Context, component string, files map[string][]byte, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	info, err := ensureImage(ctx, cli, component, files, log)
	return info.Ref, err
}
