package runtime

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

// nop is an Environment with nothing in it.
type nop struct{}

func (nop) Start(context.Context) error         { return nil }
func (nop) Endpoint(c string) (*url.URL, error) { return nil, UnknownComponent(c, nil) }
func (nop) Close(context.Context) error         { return nil }
func newNop(Params) (Environment, error)        { return nop{}, nil }

func registered(name string) bool {
	_, err := Lookup(name)
	return err == nil
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

// TestRegistry: a registered runtime is found by name and by its prototype's type, a second
// registration of the name panics, and an unknown name is an error naming the registered ones.
func TestRegistry(t *testing.T) {
	Register(Kind{Name: "test-nop", Proto: nop{}, New: newNop})
	if !registered("test-nop") {
		t.Fatal("test-nop is not found after Register")
	}
	if got := NameOf(nop{}); got != "test-nop" {
		t.Errorf("NameOf(nop{}) = %q, want test-nop", got)
	}
	type wrapper struct{ nop }
	if got := NameOf(wrapper{}); got != "wrapper" {
		t.Errorf("NameOf of an unregistered type = %q, want its type name", got)
	}
	mustPanic(t, "a second registration of test-nop", func() { Register(Kind{Name: "test-nop", Proto: nop{}, New: newNop}) })
	mustPanic(t, "a registration without a constructor", func() { Register(Kind{Name: "test-nop-2", Proto: nop{}}) })
	if registered("test-nop-2") {
		t.Error("a refused registration was kept")
	}
	_, err := Lookup("nomad")
	if err == nil || !strings.Contains(err.Error(), `unknown runtime "nomad" (have: `) || !strings.Contains(err.Error(), "test-nop") {
		t.Errorf("Lookup(nomad) = %v, want an error naming test-nop", err)
	}
}

// TestKindReached: a component with a url is reached there on any runtime; otherwise the
// runtime's Reach says how, and without one (or when it says nothing) the runtime's name.
func TestKindReached(t *testing.T) {
	t.Parallel()
	k := Kind{Name: "test-reach", Reach: func(s Spec) string {
		if s.Image == "" {
			return ""
		}
		return "job of " + s.Image
	}}
	for _, tc := range []struct {
		k    Kind
		s    Spec
		want string
	}{
		{k, Spec{URL: "https://api.example.com", Image: "x:1"}, "at https://api.example.com"},
		{k, Spec{Image: "x:1"}, "job of x:1"},
		{k, Spec{Use: UseIssuer}, "test-reach"},
		{Kind{Name: "bare"}, Spec{Use: UseIssuer}, "bare"},
	} {
		if got := tc.k.Reached(tc.s); got != tc.want {
			t.Errorf("%s.Reached(%+v) = %q, want %q", tc.k.Name, tc.s, got, tc.want)
		}
	}
}
