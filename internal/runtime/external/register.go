package external

import "github.com/recall-drills/recall/internal/runtime"

func init() {
	runtime.Register(runtime.Kind{
		Name:  "external",
		Doc:   "a system already running somewhere: every component at its url",
		Proto: (*Env)(nil),
		Check: func(specs []runtime.Spec) []runtime.FieldError {
			var out []runtime.FieldError
			for i, s := range specs {
				if s.URL == "" {
					out = append(out, runtime.FieldError{Component: i, Field: "url", Msg: "required with runtime external: where " + s.Name + " is reached, e.g. https://staging.example.com"})
				}
			}
			return out
		},
		New: func(p runtime.Params) (runtime.Environment, error) {
			health := map[string]string{}
			seenIssuer := false
			for _, s := range p.Specs {
				if s.Wait != nil && s.Wait.HTTP != "" {
					health[s.Name] = s.Wait.HTTP
				}
				// The issuer already runs: drive its admin API with the secret it has.
				if s.Kind == "issuer" && !seenIssuer {
					seenIssuer = true
					if v, ok := s.With["admin_secret"].(string); ok && p.Secrets != nil {
						p.Secrets.AdminSecret = v
					}
				}
			}
			return New(p.Specs, health)
		},
	})
}
