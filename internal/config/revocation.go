package config

import "time"

// MaxClockSkewLimit is the largest revocation.max_clock_skew accepted: more would let
// stale OCSP responses and CRLs pass as fresh.
const MaxClockSkewLimit = time.Hour

// MaxGoodAgeLimit is the largest revocation.max_good_age accepted: it bounds how long a
// certificate revoked at its CA can still be accepted on the strength of an earlier "good"
// answer.
const MaxGoodAgeLimit = time.Hour

// Revocation bounds certificate revocation checking (pki.md §2).
type Revocation struct {
	// OCSPTimeout bounds one OCSP request. Default 3s.
	OCSPTimeout time.Duration `koanf:"ocsp_timeout"`
	// CRLTimeout bounds one CRL download. Default 5s.
	CRLTimeout time.Duration `koanf:"crl_timeout"`
	// MaxCRLBytes is the largest CRL downloaded. Default 10 MiB.
	MaxCRLBytes int64 `koanf:"max_crl_bytes"`
	// CacheSize is the number of OCSP responses kept. Default 10000.
	CacheSize int `koanf:"cache_size"`
	// MaxClockSkew is the tolerance applied to thisUpdate/nextUpdate; zero means none.
	// Default 5m, at most [MaxClockSkewLimit].
	MaxClockSkew time.Duration `koanf:"max_clock_skew"`
	// MaxGoodAge is how long a cached "good" OCSP answer (or downloaded CRL) is used
	// before the certificate is checked again, however far away the answer's nextUpdate
	// is; the validated-chain cache never outlives it either. It is the worst-case delay
	// between a revocation at the CA and its refusal here (README "Revocation"). Zero
	// means a "good" answer is never reused. Default 5m, at most [MaxGoodAgeLimit].
	MaxGoodAge time.Duration `koanf:"max_good_age"`
}

func defaultRevocation() Revocation {
	return Revocation{
		OCSPTimeout:  3 * time.Second,
		CRLTimeout:   5 * time.Second,
		MaxCRLBytes:  10 << 20,
		CacheSize:    10000,
		MaxClockSkew: 5 * time.Minute,
		MaxGoodAge:   5 * time.Minute,
	}
}

func (r Revocation) validate() []error {
	var errs []error
	if r.OCSPTimeout <= 0 {
		errs = append(errs, fieldErr("revocation.ocsp_timeout", "must be positive"))
	}
	if r.CRLTimeout <= 0 {
		errs = append(errs, fieldErr("revocation.crl_timeout", "must be positive"))
	}
	if r.MaxCRLBytes <= 0 {
		errs = append(errs, fieldErr("revocation.max_crl_bytes", "must be a positive number of bytes"))
	}
	if r.CacheSize <= 0 {
		errs = append(errs, fieldErr("revocation.cache_size", "must be positive"))
	}
	if r.MaxClockSkew < 0 || r.MaxClockSkew > MaxClockSkewLimit {
		errs = append(errs, fieldErr("revocation.max_clock_skew", "must be between 0s and %s", MaxClockSkewLimit))
	}
	if r.MaxGoodAge < 0 || r.MaxGoodAge > MaxGoodAgeLimit {
		errs = append(errs, fieldErr("revocation.max_good_age", "must be between 0s and %s", MaxGoodAgeLimit))
	}
	return errs
}
