package identity

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Password bounds. A password outside them is refused by [Customers.Add]; at login a longer
// one is simply wrong ([ErrInvalidCredentials]), without hashing it.
const (
	// MinPasswordLen is the shortest password a new customer may have (NIST SP 800-63B §5.1.1.2).
	MinPasswordLen = 8
	// MaxPasswordLen bounds a password, in bytes, so argon2id never hashes unbounded input.
	MaxPasswordLen = 1024
)

// Argon2idParams are the cost parameters of argon2id (RFC 9106 §3.1).
type Argon2idParams struct {
	Memory  uint32 // m, in KiB
	Time    uint32 // t, passes over memory
	Threads uint8  // p, lanes
	SaltLen uint32 // bytes of random salt
	KeyLen  uint32 // bytes of tag
}

// DefaultArgon2id is m=19456 KiB (19 MiB), t=2, p=1, a 16-byte salt and a 32-byte tag:
// OWASP's (Password Storage Cheat Sheet) first argon2id configuration, which it rates as
// strong as RFC 9106 §4's second recommended option (m=64 MiB, t=3, p=4) scaled to a server's
// request path: on a small machine (2 cores) extra lanes bring no speed-up but take cores
// from other requests, and 64 MiB per concurrent login bounds throughput by memory. The
// Embedded authenticator runs at most GOMAXPROCS hashes at once, so memory stays below
// GOMAXPROCS × 19 MiB. Time per verification on the reference machine: BENCHMARKS.md.
var DefaultArgon2id = Argon2idParams{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on the parameters of a stored hash, so a corrupt or hostile row cannot make one
// verification take unbounded memory or time.
const (
	maxArgon2Memory  = 1 << 20 // KiB: 1 GiB
	maxArgon2Time    = 16
	maxArgon2Threads = 16
	minArgon2Salt    = 8
	maxArgon2Salt    = 64
	minArgon2Key     = 16
	maxArgon2Key     = 64
	maxPHCLen        = 256
)

// errBadPHC is returned for a stored hash that is not a usable argon2id PHC string.
var errBadPHC = errors.New("identity: password hash is not an argon2id PHC string")

// HashPassword returns the argon2id PHC string of password with parameters p and a fresh
// salt read from random:
//
//	$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<tag>
//
// with salt and tag in unpadded standard base64 (the PHC string format).
func HashPassword(password string, p Argon2idParams, random io.Reader) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(random, salt); err != nil {
		return "", fmt.Errorf("identity: password salt: %w", err)
	}
	tag := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return p.phc(salt, tag), nil
}

func (p Argon2idParams) phc(salt, tag []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(tag))
}

func (p Argon2idParams) check() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgon2Memory:
		return fmt.Errorf("%w: memory %d KiB out of range", errBadPHC, p.Memory)
	case p.Time < 1 || p.Time > maxArgon2Time:
		return fmt.Errorf("%w: time %d out of range", errBadPHC, p.Time)
	case p.Threads < 1 || p.Threads > maxArgon2Threads:
		return fmt.Errorf("%w: parallelism %d out of range", errBadPHC, p.Threads)
	case p.SaltLen < minArgon2Salt || p.SaltLen > maxArgon2Salt:
		return fmt.Errorf("%w: salt of %d bytes", errBadPHC, p.SaltLen)
	case p.KeyLen < minArgon2Key || p.KeyLen > maxArgon2Key:
		return fmt.Errorf("%w: tag of %d bytes", errBadPHC, p.KeyLen)
	}
	return nil
}

// phcHash is a parsed argon2id PHC string.
type phcHash struct {
	params    Argon2idParams
	salt, tag []byte
}

// parsePHC parses an argon2id PHC string as [HashPassword] writes it (version 19 only, the
// parameters in the order m, t, p, salt and tag in unpadded standard base64) and checks the
// parameters against the bounds above.
func parsePHC(s string) (phcHash, error) {
	if len(s) > maxPHCLen {
		return phcHash{}, fmt.Errorf("%w: longer than %d bytes", errBadPHC, maxPHCLen)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phcHash{}, errBadPHC
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phcHash{}, fmt.Errorf("%w: version %q", errBadPHC, parts[2])
	}
	var h phcHash
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return phcHash{}, fmt.Errorf("%w: parameters %q", errBadPHC, parts[3])
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(kv[i], name)
		// Canonical decimal only: no sign, no leading zero, no empty value.
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') || strings.ContainsFunc(v, func(r rune) bool { return r < '0' || r > '9' }) {
			return phcHash{}, fmt.Errorf("%w: parameters %q", errBadPHC, parts[3])
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return phcHash{}, fmt.Errorf("%w: parameters %q", errBadPHC, parts[3])
		}
		vals[i] = n
	}
	if vals[2] > maxArgon2Threads {
		return phcHash{}, fmt.Errorf("%w: parallelism %d out of range", errBadPHC, vals[2])
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return phcHash{}, fmt.Errorf("%w: salt", errBadPHC)
	}
	if h.tag, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil {
		return phcHash{}, fmt.Errorf("%w: tag", errBadPHC)
	}
	h.params = Argon2idParams{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2]),
		SaltLen: uint32(len(h.salt)), KeyLen: uint32(len(h.tag))}
	if err := h.params.check(); err != nil {
		return phcHash{}, err
	}
	return h, nil
}

// verify reports whether password matches h, comparing tags in constant time.
func (h phcHash) verify(password string) bool {
	p := h.params
	tag := argon2.IDKey([]byte(password), h.salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(tag, h.tag) == 1
}

// hashSlots bounds how many argon2id computations run at once (each holds Memory KiB).
type hashSlots chan struct{}

// do runs f in a slot, waiting for one while ctx allows.
func (s hashSlots) do(ctx context.Context, f func()) error {
	select {
	case s <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s }()
	f()
	return nil
}
