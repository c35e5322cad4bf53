package chaos

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
	"github.com/recall-drills/recall/internal/runtime/external"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	want := []string{"bandwidth", "command", "http", "kill", "latency", "lose_answers", "partition", "pause", "reset_peer", "restart", "slow_close", "stop", "timeout"}
	if got := strings.Join(Names(), ","); got != strings.Join(want, ",") {
		t.Errorf("Names() = %s; want %s", got, strings.Join(want, ","))
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	Register(Kind{Name: "pause", New: newPause})
}

func TestNewChecksParams(t *testing.T) {
	t.Parallel()
	link := runtime.Link{From: "edge", To: "issuer"}
	for _, tc := range []struct {
		name, kind string
		p          Params
		want       string // "" for success
	}{
		{"latency ok", "latency", Params{Name: "l", Link: link, With: map[string]any{"latency": "500ms", "jitter": "50ms", "stream": "both"}}, ""},
		{"latency missing", "latency", Params{Link: link}, "with.latency: required: a duration like 500ms"},
		{"latency bad", "latency", Params{Link: link, With: map[string]any{"latency": "fast"}}, `with.latency: bad duration "fast": want a Go duration like 150ms, 2s or 1m30s`},
		{"latency unknown key", "latency", Params{Link: link, With: map[string]any{"latency": "1s", "delay": "1s"}}, "with.delay: unknown parameter (have: jitter, latency, stream, toxicity)"},
		{"bad stream", "bandwidth", Params{Link: link, With: map[string]any{"rate": 10, "stream": "sideways"}}, "with.stream: unknown value sideways (have: upstream, downstream, both)"},
		{"toxicity", "timeout", Params{Link: link, With: map[string]any{"toxicity": 2.0}}, "with.toxicity: must be between 0 and 1, got 2"},
		{"lose_answers ok", "lose_answers", Params{Name: "l", Link: link, With: map[string]any{"count": 10}}, ""},
		{"lose_answers no count", "lose_answers", Params{Link: link}, "with.count: required"},
		{"lose_answers fraction", "lose_answers", Params{Link: link, With: map[string]any{"count": 1.5}}, "with.count: must be a whole number >= 0, got 1.5"},
		{"lose_answers upstream", "lose_answers", Params{Link: link, With: map[string]any{"count": 1, "stream": "upstream"}}, "with.stream: unknown value upstream (have: downstream)"},
		{"no link", "partition", Params{}, "partition: needs a link (link: from->to)"},
		{"pause with", "pause", Params{Target: "edge", With: map[string]any{"x": 1}}, "with.x: unknown parameter: this fault takes no with"},
		{"command ok", "command", Params{With: map[string]any{"run": "true", "revert": []any{"true"}, "timeout": "5s"}}, ""},
		{"command no run", "command", Params{}, "with.run: required: the command that injects the fault"},
		{"command bad run", "command", Params{With: map[string]any{"run": 3}}, "with.run: want a string (run by sh -c) or a list of strings (argv), got 3"},
		{"http bad url", "http", Params{With: map[string]any{"request": "ftp://x"}}, `with.request: url: want an absolute http(s) URL, got "ftp://x"`},
		{"unknown", "melt", Params{}, `unknown fault "melt"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.kind, tc.p)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New error %v; want %q", err, tc.want)
			}
		})
	}
}

func TestSupports(t *testing.T) {
	t.Parallel()
	ext := (*external.Env)(nil)
	emb := (*embedded.Env)(nil)
	for _, k := range []string{"pause", "kill", "restart", "partition", "latency"} {
		if err := Supports(k, emb); err != nil {
			t.Errorf("embedded %s: %v", k, err)
		}
		if err := Supports(k, ext); err == nil || !strings.HasPrefix(err.Error(), "the external runtime cannot") {
			t.Errorf("external %s: %v; want a capability error", k, err)
		}
	}
	for _, k := range []string{"command", "http"} {
		if err := Supports(k, ext); err != nil {
			t.Errorf("external %s: %v", k, err)
		}
	}
}

// fakeEnv records Pauser, Killer and Linker calls.
type fakeEnv struct {
	mu    sync.Mutex
	calls []string
	fail  string // a call that fails
}

func (f *fakeEnv) rec(c string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	if c == f.fail {
		return errors.New("boom")
	}
	return nil
}

func (f *fakeEnv) Start(context.Context) error                  { return nil }
func (f *fakeEnv) Endpoint(string) (*url.URL, error)            { return nil, nil }
func (f *fakeEnv) Close(context.Context) error                  { return nil }
func (f *fakeEnv) Pause(_ context.Context, c string) error      { return f.rec("pause " + c) }
func (f *fakeEnv) Unpause(_ context.Context, c string) error    { return f.rec("unpause " + c) }
func (f *fakeEnv) Kill(_ context.Context, c string) error       { return f.rec("kill " + c) }
func (f *fakeEnv) Restart(_ context.Context, c string) error    { return f.rec("restart " + c) }
func (f *fakeEnv) Links() []runtime.Link                        { return []runtime.Link{{From: "a", To: "b"}} }
func (f *fakeEnv) Cut(_ context.Context, l runtime.Link) error  { return f.rec("cut " + l.String()) }
func (f *fakeEnv) Heal(_ context.Context, l runtime.Link) error { return f.rec("heal " + l.String()) }
func (f *fakeEnv) AddToxic(_ context.Context, l runtime.Link, t runtime.Toxic) error {
	return f.rec("add " + t.Name)
}
func (f *fakeEnv) RemoveToxic(_ context.Context, l runtime.Link, name string) error {
	return f.rec("remove " + name)
}

// TestRevertContract: Revert without Inject does nothing, after a partial Inject undoes what
// was done, and twice does nothing more.
func TestRevertContract(t *testing.T) {
	t.Parallel()
	ab := runtime.Link{From: "a", To: "b"}
	for _, tc := range []struct {
		name, kind string
		p          Params
		fail       string
		want       string
	}{
		{"pause", "pause", Params{Target: "x"}, "", "pause x,unpause x"},
		{"kill", "kill", Params{Target: "x", For: time.Second}, "", "kill x,restart x"},
		{"restart", "restart", Params{Target: "x"}, "", "kill x,restart x"},
		{"restart failing to start is retried by revert", "restart", Params{Target: "x"}, "restart x", "kill x,restart x,restart x"},
		{"restart with for", "restart", Params{Target: "x", For: time.Second}, "", "kill x,restart x"},
		{"partition", "partition", Params{Link: ab}, "", "cut a->b,heal a->b"},
		{"partition of a component's links", "partition", Params{Target: "b"}, "", "cut a->b,heal a->b"},
		{"latency on a component's links", "latency", Params{Name: "g", Target: "a", With: map[string]any{"latency": "1s"}}, "", "add recall-g-downstream,remove recall-g-downstream"},
		{"latency both, second add fails", "latency", Params{Name: "f", Link: ab, With: map[string]any{"latency": "1s", "stream": "both"}},
			"add recall-f-downstream", "add recall-f-upstream,add recall-f-downstream,remove recall-f-upstream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := &fakeEnv{fail: tc.fail}
			f, err := New(tc.kind, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Revert(context.Background(), env); err != nil || len(env.calls) != 0 {
				t.Fatalf("revert before inject: %v %v", err, env.calls)
			}
			_ = f.Inject(context.Background(), env)
			env.fail = ""
			_ = f.Revert(context.Background(), env)
			_ = f.Revert(context.Background(), env)
			if got := strings.Join(env.calls, ","); got != tc.want {
				t.Errorf("calls %s; want %s", got, tc.want)
			}
		})
	}
}

func TestCommandFault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	on, off := filepath.Join(dir, "on"), filepath.Join(dir, "off")
	f, err := New("command", Params{With: map[string]any{"run": "touch " + on, "revert": []any{"touch", off}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Inject(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(on); err != nil {
		t.Errorf("inject did not run: %v", err)
	}
	if _, err := os.Stat(off); err == nil {
		t.Error("revert ran before Revert")
	}
	if err := f.Revert(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(off); err != nil {
		t.Errorf("revert did not run: %v", err)
	}
	// A failing command reports its output; its timeout bounds it.
	f, _ = New("command", Params{With: map[string]any{"run": "echo nope >&2; exit 3"}})
	if err := f.Inject(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("failing command: %v", err)
	}
	f, _ = New("command", Params{With: map[string]any{"run": "sleep 5", "timeout": "100ms"}})
	began := time.Now()
	if err := f.Inject(context.Background(), nil); err == nil || time.Since(began) > 3*time.Second {
		t.Errorf("command past its timeout: %v after %s", err, time.Since(began))
	}
}

func TestHTTPFault(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Token"))
		mu.Unlock()
		if r.URL.Path == "/bad" {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	f, err := New("http", Params{With: map[string]any{
		"request": srv.URL + "/break",
		"revert":  map[string]any{"method": "delete", "url": srv.URL + "/break", "headers": map[string]any{"X-Token": "t"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Inject(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Revert(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if strings.Join(got, ",") != "POST /break ,DELETE /break t" {
		t.Errorf("requests %v", got)
	}
	mu.Unlock()
	f, _ = New("http", Params{With: map[string]any{"request": srv.URL + "/bad"}})
	if err := f.Inject(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("a 500 answer: %v", err)
	}
}
