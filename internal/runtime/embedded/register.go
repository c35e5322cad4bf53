package embedded

import "github.com/recall-drills/recall/internal/runtime"

func init() {
	runtime.Register(runtime.Kind{
		Name:  "embedded",
		Doc:   "the reference stack in this process (no Docker); your own components only at a url",
		Proto: (*Env)(nil),
		Check: func(specs []runtime.Spec) []runtime.FieldError {
			var out []runtime.FieldError
			for i, s := range specs {
				if s.Use == "" && s.URL == "" {
					out = append(out, runtime.FieldError{Component: i, Field: "url", Msg: "required: runtime embedded starts only reference components (use: reference/...) and probes your own at their url; give the url where " + s.Name + " runs, or use runtime docker with an image"})
				}
			}
			return append(out, runtime.CheckSSF(specs)...)
		},
		New: func(p runtime.Params) (runtime.Environment, error) {
			return New(p.Specs, *p.Secrets, WithLogger(p.Logger), WithStartTimeout(p.StartTimeout), WithLinks(p.Links...))
		},
		Reach: func(s runtime.Spec) string {
			if s.Use == "" {
				return ""
			}
			return "in-process " + s.Use + " on 127.0.0.1"
		},
	})
}
