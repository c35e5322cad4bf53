package scenario

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a scenario file, located by file, line, column and field path.
type Error struct {
	// File is the scenario's path as given to Load or Parse.
	File string
	// Line and Col locate the offending node (1-based); Col is 0 when only the line is known
	// (YAML syntax errors) and both are 0 when nothing is known.
	Line, Col int
	// Path is the field path, e.g. faults[0].target; empty for errors about the whole file.
	Path string
	// Msg says what is wrong and what would have been valid.
	Msg string
	// Set is the `--set path=value` override ([WithOverrides]) the error is about, if any.
	Set string
}

// Error returns "file:line:col: path: message", or "file:line:col: --set path=value: path:
// message" for an override.
func (e *Error) Error() string {
	var b bytes.Buffer
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteString(":" + strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	if e.Set != "" {
		b.WriteString("--set " + e.Set + ": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors returns the *Error values joined in err by Load or Parse, in file order.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if e := (*Error)(nil); errors.As(err, &e) {
			out = append(out, e)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// Errorf returns an error about the field at path (e.g. "faults[0].with.latency"), for checks
// added with [WithCheck]. Load gives it the file, line and column of that field, or of its
// nearest ancestor present in the file.
func Errorf(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// LoadOption configures Load and Parse.
type LoadOption func(*loadConfig)

type loadConfig struct {
	lookupEnv func(string) (string, bool)
	faults    []string
	actions   []string
	probes    []string
	runtimes  []string
	checks    []func(*Scenario) error
	overrides []string // --set path=value, in order
}

// WithLookupEnv sets how ${VAR} references are resolved. Default os.LookupEnv.
func WithLookupEnv(lookup func(name string) (value string, ok bool)) LoadOption {
	return func(c *loadConfig) { c.lookupEnv = lookup }
}

// WithKnownFaults sets the fault kinds accepted in faults[].fault, normally the names in the
// engine's fault registry. Default DefaultFaults.
func WithKnownFaults(names ...string) LoadOption {
	return func(c *loadConfig) { c.faults = slices.Clone(names) }
}

// WithKnownActions sets the actions accepted in recall.action, normally the names in the
// engine's action registry. Default DefaultActions.
func WithKnownActions(names ...string) LoadOption {
	return func(c *loadConfig) { c.actions = slices.Clone(names) }
}

// WithCheck adds a check run after the built-in validation, e.g. a registry checking a fault's
// parameters or a runtime's capabilities. It runs even when other problems were found, so it
// must cope with fields left at zero values. Errors made with [Errorf] (alone or joined with
// errors.Join) are located at their path; any other error is reported against the file.
func WithCheck(check func(*Scenario) error) LoadOption {
	return func(c *loadConfig) { c.checks = append(c.checks, check) }
}

// MaxFileSize is the largest scenario file Load reads (1 MiB); a scenario is a few kilobytes.
const MaxFileSize = 1 << 20

// Load reads the scenario file at path; see [Parse]. The file must be a regular file (not a
// device such as /dev/zero, nor a FIFO that would block) of at most MaxFileSize bytes.
func Load(path string, opts ...LoadOption) (*Scenario, error) {
	src, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	return Parse(path, src, opts...)
}

// readFile reads a regular file of at most MaxFileSize bytes.
func readFile(path string) ([]byte, error) {
	notRegular := func(fi os.FileInfo) error {
		return &Error{File: path, Msg: fmt.Sprintf("not a regular file (%s): a scenario is a YAML file", fileKind(fi.Mode()))}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(fi)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(fi)
	}
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %d bytes: a scenario is a few kilobytes", MaxFileSize)}
	}
	return src, nil
}

// fileKind names a non-regular file's type for messages.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// Parse reads a scenario from src; name is the file name used in messages and the base of
// relative paths (report.dir). It expands ${VAR} references, decodes strictly, applies the
// Default* values, and validates. On failure it returns a nil Scenario and every problem found,
// joined with errors.Join, each an [*Error] ("file:line:col: path: message") in file order;
// [Errors] lists them.
func Parse(name string, src []byte, opts ...LoadOption) (*Scenario, error) {
	if len(src) > MaxFileSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes: a scenario is a few kilobytes", MaxFileSize)}
	}
	cfg := loadConfig{lookupEnv: os.LookupEnv, faults: DefaultFaults, actions: DefaultActions, probes: ProbeKinds, runtimes: Runtimes}
	for _, o := range opts {
		o(&cfg)
	}
	l := &loader{file: name, cfg: cfg, idx: map[string]nodeRef{}, bad: map[string]bool{}, expanded: map[*yaml.Node]bool{}}

	// 1. Parse into a node tree.
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, &Error{File: name, Msg: "empty scenario: want a mapping with name, system, traffic and recall"}
		}
		return nil, l.syntaxError(err, src)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		e := &Error{File: name, Msg: "more than one YAML document: a scenario file holds one"}
		if err == nil {
			e.Line, e.Col = next.Line, next.Column
		}
		return nil, e
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	l.idx[""] = nodeRef{val: root}
	l.applyOverrides(root)

	// 2. Walk: expand ${VAR}, check keys and scalar types, index positions.
	l.rejectCycles(&doc, map[*yaml.Node]bool{})
	l.walking = true
	l.walk(root, scenarioType, "")
	l.walking = false
	if l.tooAliased {
		return nil, errors.Join(l.sorted()...)
	}

	// 3. Decode strictly with defaults, from the expanded tree.
	s := new(Scenario)
	text, err := yaml.Marshal(&doc)
	if err == nil {
		dec := yaml.NewDecoder(bytes.NewReader(text))
		dec.KnownFields(true)
		err = dec.Decode(s)
	}
	if err != nil && len(l.errs) == 0 {
		// The walk should have found every problem the decoder can; report it anyway.
		l.errs = append(l.errs, &Error{File: name, Msg: err.Error()})
	}
	s.Path, s.Source = name, src
	s.locate = l.position
	s.overridden = func(path string) string { return l.setAt(l.nodeFor(path), path) }
	s.Overrides = l.cfg.overrides

	// 4. Dependent defaults, validation, external checks.
	l.defaults(s)
	l.validate(s)
	for _, check := range cfg.checks {
		if err := check(s); err != nil {
			l.external(err)
		}
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.sorted()...)
	}
	l.resolvePaths(s)
	return s, nil
}

// loader holds the state of one Parse.
type loader struct {
	file     string
	cfg      loadConfig
	errs     []*Error
	idx      map[string]nodeRef    // field path -> its nodes
	bad      map[string]bool       // paths already reported by the walk
	expanded map[*yaml.Node]bool   // scalars already expanded (aliases visit them twice)
	envErr   map[*yaml.Node]bool   // scalars with an unresolved ${VAR}
	sets     map[*yaml.Node]string // values put in by an override, with its text
	walking  bool                  // errors found now make their path bad

	// Alias expansion budget of the walk (see visit).
	visits, aliasVisits, aliasDepth int
	tooAliased                      bool
}

// sorted returns the errors found, in file order.
func (l *loader) sorted() []error {
	slices.SortStableFunc(l.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	errs := make([]error, len(l.errs))
	for i, e := range l.errs {
		errs[i] = e
	}
	return errs
}

// nodeRef holds the key node (nil for list items and the root) and the value node of a path.
type nodeRef struct{ key, val *yaml.Node }

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError converts a yaml.v3 parse error ("yaml: line 3: ...") to an *Error. yaml.v3 does
// not give the column, and gives no line at all for a problem on the first line or for a
// character it cannot read (invalid UTF-8, a control character): those are located here.
func (l *loader) syntaxError(err error, src []byte) error {
	e := &Error{File: l.file, Msg: err.Error()}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "YAML syntax: " + m[2]
		return e
	}
	msg, ok := strings.CutPrefix(err.Error(), "yaml: ")
	if !ok {
		return e
	}
	e.Msg = "YAML syntax: " + msg
	if line, col, r, ok := badChar(src); ok && readerError(msg) {
		e.Line, e.Col = line, col
		if r == utf8.RuneError {
			e.Msg = "YAML syntax: invalid UTF-8"
		} else {
			e.Msg = fmt.Sprintf("YAML syntax: character %U is not allowed", r)
		}
		return e
	}
	e.Line = 1 // yaml.v3 omits "line 1"
	return e
}

// readerError reports whether a yaml.v3 message is about reading characters, not syntax.
func readerError(msg string) bool {
	return strings.Contains(msg, "UTF-8") || strings.Contains(msg, "UTF-16") || strings.Contains(msg, "surrogate") ||
		msg == "control characters are not allowed" || msg == "invalid Unicode character"
}

// badChar finds the first character YAML does not allow in a stream (YAML 1.2 section 5.1:
// printable characters, tab, line feed and carriage return), and its line and column.
func badChar(src []byte) (line, col int, r rune, ok bool) {
	line, col = 1, 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		switch {
		case r == utf8.RuneError && size <= 1,
			r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			r >= 0x7f && r <= 0x9f && r != 0x85,
			r == 0xfffe || r == 0xffff,
			r == 0xfeff && i > 0:
			return line, col, r, true
		case r == '\n':
			line, col = line+1, 1
		default:
			col++
		}
		i += size
	}
	return 0, 0, 0, false
}

