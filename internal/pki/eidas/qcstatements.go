package eidas

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// MaxQCStatementsLen is the largest qcStatements extension value [ParseQCStatements]
// accepts. Real PSD2 certificates carry a few hundred bytes.
const MaxQCStatementsLen = 16 << 10

// Bounds of the PSD2 statement's strings (TS 119 495 §5.1: SIZE(1..256)).
const (
	maxPSD2StringLen = 256
)

// roles maps each TS 119 495 role to its OID, in the order of the standard.
var roles = []struct {
	role Role
	oid  asn1.ObjectIdentifier
}{
	{RoleASPSP, OIDRoleASPSP},
	{RolePISP, OIDRolePISP},
	{RoleAISP, OIDRoleAISP},
	{RoleCBPII, OIDRoleCBPII},
	{RoleUnspecified, OIDRoleUnspecified},
}

// RoleOID returns the roleOfPspOid of a TS 119 495 role, and false for anything else.
func RoleOID(r Role) (asn1.ObjectIdentifier, bool) {
	for _, x := range roles {
		if x.role == r {
			return x.oid, true
		}
	}
	return nil, false
}

// RoleFromOID returns the role whose roleOfPspOid is oid, and false for an OID
// TS 119 495 does not define.
func RoleFromOID(oid asn1.ObjectIdentifier) (Role, bool) {
	for _, x := range roles {
		if x.oid.Equal(oid) {
			return x.role, true
		}
	}
	return "", false
}

var qcTypes = []struct {
	typ QcType
	oid asn1.ObjectIdentifier
}{
	{QcTypeESign, OIDQcTypeESign},
	{QcTypeESeal, OIDQcTypeESeal},
	{QcTypeWeb, OIDQcTypeWeb},
}

func qcTypeFromOID(oid asn1.ObjectIdentifier) QcType {
	for _, x := range qcTypes {
		if x.oid.Equal(oid) {
			return x.typ
		}
	}
	// Unknown types are kept in dotted form; no known name contains a digit, so the two
	// never collide.
	return QcType(oid.String())
}

func qcTypeOID(t QcType) (asn1.ObjectIdentifier, error) {
	for _, x := range qcTypes {
		if x.typ == t {
			return x.oid, nil
		}
	}
	oid, ok := parseDottedOID(string(t))
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrBadQcType, string(t))
	}
	return oid, nil
}

// parseDottedOID parses "1.2.3" into an OID that can be DER-encoded.
func parseDottedOID(s string) (asn1.ObjectIdentifier, bool) {
	if len(s) > MaxQCStatementsLen {
		return nil, false
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, false
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		if p == "" || len(p) > 10 || (len(p) > 1 && p[0] == '0') {
			return nil, false
		}
		for _, c := range []byte(p) {
			if c < '0' || c > '9' {
				return nil, false
			}
		}
		n, err := strconv.Atoi(p)
		if err != nil || n > math.MaxInt32 {
			return nil, false
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) {
		return nil, false
	}
	return oid, true
}

// modelled reports whether oid is a statement QCStatements has a field for (and so
// must not appear in Unknown).
func modelled(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(OIDQcCompliance) || oid.Equal(OIDQcSSCD) ||
		oid.Equal(OIDQcType) || oid.Equal(OIDPSD2Statement)
}

// FromCertificate decodes the qcStatements extension of cert. It returns (nil, nil)
// when the certificate has no such extension, and an error wrapping one of this
// package's sentinels (see [ParseQCStatements]) when the extension is present but
// invalid, or present twice ([ErrDuplicateStatement]).
func FromCertificate(cert *x509.Certificate) (*QCStatements, error) {
	var value []byte
	found := false
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(OIDQCStatements) {
			continue
		}
		if found {
			return nil, fmt.Errorf("%w: qcStatements extension present twice", ErrDuplicateStatement)
		}
		found = true
		value = ext.Value
	}
	if !found {
		return nil, nil
	}
	return ParseQCStatements(value)
}

