package keys

// PKCS11Config names a PKCS#11 token for [NewPKCS11Vault].
type PKCS11Config struct {
	// Module is the path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// TokenLabel selects the token (CKA_LABEL of the token info).
	TokenLabel string
	// PIN is the token's user PIN.
	PIN string
}
