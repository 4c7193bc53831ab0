package eidas_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

var (
	fcaAllRoles = &eidas.QCStatements{
		Compliance: true,
		Types:      []eidas.QcType{eidas.QcTypeWeb},
		PSD2: &eidas.PSD2{
			Roles:   []eidas.Role{eidas.RoleASPSP, eidas.RolePISP, eidas.RoleAISP, eidas.RoleCBPII},
			NCAName: "Financial Conduct Authority",
			NCAID:   "GB-FCA",
		},
	}
	obSeal = &eidas.QCStatements{
		Types: []eidas.QcType{eidas.QcTypeESeal},
		PSD2: &eidas.PSD2{
			Roles:   []eidas.Role{eidas.RolePISP, eidas.RoleAISP, eidas.RoleCBPII},
			NCAName: "Open Banking",
			NCAID:   "GB-OB",
		},
	}
)

// TestGoldenVectors parses the two DER samples of pki.md and checks every field, then
// marshals the parsed value and compares the bytes.
func TestGoldenVectors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want *eidas.QCStatements
	}{
		{"pki.md 1.8 QWAC, four roles, FCA", qwacVectorHex, fcaAllRoles},
		{"pki.md 1.6 OBSeal, three roles, Open Banking", obsealVectorHex, obSeal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der := mustHex(t, tt.hex)
			got, err := eidas.ParseQCStatements(der)
			if err != nil {
				t.Fatalf("ParseQCStatements: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parsed (-want +got):\n%s", diff)
			}
			again, err := got.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(again, der) {
				t.Errorf("Marshal = %x\nwant      %x", again, der)
			}
			fromWant, err := tt.want.Marshal()
			if err != nil {
				t.Fatalf("Marshal(want): %v", err)
			}
			if !bytes.Equal(fromWant, der) {
				t.Errorf("Marshal(want) = %x\nwant           %x", fromWant, der)
			}
		})
	}
}

