package store

import (
	"context"
	"database/sql"
	"slices"
	"time"
)

// The states of a stored signing key (the rotation states of package jose).
const (
	SigningKeyNext    = "next"
	SigningKeyActive  = "active"
	SigningKeyRetired = "retired"
)

// MaxSealedKeyLen bounds a signing key's sealed private key (bytes): an RSA-4096 PKCS#8 key
// sealed and base64-encoded fits with room to spare.
const MaxSealedKeyLen = 16 << 10

// SigningKey is one of the authorization server's signing keys as shared by every node
// (package keys). The store never interprets PrivateKey: package keys seals it before it gets
// here (AES-256-GCM under a key-encryption key the database never holds, or a reference to a
// PKCS#11 token object) and KEKID names what sealed it.
type SigningKey struct {
	KeyID string // the RFC 7638 thumbprint
	Alg   string // ES256, PS256, EdDSA
	State string // SigningKeyNext, SigningKeyActive or SigningKeyRetired
	KEKID string
	// PrivateKey is the sealed private key, opaque here. Required.
	PrivateKey string
	// CreatedAt is set from the store clock when zero.
	CreatedAt time.Time
	// ActivateAt is when a next key may become active (zero: not scheduled).
	ActivateAt time.Time
	// ActivatedAt and RetiredAt are set by the store clock when the key enters the state.
	ActivatedAt, RetiredAt time.Time
	// RetireAt is when a retired key stops verifying. Required for retired keys.
	RetireAt time.Time
}

// SigningKeyChange moves the stored key KeyID from state From to state To ("" deletes it).
// RetireAt is the retirement time when To is SigningKeyRetired.
type SigningKeyChange struct {
	KeyID    string
	From, To string
	RetireAt time.Time
}

const signingKeyColumns = `kid, alg, state, kek_id, private_key, created_at, activate_at, activated_at, retired_at, retire_at`

func scanSigningKey(row rowScanner) (SigningKey, error) {
	var k SigningKey
	var created int64
	var activate, activated, retired, retire sql.NullInt64
	if err := row.Scan(&k.KeyID, &k.Alg, &k.State, &k.KEKID, &k.PrivateKey, &created, &activate, &activated, &retired, &retire); err != nil {
		return SigningKey{}, err
	}
	k.CreatedAt = fromMS(created)
	k.ActivateAt, k.ActivatedAt = fromNullMS(activate), fromNullMS(activated)
	k.RetiredAt, k.RetireAt = fromNullMS(retired), fromNullMS(retire)
	return k, nil
}

func validSigningKeyState(s string) bool {
	return s == SigningKeyNext || s == SigningKeyActive || s == SigningKeyRetired
}

func checkSigningKey(k SigningKey) error {
	for _, f := range []struct{ name, v string }{
		{"signing key kid", k.KeyID}, {"signing key alg", k.Alg}, {"signing key kek_id", k.KEKID},
	} {
		if err := checkKey(f.name, f.v); err != nil {
			return err
		}
	}
	if !validSigningKeyState(k.State) {
		return invalid("signing key state", "is not next, active or retired")
	}
	if err := checkText("signing key private_key", k.PrivateKey, MaxSealedKeyLen, true); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{
		{"signing key created_at", k.CreatedAt}, {"signing key activate_at", k.ActivateAt},
		{"signing key activated_at", k.ActivatedAt}, {"signing key retired_at", k.RetiredAt},
		{"signing key retire_at", k.RetireAt},
	} {
		if err := checkTime(f.name, f.t, false); err != nil {
			return err
		}
	}
	if k.State == SigningKeyRetired && k.RetireAt.IsZero() {
		return invalid("signing key retire_at", "is zero for a retired key")
	}
	return nil
}

