package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/load"
)

// benchCmd drives the drill's own probe path — scheduler, vegeta, classification, tracker —
// against a trivial server on 127.0.0.1 at increasing rates, and bare vegeta (the library alone,
// same workers, same endpoint) beside it, run for run, and reports the median achieved rates,
// their ratio and the pipeline's latency over a few bounded runs per rate, then the tracker's
// heap per tracked pair (issue 11 item 6). The answer bounds a drill's resolution: pairs /
// achieved rate is the probe interval per pair; the ratio says what the harness itself costs.
func benchCmd() *cobra.Command {
	var (
		ratesFlag     string
		runs, workers int
		pairs         int
		save          string
		dur           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "measure the probe rate this machine can drive (sizing drills)",
		Long: `Drives the drill's own probe path (scheduler, vegeta, classification, tracker) against a trivial
server on 127.0.0.1 at increasing rates, and reports the median achieved rate and latency over a
few bounded runs per rate. The answer bounds a drill's resolution: pairs / achieved rate is the
probe interval per pair.

Each run of the pipeline is paired with a run of bare vegeta (the library alone: same workers,
same endpoint, same rate, results only counted; first and second in turn), so the table gives both rates, and the ratio
pipeline / vegeta (the median of the runs' ratios) says what the harness costs on top of vegeta.
Last, it builds a tracker of at least 100,000 pairs (--pairs if more), feeds each an accept and,
after the recall, a reject, each pair revisited less often than the tracker's MaxLag as in a mass
recall, and prints its heap per tracked pair.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench(cmd.OutOrStdout(), ratesFlag, runs, dur, workers, pairs, save)
		},
	}
	f := cmd.Flags()
	f.StringVar(&ratesFlag, "rates", "2000,5000,10000", "comma-separated probe rates per second to try")
	f.IntVar(&runs, "runs", 3, "runs per rate (the median is reported)")
	f.DurationVar(&dur, "duration", 2*time.Second, "length of one run")
	f.IntVar(&workers, "workers", load.DefaultWorkers, "concurrent probes (traffic.workers)")
	f.IntVar(&pairs, "pairs", 4000, "(component, credential) pairs, for the resolution column")
	f.StringVar(&save, "save", defaultBenchFile(), "save the highest achieved rate here, for 'recall plan' to warn about a scenario asking for more (empty: do not save)")
	return cmd
}

func bench(stdout io.Writer, ratesFlag string, runs int, dur time.Duration, workers, pairs int, save string) error {
	var rates []float64
	for _, f := range strings.Split(ratesFlag, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 || r > 100_000 {
			return withExit(exitCannotRun, fmt.Errorf("--rates: %q is not a rate between 0 and 100000", f))
		}
		rates = append(rates, r)
	}
	if runs < 1 || runs > 20 || dur <= 0 || dur > time.Minute {
		return withExit(exitCannotRun, errors.New("--runs must be 1..20 and --duration at most 1m"))
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return withExit(exitCannotRun, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("Authorization"), "1") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"sub":"bench"}`))
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "asked/s\tvegeta/s (median)\tachieved/s (median)\tpipeline/vegeta\tp50 latency\tp99 latency\tresolution at %d pairs\t\n", pairs)
	best := 0.0
	for _, rate := range rates {
		var bare, achieved, ratios, p50s, p99s []float64
		for run := range runs {
			// In turn first and second, so neither gets the warmer machine every time.
			var v, a, p50, p99 float64
			if run%2 == 0 {
				v = bareVegetaRun(base, rate, dur, workers)
				a, p50, p99 = benchRun(base, rate, dur, workers)
			} else {
				a, p50, p99 = benchRun(base, rate, dur, workers)
				v = bareVegetaRun(base, rate, dur, workers)
			}
			bare, achieved, p50s, p99s = append(bare, v), append(achieved, a), append(p50s, p50), append(p99s, p99)
			if v > 0 {
				ratios = append(ratios, a/v)
			}
		}
		a := median(achieved)
		best = max(best, a)
		ratio := "-"
		if len(ratios) > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*median(ratios))
		}
		fmt.Fprintf(tw, "%.0f\t%.0f (%.0f%%)\t%.0f (%.0f%%)\t%s\t%s\t%s\t%s\t\n", rate, median(bare), 100*median(bare)/rate,
			a, 100*a/rate, ratio,
			time.Duration(median(p50s)).Round(time.Microsecond), time.Duration(median(p99s)).Round(time.Microsecond),
			(time.Duration(float64(pairs) / a * float64(time.Second))).Round(time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	memPairs := max(pairs, 100_000)
	fmt.Fprintf(stdout, "tracker heap: %.0f B per tracked pair (%d pairs, an accept and a reject each, revisited less often than MaxLag)\n",
		trackerBytesPerPair(memPairs), memPairs)
	if save != "" {
		b, _ := json.Marshal(benchResult{MeasuredAt: time.Now().UTC(), Workers: workers, MaxAchieved: best})
		if err := writeFile(save, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return withExit(exitCannotRun, fmt.Errorf("--save: %w", err))
		}
		fmt.Fprintf(stdout, "saved for 'recall plan': %s\n", save)
	}
	return nil
}

// benchRun runs one bounded attack through the tracker and returns the achieved rate and the
// p50 and p99 latency in nanoseconds.
func benchRun(base string, rate float64, dur time.Duration, workers int) (achieved, p50, p99 float64) {
	const comps, victims = 4, 500
	tr := drill.NewTracker(drill.TrackerConfig{Components: []string{"a", "b", "c", "d"}, Victims: victims})
	sched := drill.NewScheduler(drill.ScheduleConfig{}, tr, nil)
	probe, _ := drill.NewProbe("bench", nil, http.MethodGet, "", base+"/api/whoami", nil, "", drill.DefaultAccept, drill.DefaultReject)
	began := time.Now()
	targeter := func(tgt *vegeta.Target) error {
		c, t := sched.Next()
		probe.Fill(tgt, "token-"+strconv.Itoa(t%2), uint64(c*victims+t))
		return nil
	}
	var lat []float64
	n := 0
	ctx, cancel := context.WithTimeout(context.Background(), dur+5*time.Second)
	defer cancel()
	load.Attack(ctx, targeter, load.Pacer(rate, 0, 0), load.Options{Workers: uint64(workers), Duration: dur}, func(r *vegeta.Result) {
		tag, _ := load.TagOf(r.URL)
		tr.Observe(drill.Observation{Component: int(tag) / victims, Token: int(tag) % victims, Sent: r.Timestamp.Sub(began),
			Latency: r.Latency, Outcome: probe.Classify(int(r.Code), r.Body), Status: int(r.Code)})
		lat = append(lat, float64(r.Latency))
		n++
	})
	elapsed := time.Since(began)
	tr.Finalize(elapsed)
	sort.Float64s(lat)
	if len(lat) == 0 {
		return 0, 0, 0
	}
	return float64(n) / elapsed.Seconds(), lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
}

// bareVegetaRun runs one bounded attack of bare vegeta — the library alone, with the workers and
// rate of benchRun, on its endpoint, the two credentials in turn — and returns the achieved
// rate. Results are only counted: this is what vegeta does without the drill around it.
func bareVegetaRun(base string, rate float64, dur time.Duration, workers int) float64 {
	var targets []vegeta.Target
	for _, tok := range []string{"token-0", "token-1"} {
		targets = append(targets, vegeta.Target{Method: http.MethodGet, URL: base + "/api/whoami",
			Header: http.Header{"Authorization": {"Bearer " + tok}}})
	}
	atk := vegeta.NewAttacker(vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)), vegeta.MaxBody(0),
		vegeta.Timeout(load.DefaultTimeout))
	n := 0
	began := time.Now()
	for range atk.Attack(vegeta.NewStaticTargeter(targets...), load.Pacer(rate, 0, 0), dur, "bare") {
		n++
	}
	return float64(n) / time.Since(began).Seconds()
}

// trackerBytesPerPair builds a tracker of about pairs (component, credential) pairs (four
// components), feeds each pair a baseline accept and, after the recall, a reject, probes 1 ms
// apart (so a pair is revisited after at least 100 s, beyond MaxLag: a mass recall's pairs hold
// one result in flight), and returns the heap it holds per pair, read from the runtime after a
// GC.
func trackerBytesPerPair(pairs int) float64 {
	const comps = 4
	victims := max(pairs/comps, 1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tr := drill.NewTracker(drill.TrackerConfig{Components: []string{"a", "b", "c", "d"}, Victims: victims,
		Estimate: drill.EstimateConfig{Off: true}})
	var sent time.Duration
	observe := func(out drill.Outcome) {
		for tok := range victims {
			for c := range comps {
				sent += time.Millisecond
				tr.Observe(drill.Observation{Component: c, Token: tok, Sent: sent, Latency: time.Millisecond, Outcome: out})
			}
		}
	}
	observe(drill.Accept)
	tr.SetTrigger(sent)
	for tok := range victims {
		tr.Recalled(tok, sent, sent+time.Millisecond)
	}
	observe(drill.Reject)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tr)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(victims*comps)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
