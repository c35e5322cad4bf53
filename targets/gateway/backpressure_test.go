package gateway

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cappedListener accepts at most cap connections at once and resets every connection beyond, as a
// service out of file descriptors or with a full accept backlog does.
type cappedListener struct {
	net.Listener
	cap        int64
	open, peak atomic.Int64
	refused    atomic.Int64
}

func (l *cappedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		n := l.open.Add(1)
		if n > l.cap {
			l.open.Add(-1)
			l.refused.Add(1)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			c.Close()
			continue
		}
		for p := l.peak.Load(); n > p && !l.peak.CompareAndSwap(p, n); p = l.peak.Load() {
		}
		return &countedConn{Conn: c, l: l}, nil
	}
}

type countedConn struct {
	net.Conn
	l    *cappedListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// TestUpstreamBackpressure sends a bounded burst of concurrent requests, far more than the
// upstream takes connections, through a proxying gateway. The gateway must never open more than
// UpstreamMaxConns connections to the upstream (beyond its cap the upstream resets them: 502s),
// must answer the requests beyond UpstreamMaxInflight 503 with Retry-After, and must answer
// everything else 200: no 502 at all.
func TestUpstreamBackpressure(t *testing.T) {
	const maxConns, maxInflight, burst = 16, 64, 400
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	capped := &cappedListener{Listener: ln, cap: maxConns}
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond) // holds its connection, as a real handler does
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	up.Listener.Close()
	up.Listener = capped
	up.Start()
	t.Cleanup(up.Close)

	f := newFakeIssuer(t)
	g, gw := newTestGateway(t, Config{Strategy: JWTOnly, IssuerURL: f.URL, Upstream: up.URL,
		UpstreamMaxConns: maxConns, UpstreamMaxInflight: maxInflight})
	tok := f.mint()
	if st := status(t, gw.URL, tok); st != http.StatusOK {
		t.Fatalf("warm-up: status %d", st)
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: burst, Proxy: nil}, Timeout: 30 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	var mu sync.Mutex
	codes := map[int]int{}
	noRetryAfter := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodGet, gw.URL+"/api/whoami", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			code := -1
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			if code == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				noRetryAfter++
			}
		}()
	}
	close(start)
	wg.Wait()
	t.Logf("burst of %d: status counts %v; upstream peak %d connections, %d reset", burst, codes, capped.peak.Load(), capped.refused.Load())
	if codes[http.StatusBadGateway] > 0 || codes[-1] > 0 {
		t.Errorf("%d answers 502 and %d transport errors: want backpressure (503), not failures", codes[http.StatusBadGateway], codes[-1])
	}
	if p := capped.peak.Load(); p > maxConns || capped.refused.Load() > 0 {
		t.Errorf("gateway opened up to %d connections to the upstream (%d reset), bound %d", p, capped.refused.Load(), maxConns)
	}
	if codes[http.StatusOK] < maxInflight {
		t.Errorf("only %d answers 200, want at least the %d in flight", codes[http.StatusOK], maxInflight)
	}
	if codes[http.StatusOK]+codes[http.StatusServiceUnavailable] != burst {
		t.Errorf("status counts %v: want only 200 and 503", codes)
	}
	if noRetryAfter > 0 {
		t.Errorf("%d answers 503 without Retry-After", noRetryAfter)
	}
	if got := metricValue(g.m.upstreamShed); int(got) != codes[http.StatusServiceUnavailable] {
		t.Errorf("upstream_shed_total = %v, want %d", got, codes[http.StatusServiceUnavailable])
	}
}