// errorAt records an error located at node n.
func (l *loader) errorAt(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: l.file, Path: path, Msg: fmt.Sprintf(format, args...), Set: l.setAt(n, path)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	l.errs = append(l.errs, e)
	if l.walking {
		l.bad[path] = true
	}
}

// errorf records an error located at path: the value's node if present in the file; for a
// missing field, the key of its nearest ancestor present.
func (l *loader) errorf(path, format string, args ...any) {
	l.errorAt(l.nodeFor(path), path, format, args...)
}

// nodeFor returns the node an error about path points at.
func (l *loader) nodeFor(path string) *yaml.Node {
	if ref, ok := l.idx[path]; ok {
		if ref.val != nil && (ref.val.Kind == yaml.ScalarNode || ref.key == nil) {
			return ref.val
		}
		if ref.key != nil {
			return ref.key
		}
		return ref.val
	}
	for p := parentPath(path); ; p = parentPath(p) {
		if ref, ok := l.idx[p]; ok {
			if ref.key != nil {
				return ref.key
			}
			return ref.val
		}
		if p == "" {
			return nil
		}
	}
}

// position returns the line and column an error about path points at (0, 0 if unknown).
func (l *loader) position(path string) (line, col int) {
	if n := l.nodeFor(path); n != nil {
		return n.Line, n.Column
	}
	return 0, 0
}

