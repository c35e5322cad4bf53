package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// readmeCommand is one recall command line found in a README's code blocks.
type readmeCommand struct {
	file, line string
	args       []string // after "recall"
}

// readmeCommands parses the recall command lines out of the fenced code blocks of the READMEs:
// "recall ..." and "go run ./cmd/recall ...", also inside "source <(...)" and after "&&", with
// the trailing "# comment" and any "> file" redirection cut off.
func readmeCommands(t *testing.T, files ...string) []readmeCommand {
	t.Helper()
	var out []readmeCommand
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in := false
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				in = !in
				continue
			}
			if !in {
				continue
			}
			text, _, _ := strings.Cut(line, " #")
			for _, part := range strings.Split(text, "&&") {
				part = strings.TrimSpace(part)
				if inner, ok := strings.CutPrefix(part, "source <("); ok {
					part = strings.TrimSuffix(inner, ")")
				}
				part, _, _ = strings.Cut(part, " > ")
				fields := strings.Fields(part)
				switch {
				case len(fields) > 1 && fields[0] == "recall":
					fields = fields[1:]
				case len(fields) > 3 && fields[0] == "go" && fields[1] == "run" && fields[2] == "./cmd/recall":
					fields = fields[3:]
				default:
					continue
				}
				out = append(out, readmeCommand{file: f, line: strings.TrimSpace(line), args: fields})
			}
		}
	}
	return out
}

// synopsisRE finds a placeholder: SCENARIO, REPORT.json, [--out DIR], a|b, ...
var synopsisRE = regexp.MustCompile(`^(\[.*|.*\]|.*\.\.\.|.*\|.*|[A-Z][A-Z-]*(\.json)?|.*=[A-Z]+)$`)

// splitFlags separates a command's flags (with their values) from its positional arguments.
func splitFlags(cmd *cobra.Command, args []string) (flags [][]string, pos []string, flagsFirst bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		if len(pos) == 0 {
			flagsFirst = true
		}
		name := strings.TrimLeft(a, "-")
		var f = cmd.Flags().Lookup(name)
		if len(name) == 1 {
			f = cmd.Flags().ShorthandLookup(name)
		}
		if f != nil && f.NoOptDefVal == "" && !strings.Contains(a, "=") && i+1 < len(args) {
			flags = append(flags, []string{a, args[i+1]})
			i++
			continue
		}
		flags = append(flags, []string{a})
	}
	return flags, pos, flagsFirst
}

// TestReadmeCommands runs every recall command line of README.md and scenarios/README.md as
// written, and again with its flags moved to the other side of its arguments, on the real
// binary in a working directory holding the scenarios and the report files the lines name.
// Synopsis lines (placeholders such as SCENARIO or [--out DIR]) are checked instead: each flag
// they name exists on their command. 'recall run' lines get --dry-run (a drill each would take
// minutes; everything up to starting the system runs); lines that need Docker run when it is
// there.
func TestReadmeCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds recall and runs every README command")
	}
	// scenarios/external-oidc.yaml takes its provider and secrets from the environment.
	for _, v := range []string{"DRILL_A_SECRET", "DRILL_B_SECRET", "INTROSPECT_USER", "INTROSPECT_PASSWORD", "INTROSPECT_BASIC"} {
		t.Setenv(v, "placeholder")
	}
	t.Setenv("IDP_ISSUER", "https://idp.example.invalid/realms/drills")
	t.Setenv("IDP_INTROSPECTION_URL", "https://idp.example.invalid/realms/drills/introspect")
	cmds := readmeCommands(t, "../../README.md", "../../scenarios/README.md")
	if len(cmds) < 20 {
		t.Fatalf("found %d recall commands in the READMEs; the parser lost some", len(cmds))
	}
	bin, err := buildRecall()
	if err != nil {
		t.Fatal(err)
	}
	wd := t.TempDir()
	scen, _ := filepath.Abs("../../scenarios")
	if err := os.Symlink(scen, filepath.Join(wd, "scenarios")); err != nil {
		t.Fatal(err)
	}
	pass, _ := os.ReadFile("../../report/text/testdata/pass.json")
	fail, _ := os.ReadFile("../../report/text/testdata/fail.json")
	for name, b := range map[string][]byte{"last-good.json": pass, "base.json": pass, "new.json": fail, "reports/nightly/report.json": fail} {
		os.MkdirAll(filepath.Dir(filepath.Join(wd, name)), 0o755)
		os.WriteFile(filepath.Join(wd, name), b, 0o644)
	}
	// `recall report --from-journal` needs a journal: the one a short real drill wrote.
	jdir := t.TempDir()
	if code, stdout, stderr := runMain("run", "--out", jdir, "--quiet", writeScenario(t, "  - false_rejects == 0\n")); code != exitPass {
		t.Fatalf("a drill for the journal fixture: exit %d\n%s\n%s", code, stdout, lastLines(stderr, 25))
	}
	if j, err := os.ReadFile(filepath.Join(jdir, "journal.jsonl")); err != nil {
		t.Fatalf("journal fixture: %v", err)
	} else if err := os.WriteFile(filepath.Join(wd, "reports/nightly/journal.jsonl"), j, 0o644); err != nil {
		t.Fatal(err)
	}
	docker := exec.Command("docker", "info").Run() == nil
	root := newRoot(nil, nil)
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	for _, c := range cmds {
		sub, rest, err := root.Find(c.args)
		if err != nil || sub == root {
			t.Errorf("%s: %q: no such command (%v)", c.file, c.line, err)
			continue
		}
		if slices.ContainsFunc(c.args, synopsisRE.MatchString) {
			for _, a := range c.args {
				if name, ok := strings.CutPrefix(strings.Trim(a, "[]"), "--"); ok {
					name, _, _ = strings.Cut(name, "=")
					if sub.Flags().Lookup(name) == nil {
						t.Errorf("%s: %q: %s has no flag --%s", c.file, c.line, sub.Name(), name)
					}
				}
			}
			continue
		}
		needsDocker := sub.Name() == "images" || sub.Name() == "cleanup" || slices.Contains(c.args, "docker")
		if needsDocker && !docker {
			t.Logf("%q: no Docker engine here, not run", c.line)
			continue
		}
		flags, pos, flagsFirst := splitFlags(sub, rest)
		variants := [][]string{c.args}
		if len(flags) > 0 && len(pos) > 0 {
			var moved []string
			if flagsFirst {
				moved = append(moved, pos...)
			}
			for _, f := range flags {
				moved = append(moved, f...)
			}
			if !flagsFirst {
				moved = append(moved, pos...)
			}
			variants = append(variants, append([]string{sub.Name()}, moved...))
		}
		for _, args := range variants {
			if sub.Name() == "run" && !slices.Contains(args, "--dry-run") {
				args = append(slices.Clone(args), "--dry-run")
			}
			cmd := exec.Command(bin, args...)
			cmd.Dir = wd
			if sub.Name() == "images" {
				// It builds from recall's source tree, as a newcomer runs it from their clone:
				// from wd it could only list images other tests had built before it.
				cmd.Dir, _ = filepath.Abs("../..")
			}
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(wd, "cache"), "NO_COLOR=1")
			out, _ := cmd.CombinedOutput()
			code := cmd.ProcessState.ExitCode()
			ok := code == exitPass || (sub.Name() == "compare" && code == exitFail)
			if !ok {
				t.Errorf("%s: %q as recall %s: exit %d\n%s", c.file, c.line, strings.Join(args, " "), code, lastLines(string(out), 8))
			}
		}
	}
}
