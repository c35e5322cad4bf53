package drill

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/recall-drills/recall/report"
)

// TestRecordConfirmationsBounded: a mass recall whose confirmations all fail keeps report.json
// small — the recall section lists the first MaxListedTokens credentials and counts every one
// by reason (at most MaxReasons of them) — and loses no count.
func TestRecordConfirmationsBounded(t *testing.T) {
	const n = 20000
	victims := make([]*Token, n)
	out := make([]confirmation, n)
	for i := range victims {
		victims[i] = &Token{Index: i, Victim: true, Access: NewSecret(fmt.Sprintf("tok-%d", i))}
		switch {
		case i%10 == 0:
			out[i] = confirmation{Ineffective, ""}
		case i%10 == 1:
			out[i] = confirmation{Confirmed, ""}
		default:
			// 80 distinct reasons, the first far more frequent than the others.
			r := i % 80
			if i%3 == 0 {
				r = 0
			}
			out[i] = confirmation{Unconfirmable, fmt.Sprintf("introspection: HTTP 5%02d", r)}
		}
	}
	rep := &report.Report{}
	recordConfirmations(rep, victims, out)
	rc := rep.Recall
	if rc.Confirmed+rc.Ineffective+rc.Unconfirmable != n || rc.Ineffective != n/10 {
		t.Fatalf("counts confirmed %d, ineffective %d, unconfirmable %d; want all %d counted", rc.Confirmed, rc.Ineffective, rc.Unconfirmable, n)
	}
	if len(rc.IneffectiveTokens) != report.MaxListedTokens || len(rc.UnconfirmableTokens) != report.MaxListedTokens {
		t.Errorf("listed %d ineffective, %d unconfirmable; want the first %d of each", len(rc.IneffectiveTokens), len(rc.UnconfirmableTokens), report.MaxListedTokens)
	}
	if rc.IneffectiveTokens[0] != victims[0].ID() || rc.UnconfirmableTokens[0].Token != victims[2].ID() {
		t.Errorf("the lists do not start with the first credentials")
	}
	sum := 0
	for i, r := range rc.UnconfirmableReasons {
		sum += r.Count
		if i > 0 && r.Count > rc.UnconfirmableReasons[i-1].Count && i != len(rc.UnconfirmableReasons)-1 {
			t.Errorf("reasons not most frequent first at %d: %+v", i, rc.UnconfirmableReasons[i-1:i+1])
		}
	}
	if sum != rc.Unconfirmable || len(rc.UnconfirmableReasons) != report.MaxReasons {
		t.Errorf("%d reasons summing to %d; want %d summing to %d", len(rc.UnconfirmableReasons), sum, report.MaxReasons, rc.Unconfirmable)
	}
	if top := rc.UnconfirmableReasons[0]; top.Reason != "introspection: HTTP 500" {
		t.Errorf("most frequent reason %+v, want HTTP 500", top)
	}
	b, _ := json.Marshal(rc)
	if len(b) > 200<<10 {
		t.Errorf("recall section %d KiB for %d credentials; want it bounded (≤ 200 KiB)", len(b)>>10, n)
	}
	if f := rep.Findings; len(f) != 1 || f[0].Count != rc.Unconfirmable || len(f[0].Tokens) != maxListed {
		t.Errorf("findings %+v", f)
	}
}
