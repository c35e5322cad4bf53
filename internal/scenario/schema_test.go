package scenario

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/invopop/jsonschema"
	"go.yaml.in/yaml/v3"

	"github.com/recall-drills/recall/internal/expect"
)

var update = flag.Bool("update", false, "rewrite schema.json from the Go types")

const (
	durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	durPart         = `([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+`
)

// generateSchema builds the JSON Schema of scenario files from the Go types. It reads the doc
// comments of this package's source, so it runs from the package directory (go generate, go
// test), never at run time: Schema returns its committed output.
func generateSchema() ([]byte, error) {
	r := &jsonschema.Reflector{
		RequiredFromJSONSchemaTags: true,
		ExpandedStruct:             true,
	}
	if err := r.AddGoComments("github.com/recall-drills/recall/internal/scenario", "."); err != nil {
		return nil, fmt.Errorf("read comments: %w", err)
	}
	for k, v := range r.CommentMap {
		r.CommentMap[k] = strings.ReplaceAll(v, "\n", " ") // comments are wrapped at 100 columns
	}
	comment := func(v any, field string) string {
		return r.CommentMap[reflect.TypeOf(v).PkgPath()+"."+reflect.TypeOf(v).Name()+"."+field]
	}
	str := func(desc string, examples ...any) *jsonschema.Schema {
		return &jsonschema.Schema{Type: "string", Description: desc, Examples: examples}
	}
	enum := func(list []string) []any {
		out := make([]any, len(list))
		for i, v := range list {
			out[i] = v
		}
		return out
	}
	r.Mapper = func(t reflect.Type) *jsonschema.Schema {
		switch t {
		case reflect.TypeOf(time.Duration(0)):
			s := str("", "5s")
			s.Pattern = durationPattern
			return s
		case reflect.TypeOf(Rate{}):
			s := str("", "2000/s", "100/m", "5/ms")
			s.Pattern = `^\s*[0-9]+\s*/\s*(` + durPart + `|ns|us|µs|ms|s|m|h)\s*$`
			return s
		case reflect.TypeOf(Offset{}):
			s := str("", "15s", "recall-1s", "recall+2s")
			s.Pattern = `^\s*((start|recall)(\s*[+-]\s*` + durPart + `)?|\+?` + durPart + `)\s*$`
			return s
		case reflect.TypeOf(Percent{}):
			pct := str("", "10%")
			pct.Pattern = `^\s*[0-9]+(\.[0-9]+)?\s*%\s*$`
			return &jsonschema.Schema{OneOf: []*jsonschema.Schema{pct, {Type: "number", Minimum: "0", Maximum: "1"}}}
		case reflect.TypeOf(SampleSize{}):
			pct := str("", "10%")
			pct.Pattern = `^\s*[0-9]+(\.[0-9]+)?\s*%\s*$`
			return &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Type: "integer", Minimum: "1", Examples: []any{100}}, pct}}
		case reflect.TypeOf(Clients{}):
			return &jsonschema.Schema{Description: r.CommentMap["github.com/recall-drills/recall/internal/scenario.Clients"], OneOf: []*jsonschema.Schema{
				{Type: "integer", Minimum: "1", Maximum: "10000"},
				{Type: "array", Items: &jsonschema.Schema{Ref: "#/$defs/ClientAccount"}},
			}}
		case reflect.TypeOf(Users{}):
			file := &jsonschema.Schema{Type: "object", Properties: jsonschema.NewProperties(), Required: []string{"file"}, AdditionalProperties: jsonschema.FalseSchema}
			file.Properties.Set("file", &jsonschema.Schema{Type: "string", Description: "A CSV file of username,password[,totp_secret], relative to the scenario."})
			return &jsonschema.Schema{Description: r.CommentMap["github.com/recall-drills/recall/internal/scenario.Users"], OneOf: []*jsonschema.Schema{
				{Type: "integer", Minimum: "1", Maximum: "100000"},
				{Type: "array", Items: &jsonschema.Schema{Ref: "#/$defs/UserAccount"}},
				file,
			}}
		case reflect.TypeOf(Regexp{}):
			s := str("", "revoked")
			s.Format = "regex"
			return s
		case reflect.TypeOf(expect.JSONCond{}):
			return str("", "active == true")
		case reflect.TypeOf(Expectation{}):
			obj := &jsonschema.Schema{
				Type:                 "object",
				Properties:           jsonschema.NewProperties(),
				Required:             []string{"expr"},
				AdditionalProperties: jsonschema.FalseSchema,
			}
			obj.Properties.Set("expr", str(comment(Expectation{}, "Text"), "time_to_consistency.p99 < 2s"))
			obj.Properties.Set("severity", &jsonschema.Schema{Type: "string", Description: comment(Expectation{}, "Severity"), Enum: enum(Severities), Default: SeverityFail})
			obj.Properties.Set("note", str(comment(Expectation{}, "Note")))
			return &jsonschema.Schema{
				Description: r.CommentMap["github.com/recall-drills/recall/internal/scenario.Expectation"],
				OneOf: []*jsonschema.Schema{
					str("An expectation: metric[{component=\"name\"}] op value. See scenarios/README.md.",
						"time_to_consistency.p99 < 2s", `stale_accepts{component="edge-push"} == 0`),
					obj,
				},
			}
		}
		return nil
	}
	s := r.Reflect(&Scenario{})
	// The list forms of tokens.clients and tokens.users refer to these.
	for name, v := range map[string]any{"ClientAccount": &ClientAccount{}, "UserAccount": &UserAccount{}} {
		d := r.Reflect(v)
		d.Version, d.ID = "", ""
		s.Definitions[name] = d
	}
	s.ID = "https://github.com/recall-drills/recall/internal/scenario/schema.json"
	s.Title = "recall scenario"

	// Enumerations come from the Go lists Load uses without a Registry; a test in internal/plan
	// fails when they differ from the engine's registries.
	prop := func(def, name string) *jsonschema.Schema {
		d := s
		if def != "Scenario" {
			d = s.Definitions[def]
		}
		if d == nil {
			panic("schema: no definition " + def)
		}
		p, ok := d.Properties.Get(name)
		if !ok {
			panic("schema: no property " + def + "." + name)
		}
		return p
	}
	prop("System", "runtime").Enum = enum(Runtimes)
	prop("Component", "kind").Enum = enum(Kinds)
	prop("Component", "use").Enum = enum(ReferenceUses)
	prop("Probe", "method").Enum = enum(Methods)
	prop("Probe", "kind").Enum = enum(ProbeKinds)
	prop("Probe", "kind").Default = ProbeKinds[0] // an empty kind is the first, http
	prop("Tokens", "grant").Enum = enum(Grants)
	prop("TokenSource", "kind").Enum = enum(SourceKinds)
	prop("Recall", "action").Enum = enum(DefaultActions)
	prop("Recall", "select").Enum = []any{"victims"}
	prop("Recall", "mode").Enum = enum(Modes)
	prop("Fault", "fault").Enum = enum(DefaultFaults)

	// Defaults come from the Default* values.
	for def, v := range map[string]any{
		"System": DefaultSystem, "Tokens": DefaultTokens, "Traffic": DefaultTraffic, "Recall": DefaultRecall,
		"Wait": DefaultWait, "Probe": DefaultProbe, "ReportSpec": DefaultReport,
	} {
		m, err := yamlMap(v)
		if err != nil {
			return nil, err
		}
		zero, err := yamlMap(reflect.Zero(reflect.TypeOf(v)).Interface())
		if err != nil {
			return nil, err
		}
		for k, val := range m {
			if fmt.Sprint(val) != fmt.Sprint(zero[k]) {
				prop(def, k).Default = val
			}
		}
	}
	prop("Recall", "mode").Default = ModeBatch
	prop("Probe", "headers").Default = DefaultProbeHeaders()
	prop("Probe", "reject").Default = map[string]any{"status": DefaultRejectStatus}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// yamlMap returns v as written to YAML, as a map.
