package jose

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzVerifyJWT feeds arbitrary strings to both verification paths. Nothing may
// panic, and nothing may verify unless its signed part (header.payload) is one we
// signed as a seed: a fuzzer cannot forge a signature. (Signatures are randomised,
// so worker processes compare signing inputs, not whole tokens.)
func FuzzVerifyJWT(f *testing.F) {
	c := newClientKeys(f)
	store := newStore(f, KeyStoreOptions{Clock: fakeClock()}, testKey(f, "es256.pem"), testKey(f, "ps256.pem"), testKey(f, "eddsa.pem"))
	genuine := map[string]bool{}
	add := func(tok string) {
		genuine[tok[:strings.LastIndexByte(tok, '.')]] = true
		f.Add(tok)
	}
	add(sign(f, store, claims))
	for _, alg := range []Alg{PS256, EdDSA} {
		tok, err := store.SignWith(alg, []byte(claims), "at+jwt")
		if err != nil {
			f.Fatal(err)
		}
		add(tok)
	}
	add(craft(`{"alg":"ES256","kid":"c-es"}`, claims, signWith(f, "ES256", c.es)))
	add(craft(`{"alg":"PS256","kid":"c-ps"}`, claims, signWith(f, "PS256", c.ps)))
	add(craft(`{"alg":"EdDSA","kid":"c-ed"}`, claims, signWith(f, "EdDSA", c.ed)))
	add(craft(`{"alg":"ES256","kid":"c-es","crit":["x"],"x":1}`, claims, signWith(f, "ES256", c.es)))
	for _, s := range []string{
		craft(`{"alg":"none"}`, claims, nil),
		craft(`{"alg":"HS256","kid":"c-es"}`, claims, signWith(f, "HS256", []byte("secret"))),
		craft(`{"alg":"ES256","kid":"c-es","b64":false}`, claims, signWith(f, "ES256", c.es)),
		"a.b.c.d.e", "..", "e30.e30.", `{"payload":"e30"}`, "",
	} {
		f.Add(s)
	}
	opts := VerifyOptions{Profile: FAPI2, Types: []string{"", "JWT", "at+jwt"}, Critical: []string{"x"}}
	f.Fuzz(func(t *testing.T, tok string) {
		v1, err1 := VerifyJWT(context.Background(), tok, c.set, opts)
		v2, err2 := store.Verify(tok, opts)
		for _, r := range []struct {
			v   Verified
			err error
		}{{v1, err1}, {v2, err2}} {
			if r.err == nil && !genuine[tok[:max(strings.LastIndexByte(tok, '.'), 0)]] {
				t.Fatalf("forged token verified: %q", tok)
			}
			if r.err != nil && (r.v.Payload != nil || r.v.Key != nil) {
				t.Fatal("result returned with an error")
			}
		}
	})
}

// FuzzParseJWKS: no panics; an accepted set holds only public, strong keys, each
// usable with exactly its own algorithm.
func FuzzParseJWKS(f *testing.F) {
	c := newClientKeys(f)
	f.Add(clientSet(f, "a", c.es.Public(), "b", c.ps.Public(), "c", c.ed.Public()))
	f.Add(setOf(f, privateJWK(f, c.es)))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-224","x":"AAAA","y":"AAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","kty":"EC"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := ParseJWKS(data)
		if err != nil {
			if set != nil {
				t.Fatal("set returned with an error")
			}
			return
		}
		for _, k := range set.Keys() {
			switch p := k.Public().(type) {
			case *rsa.PublicKey:
				if p.N.BitLen() < 2048 || k.Alg() != PS256 {
					t.Fatalf("RSA key of %d bits as %s", p.N.BitLen(), k.Alg())
				}
			case *ecdsa.PublicKey:
				if p.Curve.Params().Name != "P-256" || k.Alg() != ES256 {
					t.Fatalf("EC key on %s as %s", p.Curve.Params().Name, k.Alg())
				}
			case ed25519.PublicKey:
				if k.Alg() != EdDSA {
					t.Fatalf("Ed25519 key as %s", k.Alg())
				}
			default:
				t.Fatalf("key of type %T accepted", p)
			}
			if strings.Contains(k.Thumbprint(), "=") || len(k.Thumbprint()) != 43 {
				t.Fatalf("bad thumbprint %q", k.Thumbprint())
			}
		}
	})
}

// FuzzWalkObject checks the allocation-light object scanner against a reference
// built on encoding/json's tokenizer: same verdict, same members, same values.
func FuzzWalkObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, ` { "a" : [1,{"b":"}"}] , "c\"d":"e\\"} `, `{"a":{"a":1},"A":2}`,
		`{"k":1,"\u212a":2}`, `{"a":"\u0000"}`, `[1]`, `"x"`, `{"a":1}{}`, `{"a":}`, `{"a":-1.5e3,"b":true,"c":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		type member struct{ name, value string }
		var got []member
		err := walkObject(data, maxClaimMembers, func(name string, v []byte) error {
			got = append(got, member{name, string(v)})
			return nil
		})
		want, refErr := referenceWalk(data)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("walkObject err %v, reference err %v", err, refErr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d members, reference %d", len(got), len(want))
		}
		for i := range got {
			var a, b any
			json.Unmarshal([]byte(got[i].value), &a)
			json.Unmarshal([]byte(want[i][1]), &b)
			if got[i].name != want[i][0] || !reflect.DeepEqual(a, b) {
				t.Fatalf("member %d: %q=%s, reference %q=%s", i, got[i].name, got[i].value, want[i][0], want[i][1])
			}
		}
	})
}

// referenceWalk is the straightforward json.Decoder version of walkObject.
func referenceWalk(data []byte) ([][2]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	var out [][2]string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name := tok.(string)
		for _, m := range out {
			if strings.EqualFold(m[0], name) {
				return nil, errors.New("duplicate")
			}
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, [2]string{name, string(v)})
	}
	if len(out) > maxClaimMembers {
		return nil, errors.New("too many")
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data")
	}
	return out, nil
}
