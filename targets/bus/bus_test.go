package bus_test

import (
	"bytes"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/recall-drills/recall/targets/bus"
)

func start(t *testing.T, opts ...bus.Option) *bus.Server {
	t.Helper()
	s, err := bus.Start(opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestPubSubRoundtrip(t *testing.T) {
	t.Parallel()
	s := start(t)
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("ClientURL = %q, want nats://127.0.0.1:<port>", s.ClientURL())
	}
	sub := connect(t, s.ClientURL())
	pub := connect(t, s.ClientURL())
	ch := make(chan *nats.Msg, 1)
	if _, err := sub.ChanSubscribe("recall.events", ch); err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("recall.events", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		if string(m.Data) != "hello" {
			t.Fatalf("got %q, want hello", m.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
}

func TestLargePayload(t *testing.T) {
	t.Parallel()
	s := start(t)
	nc := connect(t, s.ClientURL())
	if got := nc.MaxPayload(); got < 16<<20 {
		t.Fatalf("MaxPayload = %d, want >= 16 MiB so one 100k-token recall fits", got)
	}
	ch := make(chan *nats.Msg, 1)
	if _, err := nc.ChanSubscribe("big", ch); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 10<<20)
	if err := nc.Publish("big", big); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		if len(m.Data) != len(big) {
			t.Fatalf("got %d bytes, want %d", len(m.Data), len(big))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	s, err := bus.Start()
	if err != nil {
		t.Fatal(err)
	}
	url := s.ClientURL()
	connect(t, url)
	s.Close()
	s.Close() // idempotent
	if _, err := nats.Connect(url, nats.Timeout(time.Second)); err == nil {
		t.Fatal("connect after Close succeeded")
	}
}

func TestFixedPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := start(t, bus.Port(port))
	if want := "nats://127.0.0.1:" + strconv.Itoa(port); s.ClientURL() != want {
		t.Fatalf("ClientURL = %q, want %q", s.ClientURL(), want)
	}
	connect(t, s.ClientURL())
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	start(t, bus.Logger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if !strings.Contains(buf.String(), "Server is ready") {
		t.Fatalf("logger got no startup notice; got:\n%s", buf.String())
	}
}

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
