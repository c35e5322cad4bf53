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
