package html

import (
	"strings"
	"testing"

	"github.com/recall-drills/recall/report"
)

// TestRenderSystemMetrics: series scraped from the components appear in the environment
// section, one row per series with its first and last value and when it last changed, grouped
// by component; a report without them has no such table.
func TestRenderSystemMetrics(t *testing.T) {
	t.Parallel()
	r := load(t, "pass")
	if page := render(t, r); strings.Contains(page, `id="system-metrics"`) {
		t.Error("system metrics table without samples")
	}
	firstAck := r.Recall.AcknowledgedAtMS - r.Recall.AckSpreadMS
	r.SystemMetrics = []report.MetricSample{
		{Name: "gateway_revocation_list_version", Component: "edge-poll", Value: 0, AtMS: 1000},
		{Name: "gateway_cache_hits_total", Component: "edge-cache", Labels: map[string]string{"cache": "verified"}, Value: 5, AtMS: 1000},
		{Name: "gateway_revocation_list_version", Component: "edge-poll", Value: 1, AtMS: firstAck + 2000},
		{Name: "gateway_cache_hits_total", Component: "edge-cache", Labels: map[string]string{"cache": "verified"}, Value: 5, AtMS: firstAck + 2000},
		{Name: "gateway_revocation_list_version", Component: "edge-poll", Value: 1, AtMS: firstAck + 7000},
		{Name: "gateway_cache_hits_total", Component: "edge-poll", Value: 9, AtMS: firstAck + 7000},
	}
	page := render(t, r)
	for _, want := range []string{
		`id="system-metrics"`,
		"3 scrapes from 1.00s to",
		`<tr><td><code>edge-poll</code></td><td><code>gateway_revocation_list_version</code></td><td class="n">0</td><td class="n">1</td><td>` +
			report.FormatMS(firstAck+2000) + ` (recall &#43;2.00s)</td></tr>`,
		`<tr><td><code>edge-cache</code></td><td><code>gateway_cache_hits_total{cache=&#34;verified&#34;}</code></td><td class="n">5</td><td class="n">5</td><td>—</td></tr>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if i, j := strings.Index(page, "edge-poll</code></td><td><code>gateway_revocation"), strings.Index(page, "edge-cache</code></td><td><code>gateway_cache"); i < 0 || j < i {
		t.Error("components not in the order first scraped")
	}
	if i, j := strings.Index(page, "edge-poll</code></td><td><code>gateway_cache_hits_total"), strings.Index(page, "edge-poll</code></td><td><code>gateway_revocation"); i < 0 || j < i {
		t.Error("a component's series not sorted by name")
	}
}
