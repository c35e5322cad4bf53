package docker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

func TestCheckDockerfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, df string
		want     []string // substrings of the error; none: no error
	}{
		{name: "scratch", df: "FROM scratch\nCOPY x /x\nENTRYPOINT [\"/x\"]\n"},
		{name: "lowercase and platform", df: "from --platform=linux/amd64 scratch\ncopy x /x\n"},
		{name: "comments and a directive-looking comment later", df: "# build me\n\nFROM scratch\n# syntax=docker/dockerfile:1\n"},
		{name: "escape directive", df: "# escape=`\nFROM scratch\n"},
		{name: "stage of scratch", df: "FROM scratch AS base\nCOPY x /x\nFROM base\n"},
		{name: "alpine", df: "FROM alpine:3.20\n", want: []string{"line 1: FROM alpine:3.20: only FROM scratch"}},
		{name: "syntax directive", df: "# syntax=docker/dockerfile:1.7\nFROM scratch\n", want: []string{"line 1", "syntax directive"}},
		{name: "syntax directive with spaces", df: "#  Syntax = docker/dockerfile:1\nFROM scratch\n", want: []string{"syntax directive"}},
		{name: "multi-stage build from golang", df: "FROM golang:1.26 AS build\nRUN go build\nFROM scratch\nCOPY --from=build /x /x\n", want: []string{"line 1: FROM golang:1.26"}},
		{name: "add from url", df: "FROM scratch\nADD https://example.com/x /x\n", want: []string{"line 2: ADD https://example.com/x fetches from the network"}},
		{name: "no image", df: "FROM\n", want: []string{"FROM without an image"}},
		{name: "two problems", df: "# syntax=x\nFROM debian\n", want: []string{"syntax directive", "FROM debian"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckDockerfile([]byte(tc.df))
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("CheckDockerfile() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckDockerfile() = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckDockerfile() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// Our own Dockerfiles must build here without pulling.
func TestReferenceDockerfiles(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	for _, c := range ReferenceComponents {
		p := filepath.Join(root, "docker", c+".Dockerfile")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("component %s: %v", c, err)
			continue
		}
		if err := CheckDockerfile(b); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if !strings.Contains(string(b), "COPY "+c+" /"+c) {
			t.Errorf("%s does not COPY the binary %q that the build context holds", p, c)
		}
		if _, err := os.Stat(filepath.Join(root, "targets", "cmd", c, "main.go")); err != nil {
			t.Errorf("component %s has no main: %v", c, err)
		}
	}
}

func TestContentRef(t *testing.T) {
	t.Parallel()
	a := contentRef("issuer", map[string][]byte{"Dockerfile": []byte("FROM scratch"), "issuer": []byte("bin")})
	if a != contentRef("issuer", map[string][]byte{"issuer": []byte("bin"), "Dockerfile": []byte("FROM scratch")}) {
		t.Error("the ref depends on map order")
	}
	if !strings.HasPrefix(a, "recall-issuer:") || len(a) != len("recall-issuer:")+16 {
		t.Errorf("ref %q: want recall-issuer:<16 hex>", a)
	}
	for _, other := range []map[string][]byte{
		{"Dockerfile": []byte("FROM scratch"), "issuer": []byte("bin2")},
		{"Dockerfile": []byte("FROM scratch\n"), "issuer": []byte("bin")},
		{"Dockerfile": []byte("FROM scratchi"), "ssuer": []byte("bin")}, // same bytes, other split
	} {
		if contentRef("issuer", other) == a {
			t.Errorf("different content %q has the same ref", other)
		}
	}
}

func TestFindModuleRoot(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	got, err := FindModuleRoot(filepath.Join(root, "targets", "truth"))
	if err != nil || got != root {
		t.Errorf("FindModuleRoot(targets/truth) = %q, %v; want %q", got, err, root)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindModuleRoot(other); err == nil || !strings.Contains(err.Error(), ModulePath) {
		t.Errorf("FindModuleRoot(another module) = %v, want an error naming %s", err, ModulePath)
	}
	if err := checkModuleRoot(other); err == nil || !strings.Contains(err.Error(), "example.com/other") {
		t.Errorf("checkModuleRoot(another module) = %v", err)
	}
}

// A reference image is built once: a second ensure finds it by its content tag.
func TestBuildReferenceImagesCached(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	root := moduleRoot(t)
	// A Dockerfile unique to this run, so that the first call must build.
	dir := t.TempDir()
	df, err := os.ReadFile(filepath.Join(root, "docker", "service.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df = append(df, []byte("LABEL dev.recall.test="+newDrillID()+"\n")...)
	if err := os.WriteFile(filepath.Join(dir, "service.Dockerfile"), df, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := ImageOptions{ModuleRoot: root, DockerDir: dir, Components: []string{RefService}, Logger: testLogger(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	began := time.Now()
	first, err := BuildReferenceImages(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first: %s in %s", first[0].Ref, time.Since(began).Round(time.Millisecond))
	cli := testClient(t)
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), first[0].Ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	if len(first) != 1 || !first[0].Built || first[0].ID == "" || first[0].Size <= 0 || first[0].BuildTime <= 0 {
		t.Fatalf("first = %+v, want one image built now", first)
	}
	began = time.Now()
	second, err := BuildReferenceImages(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second: %s in %s", second[0].Ref, time.Since(began).Round(time.Millisecond))
	if second[0].Built || second[0].ID != first[0].ID || second[0].Ref != first[0].Ref {
		t.Errorf("second = %+v, want the first image (%s) found, not rebuilt", second[0], first[0].ID)
	}
	imageBuilds.Lock()
	n := imageBuilds.n[first[0].Ref]
	imageBuilds.Unlock()
	if n != 1 {
		t.Errorf("%s built %d times, want 1", first[0].Ref, n)
	}
	img, err := cli.ImageInspect(ctx, first[0].Ref)
	if err != nil {
		t.Fatal(err)
	}
	if img.Config == nil || img.Config.Labels[LabelReference] != RefService || img.Config.User != "65534:65534" {
		t.Errorf("image config: labels %v, user %q", img.Config.Labels, img.Config.User)
	}
	if img.Size > 40<<20 {
		t.Errorf("image is %d bytes: a FROM scratch image of one static binary should be far smaller", img.Size)
	}
}

func TestBuildReferenceImagesRejectsUnknown(t *testing.T) {
	t.Parallel()
	if _, err := newImageBuilder(ImageOptions{Components: []string{"postgres"}}); err == nil || !strings.Contains(err.Error(), `unknown reference component "postgres"`) {
		t.Errorf("newImageBuilder(postgres) = %v", err)
	}
}

// The API-key components' binaries and FROM scratch Dockerfiles exist and build without pulls.
func TestAPIKeyDockerfiles(t *testing.T) {
	root := moduleRoot(t)
	for _, c := range []string{"apikeys", "apikey-service", "rp"} {
		b, err := os.ReadFile(filepath.Join(root, "docker", c+".Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckDockerfile(b); err != nil || !strings.Contains(string(b), "COPY "+c+" /"+c) {
			t.Errorf("docker/%s.Dockerfile: %v", c, err)
		}
		if _, err := os.Stat(filepath.Join(root, "targets", "cmd", c, "main.go")); err != nil {
			t.Errorf("%s has no main: %v", c, err)
		}
	}
}
