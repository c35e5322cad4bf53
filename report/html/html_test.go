package html

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	xhtml "golang.org/x/net/html"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/report"
)

var update = flag.Bool("update", false, "update .golden files")

// sections are the ids of the page's sections, in order, that every report has.
var sections = []string{"headline", "findings", "ttc", "timeline", "cdf", "expectations", "environment"}

// load reads one of the hand-written reports shared with report/text (see its text_test.go).
func load(t testing.TB, name string) *report.Report {
	t.Helper()
	r, err := report.Read(filepath.Join("..", "text", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t testing.TB, r *report.Report, opts ...Option) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, r, opts...); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name, report, baseline string
	}{
		{"pass", "pass", ""},
		{"fail-vs-pass", "fail", "pass"},
		{"error", "error", ""},
		{"unresolved", "unresolved", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []Option
			if tc.baseline != "" {
				opts = append(opts, WithBaseline(load(t, tc.baseline)))
			}
			got := render(t, load(t, tc.report), opts...)
			path := filepath.Join("testdata", "TestRender."+tc.name+".golden.html")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
}

// parse parses the page as a browser would and returns every element.
func parse(t *testing.T, page string) []*xhtml.Node {
	t.Helper()
	doc, err := xhtml.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var out []*xhtml.Node
	var walk func(*xhtml.Node)
	walk = func(n *xhtml.Node) {
		if n.Type == xhtml.ElementNode {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func attr(n *xhtml.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func TestRenderEscapes(t *testing.T) {
	t.Parallel()
	const evil = `<script>alert(1)</script>`
	r := load(t, "fail")
	old := r.Components[2].Name // edge-poll: has an SLO, a timeline and a CDF series
	rename := func(s *string) {
		if *s == old {
			*s = evil
		}
	}
	for i := range r.Components {
		rename(&r.Components[i].Name)
	}
	for i := range r.Environment.Components {
		rename(&r.Environment.Components[i].Name)
	}
	for i := range r.Timeline {
		rename(&r.Timeline[i].Component)
	}
	for i := range r.CDF {
		rename(&r.CDF[i].Component)
	}
	for i := range r.Expectations {
		r.Expectations[i].Expr = strings.ReplaceAll(r.Expectations[i].Expr, `"`+old+`"`, `"`+evil+`"`)
	}
	r.Slowest = evil
	r.Findings = append(r.Findings, report.Finding{Kind: "resurrection", Severity: report.Critical, Component: evil,
		Count: 1, Message: `came back <img src=x onerror=alert(2)>`, Tokens: []string{"eyJhbGciOiJSUzI1NiJ9.secret.token"}})
	r.Faults[0].Name = `"><svg onload=alert(3)>`
	r.Scenario.Name = `drill"><script>alert(4)</script>`
	r.Scenario.Source += "\n# </pre><script>alert(5)</script>\n"
	r.Logs = append(r.Logs, `</pre><script>alert(6)</script>`)
	base := load(t, "pass")
	base.Findings = append(base.Findings, report.Finding{Kind: "fail_open", Severity: report.Critical, Component: evil})

	page := render(t, r, WithBaseline(base))
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Error("a raw <script> tag reached the page")
	}
	for _, raw := range []string{"<img", "<svg onload", "eyJhbGciOiJSUzI1NiJ9"} {
		if strings.Contains(page, raw) {
			t.Errorf("page contains %q unescaped", raw)
		}
	}
	if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 5 {
		t.Errorf("escaped component name appears %d times, want it in headline, findings, chart, tables, legends (≥ 5)", n)
	}
	// What a browser builds from the page: no script element, no event handler attribute.
	for _, n := range parse(t, page) {
		if n.Data == "script" {
			t.Error("page parses to a <script> element")
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") {
				t.Errorf("<%s> has event handler attribute %s=%q", n.Data, a.Key, a.Val)
			}
		}
	}
	// The token in clear became its fingerprint, the one recall logs everywhere.
	if !strings.Contains(page, redact.Fingerprint("eyJhbGciOiJSUzI1NiJ9.secret.token")) {
		t.Error("token not shown as its fingerprint")
	}
}

// TestFingerprint: a token field that already holds a 12-hex fingerprint (what recall writes) is
// shown as it is; anything else is shown as its fingerprint, never in clear.
func TestFingerprint(t *testing.T) {
	t.Parallel()
	fp := redact.Fingerprint("eyJhbGciOiJSUzI1NiJ9.secret.token")
	if got := fingerprint(fp); got != fp {
		t.Errorf("fingerprint(%q) = %q: an existing fingerprint must pass through", fp, got)
	}
	for _, s := range []string{"eyJhbGciOiJSUzI1NiJ9.secret.token", "ABCDEF012345", "0123456789abc", "opaque-token"} {
		if got := fingerprint(s); got != redact.Fingerprint(s) || got == s {
			t.Errorf("fingerprint(%q) = %q, want redact.Fingerprint = %q", s, got, redact.Fingerprint(s))
		}
	}
}

var externalRef = regexp.MustCompile(`(?i)^\s*(https?:)?//`)

func TestRenderSelfContained(t *testing.T) {
	t.Parallel()
	r := load(t, "fail")
	if !strings.Contains(r.Environment.Components[0].Endpoint, "http://") {
		t.Fatal("fixture should carry http endpoints (as plain text) for this test to mean something")
	}
	for _, name := range []string{"pass", "fail", "error"} {
		page := render(t, load(t, name), WithBaseline(load(t, "pass")))
		for _, n := range parse(t, page) {
			switch n.Data {
			case "script", "link", "img", "iframe", "object", "embed", "image", "use":
				t.Errorf("%s: page has a <%s> element", name, n.Data)
			}
			for _, a := range n.Attr {
				switch strings.ToLower(a.Key) {
				case "src", "href", "xlink:href", "srcset", "action", "poster", "data":
					if externalRef.MatchString(a.Val) || !strings.HasPrefix(a.Val, "#") {
						t.Errorf("%s: <%s %s=%q> is not a fragment link", name, n.Data, a.Key, a.Val)
					}
				}
			}
		}
		for _, bad := range []string{"@import", "url(http", "url(//"} {
			if strings.Contains(page, bad) {
				t.Errorf("%s: page contains %q", name, bad)
			}
		}
	}
}

func TestRenderSections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		baseline bool
	}{{"pass", false}, {"fail", true}, {"error", false}} {
		var opts []Option
		if tc.baseline {
			opts = append(opts, WithBaseline(load(t, "pass")))
		}
		page := render(t, load(t, tc.name), opts...)
		ids := map[string]int{}
		var order []string
		svgs := 0
		for _, n := range parse(t, page) {
			if id, ok := attr(n, "id"); ok {
				ids[id]++
				if n.Data == "section" || n.Data == "header" {
					order = append(order, id)
				}
			}
			if n.Data == "svg" {
				if _, chart := attr(n, "role"); chart {
					svgs++
				}
			}
		}
		for id, n := range ids {
			if n > 1 {
				t.Errorf("%s: id %q used %d times", tc.name, id, n)
			}
		}
		want := append([]string(nil), sections...)
		if tc.baseline {
			want = append(want[:3], append([]string{"trend"}, want[3:]...)...)
		}
		if diff := cmp.Diff(want, order); diff != "" {
			t.Errorf("%s: sections (-want +got):\n%s", tc.name, diff)
		}
		if svgs != 3 {
			t.Errorf("%s: %d chart SVGs, want 3 (ttc, timeline, cdf)", tc.name, svgs)
		}
	}
}

func TestRenderContent(t *testing.T) {
	t.Parallel()
	page := render(t, load(t, "fail"), WithBaseline(load(t, "pass")))
	for _, want := range []string{
		// headline: verdict and the slowest component
		`<div class="badge">FAIL</div>`,
		"The slowest component, edge-jwt, never stopped honouring recalled credentials (998 of 998 pairs did not converge)",
		"Regressed against the baseline, the run of 2026-11-19 09:00:00 UTC, PASS.",
		// findings in severity order, with colours by class
		`class="finding sev-critical"`, `class="finding sev-warning"`, `class="finding sev-info"`,
		// TTC: SLO line for edge-poll met, for edge-push missed; edge-jwt never converged
		"SLO p99 &lt; 2.5s</text>",
		"SLO p99 &lt; 2s ✗</text>",
		"never converged: 998 of 998 pairs still accepted at the end",
		"<code>edge-poll</code>: 998 of 998 true instants inside the measured bracket",
		// timeline: recall mark and fault bands, the unreverted one marked
		"recall acknowledged", "fault cut-push", "fault kill-cache (not reverted)",
		// cdf
		"No curve for <code>edge-jwt</code>",
		// trend
		"newly not converging: 998 of 998 pairs",
		// expectations with marks, warn
		`<td class="warn">WARN</td>`, `<td class="bad">✗</td>`, `<td class="good">✓</td>`,
		// environment: seed, version, fingerprints, escaped source
		"v0.3.0-test", "<code>3f2a9c81d04e</code>", "# owner: &lt;sec-team@example.com&gt; &amp; &#34;platform&#34;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	pass := render(t, load(t, "pass"))
	for _, want := range []string{
		`<div class="badge">PASS</div>`,
		"The slowest component, edge-cache, honoured recalled credentials for up to 4.99s; its p99 of 4.70s ±13ms is within its 5s target",
		"No findings",
	} {
		if !strings.Contains(pass, want) {
			t.Errorf("pass page lacks %q", want)
		}
	}
	crit, warn, info := strings.Index(page, "sev-critical"), strings.Index(page, "sev-warning\""), strings.Index(page, "sev-info\"")
	if !(crit < warn && warn < info) {
		t.Errorf("findings not in severity order: %d %d %d", crit, warn, info)
	}
}

func TestTimelineAxis(t *testing.T) {
	t.Parallel()
	// Timeline X is relative to the FIRST acknowledgement (AcknowledgedAtMS − AckSpreadMS), faults
	// are relative to the drill's start: a fault at drill time 9400 with the first ack at 9900
	// is at −500 on the chart.
	r := &report.Report{
		Recall: report.Recall{AcknowledgedAtMS: 10000, AckSpreadMS: 100},
		Faults: []report.Fault{{Name: "f", StartMS: 9400, EndMS: 10400}},
		Timeline: []report.Series{{Component: "a", Points: []report.Point{
			{X: -1000, Y: 1}, {X: 0, Y: 0.5}, {X: 1000, Y: 0}}}},
	}
	c, legend := timelineChart(r, DefaultMaxPoints)
	x := c.xScale(-1000, 1000)
	if len(c.Bands) != 1 {
		t.Fatalf("%d bands, want 1", len(c.Bands))
	}
	if got, want := c.Bands[0].X, x.pos(-500); math.Abs(got-want) > 0.01 {
		t.Errorf("fault band starts at x=%v, want %v (−500ms)", got, want)
	}
	if got, want := c.Bands[0].W, x.pos(500)-x.pos(-500); math.Abs(got-want) > 0.01 {
		t.Errorf("fault band width %v, want %v (1s)", got, want)
	}
	if got, want := c.Marks[0].X, x.pos(0); got != want {
		t.Errorf("recall mark at %v, want %v", got, want)
	}
	if len(legend) != 2 || legend[0].Kind != "band" || legend[1].Name != "a" {
		t.Errorf("legend = %+v, want fault band then series a", legend)
	}
	// A fault outside the data widens the axis rather than falling off it.
	r.Faults[0].StartMS = 5900 // −4000
	c, _ = timelineChart(r, DefaultMaxPoints)
	if c.Bands[0].X != c.Left {
		t.Errorf("early fault band at %v, want the plot's left edge %v", c.Bands[0].X, c.Left)
	}
	if c.XTicks[0].Label != "-4s" {
		t.Errorf("first tick %q, want -4s", c.XTicks[0].Label)
	}
}

func TestDownsample(t *testing.T) {
	t.Parallel()
	const n = 100_000
	pts := make([]report.Point, n)
	for i := range pts {
		pts[i] = report.Point{X: float64(i), Y: 0}
	}
	pts[n/3].Y = 0.01 // one bucket where a recalled credential came back
	pts[10].Y = math.NaN()
	got := downsample(pts, 600)
	if len(got) > 600 {
		t.Errorf("%d points, want ≤ 600", len(got))
	}
	if got[0].X != 0 || got[len(got)-1].X != n-1 {
		t.Errorf("first/last = %v/%v, want 0/%d", got[0].X, got[len(got)-1].X, n-1)
	}
	spike := false
	for i, p := range got {
		if math.IsNaN(p.Y) {
			t.Error("NaN point kept")
		}
		if p.Y == 0.01 {
			spike = true
		}
		if i > 0 && p.X < got[i-1].X {
			t.Errorf("points out of order at %d", i)
		}
	}
	if !spike {
		t.Error("spike lost by downsampling")
	}
	// Short series are left alone (but sorted).
	short := downsample([]report.Point{{X: 2, Y: 1}, {X: 1, Y: 0}}, 600)
	if diff := cmp.Diff([]report.Point{{X: 1, Y: 0}, {X: 2, Y: 1}}, short); diff != "" {
		t.Errorf("short series (-want +got):\n%s", diff)
	}
}

var pointsAttr = regexp.MustCompile(`points="([^"]*)"`)

func TestRenderLarge(t *testing.T) {
	t.Parallel()
	r := largeReport(24, 50_000, 10_000)
	page := render(t, r)
	for _, m := range pointsAttr.FindAllStringSubmatch(page, -1) {
		if n := len(strings.Fields(m[1])); n > 2*DefaultMaxPoints { // CDF steps double the points
			t.Errorf("a series has %d points", n)
		}
	}
	if !strings.Contains(page, "Drawn with") {
		t.Error("downsampling not noted on the page")
	}
	// 24 components × 60,000 points in; the page stays about 1 MB (see BenchmarkRenderLarge).
	if len(page) > 2<<20 {
		t.Errorf("page is %d bytes, want under 2 MiB", len(page))
	}
	t.Logf("large report page: %d bytes", len(page))
}

// BenchmarkRenderLarge renders a report of 24 components with 50,000 timeline and 10,000 CDF
// points each (far beyond what a 1M-probe drill's buckets give) and reports the page's size.
// Measured on the 2-core dev machine: about 52 ms and 28 MB allocated per page; the page is
// 591 kB (the input holds 1.44 M points).
func BenchmarkRenderLarge(b *testing.B) {
	r := largeReport(24, 50_000, 10_000)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := Render(&buf, r); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "page-bytes")
}

// largeReport builds a seeded synthetic report with comps components, each with timelinePts
// timeline points and cdfPts CDF points, plus faults, findings and expectations.
func largeReport(comps, timelinePts, cdfPts int) *report.Report {
	rng := rand.New(rand.NewSource(1))
	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "recall", Version: "bench"},
		Scenario:      report.Scenario{Name: "large", Seed: 1, Source: strings.Repeat("# padding line\n", 200)},
		Verdict:       report.Fail,
		StartedAt:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		DurationMS:    600_000,
		Recall:        report.Recall{Action: "revoke-tokens", Credentials: 100_000, SentAtMS: 60_000, AcknowledgedAtMS: 60_500, AckSpreadMS: 400},
		Probes:        report.Probes{Total: 1_000_000},
	}
	for i := range 8 {
		r.Faults = append(r.Faults, report.Fault{Name: fmt.Sprintf("fault-%d", i), Fault: "pause", Target: "c0",
			StartMS: 50_000 + float64(i)*60_000, EndMS: 70_000 + float64(i)*60_000})
	}
	for c := range comps {
		name := fmt.Sprintf("component-%02d", c)
		p50 := 100 + rng.Float64()*3000
		st := report.Stats{Count: 4000, P50: p50, P90: p50 * 1.5, P99: p50 * 1.8, Max: p50 * 2, ResolutionMS: 10, ResolutionMaxMS: 30}
		comp := report.Component{Name: name, Kind: "gateway", Probed: true,
			Summary: report.Summary{Pairs: 4000, Converged: 4000, TTCMS: st}}
		if c%7 == 6 {
			comp.Converged, comp.NotConverged, comp.TTCMS = 0, 4000, report.Stats{}
		}
		r.Components = append(r.Components, comp)
		r.Expectations = append(r.Expectations, report.Expectation{
			Expr: fmt.Sprintf(`ttc.p99{component=%q} < 5s`, name), Bound: 5000, Pass: st.P99 < 5000})
		r.Findings = append(r.Findings, report.Finding{Kind: "resurrection", Severity: report.Critical, Component: name, Count: c + 1,
			Message: "came back", Tokens: []string{"0123456789ab"}})
		tl := report.Series{Component: name, Points: make([]report.Point, timelinePts)}
		for j := range tl.Points {
			x := -60_000 + float64(j)*540_000/float64(timelinePts)
			y := 1.0
			if x > 0 {
				y = math.Max(0, 1-x/(p50*2)) + rng.Float64()*0.01
			}
			tl.Points[j] = report.Point{X: x, Y: y}
		}
		r.Timeline = append(r.Timeline, tl)
		cdf := report.Series{Component: name, Points: make([]report.Point, cdfPts)}
		for j := range cdf.Points {
			q := float64(j+1) / float64(cdfPts)
			cdf.Points[j] = report.Point{X: p50 * 2 * q, Y: q}
		}
		r.CDF = append(r.CDF, cdf)
	}
	r.Slowest = r.Components[6].Name
	return r
}

