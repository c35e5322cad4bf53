package expect

import "testing"

func TestJSONCondMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cond, body string
		want             bool
	}{
		{"active true", "active == true", `{"active": true}`, true},
		{"active false", "active == true", `{"active": false}`, false},
		{"not equal", "active != true", `{"active": false}`, true},
		{"missing path never matches", "active == false", `{}`, false},
		{"missing path never matches with !=", "active != true", `{}`, false},
		{"not JSON", "active == true", `<html>`, false},
		{"nested string", `token.status == "revoked"`, `{"token": {"status": "revoked"}}`, true},
		{"index", "items[1].n > 2", `{"items": [{"n": 1}, {"n": 3}]}`, true},
		{"index out of range", "items[5].n > 2", `{"items": []}`, false},
		{"quoted key", `["x-y"] == 1`, `{"x-y": 1}`, true},
		{"number compare", "exp >= 1700000000", `{"exp": 1700000001}`, true},
		{"negative number", "n < -1.5", `{"n": -2}`, true},
		{"null", "error == null", `{"error": null}`, true},
		{"type mismatch", `active == "true"`, `{"active": true}`, false},
		{"number vs string not equal", "n != 3", `{"n": "3"}`, true},
		{"object compared with string", `a == "x"`, `{"a": {"b": 1}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseJSONCond(tc.cond)
			if err != nil {
				t.Fatalf("ParseJSONCond(%q): %v", tc.cond, err)
			}
			if got := c.Match([]byte(tc.body)); got != tc.want {
				t.Errorf("%q.Match(%s) = %v, want %v", tc.cond, tc.body, got, tc.want)
			}
		})
	}
	if !(JSONCond{}).Match([]byte("garbage")) {
		t.Error("zero JSONCond does not match everything")
	}
}

func TestParseJSONCondErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"single equals", "active = true",
			`failed parsing JSON condition "active = true": column 8: unknown operator "=" (want one of <, <=, ==, !=, >=, >)`},
		{"no value", "active ==",
			`failed parsing JSON condition "active ==": column 10: unexpected end of input, want true, false, null, a number or a quoted string`},
		{"ordering a bool", "active < true",
			`failed parsing JSON condition "active < true": column 8: operator < needs a number, got true`},
		{"bare word", "status == revoked",
			`failed parsing JSON condition "status == revoked": column 11: unexpected "revoked", want true, false, null, a number or a quoted string`},
		{"bad index", "items[-1] == 1",
			`failed parsing JSON condition "items[-1] == 1": column 7: unexpected "-1", want an index like [0] or a quoted key like ["x-y"]`},
		{"starts with number", "1 == 1",
			`failed parsing JSON condition "1 == 1": column 1: unexpected "1", want a field name like active`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseJSONCond(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Errorf("ParseJSONCond(%q) error\n got: %v\nwant: %s", tc.in, err, tc.want)
			}
		})
	}
}

func TestJSONCondText(t *testing.T) {
	t.Parallel()
	var c JSONCond
	if err := c.UnmarshalText([]byte("active == true")); err != nil {
		t.Fatal(err)
	}
	b, _ := c.MarshalText()
	if string(b) != "active == true" || c.String() != "active == true" {
		t.Errorf("round trip gave %q / %q", b, c.String())
	}
	if err := c.UnmarshalText([]byte("active =")); err == nil {
		t.Error("UnmarshalText accepted a bad condition")
	}
}

func BenchmarkParseJSONCond(b *testing.B) {
	for b.Loop() {
		if _, err := ParseJSONCond(`token.status == "revoked"`); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMustParseJSONCond(b *testing.B) {
	for b.Loop() {
		MustParseJSONCond("active == true")
	}
}

func BenchmarkJSONCondMatch(b *testing.B) {
	c := MustParseJSONCond("active == true")
	body := []byte(`{"active": true, "sub": "u1", "client_id": "c1", "exp": 1700000000}`)
	for b.Loop() {
		c.Match(body)
	}
}
