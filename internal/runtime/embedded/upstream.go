package embedded

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
)

// maxInProcessBody bounds an in-process upstream's answer: the reference service's are a few
// hundred bytes.
const maxInProcessBody = 1 << 20

// inProcess is the transport an embedded gateway proxies to an embedded upstream with: the
// request is served in memory by the upstream's handler, behind its pause gate, instead of over
// loopback HTTP. That hop cost the in-process stack most of its CPU (BenchmarkStackCeiling), and
// it is not what a drill measures: probes still reach the gateway over HTTP. A killed upstream
// refuses the request as its closed port would (the gateway answers 502); a paused one holds it.
type inProcess struct {
	e    *Env
	name string
}

// RoundTrip implements http.RoundTripper.
func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	t.e.mu.Lock()
	r, ok := t.e.running[t.name]
	var g *gate
	if ok && !r.down {
		g = r.gate
	}
	t.e.mu.Unlock()
	if g == nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	w := &recorder{header: http.Header{}}
	g.ServeHTTP(w, in)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return &http.Response{
		Status: strconv.Itoa(w.code) + " " + http.StatusText(w.code), StatusCode: w.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(w.body.Len()), Request: req,
	}, nil
}

// recorder is the http.ResponseWriter an in-process request is served into.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.body.Len()+len(b) > maxInProcessBody {
		return 0, io.ErrShortWrite
	}
	return w.body.Write(b)
}
