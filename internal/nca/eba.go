package nca

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// MaxRegisterSize bounds a register file (bytes). The EBA's full PSD2 register JSON is in
// the hundreds of megabytes; a deployment may import a filtered extract.
const MaxRegisterSize = 1 << 30

// maxFieldLen bounds each string this package keeps from a register entry.
const maxFieldLen = 512

// ErrMalformed is matched by every [ParseEBA] error: the document is not a register.
var ErrMalformed = errors.New("nca: malformed register document")

// The EBA entity types that can hold a PSD2 TPP authorisation (payment institutions,
// e-money institutions, registered AISPs, and their exempted variants). Agents (PSD_AG),
// branches (PSD_BR) and the excluded/exempt notification types provide no service of
// their own and are not read.
var ebaTPPTypes = []string{"PSD_PI", "PSD_EMI", "PSD_AISP", "PSD_EPI", "PSD_EEMI"}

// ebaServiceRole maps the EBA service codes (PSD2 Annex I points, PS_0n0) to PSD2 roles:
// point 7 payment initiation → PISP, point 8 account information → AISP, point 5 issuing
// of payment instruments → CBPII (the card-based instrument issuer of PSD2 Art. 65).
var ebaServiceRole = map[string]eidas.Role{
	"PS_070": eidas.RolePISP,
	"PS_080": eidas.RoleAISP,
	"PS_050": eidas.RoleCBPII,
}

// ebaEntity is one entity of the EBA register JSON (EBA ITS 2019/410 as published by the
// EBA's "Euclid" register download):
//
//	{"CA_OwnerID": "GB_FCA", "EntityCode": "PSD_PI!GB_FCA!123456", "EntityType": "PSD_PI",
//	 "Properties": [{"ENT_NAT_REF_COD": "123456"}, {"ENT_NAM": "Example Ltd"},
//	                {"ENT_COU_RES": "GB"}, {"ENT_AUT": ["2019-01-01", "2026-12-01"]}],
//	 "Services": [{"GB": ["PS_070", "PS_080"]}, {"FR": "PS_080"}]}
//
// ENT_AUT lists the dates on which the authorisation status changed, in order: odd
// positions are (re-)authorisations, even positions withdrawals, so an even count means
// withdrawn at the last date.
type ebaEntity struct {
	CAOwnerID  string                       `json:"CA_OwnerID"`
	EntityCode string                       `json:"EntityCode"`
	EntityType string                       `json:"EntityType"`
	Properties []map[string]json.RawMessage `json:"Properties"`
	Services   []map[string]json.RawMessage `json:"Services"`
}

// ParseEBA reads a register in the EBA PSD2 register JSON shape: an array whose elements
// are entities or arrays of entities (the published file is [[metadata…], [entities…]];
// elements that are not entities are skipped). It returns the TPP entries by [ID.Key];
// several entities under one key merge (authorised if any is, with the roles of the
// authorised ones). Errors match [ErrMalformed].
func ParseEBA(data []byte) (map[string]*Entry, error) {
	if len(data) > MaxRegisterSize {
		return nil, fmt.Errorf("%w: over %d bytes", ErrMalformed, MaxRegisterSize)
	}
	var top []json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	out := map[string]*Entry{}
	for _, el := range top {
		el = bytes.TrimSpace(el)
		var list []json.RawMessage
		switch {
		case len(el) > 0 && el[0] == '[':
			if err := json.Unmarshal(el, &list); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
		case len(el) > 0 && el[0] == '{':
			list = []json.RawMessage{el}
		default:
			continue
		}
		for _, raw := range list {
			if len(raw) == 0 || raw[0] != '{' {
				continue
			}
			var ent ebaEntity
			if err := json.Unmarshal(raw, &ent); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			e, err := ent.entry()
			if err != nil {
				return nil, err
			}
			if e == nil {
				continue
			}
			merge(out, e)
		}
	}
	return out, nil
}

// entry converts one EBA entity, or returns nil for an entity that is not a TPP.
func (ent *ebaEntity) entry() (*Entry, error) {
	if ent.EntityCode == "" || !slices.Contains(ebaTPPTypes, ent.EntityType) {
		return nil, nil
	}
	country, authority, ok := strings.Cut(ent.CAOwnerID, "_")
	if !ok {
		return nil, fmt.Errorf("%w: entity %.64q: CA_OwnerID %.64q is not COUNTRY_AUTHORITY", ErrMalformed, ent.EntityCode, ent.CAOwnerID)
	}
	props := map[string][]string{}
	for _, p := range ent.Properties {
		for k, v := range p {
			vals, err := stringOrList(v)
			if err != nil {
				return nil, fmt.Errorf("%w: entity %.64q property %.32q: %v", ErrMalformed, ent.EntityCode, k, err)
			}
			props[k] = vals
		}
	}
	number := first(props["ENT_NAT_REF_COD"])
	e := &Entry{
		ID:         ID{Country: country, Authority: authority, Number: number},
		Name:       last(props["ENT_NAM"]),
		EntityType: ent.EntityType,
	}
	if !e.ID.Valid() || len(number) > maxFieldLen || len(e.Name) > maxFieldLen || len(ent.CAOwnerID) > maxFieldLen {
		return nil, fmt.Errorf("%w: entity %.64q: no usable CA_OwnerID and ENT_NAT_REF_COD", ErrMalformed, ent.EntityCode)
	}
	dates := props["ENT_AUT"]
	for _, d := range dates {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return nil, fmt.Errorf("%w: entity %.64q: ENT_AUT date %.32q", ErrMalformed, ent.EntityCode, d)
		}
	}
	switch {
	case len(dates)%2 == 1:
		e.Authorised = true
	case len(dates) > 0:
		e.WithdrawnAt, _ = time.Parse(time.DateOnly, dates[len(dates)-1])
	}
	if ent.EntityType == "PSD_AISP" {
		e.Roles = append(e.Roles, eidas.RoleAISP)
	}
	for _, byCountry := range ent.Services {
		for _, v := range byCountry {
			codes, err := stringOrList(v)
			if err != nil {
				return nil, fmt.Errorf("%w: entity %.64q Services: %v", ErrMalformed, ent.EntityCode, err)
			}
			for _, c := range codes {
				if r, ok := ebaServiceRole[c]; ok && !slices.Contains(e.Roles, r) {
					e.Roles = append(e.Roles, r)
				}
			}
		}
	}
	return e, nil
}

func merge(out map[string]*Entry, e *Entry) {
	k := e.ID.Key()
	old, ok := out[k]
	switch {
	case !ok:
		out[k] = e
	case e.Authorised && !old.Authorised:
		out[k] = e
	case e.Authorised && old.Authorised:
		for _, r := range e.Roles {
			if !slices.Contains(old.Roles, r) {
				old.Roles = append(old.Roles, r)
			}
		}
	case !e.Authorised && !old.Authorised && e.WithdrawnAt.After(old.WithdrawnAt):
		out[k] = e
	}
}

// stringOrList decodes a property value: a string, a list of strings, or null.
func stringOrList(v json.RawMessage) ([]string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return nil, nil
	}
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var l []string
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, errors.New("not a string or a list of strings")
	}
	return l, nil
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return strings.TrimSpace(l[0])
}

func last(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return strings.TrimSpace(l[len(l)-1])
}
