package store

import "context"

// MaxConsentFamilies bounds [Store.ConsentFamilies].
const MaxConsentFamilies = 1000

// ConsentFamilies returns the grant families (refresh-token family ids) issued under consent
// consentID, revoked or not, at most [MaxConsentFamilies] of them: what a consent's revocation
// puts on the access-token deny-list ([Store.RevokeFamily]) so that every access token of
// those grants is refused, on every route. It returns [ErrInvalidInput] for an empty or
// oversize consentID.
func (s *Store) ConsentFamilies(ctx context.Context, consentID string) ([]string, error) {
	if err := checkKey("refresh token consent id", consentID); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx,
		`SELECT DISTINCT family_id FROM refresh_tokens WHERE consent_id = $1 ORDER BY family_id LIMIT $2`,
		consentID, MaxConsentFamilies)
	if err != nil {
		return nil, s.dbErr("consent families", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, s.dbErr("consent families", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("consent families", err)
	}
	return out, nil
}