// has reports whether path is present in the file.
func (l *loader) has(path string) bool {
	_, ok := l.idx[path]
	return ok
}

// isBad reports whether the walk reported path or a path it lies under.
func (l *loader) isBad(path string) bool {
	for p := path; ; p = parentPath(p) {
		if l.bad[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// badUnder reports whether the walk reported path or a path under it.
func (l *loader) badUnder(path string) bool {
	for p := range l.bad {
		if p == path || strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return false
}

// external records errors from a WithCheck function.
func (l *loader) external(err error) {
	for _, e := range flatten(err) {
		var fe *Error
		if errors.As(e, &fe) {
			c := *fe
			c.File = l.file
			if c.Line == 0 {
				if n := l.nodeFor(c.Path); n != nil {
					c.Line, c.Col = n.Line, n.Column
				}
			}
			if c.Set == "" {
				c.Set = l.setAt(l.nodeFor(c.Path), c.Path)
			}
			l.errs = append(l.errs, &c)
			continue
		}
		l.errs = append(l.errs, &Error{File: l.file, Msg: e.Error()})
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// resolvePaths makes report paths absolute or relative to the working directory, resolved
// against the scenario file's directory (prometheus/common's JoinDir).
func (l *loader) resolvePaths(s *Scenario) {
	base := filepath.Dir(l.file)
	// The default directory is under the working directory, where the user ran recall (as k6
	// and Gatling do); one written in the file is relative to the file.
	if s.Report.Dir != "" && !filepath.IsAbs(s.Report.Dir) && l.has("report.dir") {
		s.Report.Dir = filepath.Join(base, s.Report.Dir)
	}
	if s.Report.JUnit != "" && !filepath.IsAbs(s.Report.JUnit) {
		s.Report.JUnit = filepath.Join(s.Report.Dir, s.Report.JUnit)
	}
}
