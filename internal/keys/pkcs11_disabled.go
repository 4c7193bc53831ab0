//go:build !pkcs11

package keys

import "fmt"

// NewPKCS11Vault returns an error wrapping [ErrPKCS11]: this binary was built without PKCS#11
// support (it needs cgo and the pkcs11 build tag: go build -tags pkcs11).
func NewPKCS11Vault(PKCS11Config) (Vault, error) {
	return nil, fmt.Errorf("%w: this binary was built without PKCS#11 support (build with -tags pkcs11, cgo enabled)", ErrPKCS11)
}
