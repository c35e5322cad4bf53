package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
)

// Reference images (docker/*.Dockerfile → recall-<component>:<hash>)
//
//	targets/cmd/<c>  ──go build (CGO_ENABLED=0 -trimpath)──► binary ─┐
//	docker/<c>.Dockerfile (FROM scratch) ─────────────────────────────┴─► sha256 ─► recall-<c>:<16 hex>
//	                                                     ImageInspect: present? done : build from an
//	                                                     in-memory context of the two files
//
// The tag is a hash of what goes into the image, so a second drill finds the image and builds
// nothing, and a changed binary or Dockerfile gets a new tag. The binaries are always compiled
// (the hash needs them); Go's build cache makes that a few seconds once warm. Nothing here
// pulls: the Dockerfiles must be FROM scratch with no "# syntax=" directive, and the classic
// builder is asked for.

// Labels recall puts on what it creates.
const (
	// LabelDrill marks every container and network of a drill; its value is the drill id.
	LabelDrill = "dev.recall.drill"
	// LabelComponent is the component name of a container (its network alias).
	LabelComponent = "dev.recall.component"
	// LabelReference marks a reference image; its value is the component (issuer, gateway, …).
	LabelReference = "dev.recall.reference"
)

// Reference component names: targets/cmd/<name>, docker/<name>.Dockerfile, image recall-<name>.
const (
	RefIssuer  = "issuer"
	RefGateway = "gateway"
	RefService = "service"
	RefNATS    = "nats"
	// RefAPIKeys and RefAPIKeyService are the API-key authority and service (targets/apikey).
	RefAPIKeys       = "apikeys"
	RefAPIKeyService = "apikey-service"
	// RefRP is the relying party (targets/rp): cookie sessions and back-channel logout.
	RefRP = "rp"
	// RefToxiproxy is toxiproxy's server, which the docker runtime puts on declared links.
	RefToxiproxy = "toxiproxy"
)

// ReferenceComponents lists the reference components that have an image.
var ReferenceComponents = []string{RefIssuer, RefGateway, RefService, RefNATS, RefAPIKeys, RefAPIKeyService, RefRP, RefToxiproxy}

// ModulePath is the Go module whose targets/cmd the reference images are built from.
const ModulePath = "github.com/recall-drills/recall"

// ImageRepoPrefix prefixes the repository of every reference image: recall-issuer, ….
const ImageRepoPrefix = "recall-"

// ImageOptions configures how reference images are found and built.
type ImageOptions struct {
	// ModuleRoot is the directory of recall's go.mod; default: found by walking up from the
	// working directory.
	ModuleRoot string
	// DockerDir holds <component>.Dockerfile; default ModuleRoot/docker.
	DockerDir string
	// Components to build; default ReferenceComponents.
	Components []string
	// Go is the go command; default "go" from PATH.
	Go string
	// Logger receives progress at Info and details at Debug; default discarded.
	Logger *slog.Logger
}

// ImageInfo describes one reference image.
type ImageInfo struct {
	// Component is issuer, gateway, service, nats or toxiproxy.
	Component string `json:"component"`
	// Ref is the image reference, recall-<component>:<16 hex of the content hash>.
	Ref string `json:"ref"`
	// ID is the image id (sha256:…).
	ID string `json:"id"`
	// Size is the image size in bytes.
	Size int64 `json:"size_bytes"`
	// Built is true when the image was built now, false when it was already present.
	Built bool `json:"built"`
	// BuildTime is how long docker took to build it (zero when not built).
	BuildTime time.Duration `json:"build_time_ns"`
	// Fallback is true when the image could not be built here (no Go toolchain or no source)
	// and the newest local image labelled for the component was taken instead.
	Fallback bool `json:"fallback,omitempty"`
}

// imageBuilds counts docker image builds per image reference in this process (tests check the
// cache with it).
var imageBuilds struct {
	sync.Mutex
	n map[string]int
}

func countBuild(ref string) {
	imageBuilds.Lock()
	defer imageBuilds.Unlock()
	if imageBuilds.n == nil {
		imageBuilds.n = map[string]int{}
	}
	imageBuilds.n[ref]++
}