func checkSigningKeyChange(c SigningKeyChange) error {
	if err := checkKey("signing key kid", c.KeyID); err != nil {
		return err
	}
	if !validSigningKeyState(c.From) {
		return invalid("signing key change from", "is not next, active or retired")
	}
	if c.To != "" && !validSigningKeyState(c.To) {
		return invalid("signing key change to", "is not next, active, retired or empty")
	}
	if c.To == SigningKeyRetired {
		if c.RetireAt.IsZero() {
			return invalid("signing key retire_at", "is zero for a retired key")
		}
		return checkTime("signing key retire_at", c.RetireAt, true)
	}
	return nil
}

// ChangeSigningKeys applies changes to stored keys and inserts create, all in one transaction:
// either every change and insert takes effect or none does. Each change is a compare-and-set:
// if the key is not stored in state From (another node changed it first, or it is gone) the
// transaction rolls back with [ErrConflict]. Keys leaving the active state are changed first,
// so a rotation (active → retired, next → active) never holds two active keys of one
// algorithm. Entering the active state sets ActivatedAt, entering the retired state RetiredAt,
// from the store clock. It returns [ErrDuplicate] if a created kid exists or a second key of
// one algorithm would be active (on any node: a unique index holds it), and
// [ErrInvalidInput] for a bad field, before any statement runs.
func (s *Store) ChangeSigningKeys(ctx context.Context, changes []SigningKeyChange, create []SigningKey) error {
	for _, c := range changes {
		if err := checkSigningKeyChange(c); err != nil {
			return err
		}
	}
	for _, k := range create {
		if err := checkSigningKey(k); err != nil {
			return err
		}
	}
	ordered := slices.Clone(changes)
	slices.SortStableFunc(ordered, func(a, b SigningKeyChange) int {
		rank := func(c SigningKeyChange) int {
			if c.From == SigningKeyActive {
				return 0
			}
			return 1
		}
		return rank(a) - rank(b)
	})
	now := s.now()
	return s.InTx(ctx, func(tx *Tx) error {
		d := tx.d
		for _, c := range ordered {
			var res sql.Result
			var err error
			switch c.To {
			case "":
				res, err = d.w.ExecContext(ctx, `DELETE FROM signing_keys WHERE kid = $1 AND state = $2`, c.KeyID, c.From)
			case SigningKeyActive:
				res, err = d.w.ExecContext(ctx,
					`UPDATE signing_keys SET state = $3, activated_at = $4, retired_at = NULL, retire_at = NULL WHERE kid = $1 AND state = $2`,
					c.KeyID, c.From, c.To, ms(now))
			case SigningKeyRetired:
				res, err = d.w.ExecContext(ctx,
					`UPDATE signing_keys SET state = $3, retired_at = $4, retire_at = $5 WHERE kid = $1 AND state = $2`,
					c.KeyID, c.From, c.To, ms(now), ms(c.RetireAt))
			default:
				res, err = d.w.ExecContext(ctx, `UPDATE signing_keys SET state = $3 WHERE kid = $1 AND state = $2`, c.KeyID, c.From, c.To)
			}
			if err != nil {
				return s.dbErr("change signing key", err)
			}
			n, err := s.rowsAffected("change signing key", res)
			if err != nil {
				return err
			}
			if n != 1 {
				return ErrConflict
			}
		}
		for _, k := range create {
			created := orNow(k.CreatedAt, now)
			activated := k.ActivatedAt
			if k.State == SigningKeyActive && activated.IsZero() {
				activated = now
			}
			retired := k.RetiredAt
			if k.State == SigningKeyRetired && retired.IsZero() {
				retired = now
			}
			if _, err := d.w.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				k.KeyID, k.Alg, k.State, k.KEKID, k.PrivateKey, ms(created),
				nullMS(k.ActivateAt), nullMS(activated), nullMS(retired), nullMS(k.RetireAt)); err != nil {
				return s.dbErr("create signing key", err)
			}
		}
		return nil
	})
}

// ListSigningKeys returns every stored signing key, oldest first (by CreatedAt, then kid).
func (s *Store) ListSigningKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, s.dbErr("list signing keys", err)
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		k, err := scanSigningKey(rows)
		if err != nil {
			return nil, s.dbErr("list signing keys", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("list signing keys", err)
	}
	return out, nil
}
