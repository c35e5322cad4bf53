package docker

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/recall-drills/recall/internal/runtime"
)

func init() {
	runtime.Register(runtime.Kind{
		Name:  "docker",
		Doc:   "every component in a container: reference images built FROM scratch from this repository, yours from image:",
		Proto: (*Env)(nil),
		Check: func(specs []runtime.Spec) []runtime.FieldError {
			var out []runtime.FieldError
			for i, s := range specs {
				if s.Use == "" && s.Image == "" && s.URL == "" {
					out = append(out, runtime.FieldError{Component: i, Field: "image", Msg: "required: runtime docker needs an image for " + s.Name + " (or a url if it already runs somewhere)"})
				}
				if slices.Contains(embeddedOnly, s.Use) {
					out = append(out, runtime.FieldError{Component: i, Field: "use", Msg: fmt.Sprintf("the docker runtime cannot run %s (component %s) yet: it builds no image for it; use runtime embedded", s.Use, s.Name)})
				}
				if s.Use == runtime.UseGateway {
					if st, _ := s.With["strategy"].(string); st == "ssf" {
						out = append(out, runtime.FieldError{Component: i, Field: "with.strategy", Msg: fmt.Sprintf("the docker runtime cannot run strategy ssf (component %s) yet: the transmitter runs in the harness and the gateway image has no receiver flags; use runtime embedded", s.Name)})
					}
					for _, k := range gatewayUnsupported {
						if _, ok := s.With[k]; ok {
							out = append(out, runtime.FieldError{Component: i, Field: "with." + k, Msg: fmt.Sprintf("the docker runtime cannot set %s on %s (component %s): its gateway image has no flag for it; use runtime embedded", k, s.Use, s.Name)})
						}
					}
				}
			}
			return out
		},
		New: func(p runtime.Params) (runtime.Environment, error) {
			opts := []Option{WithDrillID(p.DrillID), WithLogger(p.Logger),
				WithStartTimeout(p.StartTimeout), WithLinks(p.Links...)}
			if p.OutDir != "" {
				opts = append(opts, WithLogsDir(filepath.Join(p.OutDir, "logs")))
			}
			return New(p.Specs, *p.Secrets, opts...)
		},
		Reach: func(s runtime.Spec) string {
			if s.Image != "" {
				return "container of " + s.Image
			}
			return "container built from " + s.Use
		},
	})
}

// embeddedOnly are the reference components only the embedded runtime runs: this runtime
// builds no image for them (the transmitter, reference/ssf, runs in the harness, whose
// receivers no gateway image has yet).
var embeddedOnly = []string{runtime.UseSSF}

// gatewayUnsupported are reference gateway keys the gateway container takes no flag for (the
// jwks_* keys are its -jwks-ttl, -jwks-min-refresh and -jwks-refetch).
var gatewayUnsupported = []string{"upstream_max_conns", "upstream_max_inflight"}

var _ runtime.Imager = (*Env)(nil)

// ComponentImage implements Imager: a reference component's image as built or found by Start,
// a component of yours its image:.
func (d *Env) ComponentImage(component string) (string, bool) {
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
