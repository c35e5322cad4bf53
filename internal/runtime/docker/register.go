package docker

import (
	"fmt"
	"path/filepath"
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
				if s.Use == runtime.UseSSF && (s.Image != "" || len(s.Command) > 0 || len(s.Ports) > 0) {
					field := "image"
					if s.Image == "" && len(s.Command) > 0 {
						field = "command"
					} else if s.Image == "" {
						field = "ports"
					}
					out = append(out, runtime.FieldError{Component: i, Field: field, Msg: fmt.Sprintf("the docker runtime runs %s (component %s) in the harness, where the ssf-event action emits on it: it has no container, so no %s", s.Use, s.Name, field)})
				}
				if _, ok := s.With["ssf_token"]; ok && s.Use == runtime.UseIssuer {
					out = append(out, runtime.FieldError{Component: i, Field: "with.ssf_token", Msg: fmt.Sprintf("the docker runtime cannot make %s (component %s) an SSF transmitter: its issuer image has no flag for it; use runtime embedded", s.Use, s.Name)})
				}
				if s.Use == runtime.UseGateway {
					for _, k := range gatewayUnsupported {
						if _, ok := s.With[k]; ok {
							out = append(out, runtime.FieldError{Component: i, Field: "with." + k, Msg: fmt.Sprintf("the docker runtime cannot set %s on %s (component %s): its gateway image has no flag for it; use runtime embedded", k, s.Use, s.Name)})
						}
					}
				}
			}
			return append(out, runtime.CheckSSF(specs)...)
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
			if s.Use == runtime.UseSSF {
				return "in the harness, on the drill network's gateway address"
			}
			if s.Image != "" {
				return "container of " + s.Image
			}
			return "container built from " + s.Use
		},
	})
}

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
