package docker

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the logger's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCompileProgress: a long compile of the reference images says it is still going, with the
// time elapsed, every progressEvery, and says nothing more once it is over (a cold build takes
// a minute or more: without the line the run looks hung).
func TestCompileProgress(t *testing.T) {
	old := progressEvery
	progressEvery = 20 * time.Millisecond
	t.Cleanup(func() { progressEvery = old })
	var out syncBuffer
	b := &imageBuilder{log: slog.New(slog.NewTextHandler(&out, nil))}
	stop := b.progress(time.Now().Add(-90 * time.Second))
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(out.String(), "still compiling reference components") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress lines in 30 s: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if !strings.Contains(out.String(), "elapsed=1m3") {
		t.Errorf("progress lines lack the elapsed time: %q", out.String())
	}
	// A tick already taken when stop was called may still log once; then nothing more.
	time.Sleep(50 * time.Millisecond)
	n := strings.Count(out.String(), "still compiling")
	time.Sleep(200 * time.Millisecond)
	if m := strings.Count(out.String(), "still compiling"); m != n {
		t.Errorf("%d more progress lines after the compile ended", m-n)
	}
}