func TestParseQCStatements(t *testing.T) {
	unknownType := asn1.ObjectIdentifier{1, 2, 3, 4}
	privateStmt := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
	tests := []struct {
		name string
		der  []byte
		want *eidas.QCStatements
	}{
		{"empty sequence", seq(), &eidas.QCStatements{}},
		{"compliance only", seq(compliance()), &eidas.QCStatements{Compliance: true}},
		{
			"Unspecified alone",
			seq(compliance(), qcType(eidas.OIDQcTypeWeb), psd2([][]byte{role(eidas.OIDRoleUnspecified, "Unspecified")}, utf8s("Banco de España"), utf8s("ES-BDE"))),
			&eidas.QCStatements{Compliance: true, Types: []eidas.QcType{eidas.QcTypeWeb},
				PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RoleUnspecified}, NCAName: "Banco de España", NCAID: "ES-BDE"}},
		},
		{
			"SSCD, unknown QcType kept dotted, QcPDS and a private statement kept by OID",
			seq(compliance(), stmt(eidas.OIDQcSSCD), qcType(eidas.OIDQcTypeESeal, unknownType),
				stmt(eidas.OIDQcPDS, seq(seq(tlv(0x16, []byte("https://example.com/pds")), printable("en")))),
				stmt(privateStmt, tlv(0x02, []byte{1}))),
			&eidas.QCStatements{Compliance: true, SSCD: true, Types: []eidas.QcType{eidas.QcTypeESeal, "1.2.3.4"},
				Unknown: []asn1.ObjectIdentifier{eidas.OIDQcPDS, privateStmt}},
		},
		{
			"NCA code of 8 letters, one role",
			seq(qcType(eidas.OIDQcTypeWeb), psd2([][]byte{roleAI()}, utf8s("BaFin"), utf8s("DE-BAFINABC"))),
			&eidas.QCStatements{Types: []eidas.QcType{eidas.QcTypeWeb},
				PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RoleAISP}, NCAName: "BaFin", NCAID: "DE-BAFINABC"}},
		},
		{
			"statements in another order",
			seq(fcaPSD2(roleAI()), qcType(eidas.OIDQcTypeWeb), compliance()),
			&eidas.QCStatements{Compliance: true, Types: []eidas.QcType{eidas.QcTypeWeb},
				PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RoleAISP}, NCAName: "Financial Conduct Authority", NCAID: "GB-FCA"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eidas.ParseQCStatements(tt.der)
			if err != nil {
				t.Fatalf("ParseQCStatements: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseQCStatementsErrors(t *testing.T) {
	valid := mustHex(t, qwacVectorHex)
	tests := []struct {
		name string
		der  []byte
		want error
	}{
		{"too large", seq(make([]byte, eidas.MaxQCStatementsLen)), eidas.ErrTooLarge},
		{"empty input", nil, eidas.ErrMalformed},
		{"not a SEQUENCE", tlv(0x31, compliance()), eidas.ErrMalformed},
		{"truncated", valid[:len(valid)-1], eidas.ErrMalformed},
		{"trailing data", append(append([]byte(nil), valid...), 0x00), eidas.ErrTrailingData},
		{"non-minimal length", append([]byte{0x30, 0x81, 0x08}, compliance()...), eidas.ErrMalformed},
		{"indefinite length", append(append([]byte{0x30, 0x80}, compliance()...), 0, 0), eidas.ErrMalformed},
		{"statement not a SEQUENCE", seq(tlv(0x04, oid(eidas.OIDQcCompliance))), eidas.ErrMalformed},
		{"statementId not an OID", seq(seq(utf8s("0.4.0.1862.1.1"))), eidas.ErrMalformed},
		{"statementId non-minimal arc", seq(seq([]byte{0x06, 0x03, 0x2b, 0x80, 0x01})), eidas.ErrMalformed},
		{"two statementInfos", seq(stmt(asn1.ObjectIdentifier{1, 2, 3}, utf8s("a"), utf8s("b"))), eidas.ErrTrailingData},
		{"QcCompliance with statementInfo", seq(stmt(eidas.OIDQcCompliance, tlv(0x05))), eidas.ErrMalformed},
		{"QcSSCD with statementInfo", seq(stmt(eidas.OIDQcSSCD, tlv(0x05))), eidas.ErrMalformed},
		{"duplicate QcCompliance", seq(compliance(), compliance()), eidas.ErrDuplicateStatement},
		{"duplicate QcSSCD", seq(stmt(eidas.OIDQcSSCD), stmt(eidas.OIDQcSSCD)), eidas.ErrDuplicateStatement},
		{"duplicate QcType", seq(qcType(eidas.OIDQcTypeWeb), qcType(eidas.OIDQcTypeESeal)), eidas.ErrDuplicateStatement},
		{"duplicate PSD2", seq(fcaPSD2(roleAI()), fcaPSD2(role(eidas.OIDRolePISP, "PSP_PI"))), eidas.ErrDuplicateStatement},
		{"QcType without info", seq(stmt(eidas.OIDQcType)), eidas.ErrMalformed},
		{"QcType info not a SEQUENCE", seq(stmt(eidas.OIDQcType, oid(eidas.OIDQcTypeWeb))), eidas.ErrMalformed},
		{"QcType entry not an OID", seq(stmt(eidas.OIDQcType, seq(utf8s("web")))), eidas.ErrMalformed},
		{"empty QcType", seq(qcType()), eidas.ErrEmptyQcType},
		{"PSD2 without info", seq(stmt(eidas.OIDPSD2Statement)), eidas.ErrMalformed},
		{"PSD2 info not a SEQUENCE", seq(stmt(eidas.OIDPSD2Statement, utf8s("x"))), eidas.ErrMalformed},
		{"RolesOfPSP not a SEQUENCE", seq(stmt(eidas.OIDPSD2Statement, seq(tlv(0x31, roleAI()), utf8s("FCA"), utf8s("GB-FCA")))), eidas.ErrMalformed},
		{"RoleOfPSP not a SEQUENCE", seq(fcaPSD2(tlv(0x31, oid(eidas.OIDRoleAISP), utf8s("PSP_AI")))), eidas.ErrMalformed},
		{"role without name", seq(fcaPSD2(seq(oid(eidas.OIDRoleAISP)))), eidas.ErrMalformed},
		{"role with trailing element", seq(fcaPSD2(seq(oid(eidas.OIDRoleAISP), utf8s("PSP_AI"), utf8s("x")))), eidas.ErrTrailingData},
		{"no roles", seq(fcaPSD2()), eidas.ErrNoRoles},
		{"role name of another OID", seq(fcaPSD2(role(eidas.OIDRoleAISP, "PSP_PI"))), eidas.ErrRoleNameMismatch},
		{"role name in lower case", seq(fcaPSD2(role(eidas.OIDRoleAISP, "psp_ai"))), eidas.ErrRoleNameMismatch},
		{"role name with trailing space", seq(fcaPSD2(role(eidas.OIDRolePISP, "PSP_PI "))), eidas.ErrRoleNameMismatch},
		{"second role mismatched", seq(fcaPSD2(roleAI(), role(eidas.OIDRoleCBPII, "PSP_AS"))), eidas.ErrRoleNameMismatch},
		{"empty role name", seq(fcaPSD2(role(eidas.OIDRoleAISP, ""))), eidas.ErrBadRoleName},
		{"role name too long", seq(fcaPSD2(role(eidas.OIDRoleAISP, strings.Repeat("A", 257)))), eidas.ErrBadRoleName},
		{"unknown role OID", seq(fcaPSD2(role(asn1.ObjectIdentifier{0, 4, 0, 19495, 1, 9}, "PSP_XX"))), eidas.ErrUnknownRole},
		{"Unspecified with another role", seq(fcaPSD2(role(eidas.OIDRoleUnspecified, "Unspecified"), roleAI())), eidas.ErrUnspecifiedRole},
		{"duplicate role", seq(fcaPSD2(roleAI(), roleAI())), eidas.ErrDuplicateRole},
		{"role name PrintableString", seq(fcaPSD2(seq(oid(eidas.OIDRoleAISP), printable("PSP_AI")))), eidas.ErrNotUTF8String},
		{"nCAName PrintableString", seq(psd2([][]byte{roleAI()}, printable("FCA"), utf8s("GB-FCA"))), eidas.ErrNotUTF8String},
		{"nCAId IA5String", seq(psd2([][]byte{roleAI()}, utf8s("FCA"), tlv(0x16, []byte("GB-FCA")))), eidas.ErrNotUTF8String},
		{"nCAName invalid UTF-8", seq(psd2([][]byte{roleAI()}, tlv(0x0c, []byte{0xff, 0xfe}), utf8s("GB-FCA"))), eidas.ErrNotUTF8String},
		{"nCAName empty", seq(psd2([][]byte{roleAI()}, utf8s(""), utf8s("GB-FCA"))), eidas.ErrBadNCAName},
		{"nCAName 257 characters", seq(psd2([][]byte{roleAI()}, utf8s(strings.Repeat("é", 257)), utf8s("GB-FCA"))), eidas.ErrBadNCAName},
		{"nCAName control character", seq(psd2([][]byte{roleAI()}, utf8s("Financial\nConduct"), utf8s("GB-FCA"))), eidas.ErrBadNCAName},
		{"nCAName missing", seq(psd2([][]byte{roleAI()})), eidas.ErrMalformed},
		{"nCAId missing", seq(psd2([][]byte{roleAI()}, utf8s("FCA"))), eidas.ErrMalformed},
		{"PSD2 extra field", seq(psd2([][]byte{roleAI()}, utf8s("FCA"), utf8s("GB-FCA"), utf8s("x"))), eidas.ErrTrailingData},
		{"nCAId underscore", seq(psd2([][]byte{roleAI()}, utf8s("FCA"), utf8s("GB_FCA"))), eidas.ErrBadNCAID},
		{"nCAId lower case", seq(psd2([][]byte{roleAI()}, utf8s("FCA"), utf8s("gb-fca"))), eidas.ErrBadNCAID},
		{"nCAId code of 1 letter", seq(psd2([][]byte{roleAI()}, utf8s("FCA"), utf8s("GB-F"))), eidas.ErrBadNCAID},
		{"nCAId code of 9 letters", seq(psd2([][]byte{roleAI()}, utf8s("FCA"), utf8s("GB-ABCDEFGHI"))), eidas.ErrBadNCAID},
		{"nCAId 3-letter country", seq(psd2([][]byte{roleAI()}, utf8s("FCA"), utf8s("GBR-FCA"))), eidas.ErrBadNCAID},
		{"nCAId second separator", seq(psd2([][]byte{roleAI()}, utf8s("FCA"), utf8s("GB-FCA-1"))), eidas.ErrBadNCAID},
		{"nCAId digits", seq(psd2([][]byte{roleAI()}, utf8s("FCA"), utf8s("GB-FC4"))), eidas.ErrBadNCAID},
		{"nCAId empty", seq(psd2([][]byte{roleAI()}, utf8s("FCA"), utf8s(""))), eidas.ErrBadNCAID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eidas.ParseQCStatements(tt.der)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseQCStatements error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Errorf("ParseQCStatements returned %+v with the error", got)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	fca := func(roles ...eidas.Role) *eidas.QCStatements {
		return &eidas.QCStatements{PSD2: &eidas.PSD2{Roles: roles, NCAName: "Financial Conduct Authority", NCAID: "GB-FCA"}}
	}
	tests := []struct {
		name string
		q    *eidas.QCStatements
		want error
	}{
		{"no roles", fca(), eidas.ErrNoRoles},
		{"unknown role", fca("PSP_XX"), eidas.ErrUnknownRole},
		{"Unspecified with another", fca(eidas.RoleUnspecified, eidas.RoleAISP), eidas.ErrUnspecifiedRole},
		{"duplicate role", fca(eidas.RoleAISP, eidas.RoleAISP), eidas.ErrDuplicateRole},
		{"bad nCAId", &eidas.QCStatements{PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RoleAISP}, NCAName: "FCA", NCAID: "GB"}}, eidas.ErrBadNCAID},
		{"empty nCAName", &eidas.QCStatements{PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RoleAISP}, NCAID: "GB-FCA"}}, eidas.ErrBadNCAName},
		{"bad QcType", &eidas.QCStatements{Types: []eidas.QcType{"website"}}, eidas.ErrBadQcType},
		{"QcType OID with leading zero", &eidas.QCStatements{Types: []eidas.QcType{"1.02.3"}}, eidas.ErrBadQcType},
		{"QcCompliance in Unknown", &eidas.QCStatements{Unknown: []asn1.ObjectIdentifier{eidas.OIDQcCompliance}}, eidas.ErrDuplicateStatement},
		{"PSD2 in Unknown", &eidas.QCStatements{Unknown: []asn1.ObjectIdentifier{eidas.OIDPSD2Statement}}, eidas.ErrDuplicateStatement},
		{"unencodable Unknown OID", &eidas.QCStatements{Unknown: []asn1.ObjectIdentifier{{3, 1}}}, eidas.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := tt.q.Marshal()
			if !errors.Is(err, tt.want) {
				t.Fatalf("Marshal error = %v, want %v", err, tt.want)
			}
			if der != nil {
				t.Errorf("Marshal returned %x with the error", der)
			}
		})
	}
}

