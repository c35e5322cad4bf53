package scenario

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Rate
		perSec  float64
		wantErr string
	}{
		{in: "4000/s", want: Rate{Freq: 4000, Per: time.Second}, perSec: 4000},
		{in: "120/m", want: Rate{Freq: 120, Per: time.Minute}, perSec: 2},
		{in: "5/ms", want: Rate{Freq: 5, Per: time.Millisecond}, perSec: 5000},
		{in: "10/5s", want: Rate{Freq: 10, Per: 5 * time.Second}, perSec: 2},
		{in: "0/s", want: Rate{Freq: 0, Per: time.Second}, perSec: 0},
		{in: " 7 / s ", want: Rate{Freq: 7, Per: time.Second}, perSec: 7},
		{in: "4000", wantErr: `bad rate "4000": want N/s, N/m or N/ms, e.g. 2000/s`},
		{in: "4000/sec", wantErr: `bad rate "4000/sec": want N/s, N/m or N/ms, e.g. 2000/s`},
		{in: "1.5/s", wantErr: `bad rate "1.5/s": want N/s, N/m or N/ms, e.g. 2000/s`},
		{in: "-1/s", wantErr: `bad rate "-1/s": want N/s, N/m or N/ms, e.g. 2000/s`},
		{in: "1/0s", wantErr: `bad rate "1/0s": want N/s, N/m or N/ms, e.g. 2000/s`},
		{in: "", wantErr: `bad rate "": want N/s, N/m or N/ms, e.g. 2000/s`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRate(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("ParseRate(%q) error = %v, want %s", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Text = tc.in
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseRate(%q) (-want +got):\n%s", tc.in, d)
			}
			if got.PerSecond() != tc.perSec {
				t.Errorf("PerSecond() = %v, want %v", got.PerSecond(), tc.perSec)
			}
			if got.String() != tc.in {
				t.Errorf("String() = %q, want the text as written", got.String())
			}
		})
	}
	if got := (Rate{Freq: 3, Per: time.Second}).String(); got != "3/s" {
		t.Errorf("String() of a rate built in code = %q", got)
	}
}

func TestParseOffset(t *testing.T) {
	t.Parallel()
	const recallAt = 15 * time.Second
	tests := []struct {
		in      string
		anchor  string
		d       time.Duration
		resolve time.Duration
		wantErr string
	}{
		{in: "15s", anchor: AnchorStart, d: 15 * time.Second, resolve: 15 * time.Second},
		{in: "1m30s", anchor: AnchorStart, d: 90 * time.Second, resolve: 90 * time.Second},
		{in: "+5s", anchor: AnchorStart, d: 5 * time.Second, resolve: 5 * time.Second},
		{in: "start", anchor: AnchorStart, resolve: 0},
		{in: "start+2s", anchor: AnchorStart, d: 2 * time.Second, resolve: 2 * time.Second},
		{in: "recall", anchor: AnchorRecall, resolve: recallAt},
		{in: "recall-1s", anchor: AnchorRecall, d: -time.Second, resolve: 14 * time.Second},
		{in: "recall+2s", anchor: AnchorRecall, d: 2 * time.Second, resolve: 17 * time.Second},
		{in: "recall + 500ms", anchor: AnchorRecall, d: 500 * time.Millisecond, resolve: recallAt + 500*time.Millisecond},
		{in: "-1s", wantErr: `bad offset "-1s": negative; want a duration from the start of traffic (15s) or one relative to the recall (recall, recall-1s, recall+2s)`},
		{in: "recal-1s", wantErr: `bad offset "recal-1s": want a duration from the start of traffic (15s) or one relative to the recall (recall, recall-1s, recall+2s)`},
		{in: "recall1s", wantErr: `bad offset "recall1s": want a duration from the start of traffic (15s) or one relative to the recall (recall, recall-1s, recall+2s)`},
		{in: "recall--1s", wantErr: `bad offset "recall--1s": want a duration from the start of traffic (15s) or one relative to the recall (recall, recall-1s, recall+2s)`},
		{in: "15", wantErr: `bad offset "15": want a duration from the start of traffic (15s) or one relative to the recall (recall, recall-1s, recall+2s)`},
		{in: "", wantErr: `bad offset "": want a duration from the start of traffic (15s) or one relative to the recall (recall, recall-1s, recall+2s)`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseOffset(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("ParseOffset(%q) error = %v, want %s", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := (Offset{Anchor: tc.anchor, D: tc.d, Text: tc.in}); got != want {
				t.Errorf("ParseOffset(%q) = %+v, want %+v", tc.in, got, want)
			}
			if r := got.Resolve(recallAt); r != tc.resolve {
				t.Errorf("Resolve(15s) = %s, want %s", r, tc.resolve)
			}
		})
	}
	for _, tc := range []struct {
		o    Offset
		want string
	}{
		{Offset{Anchor: AnchorStart, D: 5 * time.Second}, "5s"},
		{Offset{Anchor: AnchorRecall}, "recall"},
		{Offset{Anchor: AnchorRecall, D: -time.Second}, "recall-1s"},
		{Offset{Anchor: AnchorRecall, D: 2 * time.Second}, "recall+2s"},
	} {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.o, got, tc.want)
		}
	}
}

func TestParsePercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{in: "10%", want: 0.1},
		{in: "0%", want: 0},
		{in: "100%", want: 1},
		{in: "12.5%", want: 0.125},
		{in: "0.25", want: 0.25},
		{in: "1", want: 1},
		{in: "150%", wantErr: `bad percentage "150%": want 0%..100% like 10%, or a fraction 0..1 like 0.1`},
		{in: "10", wantErr: `bad percentage "10": want 0%..100% like 10%, or a fraction 0..1 like 0.1`},
		{in: "-1%", wantErr: `bad percentage "-1%": want 0%..100% like 10%, or a fraction 0..1 like 0.1`},
		{in: "ten%", wantErr: `bad percentage "ten%": want 0%..100% like 10%, or a fraction 0..1 like 0.1`},
		{in: "NaN", wantErr: `bad percentage "NaN": want 0%..100% like 10%, or a fraction 0..1 like 0.1`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePercent(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("ParsePercent(%q) error = %v, want %s", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Fraction != tc.want || got.String() != tc.in {
				t.Errorf("ParsePercent(%q) = %+v, want fraction %v", tc.in, got, tc.want)
			}
		})
	}
	if got := (Percent{Fraction: 0.05}).String(); got != "5%" {
		t.Errorf("String() of a share built in code = %q", got)
	}
}

func TestRegexp(t *testing.T) {
	t.Parallel()
	var r Regexp
	if err := r.UnmarshalText([]byte("^ok$")); err != nil {
		t.Fatal(err)
	}
	if !r.MatchString("ok") || r.MatchString("not ok") {
		t.Error("compiled regexp does not match as written")
	}
	if b, _ := r.MarshalText(); string(b) != "^ok$" {
		t.Errorf("MarshalText() = %q", b)
	}
	err := r.UnmarshalText([]byte("a("))
	if want := "bad regular expression \"a(\": missing closing ): `a(`"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

// TestValuesYAMLRoundTrip checks that the values give their text back when a scenario is
// written out again.
func TestValuesYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	type doc struct {
		Rate    Rate        `yaml:"rate"`
		At      Offset      `yaml:"at"`
		Share   Percent     `yaml:"share"`
		Match   *Regexp     `yaml:"match"`
		Expect  Expectation `yaml:"expect"`
		Expect2 Expectation `yaml:"expect2"`
	}
	src := "rate: 10/5s\nat: recall-1s\nshare: 12.5%\nmatch: ^ok$\nexpect: stale_accepts == 0\nexpect2:\n    expr: errors == 0\n    severity: warn\n"
	var d doc
	if err := yaml.Unmarshal([]byte(src), &d); err != nil {
		t.Fatal(err)
	}
	if d.Expect.Expr.Metric != "stale_accepts" || d.Expect2.Severity != SeverityWarn {
		t.Errorf("decoded %+v", d)
	}
	out, err := yaml.Marshal(&d)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != src {
		t.Errorf("round trip\n got: %s\nwant: %s", out, src)
	}
	// A bad value is a type error, so yaml.v3 goes on with the rest of the document.
	var bad doc
	err = yaml.Unmarshal([]byte("rate: fast\nat: 5s\n"), &bad)
	if err == nil || bad.At.D != 5*time.Second {
		t.Errorf("err = %v, at = %v: decoding stopped at the bad rate", err, bad.At)
	}
}

func BenchmarkParseRate(b *testing.B) {
	for b.Loop() {
		if _, err := ParseRate("4000/s"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseOffset(b *testing.B) {
	for b.Loop() {
		if _, err := ParseOffset("recall-1s"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePercent(b *testing.B) {
	for b.Loop() {
		if _, err := ParsePercent("10%"); err != nil {
			b.Fatal(err)
		}
	}
}
