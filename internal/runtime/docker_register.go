package runtime

import (
	"path/filepath"
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
