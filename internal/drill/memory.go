package drill

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// What a drill holds in memory: a drill about 2.5 KiB per credential (a run with 10,000,000
// victims needed about 25 GB), rounded up for the report and the embedded runtime's own state;
// and per (component, credential) pair, the tracker and the scheduler over it, with everything
// Finalize allocates, estimate included: measured at 624 B per pair with 200,000 pairs (130 B of
// tracker, 46 B of scheduler and the rest Finalize's, garbage included; 480–510 B at 1,000,000
// pairs, where the tracker holds 109 B: BenchmarkTracker1MPairs's peak-B/pair), rounded up.
// TestMemPerPairIsMeasured keeps memPerPair within 1.5 times that measurement, so it follows
// what a pair costs.
const (
	memPerToken  = 3 << 10
	memPerPair   = 768
	memPerWorker = 32 << 10 // a goroutine's stack and a connection's buffers
	memBase      = 64 << 20
)

// MemoryNeeded estimates the bytes a drill with tokens credentials probed on components
// components, with workers probes in flight per component, holds.
func MemoryNeeded(tokens, components, workers int) uint64 {
	c := uint64(max(components, 0))
	return memBase + uint64(max(tokens, 0))*(memPerToken+c*memPerPair) + c*uint64(max(workers, 0))*memPerWorker
}

// MemoryAvailable returns how many more bytes this process may use, and where the bound comes
// from: the least of GOMEMLIMIT, the cgroup's memory.max less its memory.current, and the
// kernel's MemAvailable. ok is false when none is known (then nothing is checked).
func MemoryAvailable() (avail uint64, from string, ok bool) {
	consider := func(v uint64, src string) {
		if !ok || v < avail {
			avail, from, ok = v, src, true
		}
	}
	if lim := debug.SetMemoryLimit(-1); lim < math.MaxInt64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		consider(uint64(max(lim-int64(ms.Sys), 0)), "GOMEMLIMIT")
	}
	if v, ok := cgroupAvailable(); ok {
		consider(v, "cgroup memory.max")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if v, ok := parseMemAvailable(b); ok {
			consider(v, "MemAvailable")
		}
	}
	return avail, from, ok
}

// cgroupAvailable reads the cgroup v2 limit of this process: memory.max less memory.current.
func cgroupAvailable() (uint64, bool) {
	dir := "/sys/fs/cgroup"
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok {
				if d := filepath.Join(dir, p); fileExists(filepath.Join(d, "memory.max")) {
					dir = d
				}
			}
		}
	}
	limit, err1 := os.ReadFile(filepath.Join(dir, "memory.max"))
	current, err2 := os.ReadFile(filepath.Join(dir, "memory.current"))
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return parseCgroup(limit, current)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// parseCgroup computes memory.max less memory.current; "max" means no limit.
func parseCgroup(limit, current []byte) (uint64, bool) {
	l := strings.TrimSpace(string(limit))
	if l == "max" {
		return 0, false
	}
	lim, err1 := strconv.ParseUint(l, 10, 64)
	cur, err2 := strconv.ParseUint(strings.TrimSpace(string(current)), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	if cur > lim {
		return 0, true
	}
	return lim - cur, true
}

// parseMemAvailable reads MemAvailable (kB) from /proc/meminfo.
func parseMemAvailable(meminfo []byte) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}

// memoryAvailable is MemoryAvailable, replaced in tests.
var memoryAvailable = MemoryAvailable

// checkMemory refuses a drill that would need more memory than is available, before anything
// starts: running out midway loses the whole report.
func checkMemory(pop Population, components, workers int) error {
	avail, from, ok := memoryAvailable()
	need := MemoryNeeded(pop.Victims+pop.Controls, components, workers)
	if !ok || need <= avail {
		return nil
	}
	return fmt.Errorf("not enough memory: %d credentials probed on %d components need about %s, %s available (%s); lower tokens.victims or tokens.controls",
		pop.Victims+pop.Controls, components, bytesIEC(need), bytesIEC(avail), from)
}

// bytesIEC renders a size like 1.5 GiB.
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
