package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/recall-drills/recall/internal/redact"
)

// passEnv are the variables of the harness's environment a source's command gets besides its
// env: and RECALL_*: what a program needs to run, nothing the harness holds.
var passEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TMPDIR",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"}

// CommandFetch returns the Fetch of a command (argv, no shell): it runs with env (whose values
// are redacted from every excerpt), RECALL_COHORT, RECALL_COUNT, RECALL_SUB and
// RECALL_CLIENT_ID, and the variables of passEnv; it is killed, with its process group, when
// timeout passes or its output exceeds max bytes. A non-zero exit is an error quoting the last
// line of its stderr, redacted.
func CommandFetch(argv []string, env map[string]string, timeout time.Duration, max int) Fetch {
	for _, v := range env {
		redact.Global.Add(v)
	}
	if max <= 0 {
		max = MaxSourceOutput
	}
	return func(ctx context.Context, c Call) ([]byte, error) {
		if len(argv) == 0 {
			return nil, errors.New("no command")
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = commandEnv(env, c)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		stdout := &capped{max: max, over: cancel}
		stderr := &tail{max: 4 << 10}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		err := cmd.Run()
		switch {
		case stdout.exceeded:
			return nil, fmt.Errorf("printed more than %d bytes: stopped", max)
		case ctx.Err() == context.DeadlineExceeded:
			return nil, fmt.Errorf("did not finish within %s: stopped%s", timeout, stderr.excerpt())
		case err != nil:
			return nil, fmt.Errorf("%v%s", err, stderr.excerpt())
		}
		return stdout.buf.Bytes(), nil
	}
}

// commandEnv is a command's environment for call c.
func commandEnv(env map[string]string, c Call) []string {
	var out []string
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			if _, set := env[k]; !set {
				out = append(out, k+"="+v)
			}
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return append(out, "RECALL_COHORT="+c.Cohort, "RECALL_COUNT="+strconv.Itoa(c.Count),
		"RECALL_SUB="+c.Sub, "RECALL_CLIENT_ID="+c.ClientID)
}

// CommandWhat names a command in errors: its program's base name (its arguments may hold
// secrets).
func CommandWhat(argv []string) string {
	if len(argv) == 0 {
		return "(none)"
	}
	return strconv.Quote(filepath.Base(argv[0]))
}

// capped keeps at most max bytes, and calls over (once) when more come.
type capped struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	max      int
	exceeded bool
	over     func()
}

func (w *capped) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.exceeded {
		return len(p), nil
	}
	if w.buf.Len()+len(p) > w.max {
		w.exceeded = true
		w.buf.Reset()
		w.over()
		return len(p), nil
	}
	return w.buf.Write(p)
}

// tail keeps the last max bytes written.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = w.buf[len(w.buf)-w.max:]
	}
	return len(p), nil
}

// excerpt is ": <the last non-empty line, redacted>", or "" when there is none.
func (w *tail) excerpt() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(w.buf)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return ""
	}
	return ": stderr: " + redact.String(last)
}

// HTTPTemplate is an HTTP request with placeholders {{cohort}}, {{count}}, {{sub}} and
// {{client_id}} in its URL (query-escaped), headers and body.
type HTTPTemplate struct {
	Method, URL string
	Headers     map[string]string
	Body        string
	Timeout     time.Duration
	// Max bounds the answer's body (default MaxSourceOutput).
	Max  int
	HTTP *http.Client
}

// What names the request in errors: its method and URL without userinfo, query or fragment
// (they may hold credentials).
func (h HTTPTemplate) What() string {
	u, err := url.Parse(h.URL)
	if err != nil {
		return h.Method + " (bad URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return h.Method + " " + u.String()
}

// Fetch returns the Fetch of the template: a 2xx answer's body is the output; any other status
// is an error quoting a short redacted excerpt of the body.
func (h HTTPTemplate) Fetch() Fetch {
	for _, v := range h.Headers {
		redact.Global.Add(v)
	}
	max := h.Max
	if max <= 0 {
		max = MaxSourceOutput
	}
	hc := h.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	return func(ctx context.Context, c Call) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, h.Timeout)
		defer cancel()
		raw := fill(h.URL, c, url.QueryEscape)
		same := func(s string) string { return s }
		var body io.Reader
		if h.Body != "" {
			body = strings.NewReader(fill(h.Body, c, same))
		}
		req, err := http.NewRequestWithContext(ctx, h.Method, raw, body)
		if err != nil {
			return nil, errors.New("bad request: the URL does not parse once filled in")
		}
		for k, v := range h.Headers {
			req.Header.Set(k, fill(v, c, same))
		}
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return nil, fmt.Errorf("no answer within %s", h.Timeout)
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the URL may hold credentials: What names it
			}
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
		if err != nil {
			return nil, fmt.Errorf("%s: reading the answer: %v", resp.Status, err)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil, fmt.Errorf("%s: %s", resp.Status, redact.Excerpt(b))
		}
		if len(b) > max {
			return nil, fmt.Errorf("answered more than %d bytes", max)
		}
		return b, nil
	}
}

// fill replaces the placeholders of a source's template with call c's values, escaped by esc.
func fill(s string, c Call, esc func(string) string) string {
	return strings.NewReplacer("{{cohort}}", esc(c.Cohort), "{{count}}", strconv.Itoa(c.Count),
		"{{sub}}", esc(c.Sub), "{{client_id}}", esc(c.ClientID)).Replace(s)
}
