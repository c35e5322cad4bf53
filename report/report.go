// Package report is the versioned model of a drill's results: report.json. It imports nothing
// from internal/, so any tool can read reports with it, and every view (terminal table, HTML,
// JUnit, comparison) is rendered from it alone.
//
// Times are milliseconds (float) relative to the drill's start unless a field says otherwise;
// units are in field names. Tokens appear only as fingerprints: the first 12 hex digits of the
// SHA-256 of the token.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the version of the report.json format written by this package. It changes
// (major) when a field is removed or changes meaning, (minor) when fields are added.
const SchemaVersion = "1.3"

// Verdicts.
const (
	Pass = "PASS"
	Fail = "FAIL"
	// Error is the verdict of a drill that could not run to the end (interrupted, system failed
	// to start mid-way); its figures are partial.
	Error = "ERROR"
)

// Report is the whole of report.json.
type Report struct {
	// SchemaVersion is SchemaVersion at the time of writing.
	SchemaVersion string `json:"schema_version"`
	// Tool names the program and version that wrote the report.
	Tool Tool `json:"tool"`
	// Scenario describes the scenario as run.
	Scenario Scenario `json:"scenario"`
	// Verdict is PASS when every expectation held, FAIL when one did not or a probed component
	// was unavailable (a finding that [Finding.FailsVerdict]), ERROR when the drill could not
	// complete.
	Verdict string `json:"verdict"`
	// Reason explains an ERROR verdict (empty otherwise).
	Reason string `json:"reason,omitempty"`
	// Incomplete is true for a report rebuilt from a drill's journal (recall report
	// --from-journal) after the drill was killed: its figures are what was journaled up to
	// JournalEndsAt (wall clock; JournalEndsAtMS from the start of traffic), in phase
	// JournalPhase, and its verdict is ERROR.
	Incomplete      bool       `json:"incomplete,omitempty"`
	JournalEndsAt   *time.Time `json:"journal_ends_at,omitempty"`
	JournalEndsAtMS float64    `json:"journal_ends_at_ms,omitempty"`
	JournalPhase    string     `json:"journal_phase,omitempty"`
	// Missing lists, for a report rebuilt from a journal (complete or not), the sections it
	// lacks because the journal does not hold what they need (Missing* constants; MissingText
	// says what each is). Empty for a report a drill wrote.
	Missing []string `json:"missing,omitempty"`
	// Headline is one sentence for a human reader.
	Headline string `json:"headline"`
	// StartedAt and FinishedAt are wall-clock instants of the drill.
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// DurationMS is the drill's length on the harness's monotonic clock.
	DurationMS float64 `json:"duration_ms"`
	// Environment describes where the system ran.
	Environment Environment `json:"environment"`
	// Tokens describes the credential population.
	Tokens Tokens `json:"tokens"`
	// Provider is the identity provider's token source and endpoints.
	Provider *Provider `json:"provider,omitempty"`
	// Recall describes the recall action.
	Recall Recall `json:"recall"`
	// Recovery describes the recovery-time measurement, absent when there was none; its
	// figures are in each Summary's RecoveryMS and NotRecovered.
	Recovery *Recovery `json:"recovery,omitempty"`
	// RotatedAccess describes the measurement of the access tokens the legitimate client got
	// when it rotated a stolen refresh token (refresh-replay), absent when there was none; its
	// figures are in each Summary's RotatedAccessMS and RotatedAlive.
	RotatedAccess *RotatedAccess `json:"rotated_access,omitempty"`
	// Faults lists every fault with its window (empty without chaos).
	Faults []Fault `json:"faults"`
	// Components holds per-component figures, in scenario order.
	Components []Component `json:"components"`
	// Overall aggregates all probed components.
	Overall Summary `json:"overall"`
	// Slowest names the component with the largest TTC upper bound (or one that did not
	// converge), empty if nothing was measured.
	Slowest string `json:"slowest,omitempty"`
	// Findings lists what a reader must look at first: resurrections, fail-open, false rejects,
	// not-converged pairs, recalls that never took effect at the source, never-accepted victims.
	Findings []Finding `json:"findings"`
	// Expectations lists each expectation with what was observed.
	Expectations []Expectation `json:"expectations"`
	// Probes gives probe totals.
	Probes Probes `json:"probes"`
	// Timeline is, per component, the share of recalled credentials still accepted over time.
	Timeline []Series `json:"timeline"`
	// CDF is, per component, the distribution of TTC upper bounds.
	CDF []Series `json:"cdf"`
	// TimelineLower and CDFLower are Timeline and CDF read from the other end of each pair's
	// bracket (the earliest instant the component can have started enforcing, never before the
	// recall was sent): the truth lies between the two readings, and the views shade the gap.
	// Absent in reports written before schema 1.1.
	TimelineLower []Series `json:"timeline_lower,omitempty"`
	CDFLower      []Series `json:"cdf_lower,omitempty"`
	// Logs is the tail of the drill's log (no secrets).
	Logs []string `json:"logs,omitempty"`
	// SystemMetrics holds selected series scraped from the components' own /metrics during the
	// drill (revocation list version, rules held, recalls applied, cache hits and misses,
	// fail-open accepts), where components expose them; empty otherwise.
	SystemMetrics []MetricSample `json:"system_metrics,omitempty"`
}

// MetricSample is one value of one series scraped from a component's /metrics.
type MetricSample struct {
	// Name is the metric name as exposed, e.g. gateway_revocation_list_version.
	Name string `json:"name"`
	// Component is the component scraped.
	Component string `json:"component"`
	// Labels holds the series' labels other than component, if any.
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
	// AtMS is when the scrape started, on the drill clock of every other _ms field.
	AtMS float64 `json:"at_ms"`
}

// Tool names the program that wrote a report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// GoVersion is the Go toolchain that built it.
	GoVersion string `json:"go_version,omitempty"`
}

// Scenario describes the scenario as run.
type Scenario struct {
	Name string `json:"name"`
	// File is the scenario file's path as given.
	File string `json:"file,omitempty"`
	// Seed is the seed actually used (scenario's, or --seed).
	Seed int64 `json:"seed"`
	// Source is the scenario text as written, with ${VAR} references left unexpanded.
	Source string `json:"source,omitempty"`
	// Overrides are the `--set path=value` overrides applied on top of Source, in order: the
	// drill ran Source with these values replaced.
	Overrides []string `json:"overrides,omitempty"`
}

