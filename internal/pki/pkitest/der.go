package pkitest

import (
	"bufio"
	"encoding/asn1"
	"strconv"
	"strings"
)

// DER building blocks for tests that hand-assemble ASN.1 the encoders refuse to produce
// (negative cases for the certificate, DN and qcStatements parsers). Lengths are computed,
// never written by hand.

// TLV is one DER element: tag, definite length (short form or one/two length bytes), and the
// concatenated parts as content.
func TLV(tag byte, parts ...[]byte) []byte {
	var content []byte
	for _, p := range parts {
		content = append(content, p...)
	}
	out := []byte{tag}
	switch n := len(content); {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, content...)
}

// Seq is a SEQUENCE of parts.
func Seq(parts ...[]byte) []byte { return TLV(0x30, parts...) }

// OID is the DER encoding of o.
func OID(o asn1.ObjectIdentifier) []byte {
	b, err := asn1.Marshal(o)
	if err != nil {
		panic(err)
	}
	return b
}

// QCStatement is one QCStatement (ETSI EN 319 412-5): SEQUENCE { statementId, statementInfo }.
func QCStatement(id asn1.ObjectIdentifier, info ...[]byte) []byte {
	return Seq(append([][]byte{OID(id)}, info...)...)
}

// QCStatementsOffset returns the offset of the OCTET STRING that follows the
// "OBJECT :qcStatements" line (skipping a critical flag) in `openssl asn1parse` output, for
// `openssl asn1parse -strparse OFFSET` to decode the extension's content.
func QCStatementsOffset(asn1parseOutput string) (int, bool) {
	sc := bufio.NewScanner(strings.NewReader(asn1parseOutput))
	found := false
	for sc.Scan() {
		line := sc.Text()
		if !found {
			found = strings.Contains(line, "OBJECT") && strings.HasSuffix(strings.TrimSpace(line), ":qcStatements")
			continue
		}
		if strings.Contains(line, "OCTET STRING") {
			off, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(line, ":", 2)[0]))
			return off, err == nil
		}
	}
	return 0, false
}
