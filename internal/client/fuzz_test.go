package client

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeMetadata: the admin API (and registration) decode client metadata documents
// from the network. Decoding and validation must not panic, every refusal is typed, and a
// document that validates survives a round trip through its JSON form unchanged.
func FuzzDecodeMetadata(f *testing.F) {
	for _, s := range []string{
		`{"client_id":"tpp","token_endpoint_auth_method":"tls_client_auth","tls_client_auth_subject_dn":"CN=tpp,O=Example TPP Ltd,C=GB","grant_types":["client_credentials"]}`,
		`{"client_id":"tpp","token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[]},"redirect_uris":["https://a.example/cb"],"scope":"openid accounts"}`,
		`{"client_id":"tpp","token_endpoint_auth_method":"self_signed_tls_client_auth","jwks_uri":"https://a.example/jwks","fapi_profile":"fapi2"}`,
		`{"client_id":"a","client_id":"b"}`, `{"CLIENT_ID":"a"}`, `{"jwks":null}`, `[]`, `{"scope":"a  b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeMetadata(data)
		if err != nil {
			return
		}
		c.ApplyDefaults()
		err = c.ValidateWith(ValidateOptions{AllowLoopbackHTTPRedirect: true})
		if err != nil {
			var me *MetadataError
			if !errors.As(err, &me) || (me.Code != CodeInvalidClientMetadata && me.Code != CodeInvalidRedirectURI) || me.Field == "" {
				t.Fatalf("Validate = %v, want a *MetadataError with a code and a field", err)
			}
			return
		}
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal of a valid client: %v", err)
		}
		back, err := DecodeMetadata(raw)
		if err != nil {
			t.Fatalf("DecodeMetadata(Marshal(c)) = %v for %s", err, raw)
		}
		back.ApplyDefaults()
		if diff := cmp.Diff(c, back, cmp.Comparer(func(a, b json.RawMessage) bool {
			return jsonEqual(a, b)
		})); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}

func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return cmp.Equal(x, y)
}