// ParseQCStatements decodes the DER value of the qcStatements extension
// (1.3.6.1.5.5.7.1.3; RFC 3739 §3.2.6, EN 319 412-5 §4, TS 119 495 §5.1; pki.md §1.1–1.3).
//
// It is strict and never panics. The returned error wraps exactly one of:
//   - [ErrTooLarge] for input longer than [MaxQCStatementsLen];
//   - [ErrMalformed] for anything that is not the DER of the defined structures,
//     including a statementInfo on QcCompliance / QcSSCD;
//   - [ErrTrailingData] for bytes after a complete structure (at any level);
//   - [ErrDuplicateStatement] when QcCompliance, QcSSCD, QcType or the PSD2 statement
//     is repeated;
//   - [ErrEmptyQcType] for a QcType statement without types;
//   - [ErrNoRoles], [ErrUnknownRole], [ErrRoleNameMismatch], [ErrUnspecifiedRole],
//     [ErrDuplicateRole], [ErrBadRoleName] for RolesOfPSP rule violations;
//   - [ErrNotUTF8String] when a PSD2 string is not a valid UTF8String;
//   - [ErrBadNCAName], [ErrBadNCAID] for the competent-authority fields.
//
// QcType OIDs other than esign/eseal/web are kept in [QCStatements.Types] in dotted
// form. Statements other than QcCompliance, QcSSCD, QcType and PSD2 (including
// QcLimitValue, QcRetentionPeriod, QcPDS and QcCClegislation, whose contents no rule
// here depends on) are recorded by OID in [QCStatements.Unknown]; their statementInfo
// is not interpreted.
func ParseQCStatements(der []byte) (*QCStatements, error) {
	if len(der) > MaxQCStatementsLen {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(der), MaxQCStatementsLen)
	}
	input := cryptobyte.String(der)
	var seq cryptobyte.String
	if !input.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: qcStatements is not a SEQUENCE", ErrMalformed)
	}
	if !input.Empty() {
		return nil, fmt.Errorf("%w: %d bytes after qcStatements", ErrTrailingData, len(input))
	}

	q := &QCStatements{}
	var seenCompliance, seenSSCD, seenType, seenPSD2 bool
	for i := 0; !seq.Empty(); i++ {
		var st cryptobyte.String
		if !seq.ReadASN1(&st, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("%w: statement %d is not a SEQUENCE", ErrMalformed, i)
		}
		var id asn1.ObjectIdentifier
		if !st.ReadASN1ObjectIdentifier(&id) {
			return nil, fmt.Errorf("%w: statement %d: bad statementId", ErrMalformed, i)
		}
		var info cryptobyte.String
		hasInfo := false
		if !st.Empty() {
			var tag cbasn1.Tag
			if !st.ReadAnyASN1Element(&info, &tag) {
				return nil, fmt.Errorf("%w: statement %d (%s): bad statementInfo", ErrMalformed, i, id)
			}
			if !st.Empty() {
				return nil, fmt.Errorf("%w: statement %d (%s)", ErrTrailingData, i, id)
			}
			hasInfo = true
		}

		switch {
		case id.Equal(OIDQcCompliance):
			if seenCompliance {
				return nil, fmt.Errorf("%w: QcCompliance", ErrDuplicateStatement)
			}
			seenCompliance = true
			if hasInfo {
				return nil, fmt.Errorf("%w: QcCompliance has a statementInfo", ErrMalformed)
			}
			q.Compliance = true
		case id.Equal(OIDQcSSCD):
			if seenSSCD {
				return nil, fmt.Errorf("%w: QcSSCD", ErrDuplicateStatement)
			}
			seenSSCD = true
			if hasInfo {
				return nil, fmt.Errorf("%w: QcSSCD has a statementInfo", ErrMalformed)
			}
			q.SSCD = true
		case id.Equal(OIDQcType):
			if seenType {
				return nil, fmt.Errorf("%w: QcType", ErrDuplicateStatement)
			}
			seenType = true
			if !hasInfo {
				return nil, fmt.Errorf("%w: QcType without statementInfo", ErrMalformed)
			}
			types, err := parseQcType(info)
			if err != nil {
				return nil, err
			}
			q.Types = types
		case id.Equal(OIDPSD2Statement):
			if seenPSD2 {
				return nil, fmt.Errorf("%w: PSD2", ErrDuplicateStatement)
			}
			seenPSD2 = true
			if !hasInfo {
				return nil, fmt.Errorf("%w: PSD2 statement without statementInfo", ErrMalformed)
			}
			p, err := parsePSD2(info)
			if err != nil {
				return nil, err
			}
			q.PSD2 = p
		default:
			q.Unknown = append(q.Unknown, id)
		}
	}
	return q, nil
}

