package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/journal"
	"github.com/recall-drills/recall/internal/procs"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/report/html"
	"github.com/recall-drills/recall/report/junit"
	"github.com/recall-drills/recall/report/text"
)

// runOptions are run's flags.
type runOptions struct {
	out           string
	seed          int64
	seedSet       bool
	runtime       string
	junit         string
	noHTML        bool
	logLevel      string
	quiet         bool
	drillID       string
	sets          []string
	dryRun        bool
	summaryExport string
	plan          planOutput // --dry-run's --output and --bench

	metricsAddr string
	pushgateway string
	baseline    string
	base        *report.Report // read from baseline
}

// DefaultLogTail is how many log lines the report keeps.
const DefaultLogTail = 200

func runCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "run a drill and write its report",
		Long: `Runs the drill SCENARIO describes and writes report.json (and report.html) to the output
directory. Flags may come before or after SCENARIO.

Exit status: 0 PASS, 1 FAIL, 2 the drill could not run. Ctrl-C stops the drill and still writes
the partial report; a second Ctrl-C exits at once.`,
		Example: `  recall run scenarios/quickstart.yaml
  recall run scenarios/quickstart.yaml --out out --seed 7
  recall run --out reports/nightly --junit reports/nightly/junit.xml drill.yaml
  recall run drill.yaml --set traffic.rate=5000/s --set recall.at=20s
  recall run drill.yaml --dry-run`,
		Args:              args(1, 1, "exactly one scenario file"),
		ValidArgsFunction: oneScenarioFile,
		RunE: func(cmd *cobra.Command, a []string) error {
			o.seedSet = cmd.Flags().Changed("seed")
			if o.dryRun {
				sets := o.sets
				if o.seedSet {
					sets = append(sets, fmt.Sprintf("seed=%d", o.seed))
				}
				if o.runtime != "" {
					sets = append(sets, "system.runtime="+o.runtime)
				}
				return printPlan(cmd.OutOrStdout(), a[0], sets, o.plan)
			}
			return runDrill(a[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "directory for report.json and report.html (default: report.dir of the scenario, else ./reports/<scenario>-<timestamp>)")
	f.Int64Var(&o.seed, "seed", 0, "override the scenario's seed")
	f.StringVar(&o.runtime, "runtime", "", "override system.runtime: embedded, docker or external")
	f.StringVar(&o.junit, "junit", "", "also write JUnit XML (one test case per expectation) to this file")
	f.BoolVar(&o.noHTML, "no-html", false, "do not write report.html")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.BoolVar(&o.quiet, "quiet", false, "no live progress and no summary table")
	f.StringVar(&o.drillID, "drill-id", "", "label for everything the drill creates (docker: containers, networks); 'recall cleanup ID' removes exactly those (default: random)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve live Prometheus metrics at http://ADDR/metrics while the drill runs (e.g. :9464)")
	f.StringVar(&o.pushgateway, "pushgateway", "", "push the final metrics to this Prometheus Pushgateway URL (job recall, grouped by scenario)")
	f.StringVar(&o.baseline, "baseline", "", "an earlier report.json of the same scenario: report.html gains the trend section")
	setFlag(cmd, &o.sets)
	f.StringVar(&o.summaryExport, "summary-export", "", "also write the terminal summary's figures (verdict, per-component TTC, counts, expectations) as JSON to this file")
	f.BoolVar(&o.dryRun, "dry-run", false, "start nothing: print the plan, as 'recall plan' does")
	o.plan.flags(cmd, " (with --dry-run)")
	_ = cmd.MarkFlagDirname("out")
	_ = cmd.MarkFlagFilename("baseline", "json")
	_ = cmd.MarkFlagFilename("junit", "xml")
	_ = cmd.RegisterFlagCompletionFunc("runtime", cobra.FixedCompletions(runtime.Names(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]cobra.Completion{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// runDrill runs the drill of the scenario at path.
func runDrill(path string, o runOptions, stdout, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return withExit(exitCannotRun, fmt.Errorf("--log-level: %w", err))
	}
	if o.baseline != "" {
		base, err := report.Read(o.baseline)
		if err != nil {
			return withExit(exitCannotRun, fmt.Errorf("--baseline: %w", err))
		}
		o.base = base
	}

	// --runtime is an override like --set system.runtime: the scenario is checked for that
	// runtime, with positions, before anything starts (set after loading, a key the runtime
	// cannot run was found only once its containers were up).
	sets := o.sets
	if o.runtime != "" {
		sets = append(slices.Clone(sets), "system.runtime="+o.runtime)
	}
	s, err := loadScenario(path, sets)
	if err != nil {
		return withExit(exitCannotRun, err)
	}
	if o.seedSet {
		s.Seed = o.seed
	}
	outDir := o.out
	if outDir == "" {
		outDir = filepath.Join(s.Report.Dir, s.Name+"-"+time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return withExit(exitCannotRun, fmt.Errorf("output directory: %w", err))
	}

	tail := newLineRing(DefaultLogTail)
	log := slog.New(slog.NewTextHandler(io.MultiWriter(stderr, tail), &slog.HandlerOptions{Level: level}))
	p, err := buildPlan(s, log, planOptions{outDir: outDir, drillID: o.drillID})
	if err != nil {
		return withExit(exitCannotRun, err)
	}
	live := useColor(stderr) // a rewritten progress line needs the same as colour
	if !o.quiet {
		p.OnProgress = progressPrinter(stderr, live, p.Traffic.Duration, log)
	}

	// The first signal stops the drill, which drains, closes the system and writes the partial
	// report; a second one exits at once (vegeta's processAttack does the same).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopSignals := onSignals(cancel, func(sig os.Signal) {
		log.Warn("stopping the drill: writing the partial report (signal again to exit at once)", "signal", sig.String())
	}, func() {
		fmt.Fprintln(stderr, "recall: second signal: exiting now; 'recall cleanup' removes anything left behind")
		exit(exitCannotRun)
	})
	defer stopSignals()

	ob, err := startObserver(p, s.Name, o.metricsAddr, o.pushgateway, log)
	if err != nil {
		return withExit(exitCannotRun, err)
	}
	defer ob.close()
	p.OnProgress = ob.onProgress(ctx, p.OnProgress)

	// The journal streams the drill to disk as it runs: after a kill -9,
	// 'recall report --from-journal' rebuilds a report from it.
	jw, err := journal.Create(filepath.Join(outDir, journal.FileName))
	if err != nil {
		return withExit(exitCannotRun, err)
	}
	defer jw.Close()
	p.Observer = jw

	if ip, ok := p.Env.(runtime.InProcess); ok && ip.InProcess() {
		// The stack shares the probes' Go scheduler: its CPU bursts at the recall must not
		// starve them (package procs).
		before := goruntime.GOMAXPROCS(0)
		if n, release := procs.Headroom(); n > before {
			defer release()
			log.Info("in-process stack: Go scheduler given headroom over the cores, so the stack's CPU bursts do not hold back the probes (set GOMAXPROCS to choose)",
				"cpus", goruntime.NumCPU(), "gomaxprocs", n, "was", before)
		} else {
			release()
		}
	}
	procsInDrill := goruntime.GOMAXPROCS(0)
	log.Info("drill starting", "scenario", s.Name, "runtime", p.Runtime, "seed", s.Seed, "drill_id", p.DrillID, "out", outDir)
	rep, runErr := drill.Run(ctx, p)
	rep.Environment.CPUs, rep.Environment.GoMaxProcs = goruntime.NumCPU(), procsInDrill
	if err := jw.Close(); err != nil {
		log.Warn("journal incomplete", "err", err)
	}
	if live && !o.quiet {
		fmt.Fprint(stderr, "\r\033[K")
	}
	rep.Tool = report.Tool{Name: "recall", Version: Version, GoVersion: goruntime.Version()}
	rep.Scenario.File = path
	rep.Scenario.Source = string(s.Source)
	rep.Scenario.Overrides = s.Overrides
	rep.Logs = tail.lines()
	if im, ok := p.Env.(runtime.Imager); ok {
		for i, c := range rep.Environment.Components {
			if ref, ok := im.ComponentImage(c.Name); ok {
				rep.Environment.Components[i].Image = ref
			}
		}
	}

	ob.finish(ctx, rep)

	if err := writeReports(rep, outDir, o, s.Report); err != nil {
		return withExit(exitCannotRun, err)
	}
	reportPath := filepath.Join(outDir, "report.json")
	if o.summaryExport != "" {
		if err := writeSummaryExport(o.summaryExport, rep, reportPath); err != nil {
			return withExit(exitCannotRun, fmt.Errorf("--summary-export: %w", err))
		}
	}
	if !o.quiet {
		var sum bytes.Buffer
		if err := text.Summary(&sum, rep); err != nil {
			return withExit(exitCannotRun, err)
		}
		b := sum.Bytes()
		if useColor(stdout) {
			b = colorVerdict(b, rep.Verdict)
		}
		stdout.Write(b)
		fmt.Fprintf(stdout, "\nreport: %s\n", reportPath)
	}
	switch {
	case runErr != nil:
		return withExit(exitCannotRun, runErr)
	case rep.Verdict == report.Fail:
		return withExit(exitFail, errFailed)
	}
	return nil
}

// exit ends the process; a variable so that a test can see the second signal's exit.
var exit = os.Exit

// onSignals calls first and then stop on the first SIGINT or SIGTERM, and again on the second
// one: the first stops the drill, the second exits at once. The second is waited for until the
// returned function is called (the drill and its report are done), not until stop's context
// ends: that context ends at the first signal, and waiting on it swallowed the second.
func onSignals(stop func(), first func(os.Signal), second func()) (done func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case sig := <-sigs:
			first(sig)
			stop()
		case <-quit:
			return
		}
		select {
		case <-sigs:
			second()
		case <-quit:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(quit)
			wg.Wait()
		})
	}
}