// BuildReferenceImages compiles targets/cmd/* and builds every missing reference image, for
// `make images` and the docker runtime. It returns one ImageInfo per component (in the order
// asked), including those already present. It never pulls.
func BuildReferenceImages(ctx context.Context, opts ImageOptions) ([]ImageInfo, error) {
	tcInit(opts.Logger)
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	b, err := newImageBuilder(opts)
	if err != nil {
		return nil, err
	}
	return b.ensure(ctx, cli, b.opts.Components)
}

// imageBuilder builds reference images.
type imageBuilder struct {
	opts ImageOptions
	log  *slog.Logger
	// srcErr says why images cannot be built here (no module root, no go); nil when they can.
	srcErr error
}

func newImageBuilder(opts ImageOptions) (*imageBuilder, error) {
	b := &imageBuilder{opts: opts, log: opts.Logger}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if len(b.opts.Components) == 0 {
		b.opts.Components = ReferenceComponents
	}
	for _, c := range b.opts.Components {
		if !isReference(c) {
			return nil, fmt.Errorf("unknown reference component %q (have: %s)", c, strings.Join(ReferenceComponents, ", "))
		}
	}
	if b.opts.ModuleRoot == "" {
		wd, err := os.Getwd()
		if err == nil {
			b.opts.ModuleRoot, err = FindModuleRoot(wd)
		}
		if err != nil {
			b.srcErr = err
		}
	} else if err := checkModuleRoot(b.opts.ModuleRoot); err != nil {
		b.srcErr = err
	}
	if b.opts.DockerDir == "" && b.opts.ModuleRoot != "" {
		b.opts.DockerDir = filepath.Join(b.opts.ModuleRoot, "docker")
	}
	if b.opts.Go == "" {
		b.opts.Go = "go"
	}
	if b.srcErr == nil {
		if _, err := exec.LookPath(b.opts.Go); err != nil {
			b.srcErr = fmt.Errorf("no Go toolchain to compile the reference components: %w", err)
		}
	}
	return b, nil
}

func isReference(c string) bool {
	for _, r := range ReferenceComponents {
		if r == c {
			return true
		}
	}
	return false
}

// FindModuleRoot walks up from dir to the directory whose go.mod declares ModulePath.
func FindModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if checkModuleRoot(d) == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod of %s above %s: reference images are built from recall's source tree (run from it or give its module root)", ModulePath, dir)
		}
		d = parent
	}
}

func checkModuleRoot(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("module root %s: %w", dir, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "module" {
			if strings.Trim(f[1], `"`) == ModulePath {
				return nil
			}
			return fmt.Errorf("module root %s: go.mod declares %s, not %s", dir, f[1], ModulePath)
		}
	}
	return fmt.Errorf("module root %s: go.mod has no module line", dir)
}

// dockerfilePath is where the Dockerfile of component c lives.
func (b *imageBuilder) dockerfilePath(c string) string {
	return filepath.Join(b.opts.DockerDir, c+".Dockerfile")
}

// check returns why component c's image can be neither built here nor found locally, or nil.
// It reads and vets the Dockerfile; it builds nothing.
func (b *imageBuilder) check(ctx context.Context, cli client.APIClient, c string) error {
	if b.srcErr == nil {
		df, err := os.ReadFile(b.dockerfilePath(c))
		if err != nil {
			return fmt.Errorf("reference image %s: %w", c, err)
		}
		if err := CheckDockerfile(df); err != nil {
			return fmt.Errorf("reference image %s: %s: %w", c, b.dockerfilePath(c), err)
		}
		return nil
	}
	if _, err := b.newest(ctx, cli, c); err != nil {
		return fmt.Errorf("reference image %s cannot be built here (%v) and no image labelled %s=%s is present: run `make images` where recall's source is", c, b.srcErr, LabelReference, c)
	}
	return nil
}