// Environment describes the runtime.
type Environment struct {
	// Runtime is the scenario's system.runtime: embedded, docker, external or another registered one.
	Runtime string `json:"runtime"`
	// StartupMS is how long the whole system took to become healthy.
	StartupMS float64 `json:"startup_ms"`
	// Components gives per-component startup and endpoint information.
	Components []EnvComponent `json:"components"`
	// WallClockSteps counts the times the machine's wall clock moved against its monotonic
	// clock while the drill ran (NTP or hypervisor corrections), and WallClockStepMaxMS is the
	// largest move. Probes are timed on the monotonic clock; ground truth recorded as wall-clock
	// instants is converted back to it (docs/measurement.md).
	WallClockSteps     int     `json:"wall_clock_steps,omitempty"`
	WallClockStepMaxMS float64 `json:"wall_clock_step_max_ms,omitempty"`
	// CPUs and GoMaxProcs are the harness machine's logical CPUs and the Go scheduler's Ps
	// while the drill ran: more Ps than CPUs when components ran in the harness's process
	// (docs/measurement.md, "The in-process stack and the Go scheduler").
	CPUs       int `json:"cpus,omitempty"`
	GoMaxProcs int `json:"gomaxprocs,omitempty"`
}

// EnvComponent is one component as started.
type EnvComponent struct {
	Name      string  `json:"name"`
	Kind      string  `json:"kind"`
	Use       string  `json:"use,omitempty"`
	Image     string  `json:"image,omitempty"`
	Endpoint  string  `json:"endpoint,omitempty"`
	StartupMS float64 `json:"startup_ms"`
}

// Tokens describes the credential population.
type Tokens struct {
	Grant    string `json:"grant"`
	Victims  int    `json:"victims"`
	Controls int    `json:"controls"`
	Users    int    `json:"users"`
	Clients  int    `json:"clients"`
	// MintMS is how long minting took.
	MintMS float64 `json:"mint_ms"`
	// NeverAccepted counts victims never seen accepted before the trigger at some component
	// they were probed at; such (component, credential) pairs measure nothing.
	NeverAccepted int `json:"never_accepted"`
	// Sample lists a few victim fingerprints, for cross-reference with logs.
	Sample []string `json:"sample,omitempty"`
	// Source is the token source that minted them (see Provider.Source).
	Source string `json:"source,omitempty"`
	// Opaque counts tokens that are not JWTs.
	Opaque int `json:"opaque,omitempty"`
}

// Recall describes the recall action.
type Recall struct {
	// Action is the action kind (revoke-tokens, revoke-users, ...).
	Action string `json:"action"`
	// Mode is how it was sent (batch, one-by-one), when the action has modes.
	Mode string `json:"mode,omitempty"`
	// Credentials is how many credentials the action recalled.
	Credentials int `json:"credentials"`
	// SentAtMS is when the first request of the action was sent.
	SentAtMS float64 `json:"sent_at_ms"`
	// HeldForBaselineMS is how long the recall waited past recall.at for the baseline
	// (recall.wait_for_baseline); 0 when it did not.
	HeldForBaselineMS float64 `json:"held_for_baseline_ms,omitempty"`
	// AcknowledgedAtMS is when the last acknowledgement arrived: every credential's own R(t)
	// lies in [SentAtMS, AcknowledgedAtMS].
	AcknowledgedAtMS float64 `json:"acknowledged_at_ms"`
	// AckSpreadMS is AcknowledgedAtMS minus the first acknowledgement.
	AckSpreadMS float64 `json:"ack_spread_ms"`
	// Failed counts credentials whose recall request was sent and failed (not acknowledged).
	Failed int `json:"failed"`
	// Sent counts credentials whose recall request was sent; Acknowledged those acknowledged.
	// Sent = Acknowledged + Failed.
	Sent         int `json:"sent"`
	Acknowledged int `json:"acknowledged"`
	// NotSent counts credentials whose recall was never sent (the drill was interrupted or
	// ended first): Credentials = Sent + NotSent.
	NotSent int `json:"not_sent,omitempty"`
	// Confirmed counts credentials confirmed revoked at the source by introspection (when asked).
	Confirmed int `json:"confirmed,omitempty"`
	// Ineffective counts credentials acknowledged but still active at the source.
	Ineffective int `json:"ineffective,omitempty"`
	// Unconfirmable counts acknowledged credentials whose state at the source could not be
	// learnt (introspection failed); UnconfirmableTokens says why, per credential.
	Unconfirmable int `json:"unconfirmable,omitempty"`
	// IneffectiveTokens lists the fingerprints of the ineffective credentials: all of them up
	// to MaxListedTokens, then the first MaxListedTokens (Ineffective is the whole count).
	IneffectiveTokens []string `json:"ineffective_tokens,omitempty"`
	// UnconfirmableTokens lists unconfirmable credentials with the reason, the first
	// MaxListedTokens of them; UnconfirmableReasons counts every one by reason.
	UnconfirmableTokens []Unconfirmed `json:"unconfirmable_tokens,omitempty"`
	// UnconfirmableReasons counts the unconfirmable credentials by reason, most frequent
	// first; the counts sum to Unconfirmable. At most MaxReasons reasons, the rest in one
	// entry "other reasons".
	UnconfirmableReasons []ReasonCount `json:"unconfirmable_reasons,omitempty"`
	// MFA is what an MFA factor recall (revoke-mfa) took back, and how long each way back in
	// stayed open; absent for other actions.
	MFA *MFARecall `json:"mfa,omitempty"`
}

