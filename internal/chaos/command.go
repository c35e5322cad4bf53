package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/runtime"
)

// DefaultStepTimeout bounds one command or HTTP step of a command or http fault.
const DefaultStepTimeout = 30 * time.Second

func init() {
	Register(Kind{Name: "command", Scope: OnNothing, Instant: true, New: newCommand})
	Register(Kind{Name: "http", Scope: OnNothing, Instant: true, New: newHTTP})
}

// step is one side of a command or http fault.
type step func(ctx context.Context) error

// Steps is a fault made of an inject step and an optional revert step, each bounded by a
// timeout: the command and http kinds, for faults the harness cannot do itself (kubectl, ssh,
// a cloud API).
type Steps struct {
	inject, revert step
	timeout        time.Duration
	once
}

var _ Fault = (*Steps)(nil)

// Inject implements Fault.
func (f *Steps) Inject(ctx context.Context, _ runtime.Environment) error {
	if err := f.begin(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return f.inject(ctx)
}

// Revert implements Fault: the revert step, if any, runs once, even after a failed inject (the
// inject may have done part of its work).
func (f *Steps) Revert(ctx context.Context, _ runtime.Environment) error {
	if !f.end() || f.revert == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return f.revert(ctx)
}

// argv reads a command: a list of strings (argv), or a string run by sh -c.
func argv(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		if strings.TrimSpace(v) == "" {
			return nil, errors.New("empty command")
		}
		return []string{"sh", "-c", v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of strings, got %v", x)
			}
			out = append(out, s)
		}
		if len(out) == 0 {
			return nil, errors.New("empty command")
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string (run by sh -c) or a list of strings (argv), got %v", v)
}

func runStep(args []string) step {
	return func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		// On timeout kill the whole process group (sh -c leaves children holding the output
		// pipe), and never wait more than a second for the pipes after that.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("command %q: %w: %s", strings.Join(args, " "), err, redact.String(tail(string(out), redact.MaxExcerpt)))
		}
		return nil
	}
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// newCommand: with {run: <cmd>, revert: <cmd>, timeout: 30s}; a command is a string (sh -c) or
// a list (argv).
func newCommand(p Params) (Fault, error) {
	pp := newParams(p)
	timeout := pp.duration("timeout", DefaultStepTimeout, false)
	f := &Steps{timeout: timeout}
	if v, ok := pp.raw("run"); !ok {
		pp.fail("run", "required: the command that injects the fault")
	} else if a, err := argv(v); err != nil {
		pp.fail("run", "%v", err)
	} else {
		f.inject = runStep(a)
	}
	if v, ok := pp.raw("revert"); ok {
		if a, err := argv(v); err != nil {
			pp.fail("revert", "%v", err)
		} else {
			f.revert = runStep(a)
		}
	}
	if timeout == 0 {
		pp.fail("timeout", "must be > 0")
	}
	if err := pp.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// request reads an HTTP step: a URL string (POST), or {method, url, headers, body}.
func request(v any) (step, error) {
	method, rawURL, body := http.MethodPost, "", ""
	var headers map[string]any
	switch v := v.(type) {
	case string:
		rawURL = v
	case map[string]any:
		for k, x := range v {
			s, _ := x.(string)
			switch k {
			case "method":
				method = strings.ToUpper(s)
			case "url":
				rawURL = s
			case "body":
				body = s
			case "headers":
				headers, _ = x.(map[string]any)
			default:
				return nil, fmt.Errorf("unknown key %q (have: method, url, headers, body)", k)
			}
		}
	default:
		return nil, fmt.Errorf("want a URL or {method, url, headers, body}, got %v", v)
	}
	if !strings.HasPrefix(rawURL, "http://") && !strings.HasPrefix(rawURL, "https://") {
		return nil, fmt.Errorf("url: want an absolute http(s) URL, got %q", rawURL)
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, method, rawURL, strings.NewReader(body))
		if err != nil {
			return err
		}
		for k, x := range headers {
			req.Header.Set(k, fmt.Sprint(x))
		}
		resp, err := faultHTTP.Do(req)
		if err != nil {
			return fmt.Errorf("http %s %s: %s", method, redactedURL(rawURL), redact.String(err.Error()))
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("http %s %s: %s: %s", method, redactedURL(rawURL), resp.Status, redact.Excerpt(b))
		}
		return nil
	}, nil
}

// newHTTP: with {request: <url or {method, url, headers, body}>, revert: <same>, timeout: 30s}.
func newHTTP(p Params) (Fault, error) {
	pp := newParams(p)
	timeout := pp.duration("timeout", DefaultStepTimeout, false)
	f := &Steps{timeout: timeout}
	if v, ok := pp.raw("request"); !ok {
		pp.fail("request", "required: the call that injects the fault (a URL, or {method, url, headers, body})")
	} else if s, err := request(v); err != nil {
		pp.fail("request", "%v", err)
	} else {
		f.inject = s
	}
	if v, ok := pp.raw("revert"); ok {
		if s, err := request(v); err != nil {
			pp.fail("revert", "%v", err)
		} else {
			f.revert = s
		}
	}
	if timeout == 0 {
		pp.fail("timeout", "must be > 0")
	}
	if err := pp.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// faultHTTP sends the http fault's requests: straight to the system, never through the
// environment's HTTP_PROXY.
var faultHTTP = oauth.NewHTTPClient(0, nil)

// redactedURL hides a URL's userinfo password.
func redactedURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return redact.String(raw)
}
