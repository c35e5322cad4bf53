package drill

import (
	"context"
	"strings"
	"testing"

	"github.com/recall-drills/recall/report"
)

func TestParseMemAvailable(t *testing.T) {
	t.Parallel()
	v, ok := parseMemAvailable([]byte("MemTotal:       16318480 kB\nMemFree:         1111 kB\nMemAvailable:    8000000 kB\n"))
	if !ok || v != 8000000<<10 {
		t.Errorf("MemAvailable = %d, %v", v, ok)
	}
	if _, ok := parseMemAvailable([]byte("MemTotal: 1 kB\n")); ok {
		t.Error("no MemAvailable line, but ok")
	}
}

func TestParseCgroup(t *testing.T) {
	t.Parallel()
	if v, ok := parseCgroup([]byte("1073741824\n"), []byte("73741824\n")); !ok || v != 1_000_000_000 {
		t.Errorf("limit less current = %d, %v", v, ok)
	}
	if _, ok := parseCgroup([]byte("max\n"), []byte("5\n")); ok {
		t.Error(`"max" is no limit, but ok`)
	}
	if v, ok := parseCgroup([]byte("10\n"), []byte("20\n")); !ok || v != 0 {
		t.Errorf("over the limit = %d, %v, want 0, true", v, ok)
	}
}

func TestMemoryNeededGrowsWithSizes(t *testing.T) {
	t.Parallel()
	small, big := MemoryNeeded(1000, 2, 16), MemoryNeeded(10_000_000, 2, 16)
	// The measurement: 10,000,000 victims would need about 25 GB.
	if big < 20<<30 || big > 60<<30 || small > 128<<20 {
		t.Errorf("MemoryNeeded: 1000 tokens %s, 10M tokens %s", bytesIEC(small), bytesIEC(big))
	}
}

// TestDrillRefusesWhatMemoryCannotHold: a population that does not fit in the available memory
// is refused before the system starts or anything is minted, with verdict ERROR and a reason
// saying how much is needed. Not parallel: it replaces memoryAvailable.
func TestDrillRefusesWhatMemoryCannotHold(t *testing.T) {
	saved := memoryAvailable
	t.Cleanup(func() { memoryAvailable = saved })
	memoryAvailable = func() (uint64, string, bool) { return 256 << 20, "MemAvailable", true }
	p := groundTruthPlan(t, 0, 0)
	p.Population.Victims = 1_000_000
	rep, err := Run(context.Background(), p)
	want := "not enough memory: 1000030 credentials probed on 4 components need about 5.8 GiB, 256.0 MiB available (MemAvailable)"
	if err == nil || !strings.Contains(err.Error(), want) || rep.Verdict != report.Error {
		t.Fatalf("Run = %v (verdict %s), want an error containing %q", err, rep.Verdict, want)
	}
	if _, err := p.Env.Endpoint("push"); err == nil {
		t.Error("the system was started")
	}
}