// MFARecall is the outcome of a bulk recall of MFA factors. Times count from the recall's
// acknowledgement (SessionsDeadMS and the Refused figures are upper bounds: a login is tried
// again every few tens of milliseconds until refused).
type MFARecall struct {
	// Users counts the victims' users whose factors were recalled, in one call.
	Users int `json:"users"`
	// Factors and RecoveryCodes are what the provider says it recalled: factors, and the
	// unused recovery codes that went with them (-1: the provider did not say).
	Factors       int `json:"factors"`
	RecoveryCodes int `json:"recovery_codes"`
	// SessionsDeadMS is the largest time to consistency over the probed components: every
	// session established with a recalled factor was refused everywhere by then (0 when
	// none converged; not_converged says which did not).
	SessionsDeadMS float64 `json:"sessions_dead_ms"`
	// OldFactor is a login with each user's recalled factor (password and a fresh one-time
	// code); RecoveryCode one with an unused recovery code of that factor.
	OldFactor    LoginCheck `json:"old_factor"`
	RecoveryCode LoginCheck `json:"recovery_code"`
	// Reenrolled counts the sampled users that enrolled a new factor and got a fresh credential
	// (tokens.recovery), ReenrolMS the time from the acknowledgement until the slowest did.
	Reenrolled int     `json:"reenrolled"`
	ReenrolMS  float64 `json:"reenrol_ms"`
}

// LoginCheck is how a way to log in fared after a recall that must close it.
type LoginCheck struct {
	// Checked counts the users tried; Baseline those whose login was accepted just before the
	// recall (so that a refusal after it is the recall's doing).
	Checked  int `json:"checked"`
	Baseline int `json:"baseline"`
	// Refused counts those refused after the recall; RefusedMS the largest time until refused.
	Refused   int     `json:"refused"`
	RefusedMS float64 `json:"refused_ms"`
	// Accepted counts those still accepted when the check gave up: a way back in left open.
	Accepted int `json:"accepted"`
}

// MaxListedTokens bounds the credentials the recall section lists one by one, and MaxReasons
// the distinct reasons it counts: a recall of a million credentials that all fail to confirm
// must not make report.json a hundred megabytes. The counts are always complete.
const (
	MaxListedTokens = 1000
	MaxReasons      = 50
)

// ReasonCount is how many credentials came out unconfirmable for one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// Unconfirmed is a credential whose recall could not be confirmed, and why.
type Unconfirmed struct {
	// Token is the credential's fingerprint.
	Token string `json:"token"`
	// Reason is why introspection gave no answer (a redacted, single-line excerpt).
	Reason string `json:"reason"`
}

// Provider describes the identity provider the drill minted from and recalled at: the token
// source and the OAuth endpoints in use, discovered or set.
type Provider struct {
	// Source is the token source: reference (the reference issuer's admin API), accounts
	// (existing clients and users of a standards-based provider), command or http.
	Source string `json:"source"`
	// Issuer is the issuer identifier.
	Issuer string `json:"issuer,omitempty"`
	// Discovery is the metadata document read (RFC 8414 or OpenID Connect Discovery).
	Discovery     string `json:"discovery,omitempty"`
	Token         string `json:"token_endpoint,omitempty"`
	Revocation    string `json:"revocation_endpoint,omitempty"`
	Introspection string `json:"introspection_endpoint,omitempty"`
	JWKS          string `json:"jwks_uri,omitempty"`
	// Endpoints says, per endpoint name, whether it was "discovered" or "set".
	Endpoints map[string]string `json:"endpoints,omitempty"`
}

// Recovery describes how recovery time was measured: after the recall was acknowledged, a
// sample of the affected identities (the victims' users for the password grant, their clients
// otherwise) got a fresh credential from the issuer, probed at every probed component until it
// was accepted for good.
type Recovery struct {
	// Identity is what was re-issued for: "user" or "client".
	Identity string `json:"identity"`
	// Sampled is how many affected identities were re-issued a credential.
	Sampled int `json:"sampled"`
	// Reissued counts those the issuer gave a fresh credential (after retries); the others count
	// as not recovered.
	Reissued int `json:"reissued"`
	// FromMS is the instant recovery times count from: the recall's last acknowledgement.
	FromMS float64 `json:"from_ms"`
	// ReissueMS is the distribution of the time from FromMS until each fresh credential was
	// issued (retries and the issuer's waits included); no resolution.
	ReissueMS Stats `json:"reissue_ms"`
	// Probes is how many recovery probes were sent.
	Probes int `json:"probes"`
}

// RotatedAccess is the measurement of the rotated access tokens of refresh-replay: a rotation
// returns a new access token along with the new refresh token, and the family kill that the
// replay triggers must take it too. A sample of them is probed at every probed component: once
// before the replay until each component accepted it (the baseline), then from the replay's
// answer until refused for good.
type RotatedAccess struct {
	// Sampled is how many rotated access tokens were baselined and then followed.
	Sampled int `json:"sampled"`
	// Unbaselined counts rotated access tokens some component never accepted before the replay
	// (within the baseline's bound): they say nothing of the kill and are not followed.
	Unbaselined int `json:"unbaselined,omitempty"`
	// Probes is how many probes of rotated access tokens were sent.
	Probes int `json:"probes"`
	// IntervalMS is the time between two probes of one token at one component until it is
	// refused for good.
	IntervalMS float64 `json:"interval_ms"`
}

// Fault is one fault with its window.
type Fault struct {
	Name    string  `json:"name"`
	Fault   string  `json:"fault"`
	Target  string  `json:"target"`
	StartMS float64 `json:"start_ms"`
	// EndMS is when the revert completed (0 if it never did).
	EndMS float64 `json:"end_ms"`
	// Error says what failed: "inject: …", "revert: …" (joined with "; "), or that the fault
	// never started because the drill ended first.
	Error string `json:"error,omitempty"`
}

// Stats is a distribution of TTC upper bounds with its resolution.
type Stats struct {
	// Count is the number of converged (component, credential) pairs.
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	// ResolutionMS is the width of the bracket behind each figure: the median bracket width
	// over the converged pairs, and ResolutionMaxMS the largest.
	ResolutionMS    float64 `json:"resolution_ms"`
	ResolutionMaxMS float64 `json:"resolution_max_ms"`
	// LowerP50 is the median of the lower ends of the brackets (what the component might have
	// achieved at best).
	LowerP50 float64 `json:"lower_p50"`
}

