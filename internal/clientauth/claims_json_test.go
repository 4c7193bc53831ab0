package clientauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// parseClaimsReference is the earlier, json.Decoder-based parseClaims: the differential
// oracle of FuzzParseClaimsDifferential. It is slower (reflection, an allocation per token)
// but obviously right, so the fast parser must agree with it on every input.
func parseClaimsReference(data []byte) (*claims, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", errClaims)
	}
	var cl claims
	seen := map[string]bool{}
	for dec.More() {
		if len(seen) == maxClaimMembers {
			return nil, fmt.Errorf("%w: too many members", errClaims)
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: bad member name", errClaims)
		}
		name, ok := tok.(string)
		if !ok || seen[name] {
			return nil, fmt.Errorf("%w: bad or duplicate member name", errClaims)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: bad member value", errClaims)
		}
		switch name {
		case "iss":
			err = stringValueReference(raw, &cl.iss)
		case "sub":
			err = stringValueReference(raw, &cl.sub)
		case "jti":
			err = stringValueReference(raw, &cl.jti)
		case "exp":
			err = numericDate(raw, &cl.exp)
		case "iat":
			err = numericDate(raw, &cl.iat)
		case "nbf":
			err = numericDate(raw, &cl.nbf)
		case "aud":
			if len(raw) == 0 || (raw[0] != '"' && raw[0] != '[') {
				err = fmt.Errorf("%w: aud must be a string or an array", errClaims)
			}
			cl.aud = raw
		}
		if err != nil {
			return nil, err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("%w: bad JSON object", errClaims)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", errClaims)
	}
	return &cl, nil
}

func stringValueReference(raw json.RawMessage, dst *stringClaim) error {
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &dst.value) != nil {
		return fmt.Errorf("%w: string claim expected", errClaims)
	}
	dst.present = true
	return nil
}

// FuzzParseClaimsDifferential: the fast claims parser accepts exactly what the reference
// accepts and decodes it to the same claims.
func FuzzParseClaimsDifferential(f *testing.F) {
	for _, s := range claimsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gerr := parseClaims(data)
		want, werr := parseClaimsReference(data)
		if werr == nil && gerr != nil && hasFoldedDuplicate(data) {
			return // stricter on purpose: names equal under case folding, as jose refuses them
		}
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("parseClaims(%q): err = %v, reference err = %v", data, gerr, werr)
		}
		if gerr != nil {
			if !errors.Is(gerr, errClaims) {
				t.Fatalf("error %v does not wrap errClaims", gerr)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseClaims(%q) = %+v, reference %+v", data, got, want)
		}
	})
}

// TestParseClaimsAgreesWithReference runs the differential check on the seeds in every test
// run, not only under -fuzz.
func TestParseClaimsAgreesWithReference(t *testing.T) {
	for _, s := range claimsSeeds {
		got, gerr := parseClaims([]byte(s))
		want, werr := parseClaimsReference([]byte(s))
		if werr == nil && gerr != nil && hasFoldedDuplicate([]byte(s)) {
			continue
		}
		if (gerr == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, %v; reference %+v, %v", s, got, gerr, want, werr)
		}
	}
}

// hasFoldedDuplicate reports whether data is a JSON object two of whose member names are
// equal under simple case folding (strings.EqualFold), found with encoding/json's decoder.
func hasFoldedDuplicate(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		name, _ := tok.(string)
		for _, n := range names {
			if strings.EqualFold(n, name) {
				return true
			}
		}
		names = append(names, name)
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			return false
		}
	}
	return false
}

// TestParseClaimsRefusesFoldedDuplicates: "iss" and "ISS" in one claims set is refused, as
// jose refuses it in every JOSE object (encoding/json would let one override the other).
func TestParseClaimsRefusesFoldedDuplicates(t *testing.T) {
	for _, s := range []string{`{"iss":"a","ISS":"b"}`, `{"x":1,"X":2}`, `{"sub":"a","s\u0055b":"b"}`} {
		if _, err := parseClaims([]byte(s)); !errors.Is(err, errClaims) {
			t.Errorf("parseClaims(%s) = %v, want errClaims", s, err)
		}
	}
}

var claimsSeeds = []string{
	`{"iss":"a","sub":"a","aud":"https://as.example.com","exp":1799999999,"iat":1799999900,"jti":"j"}`,
	`{"iss":"a","sub":"a","aud":["x","y"],"exp":1.5e9,"nbf":0}`,
	`{"iss":"a","iss":"b"}`, `{"iss":"a","i\u0073s":"b"}`, `{"iss":"a","ISS":"b"}`, `{"i\u0073s":"a\u00e9\n"}`,
	"{\"iss\":\"\xff\xfe\"}", "{\"\xffx\":1,\"\xfex\":2}", ` { "iss" : "a" , "sub" : [ 1 , { "x" : "}" } ] } `,
	`{"exp":-1}`, `{"exp":1e400}`, `{"exp":-0}`, `{"exp":1E2}`, `{"exp":null}`, `{"exp":true}`, `{"aud":7}`,
	`{"aud":null}`, `[]`, `{}`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"exp":"1"}`, `{"iss":"a"} x`, `{"iss":"a"}{}`,
	`{"iss":"a",}`, `{"iss":"a\"b\\"}`, `"x"`, ``, ` `, `{"jti":"` + string(bytes.Repeat([]byte("a"), 300)) + `"}`,
}