// TestMarshalMatchesOpenSSL builds the `openssl asn1parse -genconf` description of
// several values (as in pki.md §1.8) and requires Marshal to produce the same bytes.
func TestMarshalMatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	tests := []struct {
		name string
		q    *eidas.QCStatements
	}{
		{"QWAC all roles FCA", fcaAllRoles},
		{"OBSeal", obSeal},
		{"QSealC with SSCD, Unspecified, unknown type and statement", &eidas.QCStatements{
			Compliance: true, SSCD: true,
			Types:   []eidas.QcType{eidas.QcTypeESeal, "1.2.3.4"},
			PSD2:    &eidas.PSD2{Roles: []eidas.Role{eidas.RoleUnspecified}, NCAName: "Autorité de contrôle prudentiel et de résolution", NCAID: "FR-ACPR"},
			Unknown: []asn1.ObjectIdentifier{eidas.OIDQcPDS, {1, 3, 6, 1, 4, 1, 99999, 1}},
		}},
		{"only compliance", &eidas.QCStatements{Compliance: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "qc.asn1")
			out := filepath.Join(dir, "qc.der")
			if err := os.WriteFile(conf, []byte(genconf(tt.q)), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "asn1parse", "-genconf", conf, "-out", out, "-noout")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("openssl asn1parse: %v\n%s", err, b)
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.q.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Marshal = %x\nopenssl = %x", got, want)
			}
		})
	}
}

