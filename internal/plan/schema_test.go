package plan

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/recall-drills/recall/internal/chaos"
	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/internal/source"
)

// TestSchemaMatchesRegistries fails when the JSON Schema's enumerations (and the lists Load uses
// without a Registry, which generate them) differ from the engine's registries: a runtime,
// action, fault or probe kind registered without regenerating the schema, or a name left behind.
func TestSchemaMatchesRegistries(t *testing.T) {
	t.Parallel()
	b, err := scenario.Schema()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs map[string]struct {
			Properties map[string]struct {
				Enum    []string `json:"enum"`
				Default any      `json:"default"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	enum := func(def, prop string) []string { return doc.Defs[def].Properties[prop].Enum }

	var actions, modes []string
	for _, n := range drill.ActionNames() {
		if testOnlyActions[n] {
			continue
		}
		actions = append(actions, n)
		k, _ := drill.LookupAction(n)
		for _, m := range k.Modes {
			if !slices.Contains(modes, m) {
				modes = append(modes, m)
			}
		}
	}
	var runtimes []string
	for _, n := range runtime.Names() {
		if !testOnlyRuntimes[n] {
			runtimes = append(runtimes, n)
		}
	}
	var probes []string
	for _, n := range drill.ProbeNames() {
		if !testOnlyProbes[n] {
			probes = append(probes, n)
		}
	}
	if d := doc.Defs["Probe"].Properties["kind"].Default; d != drill.ProbeHTTP {
		t.Errorf("schema: probe.kind default %v, want %s (what an empty kind builds)", d, drill.ProbeHTTP)
	}
	for _, c := range []struct {
		what             string
		schema, defaults []string
		registry         []string
	}{
		{"system.runtime", enum("System", "runtime"), scenario.Runtimes, runtimes},
		{"recall.action", enum("Recall", "action"), scenario.DefaultActions, actions},
		{"recall.mode", enum("Recall", "mode"), scenario.Modes, modes},
		{"faults[].fault", enum("Fault", "fault"), scenario.DefaultFaults, chaos.Names()},
		{"probe.kind", enum("Probe", "kind"), scenario.ProbeKinds, probes},
		{"tokens.source.kind", enum("TokenSource", "kind"), scenario.SourceKinds, source.ExternalKindNames()},
	} {
		reg := sorted(c.registry)
		if got := sorted(c.schema); !slices.Equal(got, reg) {
			t.Errorf("%s: schema.json enumerates %v, the registry holds %v (run go generate ./internal/scenario after changing the list in internal/scenario)", c.what, got, reg)
		}
		if got := sorted(c.defaults); !slices.Equal(got, reg) {
			t.Errorf("%s: scenario's default list is %v, the registry holds %v", c.what, got, reg)
		}
	}
	def, _ := drill.LookupAction(fmt.Sprint(doc.Defs["Recall"].Properties["action"].Default))
	if d := doc.Defs["Recall"].Properties["mode"].Default; len(def.Modes) == 0 || d != def.Modes[0] {
		t.Errorf("schema: recall.mode default %v, the default action %s's first mode is %v", d, def.Name, def.Modes)
	}
}

func sorted(l []string) []string {
	out := slices.Clone(l)
	slices.Sort(out)
	return out
}
