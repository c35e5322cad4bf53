package drill

import (
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/revocation"
)

// TestSSFSubjectMatching: each subject format names the recalled credentials that know what
// it names, and no others: iss_sub by sub, email by user name (case-insensitive), opaque by
// sub/sid/jti/client, jwt_id by jti, a complex subject by its session when it has one (not
// every session of its user), else its user, aliases by any identifier; controls, credentials
// not recalled, are never matched.
func TestSSFSubjectMatching(t *testing.T) {
	toks := []*Token{
		{Index: 0, Victim: true, User: "Alice@example.com", Access: NewSecret("t0"), Claims: revocation.Claims{Subject: "alice", Session: "s0", JTI: "j0", ClientID: "c1"}},
		{Index: 1, Victim: true, Access: NewSecret("t1"), Claims: revocation.Claims{Subject: "alice", Session: "s1", JTI: "j1", ClientID: "c1"}},
		{Index: 2, Victim: true, Access: NewSecret("t2"), Claims: revocation.Claims{Subject: "bob", Session: "s2", JTI: "j2", ClientID: "c2"}},
		{Index: 3, Victim: false, Access: NewSecret("t3"), Claims: revocation.Claims{Subject: "alice", Session: "s3", JTI: "j3", ClientID: "c1"}},
	}
	d := &drill{tokens: toks}
	victims := []int{0, 1, 2} // token 3 is a control
	for _, tc := range []struct {
		name string
		sub  ssf.Subject
		want []int
	}{
		{"iss_sub", ssf.IssSub("https://idp", "alice"), []int{0, 1}},
		{"email", ssf.Email("alice@EXAMPLE.com"), []int{0}},
		{"opaque sid", ssf.Opaque("s2"), []int{2}},
		{"opaque client", ssf.Opaque("c1"), []int{0, 1}},
		{"jwt_id", ssf.Subject{"format": ssf.FormatJWTID, "iss": "https://idp", "jti": "j1"}, []int{1}},
		{"complex session", ssf.SessionID("s1", "https://idp", "alice"), []int{1}},
		{"complex user", ssf.Complex(map[string]ssf.Subject{"user": ssf.IssSub("https://idp", "bob")}), []int{2}},
		{"aliases", ssf.Subject{"format": ssf.FormatAliases, "identifiers": []any{map[string]any{"format": "email", "email": "x@y"}, map[string]any{"format": "opaque", "id": "j2"}}}, []int{2}},
		{"nobody", ssf.IssSub("https://idp", "carol"), nil},
		{"control only", ssf.Opaque("s3"), nil},
	} {
		got := []ssf.Delivered{{SET: ssf.SET{ID: "x", SubID: tc.sub}, At: time.Now()}}
		m, missing, unmatched := d.matchSSFCount(got, victims)
		var have []int
		for _, i := range victims {
			if _, ok := m[i]; ok {
				have = append(have, i)
			}
		}
		if len(have) != len(tc.want) || missing != len(victims)-len(tc.want) || (unmatched == 1) != (len(tc.want) == 0) {
			t.Errorf("%s: matched %v (missing %d, unmatched %d), want %v", tc.name, have, missing, unmatched, tc.want)
			continue
		}
		for k := range have {
			if have[k] != tc.want[k] {
				t.Errorf("%s: matched %v, want %v", tc.name, have, tc.want)
			}
		}
	}
}