// Summary is the set of figures reported per component and overall.
type Summary struct {
	// TTCMS is the time to consistency, in milliseconds: upper bounds s_k + lat_k − R(t).
	TTCMS Stats `json:"ttc_ms"`
	// Pairs is the number of (component, victim) pairs measured (baseline accepted).
	Pairs        int `json:"pairs"`
	Converged    int `json:"converged"`
	NotConverged int `json:"not_converged"`
	// StaleAccepts counts probes sent after R(t) that were accepted.
	StaleAccepts int `json:"stale_accepts"`
	// StaleWindowMS is the largest TTC (the stale window).
	StaleWindowMS  float64 `json:"stale_window_ms"`
	Resurrections  int     `json:"resurrections"`
	FalseRejects   int     `json:"false_rejects"`
	Errors         int     `json:"errors"`
	FailOpen       int     `json:"fail_open"`
	Probes         int     `json:"probes"`
	Accepts        int     `json:"accepts"`
	Rejects        int     `json:"rejects"`
	NeverAccepted  int     `json:"never_accepted"`
	ProbeLatencyMS Stats   `json:"probe_latency_ms"`
	// RecoveryMS is the recovery time, in milliseconds from the recall's last acknowledgement
	// (Report.Recovery.FromMS), of the affected identities that got a fresh credential: per
	// identity the upper bound of the instant its fresh credential was accepted for good (at
	// this component; overall, at every probed component). Count is the identities recovered;
	// the resolution is the width of the bracket, as for TTC. Absent when recovery was not
	// measured.
	RecoveryMS *Stats `json:"recovery_ms,omitempty"`
	// NotRecovered counts sampled identities whose fresh credential was never accepted for good
	// (or never issued) by the end of the drill; they are not in RecoveryMS. Omitted when 0.
	NotRecovered int `json:"not_recovered,omitempty"`
	// RotatedAccessMS is, for refresh-replay, the time the family's rotated access tokens (the
	// legitimate client's, from the rotation just before the theft) stayed honoured, in
	// milliseconds from each family's acknowledgement (the replay's answer): per sampled
	// family the upper bound of the instant it was refused for good (at this component;
	// overall, at every probed component), bracketed as for TTC. Absent when not measured.
	RotatedAccessMS *Stats `json:"rotated_access_ms,omitempty"`
	// RotatedAlive counts sampled rotated access tokens still honoured (not refused for good)
	// at the end of the drill: the family kill did not reach them. Omitted when 0.
	RotatedAlive int `json:"rotated_access_alive,omitempty"`
	// TTCEstimate is the estimated distribution of the time to consistency: the nonparametric
	// maximum-likelihood estimate from every measured pair's bracket, with confidence
	// intervals. It is shown beside TTCMS (the proven upper bounds), never in its place, and
	// gates use TTCMS unless an expectation names ttc_estimate. Overall, the pairs of every
	// component are pooled. Absent when no pair was measured.
	TTCEstimate *Estimate `json:"ttc_estimate,omitempty"`
}

// Estimate methods and band kinds.
const (
	// MethodTurnbull is Turnbull's self-consistency (EM) algorithm for the nonparametric
	// maximum-likelihood estimate of an interval-censored distribution.
	MethodTurnbull = "npmle-turnbull"
	// BandBootstrap is a percentile m-out-of-n bootstrap over pairs, widened to the ranges the
	// estimate leaves open.
	BandBootstrap = "bootstrap-pairs"
	// BandIdentified means no bootstrap: intervals and bands are only the ranges the estimate
	// leaves open (where within a bracket's innermost interval the mass lies), with no
	// sampling error.
	BandIdentified = "identified-only"
)

// Estimate is an estimated TTC distribution. Each measured pair contributes one
// interval-censored observation: its TTC lies in (lower, upper] of its bracket (relative to
// R(t)), or is beyond the last accept when it never converged. Assumptions: the credentials of
// one component are exchangeable (their TTCs are draws from one distribution), and the probes
// do not set the TTC (a cache filled by the probes themselves breaks this); see
// docs/measurement.md in the repository.
type Estimate struct {
	// Method names the estimator, MethodTurnbull.
	Method string `json:"method"`
	// N is the number of pairs the estimate is computed from; RightCensored how many of them
	// never converged (TTC beyond the last accept).
	N             int `json:"n"`
	RightCensored int `json:"right_censored"`
	// Confidence is the nominal level of every interval and band, e.g. 0.95.
	Confidence float64 `json:"confidence"`
	// Band says how intervals and bands were computed (BandBootstrap or BandIdentified) and
	// Replicates from how many resamples.
	Band       string `json:"band"`
	Replicates int    `json:"replicates"`
	// GridMS is the time grid's coarsest step within the estimate's range: brackets are
	// rounded outward to the grid (lower ends down, upper ends up) before estimating.
	GridMS float64 `json:"grid_ms"`
	// NotConvergedShare is the estimated share of pairs whose TTC lies beyond everything
	// observed (mass the estimate puts at +Inf), with its interval.
	NotConvergedShare     float64 `json:"not_converged_share"`
	NotConvergedShareLow  float64 `json:"not_converged_share_low"`
	NotConvergedShareHigh float64 `json:"not_converged_share_high"`
	// P50, P90 and P99 are the estimated quantiles with their confidence intervals.
	P50 EstimateQuantile `json:"p50"`
	P90 EstimateQuantile `json:"p90"`
	P99 EstimateQuantile `json:"p99"`
	// CDF is the estimated CDF with its pointwise band, at most a few hundred points in
	// increasing X.
	CDF []BandPoint `json:"cdf"`
}

// EstimateQuantile is an estimated quantile with its confidence interval, in milliseconds
// relative to R(t). A null field lies beyond what was observed: the estimated CDF (or, for
// HighMS, the CDF of enough bootstrap resamples) does not reach the level, because pairs that
// never converged carry too much of the mass.
type EstimateQuantile struct {
	MS     *float64 `json:"ms"`
	LowMS  *float64 `json:"low_ms"`
	HighMS *float64 `json:"high_ms"`
}

// BandPoint is one point of an estimated CDF: at XMS milliseconds after R(t), the estimated
// share Y of pairs whose TTC is at most XMS, and the pointwise confidence band [YLow, YHigh].
type BandPoint struct {
	XMS   float64 `json:"x_ms"`
	Y     float64 `json:"y"`
	YLow  float64 `json:"y_low"`
	YHigh float64 `json:"y_high"`
}