// genconf writes q in the ASN1_generate_nconf language, in Marshal's statement order.
func genconf(q *eidas.QCStatements) string {
	var top, sections strings.Builder
	top.WriteString("asn1 = SEQUENCE:qcStatements\n\n[qcStatements]\n")
	n := 0
	add := func(body string) {
		n++
		fmt.Fprintf(&top, "s%d = SEQUENCE:st%d\n", n, n)
		fmt.Fprintf(&sections, "\n[st%d]\n%s", n, body)
	}
	if q.Compliance {
		add("id = OID:0.4.0.1862.1.1\n")
	}
	if q.SSCD {
		add("id = OID:0.4.0.1862.1.4\n")
	}
	if len(q.Types) > 0 {
		add("id = OID:0.4.0.1862.1.6\ntypes = SEQUENCE:types\n")
		sections.WriteString("\n[types]\n")
		for i, ty := range q.Types {
			o := map[eidas.QcType]string{eidas.QcTypeESign: "0.4.0.1862.1.6.1", eidas.QcTypeESeal: "0.4.0.1862.1.6.2", eidas.QcTypeWeb: "0.4.0.1862.1.6.3"}[ty]
			if o == "" {
				o = string(ty)
			}
			fmt.Fprintf(&sections, "t%d = OID:%s\n", i, o)
		}
	}
	if p := q.PSD2; p != nil {
		add("id = OID:0.4.0.19495.2\ninfo = SEQUENCE:psd2\n")
		fmt.Fprintf(&sections, "\n[psd2]\nroles = SEQUENCE:roles\nncaName = FORMAT:UTF8,UTF8String:%s\nncaId = UTF8String:%s\n", p.NCAName, p.NCAID)
		sections.WriteString("\n[roles]\n")
		for i := range p.Roles {
			fmt.Fprintf(&sections, "r%d = SEQUENCE:role%d\n", i, i)
		}
		for i, r := range p.Roles {
			o, _ := eidas.RoleOID(r)
			fmt.Fprintf(&sections, "\n[role%d]\noid = OID:%s\nname = UTF8String:%s\n", i, o, r)
		}
	}
	for _, u := range q.Unknown {
		add(fmt.Sprintf("id = OID:%s\n", u))
	}
	return top.String() + sections.String()
}