// newest returns the most recently created local image labelled as reference component c.
func (b *imageBuilder) newest(ctx context.Context, cli client.APIClient, c string) (ImageInfo, error) {
	res, err := cli.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", LabelReference+"="+c)})
	if err != nil {
		return ImageInfo{}, fmt.Errorf("list images: %w", err)
	}
	items := res.Items
	if len(items) == 0 {
		return ImageInfo{}, errdefs.ErrNotFound.WithMessage("no reference image for " + c)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Created > items[j].Created })
	img := items[0]
	ref := img.ID
	for _, t := range img.RepoTags {
		if strings.HasPrefix(t, ImageRepoPrefix+c+":") {
			ref = t
			break
		}
	}
	return ImageInfo{Component: c, Ref: ref, ID: img.ID, Size: img.Size, Fallback: true}, nil
}

// ensure returns the images of components, building the missing ones.
func (b *imageBuilder) ensure(ctx context.Context, cli client.APIClient, components []string) ([]ImageInfo, error) {
	if len(components) == 0 {
		return nil, nil
	}
	if b.srcErr != nil {
		var out []ImageInfo
		var errs []error
		for _, c := range components {
			info, err := b.newest(ctx, cli, c)
			if err != nil {
				errs = append(errs, fmt.Errorf("reference image %s cannot be built here (%v) and none is present: %w", c, b.srcErr, err))
				continue
			}
			b.log.Warn("using a prebuilt reference image: cannot build here", "image", info.Ref, "reason", b.srcErr)
			out = append(out, info)
		}
		return out, errors.Join(errs...)
	}
	var errs []error
	dfs := make(map[string][]byte, len(components))
	for _, c := range components {
		df, err := os.ReadFile(b.dockerfilePath(c))
		if err == nil {
			err = CheckDockerfile(df)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reference image %s: %s: %w", c, b.dockerfilePath(c), err))
		}
		dfs[c] = df
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	arch := "amd64"
	if v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{}); err == nil && v.Arch != "" {
		arch = v.Arch
	}
	dir, err := os.MkdirTemp("", "recall-images-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	began := time.Now()
	b.log.Info("compiling reference components (with a cold Go build cache this takes a minute or more)", "components", strings.Join(components, ","))
	stop := b.progress(began)
	err = b.compile(ctx, dir, arch, components)
	stop()
	if err != nil {
		return nil, err
	}
	b.log.Info("compiled reference components", "components", strings.Join(components, ","), "took", time.Since(began).Round(time.Millisecond))
	// Docker builds the images in parallel: each is one COPY, mostly waiting on the engine.
	out := make([]ImageInfo, len(components))
	errs = make([]error, len(components))
	var wg sync.WaitGroup
	for i, c := range components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bin, err := os.ReadFile(filepath.Join(dir, c))
			if err != nil {
				errs[i] = fmt.Errorf("reference image %s: %w", c, err)
				return
			}
			out[i], errs[i] = ensureImage(ctx, cli, c, map[string][]byte{"Dockerfile": dfs[c], c: bin}, b.log)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		var ok []ImageInfo
		for i, info := range out {
			if errs[i] == nil {
				ok = append(ok, info)
			}
		}
		return ok, err
	}
	return out, nil
}

// progressEvery is how often a long compile says it is still going (a variable for tests).
var progressEvery = 15 * time.Second

// progress logs a line every progressEvery until the returned stop is called.
func (b *imageBuilder) progress(began time.Time) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				b.log.Info("still compiling reference components", "elapsed", time.Since(began).Round(time.Second))
			}
		}
	}()
	return func() { close(done) }
}

