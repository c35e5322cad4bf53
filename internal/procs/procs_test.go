package procs

import (
	goruntime "runtime"
	"testing"
)

func TestHeadroomRaisesAndRestores(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	before := goruntime.GOMAXPROCS(0)
	want := max(goruntime.NumCPU()+Extra, before)

	n1, release1 := Headroom()
	if n1 != want || goruntime.GOMAXPROCS(0) != want {
		t.Fatalf("Headroom: procs %d, GOMAXPROCS %d, want %d", n1, goruntime.GOMAXPROCS(0), want)
	}
	n2, release2 := Headroom() // nested, as two drills in one process
	if n2 != want {
		t.Fatalf("nested Headroom: procs %d, want %d", n2, want)
	}
	release1()
	release1() // a second call of one release must not release the other holder
	if got := goruntime.GOMAXPROCS(0); got != want {
		t.Fatalf("after the first release: GOMAXPROCS %d, want %d (one holder left)", got, want)
	}
	release2()
	if got := goruntime.GOMAXPROCS(0); got != before {
		t.Fatalf("after the last release: GOMAXPROCS %d, want %d restored", got, before)
	}
}

func TestHeadroomLeavesUsersChoice(t *testing.T) {
	t.Setenv("GOMAXPROCS", "1")
	before := goruntime.GOMAXPROCS(0)
	n, release := Headroom()
	defer release()
	if n != 0 || goruntime.GOMAXPROCS(0) != before {
		t.Fatalf("with GOMAXPROCS set: procs %d and GOMAXPROCS %d, want 0 and %d unchanged", n, goruntime.GOMAXPROCS(0), before)
	}
}