func TestRenderEmpty(t *testing.T) {
	t.Parallel()
	// A report with nothing in it (a drill that failed before measuring) still renders every
	// section, and so does one compared with an empty baseline.
	page := render(t, &report.Report{Verdict: report.Error, Reason: "system failed to start"}, WithBaseline(&report.Report{}))
	for _, id := range append(sections, "trend") {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("empty report: no section %q", id)
		}
	}
	if !strings.Contains(page, "system failed to start") {
		t.Error("empty report: reason not shown")
	}
}

// TestRenderSSFReceiver: recall's own SSF subscription has its sentence in the TTC section's
// notes; a report without one has none.
func TestRenderSSFReceiver(t *testing.T) {
	t.Parallel()
	r := load(t, "pass")
	if page := render(t, r); strings.Contains(page, `id="ssf-receiver"`) {
		t.Error("ssf-receiver note without the component")
	}
	r.Components = append(r.Components, report.Component{Name: report.KindSSFReceiver, Kind: report.KindSSFReceiver,
		SSFReceiver: &report.SSFReceiver{Transmitter: "idp", Delivery: "push", Recalled: 40, WithEvent: 40, StreamDeleted: true,
			AckToDeliveredMS: &report.Latency{Count: 40, P50: 4, Max: 9}}})
	page := render(t, r)
	if want := `<p id="ssf-receiver" class="note">SSF receiver (idp, push): 40 of 40 recalled credentials named by an event; recall acknowledged → event delivered p50 4.0ms, max 9.0ms.`; !strings.Contains(page, want) {
		i := strings.Index(page, `id="ssf-receiver"`)
		t.Errorf("page lacks %q; has %q", want, page[max(0, i):min(len(page), max(0, i)+300)])
	}
}