// Get returns the quantile named stat ("p50", "p90" or "p99") and whether e has it.
func (e *Estimate) Get(stat string) (EstimateQuantile, bool) {
	if e == nil {
		return EstimateQuantile{}, false
	}
	switch stat {
	case "p50":
		return e.P50, true
	case "p90":
		return e.P90, true
	case "p99":
		return e.P99, true
	}
	return EstimateQuantile{}, false
}

// Component is one component's figures.
type Component struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Probed is false for components that were not probed (the issuer when only gateways are).
	Probed bool `json:"probed"`
	Summary
	// GroundTruth, when the system recorded it (reference stack), compares the measurement
	// with the instants the component actually started enforcing.
	GroundTruth *GroundTruth `json:"ground_truth,omitempty"`
	// RotatedAccessTruth is GroundTruth for the rotated access tokens of refresh-replay
	// (Summary.RotatedAccessMS): their brackets against the instants the component recorded it
	// began refusing them, counted from each family's acknowledgement.
	RotatedAccessTruth *GroundTruth `json:"rotated_access_ground_truth,omitempty"`
	// Delivery, for a component that received the recall as events of its own (an SSF
	// receiver of the ssf-event action: one SET per victim on its stream), splits its time to
	// consistency at the delivery: delivery latency (the transmitter's) against enforcement
	// latency (the receiver's). The component's ttc_ms then counts from its own acknowledgement
	// of each victim's SET, not from the last receiver's. Absent for other components.
	Delivery *Delivery `json:"delivery,omitempty"`
	// SSFReceiver holds the figures of a component of kind ssf-receiver (recall.ssf_receiver).
	SSFReceiver *SSFReceiver `json:"ssf_receiver,omitempty"`
	// FaultSplit splits the component's stale accepts and errors by whether the probe was sent
	// inside the window of a fault affecting the component (done to it, to a link from or to
	// it, or to one of its revocation sources); absent when no fault affected it.
	FaultSplit *FaultSplit `json:"fault_split,omitempty"`
	// RatePerSec is the probe rate achieved at this component: its probes sent during traffic
	// per second of traffic. TargetRatePerSec is its share of the asked rate: the scenario's
	// rate (ramp included) times the component's share of the probes the scheduler chose. A
	// rate_shortfall finding reports a component that got less than 90% of its share.
	RatePerSec       float64 `json:"rate_per_sec,omitempty"`
	TargetRatePerSec float64 `json:"target_rate_per_sec,omitempty"`
	// NotSent counts probes the scheduler chose for this component that were not sent because
	// it already had traffic.workers probes in flight (each component has its own workers, so
	// that a slow or hanging one cannot take the others'); they are in no other figure.
	NotSent int `json:"not_sent,omitempty"`
	// ErrorShareBaseline and ErrorShareAfterRecall are the shares (0..1) of the component's
	// probes answered with an error (neither accept nor reject: 5xx, timeouts, refused
	// connections) among those sent before, and after, the recall's first acknowledgement; 0
	// without probes. An unavailable finding reports a share above 50%.
	ErrorShareBaseline    float64 `json:"error_share_baseline,omitempty"`
	ErrorShareAfterRecall float64 `json:"error_share_after_recall,omitempty"`
	// TTCAfterFaultMS is the TTC of the pairs whose stale window overlapped a fault affecting
	// the component, measured from the end of the last such fault instead of from R(t) (upper
	// bounds clamped at 0: 0 means it converged before the fault ended); absent when no pair
	// was concerned.
	TTCAfterFaultMS *Stats `json:"ttc_after_fault_ms,omitempty"`
	// Sample says how many of the recalled victims were probed at this component (n of N) and
	// how precisely each percentile is known at that n; absent when every victim was probed.
	Sample *Sample `json:"sample,omitempty"`
	// RevisitMS is the achieved probe interval after the trigger: the mean time between two
	// consecutive probes of the same pair while it had not converged (the finest resolution the
	// probe budget gave this component); 0 when not measured.
	RevisitMS float64 `json:"revisit_ms,omitempty"`
}

// Sample is the n of N of a sampled component: every victim was recalled, Size of them were
// probed at the component.
type Sample struct {
	// Size is n, the number of victims probed at the component; Of is N, the victims recalled.
	Size int `json:"size"`
	Of   int `json:"of"`
	// Percentiles gives, for p50, p90 and p99 of the TTC upper bounds, how precisely the
	// sample pins down the population's percentile.
	Percentiles []Precision `json:"percentiles,omitempty"`
}

// Precision is how precisely a percentile of a sample pins down the same percentile of the
// population it was drawn from: a distribution-free 95 % interval from the sample's order
// statistics. It is about sampling, on top of each pair's bracket (the resolution).
type Precision struct {
	// Stat names the percentile: "p50", "p90", "p99".
	Stat string `json:"stat"`
	// Rank is the figure's nearest rank among Of converged pairs; Above counts the values
	// above it (Above 0: the figure is the sample's maximum).
	Rank  int `json:"rank"`
	Of    int `json:"of"`
	Above int `json:"above"`
	// LowMS and HighMS bound the population's percentile at 95 % (order statistics).
	LowMS  float64 `json:"low_ms"`
	HighMS float64 `json:"high_ms"`
	// Unbounded is true when the sample is too small to bound the percentile from above:
	// the population's percentile may lie beyond the sample's maximum (HighMS), which is all
	// the sample can say. MinSample is the smallest sample that would bound it.
	Unbounded bool `json:"unbounded,omitempty"`
	MinSample int  `json:"min_sample,omitempty"`
	// Census is true when every victim was probed: the figure has no sampling error.
	Census bool `json:"census,omitempty"`
}

