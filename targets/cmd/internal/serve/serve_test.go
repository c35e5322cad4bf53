package serve

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRetry(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	calls := 0
	v, err := Retry(context.Background(), 5*time.Second, time.Millisecond, log, "sync", func(context.Context) (int, error) {
		calls++
		if calls < 3 {
			return 0, errors.New("not yet")
		}
		return 42, nil
	})
	if err != nil || v != 42 || calls != 3 {
		t.Errorf("Retry = %d, %v after %d calls; want 42, nil after 3", v, err, calls)
	}
	_, err = Retry(context.Background(), 50*time.Millisecond, 10*time.Millisecond, log, "sync", func(context.Context) (int, error) {
		return 0, errors.New("issuer down")
	})
	if err == nil || !strings.Contains(err.Error(), "sync: gave up after") || !strings.Contains(err.Error(), "issuer down") {
		t.Errorf("Retry = %v, want it to give up with the last error", err)
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("RECALL_TEST_X", "set")
	t.Setenv("RECALL_TEST_D", "3s")
	if Env("RECALL_TEST_X", "def") != "set" || Env("RECALL_TEST_UNSET", "def") != "def" {
		t.Error("Env")
	}
	if EnvDuration("RECALL_TEST_D", time.Second) != 3*time.Second || EnvDuration("RECALL_TEST_UNSET", time.Second) != time.Second {
		t.Error("EnvDuration")
	}
}

func TestUsageAndLogger(t *testing.T) {
	t.Parallel()
	var u usageError
	if !errors.As(Usage(errors.New("bad flag")), &u) || Usage(nil) != nil {
		t.Error("Usage does not mark the error")
	}
	if !errors.Is(Usage(flag.ErrHelp), flag.ErrHelp) {
		t.Error("Usage hides the wrapped error")
	}
	if _, err := Logger("loud"); err == nil {
		t.Error("Logger(loud) = nil error")
	}
	if _, err := Logger("debug"); err != nil {
		t.Error(err)
	}
}