func yamlMap(v any) (map[string]any, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, yaml.Unmarshal(b, &m)
}

// TestSchemaUpToDate fails when schema.json no longer matches the Go types. go generate runs it
// with -update to rewrite the file.
func TestSchemaUpToDate(t *testing.T) {
	got, err := generateSchema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	committed, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, committed) {
		gl, cl := strings.Split(string(got), "\n"), strings.Split(string(committed), "\n")
		for i := range min(len(gl), len(cl)) {
			if gl[i] != cl[i] {
				t.Fatalf("schema.json is stale (line %d: have %q, the types give %q): run go generate ./internal/scenario", i+1, cl[i], gl[i])
			}
		}
		t.Fatalf("schema.json is stale (%d lines, the types give %d): run go generate ./internal/scenario", len(cl), len(gl))
	}
}

// TestSchemaContent checks what an editor relies on: every property described, the defaults
// and enumerations present.
func TestSchemaContent(t *testing.T) {
	t.Parallel()
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	defs := doc["$defs"].(map[string]any)
	defs["Scenario"] = doc
	for name, d := range defs {
		props, _ := d.(map[string]any)["properties"].(map[string]any)
		for key, p := range props {
			if desc, _ := p.(map[string]any)["description"].(string); desc == "" {
				t.Errorf("%s.%s has no description", name, key)
			}
		}
	}
	get := func(def, prop, kw string) any {
		return defs[def].(map[string]any)["properties"].(map[string]any)[prop].(map[string]any)[kw]
	}
	checks := []struct {
		def, prop, kw string
		want          any
	}{
		{"System", "runtime", "default", "embedded"},
		{"System", "start_timeout", "default", "30s"},
		{"Traffic", "workers", "default", float64(16)},
		{"Traffic", "recheck", "default", "10%"},
		{"Recall", "concurrency", "default", float64(32)},
		{"ReportSpec", "html", "default", true},
		{"ReportSpec", "dir", "default", "reports"},
		{"Probe", "timeout", "default", "2s"},
	}
	for _, c := range checks {
		if got := get(c.def, c.prop, c.kw); got != c.want {
			t.Errorf("%s.%s %s = %v, want %v", c.def, c.prop, c.kw, got, c.want)
		}
	}
	if got := fmt.Sprint(get("Component", "kind", "enum")); got != fmt.Sprint(Kinds) {
		t.Errorf("Component.kind enum = %v, want %v", got, Kinds)
	}
	req := fmt.Sprint(doc["required"])
	for _, k := range []string{"name", "system", "traffic", "recall"} {
		if !strings.Contains(req, k) {
			t.Errorf("top-level required = %s, missing %s", req, k)
		}
	}
	if doc["additionalProperties"] != false {
		t.Error("unknown top-level keys are allowed by the schema")
	}
}

func BenchmarkSchema(b *testing.B) {
	for b.Loop() {
		if _, err := Schema(); err != nil {
			b.Fatal(err)
		}
	}
}