// String renders the precision for a human reader, e.g. "p99 is the largest of 24 values: the
// population's p99 may lie above it (bounding it needs n ≥ 368)".
func (p Precision) String() string {
	switch {
	case p.Of == 0:
		return p.Stat + ": nothing converged"
	case p.Census:
		return p.Stat + " exact (every victim probed)"
	case p.Unbounded && p.Above == 0:
		return fmt.Sprintf("%s is the largest of %d values: the population's %s may lie above it (bounding it needs n ≥ %d)",
			p.Stat, p.Of, p.Stat, p.MinSample)
	case p.Unbounded && p.Above == 1:
		return fmt.Sprintf("%s of %d values is in effect the maximum (1 above it): the population's %s may lie above the largest, %s (bounding it needs n ≥ %d)",
			p.Stat, p.Of, p.Stat, FormatMS(p.HighMS), p.MinSample)
	case p.Unbounded:
		return fmt.Sprintf("the population's %s is ≥ %s, not bounded above at n = %d (needs n ≥ %d)", p.Stat, FormatMS(p.LowMS), p.Of, p.MinSample)
	}
	return fmt.Sprintf("the population's %s lies in %s..%s (95 %%, n = %d)", p.Stat, FormatMS(p.LowMS), FormatMS(p.HighMS), p.Of)
}

// FaultSplit is a component's figures inside and outside the windows of the faults affecting
// it. Inside plus outside is the component's total.
type FaultSplit struct {
	// Faults names the faults affecting the component.
	Faults []string `json:"faults"`
	// StaleAcceptsInside counts stale accepts (probes sent after R(t) and accepted) sent
	// inside a window; StaleAcceptsOutside the others.
	StaleAcceptsInside  int `json:"stale_accepts_inside"`
	StaleAcceptsOutside int `json:"stale_accepts_outside"`
	// ErrorsInside counts error answers to probes sent inside a window; ErrorsOutside the
	// others.
	ErrorsInside  int `json:"errors_inside"`
	ErrorsOutside int `json:"errors_outside"`
}

// GroundTruth compares measured brackets with recorded enforcement instants.
type GroundTruth struct {
	// Checked is the number of converged pairs with a recorded instant.
	Checked int `json:"checked"`
	// Within is how many recorded instants fell inside the measured bracket (widened by the
	// instant's clock uncertainty).
	Within int `json:"within"`
	// ClockUncertaintyMS is the largest uncertainty of a recorded instant converted from the wall
	// clock to the drill's timeline: 0 unless the wall clock was stepped close to that instant.
	ClockUncertaintyMS float64 `json:"clock_uncertainty_ms,omitempty"`
	// TTCMS is the distribution of true TTCs (recorded instant − R(t)).
	TTCMS Stats `json:"ttc_ms"`
	// EnforcedAtMS is the distribution of the recorded instants themselves, as offsets from the
	// start of traffic: when the component enforced, on the drill's timeline (fault windows,
	// the recall's instants), whatever each credential's own R(t).
	EnforcedAtMS *Stats `json:"enforced_at_ms,omitempty"`
}

// Delivery splits an event receiver's time to consistency at the delivery of its events
// (docs/measurement.md, "Delivery and enforcement"). For each victim the transmitter recorded
// three instants of the SET on the receiver's stream: sent (push: the first POST; poll: made
// available), delivered (push: the receiver's 202; poll: fetched by the receiver's poll) and
// acknowledged (push: the 202; poll: the ack in a later poll). In milliseconds:
//
//	sent ──DeliveredMS──► delivered ──EnforcementMS──► enforced (bracket's upper end)
//	sent ──AcknowledgedMS──► acknowledged = R(t) ──ttc_ms──► enforced
//	sent ──────────────TTCFromSentMS──────────────► enforced
type Delivery struct {
	// Stream is the receiver's stream id, Method its delivery method ("push" or "poll", or the
	// SSF method URN the stream names).
	Stream string `json:"stream,omitempty"`
	Method string `json:"method,omitempty"`
	// Events counts the victims whose SET the receiver acknowledged (every one of them, probed
	// or not); DeliveredMS and AcknowledgedMS are over those, with resolution 0 (instants the
	// transmitter recorded, not brackets).
	Events int `json:"events"`
	// Retried counts the SETs that took more than one delivery: push, a POST retried after a
	// transport error or a 5xx (the receiver was down: what it cost is in DeliveredMS); poll,
	// fetched again because it was not acknowledged.
	Retried int `json:"retried,omitempty"`
	// DeliveredMS is the delivery latency: sent → delivered (poll: the last fetch).
	DeliveredMS Stats `json:"delivered_ms"`
	// AcknowledgedMS is sent → acknowledged: equal to DeliveredMS for push; for poll it adds
	// the time until the receiver's next poll acknowledged the SET.
	AcknowledgedMS Stats `json:"acknowledged_ms"`
	// TTCFromSentMS is the time to consistency counted from the SET's send instant: over the
	// converged pairs, the bracket's upper end s_k + lat_k − sent (clamped at 0), with the
	// bracket's width as resolution.
	TTCFromSentMS Stats `json:"ttc_from_sent_ms"`
	// EnforcementMS is the enforcement latency, the time to consistency counted from the
	// delivery: s_k + lat_k − delivered over the same pairs (clamped at 0: a receiver that
	// enforces before answering its 202 is proven rejecting before the transmitter records
	// the delivery).
	EnforcementMS Stats `json:"enforcement_ms"`
}

// Sections a report rebuilt from a journal lacks (Report.Missing).
const (
	// MissingProbeLatency: probe latencies (Summary.ProbeLatencyMS) are not journaled.
	MissingProbeLatency = "probe_latency"
	// MissingLoad: the achieved and asked rate per component, the error shares before and
	// after the recall, and the unavailable and rate_shortfall findings.
	MissingLoad = "load"
	// MissingGroundTruth: the comparison with the instants the system recorded.
	MissingGroundTruth = "ground_truth"
	// MissingFaults: the figures per fault window (fail_open, the split and TTC after a fault).
	MissingFaults = "fault_figures"
	// MissingRecovery: the recovery time of re-issued credentials.
	MissingRecovery = "recovery"
	// MissingRevisit: the revisit interval the scheduler achieved per component.
	MissingRevisit = "revisit"
)

// MissingText says what each Missing section is, for a reader.
var MissingText = map[string]string{
	MissingProbeLatency: "probe latency",
	MissingLoad:         "achieved rates, error shares and the unavailable and rate_shortfall findings",
	MissingGroundTruth:  "ground truth",
	MissingFaults:       "fault-window figures (fail_open, TTC after a fault)",
	MissingRecovery:     "recovery time (if the drill measured it)",
	MissingRevisit:      "revisit intervals",
}

