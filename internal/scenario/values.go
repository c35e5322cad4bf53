package scenario

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Values with their own syntax keep the text they were written with (blackbox_exporter's
// config.Regexp): they parse in UnmarshalText, which UnmarshalYAML and the loader's checks share,
// and give the original back in MarshalText and MarshalYAML.

// typeError wraps err so that yaml.v3 records it and goes on decoding the rest of the file (any
// other error stops the decoder). The loader has already reported it with its position.
func typeError(err error) error {
	return &yaml.TypeError{Errors: []string{err.Error()}}
}

func unmarshalText(unmarshal func(any) error, u interface{ UnmarshalText([]byte) error }) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	if err := u.UnmarshalText([]byte(s)); err != nil {
		return typeError(err)
	}
	return nil
}

// Rate is a number of events per time unit, written "N/s", "N/m", "N/ms" or "N/<duration>"
// ("10/5s").
type Rate struct {
	// Freq is the number of events per Per.
	Freq int
	// Per is the time unit.
	Per time.Duration
	// Text is the rate as written.
	Text string
}

// ParseRate parses a rate such as "2000/s".
func ParseRate(s string) (Rate, error) {
	bad := func() (Rate, error) {
		return Rate{}, fmt.Errorf("bad rate %q: want N/s, N/m or N/ms, e.g. 2000/s", s)
	}
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return bad()
	}
	freq, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || freq < 0 {
		return bad()
	}
	unit = strings.TrimSpace(unit)
	if unit != "" && (unit[0] < '0' || unit[0] > '9') {
		unit = "1" + unit
	}
	per, err := time.ParseDuration(unit)
	if err != nil || per <= 0 {
		return bad()
	}
	return Rate{Freq: freq, Per: per, Text: s}, nil
}

// PerSecond returns the rate in events per second.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return float64(r.Freq) / r.Per.Seconds()
}

// IsZero reports whether r was never set.
func (r Rate) IsZero() bool { return r.Per == 0 && r.Freq == 0 }

// String returns the rate as written, or "N/<per>" for a rate built in code.
func (r Rate) String() string {
	if r.Text != "" {
		return r.Text
	}
	if r.Per == time.Second {
		return fmt.Sprintf("%d/s", r.Freq)
	}
	return fmt.Sprintf("%d/%s", r.Freq, r.Per)
}

// UnmarshalText parses a rate.
func (r *Rate) UnmarshalText(b []byte) error {
	p, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// MarshalText returns String().
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalYAML parses a rate.
func (r *Rate) UnmarshalYAML(unmarshal func(any) error) error { return unmarshalText(unmarshal, r) }

// MarshalYAML returns String().
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }

// Offset anchors.
const (
	// AnchorStart measures an offset from the start of traffic.
	AnchorStart = "start"
	// AnchorRecall measures an offset from the recall's start.
	AnchorRecall = "recall"
)

// Offset is an instant on the drill's timeline: "15s" or "start+15s" from the start of traffic,
// "recall", "recall-1s" or "recall+2s" relative to the recall.
type Offset struct {
	// Anchor is AnchorStart or AnchorRecall.
	Anchor string
	// D is the signed distance from the anchor.
	D time.Duration
	// Text is the offset as written.
	Text string
}

// ParseOffset parses an offset such as "15s" or "recall-1s".
func ParseOffset(s string) (Offset, error) {
	t := strings.TrimSpace(s)
	bad := func(why string) (Offset, error) {
		return Offset{}, fmt.Errorf("bad offset %q: %swant a duration from the start of traffic (15s) or one relative to the recall (recall, recall-1s, recall+2s)", s, why)
	}
	o := Offset{Anchor: AnchorStart, Text: s}
	for _, a := range []string{AnchorRecall, AnchorStart} {
		if rest, ok := strings.CutPrefix(t, a); ok {
			o.Anchor = a
			t = strings.TrimSpace(rest)
			if t == "" {
				return o, nil
			}
			if t[0] != '+' && t[0] != '-' {
				return bad("")
			}
			sign := t[0]
			d, err := time.ParseDuration(strings.TrimSpace(t[1:]))
			if err != nil || strings.ContainsAny(t[1:], "+-") {
				return bad("")
			}
			if sign == '-' {
				d = -d
			}
			o.D = d
			return o, nil
		}
	}
	if strings.HasPrefix(t, "-") {
		return bad("negative; ")
	}
	d, err := time.ParseDuration(strings.TrimPrefix(t, "+"))
	if err != nil {
		return bad("")
	}
	o.D = d
	return o, nil
}