// compile builds the mains of components into dir with one go command (linked in parallel).
func (b *imageBuilder) compile(ctx context.Context, dir, arch string, components []string) error {
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
	for _, c := range components {
		args = append(args, "./targets/cmd/"+c)
	}
	cmd := exec.CommandContext(ctx, b.opts.Go, args...)
	cmd.Dir = b.opts.ModuleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	b.log.Debug("go "+strings.Join(args, " "), "dir", cmd.Dir, "goarch", arch)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("compile reference components (go %s in %s): %w\n%s", strings.Join(args, " "), cmd.Dir, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// contentRef is ImageRepoPrefix+component+":"+16 hex of a SHA-256 over the files (sorted by
// name, each name and length prefixed).
func contentRef(component string, files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
		h.Write(files[n])
	}
	return ImageRepoPrefix + component + ":" + hex.EncodeToString(h.Sum(nil))[:16]
}

// ensureImage returns the image built from files (a Dockerfile and what it copies), building it
// from an in-memory context only when no image has its content tag yet.
func ensureImage(ctx context.Context, cli client.APIClient, component string, files map[string][]byte, log *slog.Logger) (ImageInfo, error) {
	ref := contentRef(component, files)
	info := ImageInfo{Component: component, Ref: ref}
	if img, err := cli.ImageInspect(ctx, ref); err == nil {
		info.ID, info.Size = img.ID, img.Size
		log.Debug("reference image present", "image", ref, "size", img.Size)
		return info, nil
	} else if !errdefs.IsNotFound(err) {
		return info, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	began := time.Now()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		mode := int64(0o755)
		if name == "Dockerfile" {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(files[name])), ModTime: time.Unix(0, 0)}); err != nil {
			return info, fmt.Errorf("build image %s: %w", ref, err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			return info, fmt.Errorf("build image %s: %w", ref, err)
		}
	}
	if err := tw.Close(); err != nil {
		return info, fmt.Errorf("build image %s: %w", ref, err)
	}
	countBuild(ref)
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags:        []string{ref},
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{LabelReference: component},
		Version:     build.BuilderV1, // the classic builder: BuildKit may fetch a frontend image
	})
	if err != nil {
		return info, fmt.Errorf("build image %s: %w", ref, err)
	}
	defer res.Body.Close()
	var out bytes.Buffer // build errors arrive inside the JSON stream
	if err := jsonmessage.DisplayStream(res.Body, &out); err != nil {
		return info, fmt.Errorf("build image %s: %w\n%s", ref, err, strings.TrimSpace(out.String()))
	}
	img, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return info, fmt.Errorf("inspect built image %s: %w", ref, err)
	}
	info.ID, info.Size, info.Built, info.BuildTime = img.ID, img.Size, true, time.Since(began)
	log.Info("built reference image", "image", ref, "size_mb", fmt.Sprintf("%.1f", float64(img.Size)/1e6), "took", info.BuildTime.Round(time.Millisecond))
	return info, nil
}

var (
	reSyntax  = regexp.MustCompile(`(?i)^#\s*syntax\s*=`)
	reComment = regexp.MustCompile(`^\s*#`)
)

// CheckDockerfile returns why a Dockerfile cannot be built here without pulling: a base image
// other than scratch (or an earlier stage), a "# syntax=" parser directive (BuildKit would
// fetch the frontend image) or an ADD from a URL.
func CheckDockerfile(df []byte) error {
	var errs []error
	stages := map[string]bool{}
	header := true
	sc := bufio.NewScanner(bytes.NewReader(df))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if header && reComment.MatchString(line) {
			if reSyntax.MatchString(line) {
				errs = append(errs, fmt.Errorf("line %d: %q: a syntax directive makes BuildKit pull its frontend image; remove it", n, line))
			}
			continue
		}
		if line == "" || reComment.MatchString(line) {
			continue
		}
		header = false
		f := strings.Fields(line)
		switch strings.ToUpper(f[0]) {
		case "FROM":
			args := f[1:]
			for len(args) > 0 && strings.HasPrefix(args[0], "--") {
				args = args[1:]
			}
			if len(args) == 0 {
				errs = append(errs, fmt.Errorf("line %d: FROM without an image", n))
				continue
			}
			base := strings.ToLower(args[0])
			if base != "scratch" && !stages[base] {
				errs = append(errs, fmt.Errorf("line %d: FROM %s: only FROM scratch can be built here (images are never pulled)", n, args[0]))
			}
			if len(args) >= 3 && strings.EqualFold(args[1], "as") {
				stages[strings.ToLower(args[2])] = true
			}
		case "ADD":
			for _, a := range f[1:] {
				if strings.Contains(a, "://") || strings.HasPrefix(a, "git@") {
					errs = append(errs, fmt.Errorf("line %d: ADD %s fetches from the network", n, a))
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