// MissingSentence lists r.Missing for a reader ("" when nothing is missing).
func MissingSentence(r *Report) string {
	if len(r.Missing) == 0 {
		return ""
	}
	parts := make([]string, 0, len(r.Missing))
	for _, m := range r.Missing {
		if t, ok := MissingText[m]; ok {
			parts = append(parts, t)
		} else {
			parts = append(parts, oneLine(m))
		}
	}
	return "not in the journal, so not in this report: " + strings.Join(parts, "; ")
}

// Finding severities.
const (
	Critical = "critical"
	Warning  = "warning"
	Info     = "info"
)

// Finding is something a reader must look at.
type Finding struct {
	// Kind: resurrection, fail_open, false_reject, not_converged, ineffective_recall,
	// never_accepted, recall_failed, fault_failed, unavailable (a component answered most
	// probes with errors before or after the recall: it measured little or nothing),
	// rate_shortfall (a component was probed at less than 90% of its share of the asked rate:
	// the resolution is coarser than planned).
	Kind      string `json:"kind"`
	Severity  string `json:"severity"`
	Component string `json:"component,omitempty"`
	// Count is how many pairs or probes this finding covers.
	Count int `json:"count"`
	// Message is a sentence for a human reader.
	Message string `json:"message"`
	// Tokens lists up to a few fingerprints concerned.
	Tokens []string `json:"tokens,omitempty"`
	// AtMS is the first instant it was seen, if meaningful.
	AtMS float64 `json:"at_ms,omitempty"`
	// FailsDrill is true when this finding failed the verdict by itself: a critical finding that
	// no expectation of the scenario judges (see FailsVerdict).
	FailsDrill bool `json:"fails_verdict,omitempty"`
}

// FailsVerdict reports whether the finding fails the drill by itself, whatever the
// expectations say: an unavailable component measured little or nothing, so no expectation can
// vouch for it, and a PASS would claim evidence the drill does not hold; and a critical finding
// (a recalled credential honoured again, a control refused, a component failing open, a recall
// acknowledged but not effective, a recall that failed, an MFA login that survived its recall, a
// fault not reverted) that no expectation on its figure judges (FailsDrill, set by the verdict):
// a drill gating CI must not pass on one by default. A scenario that plants such a defect on
// purpose says so with an expectation on the figure, e.g. {expr: 'resurrections{component="x"}
// == 0', severity: warn}.
func (f Finding) FailsVerdict() bool { return f.Kind == "unavailable" || f.FailsDrill }

// FindingMetric is the expectation metric that judges findings of a kind ("" when none does):
// an expectation on it, overall or on the finding's component, takes the decision from the
// finding.
func FindingMetric(kind string) string {
	switch kind {
	case "resurrection":
		return "resurrections"
	case "false_reject":
		return "false_rejects"
	case "fail_open":
		return "fail_open"
	}
	return ""
}

// Expectation is one expectation and its outcome.
type Expectation struct {
	// Expr is the expression as written in the scenario.
	Expr string `json:"expr"`
	// Observed is the value the left-hand side evaluated to (milliseconds for durations),
	// null when it could not be evaluated (e.g. p99 of a component that never converged).
	Observed *float64 `json:"observed"`
	// ObservedText renders Observed with its unit and resolution, e.g. "1.84s ±12ms".
	ObservedText string `json:"observed_text"`
	// Bound is the right-hand side (milliseconds for durations).
	Bound float64 `json:"bound"`
	Pass  bool    `json:"pass"`
	// Message explains a failure.
	Message string `json:"message,omitempty"`
	// Severity is SeverityFail (the default when empty) or SeverityWarn: a warn expectation that
	// does not hold is shown but does not fail the verdict.
	Severity string `json:"severity,omitempty"`
}

// Expectation severities.
const (
	// SeverityFail marks an expectation whose failure fails the drill (the default).
	SeverityFail = "fail"
	// SeverityWarn marks an expectation whose failure is reported but does not fail the drill.
	SeverityWarn = "warn"
)

// Probes gives probe totals.
type Probes struct {
	Total int `json:"total"`
	// RatePerSec is the achieved probe rate over the traffic phase.
	RatePerSec float64 `json:"rate_per_sec"`
	// TrafficMS is how long traffic ran: traffic.duration, or longer when traffic.after_faults
	// held it after a slow fault.
	TrafficMS float64 `json:"traffic_ms,omitempty"`
	// TargetRatePerSec is the scenario's rate.
	TargetRatePerSec float64 `json:"target_rate_per_sec"`
	// AfterRecall counts probes sent after the first acknowledgement.
	AfterRecall int `json:"after_recall"`
	// RateBeforeAckPerSec and RateAfterAckPerSec are the probe rates sent in the second before
	// and the second after the first acknowledgement: the brackets of a component that
	// converges at once are as wide as the revisit interval at the rate after it (0: no
	// acknowledgement, or traffic did not last that second).
	RateBeforeAckPerSec float64 `json:"rate_before_ack_per_sec,omitempty"`
	RateAfterAckPerSec  float64 `json:"rate_after_ack_per_sec,omitempty"`
	// Dropped counts results lost (e.g. the tracker's queue overflowed); should be 0.
	Dropped int `json:"dropped"`
}

// Series is a named series of points, for charts.
type Series struct {
	Component string  `json:"component"`
	Points    []Point `json:"points"`
}

// Point is one (x, y) point. In Timeline, X is milliseconds relative to the recall's first
// acknowledgement and Y the share (0..1) of recalled credentials accepted in that bucket; in CDF,
// X is TTC milliseconds and Y the cumulative share (0..1) of pairs.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Write writes r as indented JSON.
func (r *Report) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteFile writes r as indented JSON to path, atomically (temp file + rename).
func (r *Report) WriteFile(path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := r.Write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write report: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write report: %w", err)
	}
	return os.Rename(tmp, path)
}

// Read reads a report.json, refusing a different major schema version.
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	if major(r.SchemaVersion) != major(SchemaVersion) {
		return nil, fmt.Errorf("read report %s: schema_version %q, this tool reads %s.x", path, r.SchemaVersion, major(SchemaVersion))
	}
	return &r, nil
}

func major(v string) string {
	for i := range len(v) {
		if v[i] == '.' {
			return v[:i]
		}
	}
	return v
}

