package scenario

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/recall-drills/recall/internal/expect"
)

// TestReadmeDocumentsEverything keeps scenarios/README.md in step with the types: every key,
// every metric, every name in the lists.
func TestReadmeDocumentsEverything(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../scenarios/README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, v := range []any{Scenario{}, System{}, Component{}, Wait{}, Probe{}, Match{}, Tokens{}, Traffic{}, Ramp{}, Recall{}, Fault{}, Expectation{}, ReportSpec{}, OAuth{}, Introspection{}, ClientAccount{}, UserAccount{}, TokenSource{}, SSFReceiver{}} {
		for key := range yamlFields(reflect.TypeOf(v)) {
			if !strings.Contains(doc, key+":") {
				t.Errorf("%T key %q is not documented", v, key)
			}
		}
	}
	for use, ref := range references {
		if !strings.Contains(doc, "`"+use+"`") {
			t.Errorf("use %s is not documented", use)
		}
		for _, key := range ref.Params.Keys() {
			if !strings.Contains(doc, "`"+key+"`") {
				t.Errorf("%s with key %s is not documented", use, key)
			}
		}
	}
	for _, m := range expect.Metrics() {
		if !strings.Contains(doc, "`"+m.Name+"`") {
			t.Errorf("metric %s is not documented", m.Name)
		}
		for _, st := range m.Stats {
			if !strings.Contains(doc, "`"+st+"`") {
				t.Errorf("statistic %s of %s is not documented", st, m.Name)
			}
		}
	}
	for _, list := range [][]string{ClientAuths, IntrospectionAuths, Runtimes, Kinds, Grants, Modes, Severities, Strategies, FailModes, DefaultActions, DefaultFaults, Methods} {
		for _, name := range list {
			if !strings.Contains(doc, name) {
				t.Errorf("%q is not documented", name)
			}
		}
	}
}
