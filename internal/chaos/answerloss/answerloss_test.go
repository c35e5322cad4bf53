package answerloss

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestLosesFirstAnswers(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		served.Add(1)
		_, _ = io.WriteString(w, "rotated")
	}))
	defer srv.Close()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	px := toxiproxy.NewProxy(server, "t", "127.0.0.1:0", strings.TrimPrefix(srv.URL, "http://"))
	if err := px.Start(); err != nil {
		t.Fatal(err)
	}
	defer px.Stop()
	tw, err := px.Toxics.AddToxicJson(strings.NewReader(`{"name":"l","type":"lose_answers","stream":"downstream","toxicity":1,"attributes":{"count":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{}
	errs := 0
	for i := 0; i < 5; i++ {
		resp, err := c.Post("http://"+px.Listen+"/token", "text/plain", strings.NewReader("x"))
		if err != nil {
			errs++
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "rotated" {
			t.Errorf("answer %q", b)
		}
	}
	if n := tw.Toxic.(*Toxic).Lost(); n != 3 {
		t.Errorf("Lost() = %d, want 3", n)
	}
	if errs != 3 || served.Load() != 5 {
		t.Errorf("%d errors, %d served; want 3 answers lost of 5 served", errs, served.Load())
	}
}