// The helpers below are shared by the views (report/text, report/html, report/junit,
// report/compare), which may import nothing but this package; they read the model, they do
// not change it.

// FormatMS renders a duration given in milliseconds for a human reader: milliseconds under one
// second ("0.35ms", "2.5ms", "12ms"), seconds with two decimals from one second up ("1.84s").
// NaN and infinities render as "n/a".
func FormatMS(ms float64) string {
	if math.IsNaN(ms) || math.IsInf(ms, 0) {
		return "n/a"
	}
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	switch {
	case ms == 0:
		return "0ms"
	case ms < 1:
		return sign + strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
	case ms < 9.95:
		return sign + strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	case ms < 999.5:
		return sign + strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	default:
		return sign + strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	}
}

// FormatMSRes renders a figure with its resolution, "1.84s ±12ms"; without the "±" part when
// the resolution is zero.
func FormatMSRes(ms, resolutionMS float64) string {
	if resolutionMS <= 0 || math.IsNaN(resolutionMS) {
		return FormatMS(ms)
	}
	return FormatMS(ms) + " ±" + FormatMS(resolutionMS)
}

// Get returns the statistic named stat ("p50", "p90", "p99" or "max") and whether s has it:
// false for another name and when s counts no converged pair.
func (s Stats) Get(stat string) (float64, bool) {
	if s.Count == 0 {
		return 0, false
	}
	switch stat {
	case "p50":
		return s.P50, true
	case "p90":
		return s.P90, true
	case "p99":
		return s.P99, true
	case "max":
		return s.Max, true
	}
	return 0, false
}

// Warn reports whether e has severity SeverityWarn.
func (e Expectation) Warn() bool { return e.Severity == SeverityWarn }

// TTCMetric is the canonical name of the time-to-consistency metric in expectation expressions;
// "ttc" is an alias that ParseExpr rewrites to it.
const TTCMetric = "time_to_consistency"

// Expr is an expectation expression split into its parts, as read by ParseExpr.
type Expr struct {
	// Metric is the metric name, with the alias "ttc" rewritten to TTCMetric.
	Metric string
	// Stat is the statistic after the dot ("p99", "max"), empty if none.
	Stat string
	// Labels holds the selector's labels, e.g. {"component": "edge-poll"}; nil if none.
	Labels map[string]string
	// Op is the comparison: "<", "<=", ">", ">=", "==" or "!=".
	Op string
	// Bound is the right-hand side as written, e.g. "2.5s".
	Bound string
}

// ParseExpr splits an expectation expression such as
//
//	time_to_consistency.p99{component="edge-poll"} < 2.5s
//
// into its parts. It is a lenient reader for the views, not the expectation language itself
// (internal/expect, which views may not import): label values may be in double or single
// quotes, the statistic may come before or after the selector, and ok is false for anything it
// does not recognise.
func ParseExpr(s string) (e Expr, ok bool) {
	opAt, opLen, inSelector := -1, 0, false
	for i := 0; i < len(s) && opAt < 0; i++ {
		switch c := s[i]; {
		case c == '"' || c == '\'': // skip quoted label values
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return Expr{}, false
			}
			i += j + 1
		case c == '{':
			inSelector = true
		case c == '}':
			inSelector = false
		case inSelector:
		case c == '<' || c == '>' || c == '=' || c == '!':
			opAt, opLen = i, 1
			if i+1 < len(s) && s[i+1] == '=' {
				opLen = 2
			}
		}
	}
	if opAt < 0 {
		return Expr{}, false
	}
	e.Op = s[opAt : opAt+opLen]
	if e.Op == "=" || e.Op == "!" {
		return Expr{}, false
	}
	e.Bound = strings.TrimSpace(s[opAt+opLen:])
	lhs := strings.TrimSpace(s[:opAt])
	if e.Bound == "" || lhs == "" {
		return Expr{}, false
	}
	if i := strings.IndexByte(lhs, '{'); i >= 0 {
		j := strings.LastIndexByte(lhs, '}')
		if j < i {
			return Expr{}, false
		}
		labels, ok := parseLabels(lhs[i+1 : j])
		if !ok {
			return Expr{}, false
		}
		e.Labels = labels
		lhs = lhs[:i] + lhs[j+1:]
	}
	name, stat, _ := strings.Cut(strings.TrimSpace(lhs), ".")
	if name == "" || strings.ContainsAny(name, " \t") || strings.ContainsAny(stat, " \t.") {
		return Expr{}, false
	}
	if name == "ttc" {
		name = TTCMetric
	}
	e.Metric, e.Stat = name, stat
	return e, true
}

func parseLabels(s string) (map[string]string, bool) {
	labels := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			return nil, false
		}
		rest = strings.TrimSpace(rest)
		if len(rest) < 2 || (rest[0] != '"' && rest[0] != '\'') {
			return nil, false
		}
		end := strings.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return nil, false
		}
		labels[strings.TrimSpace(k)] = rest[1 : end+1]
		s = strings.TrimSpace(rest[end+2:])
		s = strings.TrimSpace(strings.TrimPrefix(s, ","))
	}
	return labels, true
}

// SLO is an expectation that bounds a component's time to consistency from above.
type SLO struct {
	Expectation
	// Expr is the expectation's parsed expression; Expr.Stat names the bounded statistic.
	Expr Expr
	// Global is true when the expression names no component, so it applies to all of them.
	Global bool
}

// SLOs returns the expectations that bound component's TTC from above ("<" or "<="): those
// naming the component, or, when there are none, those naming no component. Order is the
// report's.
func (r *Report) SLOs(component string) []SLO {
	var own, global []SLO
	for _, x := range r.Expectations {
		e, ok := ParseExpr(x.Expr)
		if !ok || e.Metric != TTCMetric || (e.Op != "<" && e.Op != "<=") {
			continue
		}
		if _, ok := (Stats{Count: 1}).Get(e.Stat); !ok {
			continue
		}
		switch c, named := e.Labels["component"]; {
		case !named:
			global = append(global, SLO{Expectation: x, Expr: e, Global: true})
		case c == component:
			own = append(own, SLO{Expectation: x, Expr: e})
		}
	}
	if len(own) > 0 {
		return own
	}
	return global
}
