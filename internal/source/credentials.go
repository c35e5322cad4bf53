package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// ParseCredentials reads what an external source printed or answered, in format lines, json or
// auto (json when the output starts with [ or {, lines otherwise):
//
//   - lines: one credential a line; empty lines and lines starting with # are skipped;
//   - json: a JSON array, or JSON lines (one value after the other), of credentials, each a
//     string (the token) or an object {token (or access_token), refresh_token, expires_in
//     (seconds), sub, client_id, sid, jti, kid}; other fields are ignored, so a token
//     endpoint's answer is a credential.
//
// Its errors say where the output is wrong (line, credential) and never quote it: the output is
// credentials.
func ParseCredentials(out []byte, format string) ([]Credential, error) {
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if format == "" || format == FormatAuto {
		format = FormatLines
		if trimmed[0] == '[' || trimmed[0] == '{' {
			format = FormatJSON
		}
	}
	switch format {
	case FormatLines:
		return parseLines(out)
	case FormatJSON:
		return parseJSON(out)
	}
	return nil, fmt.Errorf("unknown format %q (have: %s)", format, strings.Join(Formats, ", "))
}

func parseLines(out []byte) ([]Credential, error) {
	var creds []Credential
	for i, line := range strings.Split(string(out), "\n") {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.ContainsAny(l, " \t") {
			return nil, fmt.Errorf("line %d holds white space: want one credential a line (format lines), or format json", i+1)
		}
		creds = append(creds, Credential{Token: l})
	}
	return creds, nil
}

// credentialJSON is a credential object of format json.
type credentialJSON struct {
	Token        *string  `json:"token"`
	AccessToken  *string  `json:"access_token"`
	RefreshToken string   `json:"refresh_token"`
	ExpiresIn    *float64 `json:"expires_in"`
	Sub          string   `json:"sub"`
	ClientID     string   `json:"client_id"`
	Sid          string   `json:"sid"`
	JTI          string   `json:"jti"`
	Kid          string   `json:"kid"`
}

func parseJSON(out []byte) ([]Credential, error) {
	// lineAt is the line of offset off in out (-1: its last line that is not empty).
	lineAt := func(off int64) int {
		if off < 0 {
			off = int64(len(bytes.TrimRight(out, " \t\r\n")))
		}
		return 1 + bytes.Count(out[:min(int(off), len(out))], []byte("\n"))
	}
	var raws []json.RawMessage
	var lines []int
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(out))
		if err := dec.Decode(&raws); err != nil {
			return nil, fmt.Errorf("not a JSON array of credentials: %s", jsonError(err, lineAt))
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line %d: more output after the JSON array", lineAt(dec.InputOffset()))
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("credential %d: not JSON: %s", len(raws)+1, jsonError(err, lineAt))
			}
			raws = append(raws, raw)
			lines = append(lines, lineAt(dec.InputOffset()))
		}
	}
	creds := make([]Credential, 0, len(raws))
	for i, raw := range raws {
		where := fmt.Sprintf("credential %d", i+1)
		if lines != nil {
			where = fmt.Sprintf("line %d", lines[i])
		}
		c, err := credentialOf(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		creds = append(creds, c)
	}
	return creds, nil
}

// credentialOf reads one JSON credential: a string or an object.
func credentialOf(raw json.RawMessage) (Credential, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Credential{}, errors.New("not a JSON string")
		}
		if strings.TrimSpace(s) == "" {
			return Credential{}, errors.New("an empty token")
		}
		return Credential{Token: s}, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return Credential{}, fmt.Errorf("want a string or an object with token, got %s", jsonKind(raw))
	}
	var cj credentialJSON
	if err := json.Unmarshal(raw, &cj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Credential{}, fmt.Errorf("%s: want a %s, got a JSON %s", te.Field, te.Type, te.Value)
		}
		return Credential{}, errors.New("not a JSON object")
	}
	c := Credential{Refresh: cj.RefreshToken, Sub: cj.Sub, ClientID: cj.ClientID, Sid: cj.Sid, JTI: cj.JTI, Kid: cj.Kid}
	switch {
	case cj.Token != nil:
		c.Token = *cj.Token
	case cj.AccessToken != nil:
		c.Token = *cj.AccessToken
	}
	if strings.TrimSpace(c.Token) == "" {
		return Credential{}, errors.New("no token: want a non-empty token (or access_token) field")
	}
	if e := cj.ExpiresIn; e != nil {
		if *e <= 0 || math.IsNaN(*e) || *e > 10*365*24*3600 {
			return Credential{}, fmt.Errorf("expires_in %v: want seconds > 0", *e)
		}
		c.ExpiresIn = time.Duration(*e * float64(time.Second))
	}
	return c, nil
}

// jsonError describes a decoding error by its line, without quoting the input.
func jsonError(err error, lineAt func(int64) int) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("line %d: %v", lineAt(se.Offset), se)
	case errors.As(err, &te):
		return fmt.Sprintf("line %d: want a %s, got a JSON %s", lineAt(te.Offset), te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("line %d: the output ends inside a JSON value", lineAt(-1))
	}
	return "malformed JSON"
}

func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