// TestRenderDelivery: a receiver's delivery section is listed under its name in the TTC
// section's notes; a report without one has no such note.
func TestRenderDelivery(t *testing.T) {
	t.Parallel()
	r := load(t, "pass")
	if page := render(t, r); strings.Contains(page, `id="delivery"`) {
		t.Error("delivery note without any delivery section")
	}
	r.Components[1].Delivery = &report.Delivery{Stream: "s2", Method: "poll", Events: 200,
		DeliveredMS:    report.Stats{Count: 200, P50: 877, Max: 914},
		AcknowledgedMS: report.Stats{Count: 200, P50: 890, Max: 924},
		EnforcementMS:  report.Stats{Count: 30, P99: 37, ResolutionMS: 47},
		TTCFromSentMS:  report.Stats{Count: 30, P99: 945, ResolutionMS: 47}}
	page := render(t, r)
	for _, want := range []string{`<p id="delivery" class="note">`,
		"<li><code>" + r.Components[1].Name + "</code>: (poll) delivered p50 877ms, max 914ms, acknowledged max 924ms; enforcement p99 37ms ±47ms; from sent p99 945ms ±47ms</li>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestRenderConfirmation: the recall section counts the three outcomes of confirmation at the
// source, with the most frequent reason a recall could not be confirmed.
func TestRenderConfirmation(t *testing.T) {
	t.Parallel()
	r := load(t, "pass")
	r.Recall.Confirmed, r.Recall.Ineffective, r.Recall.Unconfirmable = 1207, 2, 3
	r.Recall.UnconfirmableReasons = []report.ReasonCount{{Reason: "introspect 1a2b3c: connection refused", Count: 3}}
	page := render(t, r)
	for _, kv := range [][2]string{{"confirmed at the source", "1,207"}, {"ineffective (acknowledged but still active)", "2"},
		{"unconfirmable (introspection failed)", "3"}, {"most frequent unconfirmable reason", "introspect 1a2b3c: connection refused (3 of 3)"}} {
		i := strings.Index(page, kv[0])
		if i < 0 || !strings.Contains(page[i:min(len(page), i+len(kv[0])+80)], ">"+kv[1]+"<") {
			t.Errorf("the page lacks %s: %s", kv[0], kv[1])
		}
	}
	if strings.Contains(render(t, load(t, "pass")), "confirmed at the source") {
		t.Error("a recall not confirmed has confirmation rows")
	}
}