// parseQcType decodes QcType-statement ::= SEQUENCE OF OBJECT IDENTIFIER
// (EN 319 412-5 §4.2.3). elem is the complete element.
func parseQcType(elem cryptobyte.String) ([]QcType, error) {
	var list cryptobyte.String
	if !elem.ReadASN1(&list, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: QcType is not a SEQUENCE OF OBJECT IDENTIFIER", ErrMalformed)
	}
	var types []QcType
	for !list.Empty() {
		var oid asn1.ObjectIdentifier
		if !list.ReadASN1ObjectIdentifier(&oid) {
			return nil, fmt.Errorf("%w: QcType entry %d is not an OBJECT IDENTIFIER", ErrMalformed, len(types))
		}
		types = append(types, qcTypeFromOID(oid))
	}
	if len(types) == 0 {
		return nil, ErrEmptyQcType
	}
	return types, nil
}

// parsePSD2 decodes PSD2QcType (TS 119 495 §5.1) and applies its rules. elem is the
// complete element.
func parsePSD2(elem cryptobyte.String) (*PSD2, error) {
	var body cryptobyte.String
	if !elem.ReadASN1(&body, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: PSD2QcType is not a SEQUENCE", ErrMalformed)
	}
	var rolesSeq cryptobyte.String
	if !body.ReadASN1(&rolesSeq, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: RolesOfPSP is not a SEQUENCE", ErrMalformed)
	}
	p := &PSD2{}
	for i := 0; !rolesSeq.Empty(); i++ {
		var r cryptobyte.String
		if !rolesSeq.ReadASN1(&r, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("%w: RoleOfPSP %d is not a SEQUENCE", ErrMalformed, i)
		}
		var oid asn1.ObjectIdentifier
		if !r.ReadASN1ObjectIdentifier(&oid) {
			return nil, fmt.Errorf("%w: RoleOfPSP %d: bad roleOfPspOid", ErrMalformed, i)
		}
		name, err := readUTF8String(&r, "roleOfPspName")
		if err != nil {
			return nil, fmt.Errorf("role %d: %w", i, err)
		}
		if !r.Empty() {
			return nil, fmt.Errorf("%w: RoleOfPSP %d", ErrTrailingData, i)
		}
		if n := utf8.RuneCountInString(name); n < 1 || n > maxPSD2StringLen {
			return nil, fmt.Errorf("%w: role %d name has %d characters", ErrBadRoleName, i, n)
		}
		role, ok := RoleFromOID(oid)
		if !ok {
			return nil, fmt.Errorf("%w: role %d: %s", ErrUnknownRole, i, oid)
		}
		if name != string(role) {
			return nil, fmt.Errorf("%w: role %d: OID %s is %s, name is %q", ErrRoleNameMismatch, i, oid, role, name)
		}
		p.Roles = append(p.Roles, role)
	}
	if err := checkRoles(p.Roles); err != nil {
		return nil, err
	}

	var err error
	if p.NCAName, err = readUTF8String(&body, "nCAName"); err != nil {
		return nil, err
	}
	if p.NCAID, err = readUTF8String(&body, "nCAId"); err != nil {
		return nil, err
	}
	if !body.Empty() {
		return nil, fmt.Errorf("%w: PSD2QcType", ErrTrailingData)
	}
	if err := checkNCAName(p.NCAName); err != nil {
		return nil, err
	}
	if err := checkNCAID(p.NCAID); err != nil {
		return nil, err
	}
	return p, nil
}

// readUTF8String reads one element that must be a UTF8String holding valid UTF-8.
// A missing element is ErrMalformed; another string type is ErrNotUTF8String.
func readUTF8String(s *cryptobyte.String, what string) (string, error) {
	var v cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&v, &tag) {
		return "", fmt.Errorf("%w: missing or bad %s", ErrMalformed, what)
	}
	if tag != cbasn1.UTF8String {
		return "", fmt.Errorf("%w: %s has tag %d", ErrNotUTF8String, what, tag)
	}
	if !utf8.Valid(v) {
		return "", fmt.Errorf("%w: %s is not valid UTF-8", ErrNotUTF8String, what)
	}
	return string(v), nil
}

// checkRoles applies the RolesOfPSP rules that concern the list as a whole.
func checkRoles(rs []Role) error {
	if len(rs) == 0 {
		return ErrNoRoles
	}
	for i, r := range rs {
		if r == RoleUnspecified && len(rs) > 1 {
			return ErrUnspecifiedRole
		}
		for _, prev := range rs[:i] {
			if prev == r {
				return fmt.Errorf("%w: %s", ErrDuplicateRole, r)
			}
		}
	}
	return nil
}

