package runtime

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

func init() {
	Register(Kind{
		Name:  "docker",
		Doc:   "every component in a container: reference images built FROM scratch from this repository, yours from image:",
		Proto: (*Docker)(nil),
		Check: func(specs []Spec) []FieldError {
			var out []FieldError
			for i, s := range specs {
				if s.Use == "" && s.Image == "" && s.URL == "" {
					out = append(out, FieldError{i, "image", "required: runtime docker needs an image for " + s.Name + " (or a url if it already runs somewhere)"})
				}
				if slices.Contains(dockerEmbeddedOnly, s.Use) {
					out = append(out, FieldError{i, "use", fmt.Sprintf("the docker runtime cannot run %s (component %s) yet: it builds no image for it; use runtime embedded", s.Use, s.Name)})
				}
				if s.Use == UseGateway {
					for _, k := range dockerGatewayUnsupported {
						if _, ok := s.With[k]; ok {
							out = append(out, FieldError{i, "with." + k, fmt.Sprintf("the docker runtime cannot set %s on %s (component %s): its gateway image has no flag for it; use runtime embedded", k, s.Use, s.Name)})
						}
					}
				}
			}
			return out
		},
		New: func(p Params) (Environment, error) {
			opts := []DockerOption{WithDrillID(p.DrillID), WithDockerLogger(p.Logger),
				WithDockerStartTimeout(p.StartTimeout), WithDockerLinks(p.Links...)}
			if p.OutDir != "" {
				opts = append(opts, WithLogsDir(filepath.Join(p.OutDir, "logs")))
			}
			return NewDocker(p.Specs, *p.Secrets, opts...)
		},
	})
}

// dockerEmbeddedOnly are the reference components only the embedded runtime runs: the docker
// runtime builds no image for them (docker/*.Dockerfile exist, images.go does not build them).
var dockerEmbeddedOnly = []string{UseAPIKeys, UseAPIKeyService, UseRP}

// dockerGatewayUnsupported are reference gateway keys the gateway container takes no flag for.
var dockerGatewayUnsupported = []string{"jwks_ttl", "jwks_refetch", "jwks_min_refresh", "upstream_max_conns", "upstream_max_inflight"}

var _ Imager = (*Docker)(nil)

// ComponentImage implements Imager: a reference component's image as built or found by Start,
// a component of yours its image:.
func (d *Docker) ComponentImage(component string) (string, bool) {
	d.mu.Lock()
	c, ok := d.byName[component]
	d.mu.Unlock()
	if !ok {
		return "", false
	}
	if c.use != "" {
		for _, im := range d.Images() {
			if im.Component == strings.TrimPrefix(c.use, "reference/") {
				return im.Ref, true
			}
		}
	}
	return c.image, c.image != ""
}