// IsZero reports whether o was never set.
func (o Offset) IsZero() bool { return o.Anchor == "" && o.Text == "" }

// Resolve returns the offset from the start of traffic, given when the recall starts.
func (o Offset) Resolve(recallAt time.Duration) time.Duration {
	if o.Anchor == AnchorRecall {
		return recallAt + o.D
	}
	return o.D
}

// String returns the offset as written, or a canonical form for one built in code.
func (o Offset) String() string {
	if o.Text != "" {
		return o.Text
	}
	switch {
	case o.Anchor != AnchorRecall:
		return o.D.String()
	case o.D == 0:
		return AnchorRecall
	case o.D < 0:
		return AnchorRecall + o.D.String()
	}
	return AnchorRecall + "+" + o.D.String()
}

// UnmarshalText parses an offset.
func (o *Offset) UnmarshalText(b []byte) error {
	p, err := ParseOffset(string(b))
	if err != nil {
		return err
	}
	*o = p
	return nil
}

// MarshalText returns String().
func (o Offset) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalYAML parses an offset.
func (o *Offset) UnmarshalYAML(unmarshal func(any) error) error { return unmarshalText(unmarshal, o) }

// MarshalYAML returns String().
func (o Offset) MarshalYAML() (any, error) { return o.String(), nil }

// Percent is a share between 0 and 1, written as a percentage ("10%") or a fraction ("0.1").
type Percent struct {
	// Fraction is the share, 0..1 (10% is 0.1).
	Fraction float64
	// Text is the share as written.
	Text string
}

// ParsePercent parses a share such as "10%" or "0.1".
func ParsePercent(s string) (Percent, error) {
	t := strings.TrimSpace(s)
	bad := func() (Percent, error) {
		return Percent{}, fmt.Errorf("bad percentage %q: want 0%%..100%% like 10%%, or a fraction 0..1 like 0.1", s)
	}
	var f float64
	var err error
	if num, ok := strings.CutSuffix(t, "%"); ok {
		f, err = strconv.ParseFloat(strings.TrimSpace(num), 64)
		f /= 100
	} else {
		f, err = strconv.ParseFloat(t, 64)
	}
	if err != nil || f < 0 || f > 1 || f != f {
		return bad()
	}
	return Percent{Fraction: f, Text: s}, nil
}

// String returns the share as written, or "N%" for one built in code.
func (p Percent) String() string {
	if p.Text != "" {
		return p.Text
	}
	return strconv.FormatFloat(p.Fraction*100, 'f', -1, 64) + "%"
}

// UnmarshalText parses a share.
func (p *Percent) UnmarshalText(b []byte) error {
	v, err := ParsePercent(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalText returns String().
func (p Percent) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalYAML parses a share.
func (p *Percent) UnmarshalYAML(unmarshal func(any) error) error { return unmarshalText(unmarshal, p) }

// MarshalYAML returns String().
func (p Percent) MarshalYAML() (any, error) { return p.String(), nil }

// Regexp is a compiled regular expression (RE2 syntax) that keeps its source.
type Regexp struct {
	*regexp.Regexp
}

// UnmarshalText compiles a regular expression.
func (r *Regexp) UnmarshalText(b []byte) error {
	re, err := regexp.Compile(string(b))
	if err != nil {
		return fmt.Errorf("bad regular expression %q: %s", b, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	r.Regexp = re
	return nil
}

// MarshalText returns the source.
func (r Regexp) MarshalText() ([]byte, error) {
	if r.Regexp == nil {
		return nil, nil
	}
	return []byte(r.String()), nil
}

// UnmarshalYAML compiles a regular expression.
func (r *Regexp) UnmarshalYAML(unmarshal func(any) error) error { return unmarshalText(unmarshal, r) }

// MarshalYAML returns the source.
func (r Regexp) MarshalYAML() (any, error) {
	if r.Regexp == nil {
		return nil, nil
	}
	return r.String(), nil
}
