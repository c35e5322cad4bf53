package docker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/recall-drills/recall/internal/redact"
)

// With the testcontainers reaper off (its image cannot be pulled here), cleanup is ours: every
// container and network a drill creates carries LabelDrill=<drill id>, and removal goes by that
// label rather than by what Start remembers, so it also finds what an interrupted Start created
// without learning its id, and what a process killed with SIGKILL left behind.

// Cleanup removes every container (running, paused or stopped) and then every network labelled
// LabelDrill=drillID, or labelled LabelDrill at all when drillID is "". It returns how many it
// removed. It is what `recall cleanup` runs after a drill was killed with SIGKILL.
func Cleanup(ctx context.Context, drillID string) (removed int, err error) {
	tcInit(nil)
	cli, err := dockerClient(ctx)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	return sweep(ctx, cli, drillID)
}

// sweepPasses bounds the passes of sweep; sweepPause is the pause between them.
const (
	sweepPasses = 4
	sweepPause  = 200 * time.Millisecond
)

// sweep removes what Cleanup removes. A container whose creation was interrupted can appear a
// moment after the first listing (the daemon finishes a create whose client went away), so it
// lists again until a pass finds nothing, at most sweepPasses times.
func sweep(ctx context.Context, cli client.APIClient, drillID string) (int, error) {
	sel := LabelDrill
	if drillID != "" {
		sel += "=" + drillID
	}
	f := client.Filters{}.Add("label", sel)
	removed := 0
	var errs []error
	for pass := 0; pass < sweepPasses; pass++ {
		if pass > 0 {
			t := time.NewTimer(sweepPause)
			select {
			case <-ctx.Done():
				t.Stop()
				return removed, errors.Join(append(errs, ctx.Err())...)
			case <-t.C:
			}
		}
		errs = errs[:0]
		n, err := removeContainers(ctx, cli, f)
		removed += n
		if err != nil {
			errs = append(errs, err)
		}
		nl, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			errs = append(errs, fmt.Errorf("list networks: %w", err))
			continue
		}
		for _, nw := range nl.Items {
			if _, err := cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove network %s: %w", nw.Name, err))
				continue
			}
			n++
			removed++
		}
		if n == 0 && len(errs) == 0 {
			return removed, nil
		}
	}
	return removed, errors.Join(errs...)
}

// removeContainers force-removes, in parallel, every container matching f.
func removeContainers(ctx context.Context, cli client.APIClient, f client.Filters) (int, error) {
	cl, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	var (
		mu   sync.Mutex
		n    int
		errs []error
		wg   sync.WaitGroup
	)
	for _, c := range cl.Items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				n++
			case errdefs.IsNotFound(err):
			case errdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress"):
				n++ // removed by someone else at the same time
			default:
				errs = append(errs, fmt.Errorf("remove container %s: %w", strings.Join(c.Names, ","), err))
			}
		}()
	}
	wg.Wait()
	return n, errors.Join(errs...)
}

// Redact redacts a container's log line or an engine error as recall redacts everything it
// quotes (redact.Text): JWT-shaped strings become their fingerprint ([fp:…], the first 12 hex
// digits of their SHA-256, as recall logs tokens everywhere), and each value the harness holds
// (redact.Global: minted tokens, client secrets, ${VAR} values) or extra gives, Authorization
// values and secret fields are hidden. Lines and length are kept.
func Redact(s string, extra ...string) string {
	return redact.Text(s, extra...)
}

// logLine is one line of a container's output.
type logLine struct {
	at     time.Time
	stream string // stdout or stderr
	text   string
}

// containerLogs reads a container's stdout and stderr (the last tail lines of each when tail >
// 0) and merges them by the engine's timestamps, redacted (Redact, with extra).
func containerLogs(ctx context.Context, cli client.APIClient, id string, tail int, extra ...string) ([]logLine, error) {
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true}
	if tail > 0 {
		opts.Tail = strconv.Itoa(tail)
	}
	rc, err := cli.ContainerLogs(ctx, id, opts)
	if err != nil {
		return nil, fmt.Errorf("container logs: %w", err)
	}
	defer rc.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, rc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("container logs: %w", err)
	}
	lines := append(splitLog(&stdout, "stdout", extra...), splitLog(&stderr, "stderr", extra...)...)
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	if tail > 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	return lines, nil
}

// splitLog parses "<RFC 3339 timestamp> <text>" lines as the engine writes them with
// Timestamps, each redacted (Redact, with extra).
func splitLog(r io.Reader, stream string, extra ...string) []logLine {
	var out []logLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		ts, text, ok := strings.Cut(line, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			at, text = time.Time{}, line
		}
		out = append(out, logLine{at: at, stream: stream, text: Redact(text, extra...)})
	}
	return out
}

// formatTail renders log lines for an error message, indented, text only.
func formatTail(lines []logLine) string {
	if len(lines) == 0 {
		return "  (no output)"
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("  ")
		b.WriteString(l.text)
	}
	return b.String()
}

// writeLogFile writes lines to dir/<component>.log as "<timestamp> <stream> <text>".
func writeLogFile(dir, component string, lines []logLine) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	for _, l := range lines {
		if !l.at.IsZero() {
			b.WriteString(l.at.UTC().Format(time.RFC3339Nano))
			b.WriteByte(' ')
		}
		b.WriteString(l.stream)
		b.WriteByte(' ')
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return os.WriteFile(filepath.Join(dir, safeName(component)+".log"), b.Bytes(), 0o644)
}

var reUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// safeName makes s usable in a file or container name.
func safeName(s string) string {
	s = reUnsafe.ReplaceAllString(s, "-")
	if s == "" || s[0] == '.' || s[0] == '-' {
		s = "x" + s
	}
	return s
}
