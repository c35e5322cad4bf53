package scenario

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: the loader never panics nor hangs on any input; every problem it reports is an
// *Error about the file it was given, with a message; a scenario it accepts is accepted again,
// identically, from the same bytes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(boundsBase + aliasBomb(9, 9)))
	f.Add([]byte(boundsBase + "    loop: &w {again: *w}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		lookup := WithLookupEnv(func(k string) (string, bool) {
			if strings.HasPrefix(k, "SET") {
				return "1", true
			}
			return "", false
		})
		s, err := Parse("f.yaml", src, lookup)
		if err != nil {
			errs := Errors(err)
			if len(errs) == 0 {
				t.Fatalf("error %v holds no *Error", err)
			}
			for _, e := range errs {
				if e.File != "f.yaml" || e.Msg == "" || e.Line < 0 || e.Col < 0 {
					t.Fatalf("bad error %#v", e)
				}
			}
			return
		}
		if s == nil {
			t.Fatal("nil scenario and no error")
		}
		again, err := Parse("f.yaml", src, lookup)
		if err != nil {
			t.Fatalf("accepted once, refused the second time: %v", err)
		}
		if again.Name != s.Name || len(again.System.Components) != len(s.System.Components) || !reflect.DeepEqual(again.Tokens, s.Tokens) {
			t.Fatalf("two parses differ: %+v vs %+v", s, again)
		}
	})
}