// writeReports writes report.json, report.html (unless --no-html or report.html: false) and
// JUnit XML (--junit, else report.junit, which Load has already resolved against report.dir),
// each file atomically.
func writeReports(rep *report.Report, dir string, o runOptions, spec scenario.ReportSpec) error {
	var errs []error
	if err := rep.WriteFile(filepath.Join(dir, "report.json")); err != nil {
		errs = append(errs, err)
	}
	if !o.noHTML && spec.HTML {
		errs = append(errs, writeFile(filepath.Join(dir, "report.html"), func(w io.Writer) error { return html.Render(w, rep, html.WithBaseline(o.base)) }))
	}
	junitPath := o.junit
	if junitPath == "" {
		junitPath = spec.JUnit
	}
	if junitPath != "" {
		errs = append(errs, writeFile(junitPath, func(w io.Writer) error { return junit.Write(w, rep) }))
	}
	return errors.Join(errs...)
}

func writeFile(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// lineRing keeps the last n lines written to it.
type lineRing struct {
	mu   sync.Mutex
	n    int
	buf  []string
	part string
}

func newLineRing(n int) *lineRing { return &lineRing{n: n} }

func (r *lineRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.part + string(p)
	parts := strings.Split(s, "\n")
	r.part = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		r.buf = append(r.buf, l)
		if len(r.buf) > r.n {
			r.buf = r.buf[1:]
		}
	}
	return len(p), nil
}

func (r *lineRing) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.buf...)
}
