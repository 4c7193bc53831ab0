package keys

import "errors"

// Errors of package keys, tested with errors.Is.
var (
	// ErrKEK: the key-encryption key is missing, malformed, or not the one that sealed a stored
	// key (wrong keys.kek, or a KEK rotated away without keys.previous_kek). Startup fails.
	ErrKEK = errors.New("keys: key-encryption key")
	// ErrRotationPending: a rotation was asked for while a next key of the same algorithm is
	// still waiting for its activation time.
	ErrRotationPending = errors.New("keys: a rotation is already pending")
	// ErrPKCS11: the PKCS#11 token could not be used (module, slot, PIN, key objects), or the
	// binary was built without PKCS#11 support.
	ErrPKCS11 = errors.New("keys: PKCS#11")
)