func TestFromCertificate(t *testing.T) {
	ca := pkitest.NewCA(t, pkitest.CAOptions{})
	t.Run("QWAC", func(t *testing.T) {
		leaf := ca.QWAC(t, eidas.RoleAISP, eidas.RolePISP)
		got, err := eidas.FromCertificate(leaf.Cert)
		if err != nil {
			t.Fatal(err)
		}
		want := &eidas.QCStatements{Compliance: true, Types: []eidas.QcType{eidas.QcTypeWeb},
			PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RoleAISP, eidas.RolePISP}, NCAName: "Financial Conduct Authority", NCAID: "GB-FCA"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("no extension", func(t *testing.T) {
		got, err := eidas.FromCertificate(ca.Plain(t).Cert)
		if got != nil || err != nil {
			t.Fatalf("FromCertificate = %v, %v; want nil, nil", got, err)
		}
	})
	t.Run("malformed extension", func(t *testing.T) {
		o := pkitest.QWACOptions()
		o.QCStatementsDER = seq(fcaPSD2(role(eidas.OIDRoleAISP, "PSP_PI")))
		got, err := eidas.FromCertificate(ca.Issue(t, o).Cert)
		if !errors.Is(err, eidas.ErrRoleNameMismatch) || got != nil {
			t.Fatalf("FromCertificate = %v, %v; want ErrRoleNameMismatch", got, err)
		}
	})
	t.Run("extension twice", func(t *testing.T) {
		c := &x509.Certificate{Extensions: []pkix.Extension{
			{Id: eidas.OIDQCStatements, Value: seq(compliance())},
			{Id: eidas.OIDQCStatements, Value: seq(compliance())},
		}}
		if _, err := eidas.FromCertificate(c); !errors.Is(err, eidas.ErrDuplicateStatement) {
			t.Fatalf("FromCertificate error = %v, want ErrDuplicateStatement", err)
		}
	})
}

func TestRoleOIDs(t *testing.T) {
	for _, r := range []eidas.Role{eidas.RoleASPSP, eidas.RolePISP, eidas.RoleAISP, eidas.RoleCBPII, eidas.RoleUnspecified} {
		o, ok := eidas.RoleOID(r)
		if !ok {
			t.Fatalf("RoleOID(%s) not found", r)
		}
		back, ok := eidas.RoleFromOID(o)
		if !ok || back != r {
			t.Errorf("RoleFromOID(RoleOID(%s)) = %s, %v", r, back, ok)
		}
	}
	if _, ok := eidas.RoleOID("ASPSP"); ok {
		t.Error(`RoleOID("ASPSP") found; only TS 119 495 names are roles`)
	}
	if _, ok := eidas.RoleFromOID(asn1.ObjectIdentifier{0, 4, 0, 19495, 1, 5}); ok {
		t.Error("RoleFromOID(0.4.0.19495.1.5) found")
	}
}