// checkNCAName: 1..256 characters, valid UTF-8, no control characters (the
// "plain text" of TS 119 495).
func checkNCAName(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not valid UTF-8", ErrBadNCAName)
	}
	if n := utf8.RuneCountInString(s); n < 1 || n > maxPSD2StringLen {
		return fmt.Errorf("%w: %d characters", ErrBadNCAName, n)
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return fmt.Errorf("%w: control character U+%04X", ErrBadNCAName, r)
		}
	}
	return nil
}

// checkNCAID: ^[A-Z]{2}-[A-Z]{2,8}$ (TS 119 495 GEN-5.2.3-2).
func checkNCAID(s string) error {
	country, nca, ok := strings.Cut(s, "-")
	if !ok || len(country) != 2 || !isUpperAlpha(country) || len(nca) < 2 || len(nca) > 8 || !isUpperAlpha(nca) {
		return fmt.Errorf("%w: %q", ErrBadNCAID, truncate(s))
	}
	return nil
}

func isUpperAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// truncate shortens attacker-supplied text quoted in an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// Marshal encodes q as the DER value of the qcStatements extension, in the order
// QcCompliance, QcSSCD, QcType, PSD2, then the Unknown statements (without
// statementInfo). The encoding is the one `openssl asn1parse -genconf` produces for the
// same structure (pki.md §1.8). It is what the sandbox CA and the test PKI put into
// certificates.
//
// Marshal refuses to encode what [ParseQCStatements] would reject, with the same
// sentinels: PSD2 role rules ([ErrNoRoles], [ErrUnknownRole], [ErrUnspecifiedRole],
// [ErrDuplicateRole]), [ErrBadNCAName], [ErrBadNCAID], an invalid QcType
// ([ErrBadQcType]); an Unknown entry that is one of the statements with a field of its
// own is [ErrDuplicateStatement]. Types empty means no QcType statement. So for every
// q it accepts, ParseQCStatements(Marshal(q)) returns q. (Certificates that break the
// rules, for negative tests, are built from raw DER instead.)
func (q *QCStatements) Marshal() ([]byte, error) {
	if q.PSD2 != nil {
		if err := checkRoles(q.PSD2.Roles); err != nil {
			return nil, err
		}
		for _, r := range q.PSD2.Roles {
			if _, ok := RoleOID(r); !ok {
				return nil, fmt.Errorf("%w: %q", ErrUnknownRole, string(r))
			}
		}
		if err := checkNCAName(q.PSD2.NCAName); err != nil {
			return nil, err
		}
		if err := checkNCAID(q.PSD2.NCAID); err != nil {
			return nil, err
		}
	}
	typeOIDs := make([]asn1.ObjectIdentifier, len(q.Types))
	for i, t := range q.Types {
		oid, err := qcTypeOID(t)
		if err != nil {
			return nil, err
		}
		typeOIDs[i] = oid
	}
	for _, u := range q.Unknown {
		if modelled(u) {
			return nil, fmt.Errorf("%w: %s in Unknown", ErrDuplicateStatement, u)
		}
	}

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if q.Compliance {
			addStatement(b, OIDQcCompliance, nil)
		}
		if q.SSCD {
			addStatement(b, OIDQcSSCD, nil)
		}
		if len(typeOIDs) > 0 {
			addStatement(b, OIDQcType, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, oid := range typeOIDs {
						b.AddASN1ObjectIdentifier(oid)
					}
				})
			})
		}
		if p := q.PSD2; p != nil {
			addStatement(b, OIDPSD2Statement, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for _, r := range p.Roles {
							oid, _ := RoleOID(r)
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1ObjectIdentifier(oid)
								addUTF8String(b, string(r))
							})
						}
					})
					addUTF8String(b, p.NCAName)
					addUTF8String(b, p.NCAID)
				})
			})
		}
		for _, u := range q.Unknown {
			addStatement(b, u, nil)
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return der, nil
}

func addStatement(b *cryptobyte.Builder, id asn1.ObjectIdentifier, info func(*cryptobyte.Builder)) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(id)
		if info != nil {
			info(b)
		}
	})
}

func addUTF8String(b *cryptobyte.Builder, s string) {
	b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) {
		b.AddBytes([]byte(s))
	})
}
