package runtime

func init() {
	Register(Kind{
		Name:  "embedded",
		Doc:   "the reference stack in this process (no Docker); your own components only at a url",
		Proto: (*Embedded)(nil),
		Check: func(specs []Spec) []FieldError {
			var out []FieldError
			for i, s := range specs {
				if s.Use == "" && s.URL == "" {
					out = append(out, FieldError{i, "url", "required: runtime embedded runs only reference components (use: reference/...); give the url where " + s.Name + " runs, or use runtime docker with an image"})
				}
			}
			return out
		},
		New: func(p Params) (Environment, error) {
			return NewEmbedded(p.Specs, *p.Secrets, WithLogger(p.Logger), WithStartTimeout(p.StartTimeout), WithLinks(p.Links...))
		},
	})
	Register(Kind{
		Name:  "external",
		Doc:   "a system already running somewhere: every component at its url",
		Proto: (*External)(nil),
		Check: func(specs []Spec) []FieldError {
			var out []FieldError
			for i, s := range specs {
				if s.URL == "" {
					out = append(out, FieldError{i, "url", "required with runtime external: where " + s.Name + " is reached, e.g. https://staging.example.com"})
				}
			}
			return out
		},
		New: func(p Params) (Environment, error) {
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
			return NewExternal(p.Specs, health)
		},
	})
}
