package upstream

import "testing"

// TestReservedHeader: one decision for "is this header name reserved", in every
// spelling a CGI/WSGI server folds together.
func TestReservedHeader(t *testing.T) {
	tests := []struct {
		name               string
		reserved, callerOn bool
	}{
		{"X-Portcullis-Psu-Id", true, true},
		{"X_Portcullis_Psu_Id", true, true},
		{"x-portcullis_org_id", true, true},
		{"X_PORTCULLIS_IDENTITY", true, true},
		{"X-Portcullis-Anything-New", true, true},
		{"X-Forwarded-Host", true, false},
		{"X_Forwarded_Host", true, true},
		{"x-forwarded-anything", true, false},
		{"Forwarded", true, false},
		{"X-Forwarded-Client-Cert", true, false},
		{"X_Client_Cert", true, true},
		{"Ssl_Client_Cert", true, true},
		{"X-Remote-User", true, false},
		{"X-HTTP-Method-Override", true, true},
		{"x_http_method_override", true, true},
		{"X-Method-Override", true, true},
		{"X-Http-Method", true, true},
		{"Proxy-Authorization", true, false},
		{"X-Fapi-Interaction-Id", false, false}, // the caller's to send; Portcullis replaces the value
		{"X_Fapi_Interaction_Id", true, true},
		{"X-Idempotency-Key", false, false},
		{"X_Idempotency_Key", false, false},
		{"Authorization", false, false}, // handled by PassAuthorization
		{"Accept", false, false},
		{"X-Portcullis", false, false}, // no prefix match without the dash
		{"X-Forwarded", false, false},
	}
	for _, tt := range tests {
		if got := ReservedHeader(tt.name); got != tt.reserved {
			t.Errorf("ReservedHeader(%q) = %v, want %v", tt.name, got, tt.reserved)
		}
		if got := CallerOnlyHeader(tt.name); got != tt.callerOn {
			t.Errorf("CallerOnlyHeader(%q) = %v, want %v", tt.name, got, tt.callerOn)
		}
	}
}

// FuzzReservedHeader: the folded comparison agrees with itself on every spelling:
// a name and its CGI form (upper case, "-" as "_") are reserved alike.
func FuzzReservedHeader(f *testing.F) {
	for _, s := range []string{"X-Portcullis-Psu-Id", "x_forwarded_for", "Client-Cert", "X-Fapi-Interaction-Id", "Accept", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		cgi := []byte(name)
		for i, c := range cgi {
			switch {
			case c == '-':
				cgi[i] = '_'
			case 'a' <= c && c <= 'z':
				cgi[i] = c - ('a' - 'A')
			}
		}
		if ReservedHeader(name) && !ReservedHeader(string(cgi)) {
			t.Errorf("%q is reserved but its CGI spelling %q is not", name, cgi)
		}
		if CallerOnlyHeader(name) && !ReservedHeader(name) {
			t.Errorf("%q is caller-only but not reserved", name)
		}
	})
}
