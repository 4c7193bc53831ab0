package consent

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

// Further consent kinds (see kind.go).
const (
	// KindFundsConfirmation is the OBIE funds-confirmation consent (CBPII,
	// /cbpii/funds-confirmation-consents).
	KindFundsConfirmation = "funds-confirmation"
	// KindDomesticVRP is the OBIE domestic variable-recurring-payment consent (PISP,
	// /pisp/domestic-vrp-consents).
	KindDomesticVRP = "domestic-vrp"
	// KindGeneric is the consent created for a generic FAPI client that sent no
	// intent ([Service.CreateGeneric]): its scopes and the customer's accounts.
	KindGeneric = "generic"
)

// The consent statuses (OBIE OBExternalConsentStatus1Code, plus Revoked and Expired).
const (
	StatusAwaitingAuthorisation = "AwaitingAuthorisation"
	StatusAuthorised            = "Authorised"
	StatusRejected              = "Rejected"
	StatusConsumed              = "Consumed"
	StatusRevoked               = "Revoked"
	// StatusExpired is never stored: a consent whose ExpirationDateTime has passed
	// reads as Expired (see [Consent.Status]) and behaves as revoked everywhere.
	StatusExpired = "Expired"
)

// Domain errors of the consent service. The consent APIs map them to OBIE bodies
// (api.go, one function); the authorization journey maps them to OB-03 errors.
var (
	// ErrNotFound: no consent with that id, or (for a client) one of another client:
	// the two are indistinguishable to the caller so ids cannot be probed.
	ErrNotFound = errors.New("consent: no such consent")
	// ErrWrongClient: the consent belongs to another client (journey only: the
	// authorization server knows the client and reports OB-03's "belongs to another
	// client"; the APIs answer ErrNotFound instead).
	ErrWrongClient = errors.New("consent: consent belongs to another client")
	// ErrStatus: the consent is not in a status that allows the operation. The
	// error is a *StatusError naming the status.
	ErrStatus = errors.New("consent: consent status does not allow this")
	// ErrExpired: the consent's ExpirationDateTime has passed.
	ErrExpired = errors.New("consent: consent expired")
	// ErrUnavailableStore: the consent store could not be read or written. Callers
	// must fail closed (503 / server_error).
	ErrUnavailableStore = errors.New("consent: consent store unavailable")
)

// StatusError is ErrStatus with the status found.
type StatusError struct{ Status string }

func (e *StatusError) Error() string { return fmt.Sprintf("%v: status is %s", ErrStatus, e.Status) }

// Is makes errors.Is(err, ErrStatus) true.
func (e *StatusError) Is(target error) bool { return target == ErrStatus }

// Transition is one entry of a consent's history: who moved it from which status to
// which, and when. The first entry has From "" (creation).
type Transition struct {
	From string    `json:"From,omitempty"`
	To   string    `json:"To"`
	At   time.Time `json:"At"`
	// By is the actor: "client:<id>" (the TPP), "customer:<id>", "admin",
	// "gateway" (a payment consumed the consent), or "clock" (expiry).
	By string `json:"By"`
}

// Consent is one consent resource with everything the service keeps about it.
// Exactly one of the kind-specific parts is set, by Kind. Values returned by the
// [Service] are the caller's own copy.
type Consent struct {
	ID       string
	Kind     string
	ClientID string
	// CustomerID is the bank's customer who authorised (or rejected) it; "" before.
	CustomerID string
	// StoredStatus is the status in the store; [Consent.Status] is the effective one.
	StoredStatus string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// ExpiresAt is ExpirationDateTime (account access, funds confirmation) or the
	// VRP ValidToDateTime; zero means open-ended.
	ExpiresAt time.Time
	// Accounts are the account ids the customer chose (account access; the debtor
	// account of a payment), set on authorisation.
	Accounts []string
	// Scopes are the scopes of a generic consent.
	Scopes []string

	AccountAccess     *AccountAccess
	DomesticPayment   *DomesticPayment
	FundsConfirmation *FundsConfirmation
	DomesticVRP       *DomesticVRP

	History []Transition
}

// Status is the effective status at now: StatusExpired when the consent was
// awaiting authorisation or authorised and ExpiresAt has passed, else the stored one.
func (c *Consent) Status(now time.Time) string {
	if c.expired(now) {
		return StatusExpired
	}
	return c.StoredStatus
}

func (c *Consent) expired(now time.Time) bool {
	live := c.StoredStatus == StatusAwaitingAuthorisation || c.StoredStatus == StatusAuthorised
	return live && !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt)
}

// StatusUpdatedAt is when the effective status last changed.
func (c *Consent) StatusUpdatedAt(now time.Time) time.Time {
	if c.expired(now) {
		return c.ExpiresAt
	}
	if n := len(c.History); n > 0 {
		return c.History[n-1].At
	}
	return c.UpdatedAt
}

// document is the consent's Data column.
type document struct {
	Accounts          []string           `json:"Accounts,omitempty"`
	Scopes            []string           `json:"Scopes,omitempty"`
	AccountAccess     *AccountAccess     `json:"AccountAccess,omitempty"`
	DomesticPayment   *DomesticPayment   `json:"DomesticPayment,omitempty"`
	FundsConfirmation *FundsConfirmation `json:"FundsConfirmation,omitempty"`
	DomesticVRP       *DomesticVRP       `json:"DomesticVRP,omitempty"`
	History           []Transition       `json:"History,omitempty"`
}

func (c *Consent) document() document {
	return document{Accounts: c.Accounts, Scopes: c.Scopes, AccountAccess: c.AccountAccess,
		DomesticPayment: c.DomesticPayment, FundsConfirmation: c.FundsConfirmation, DomesticVRP: c.DomesticVRP,
		History: c.History}
}

// fromStore decodes a stored consent.
func fromStore(sc store.Consent) (*Consent, error) {
	c := &Consent{ID: sc.ID, Kind: sc.Kind, ClientID: sc.ClientID, CustomerID: sc.UserID, StoredStatus: sc.Status,
		CreatedAt: sc.CreatedAt, UpdatedAt: sc.UpdatedAt, ExpiresAt: sc.ExpiresAt}
	if len(sc.Data) > 0 {
		var d document
		if err := json.Unmarshal(sc.Data, &d); err != nil {
			return nil, fmt.Errorf("%w: consent %s: stored data: %w", ErrUnavailableStore, sc.ID, err)
		}
		c.Accounts, c.Scopes, c.History = d.Accounts, d.Scopes, d.History
		c.AccountAccess, c.DomesticPayment, c.FundsConfirmation, c.DomesticVRP = d.AccountAccess, d.DomesticPayment, d.FundsConfirmation, d.DomesticVRP
	}
	return c, nil
}

// Store is what the consent service needs of the database; *store.Store implements
// it. Every status change is a compare-and-set on the stored status
// (TransitionConsent), revocation also revokes the consent's refresh tokens in the
// same transaction (InTx + Tx.RevokeConsent).
type Store interface {
	CreateConsent(ctx context.Context, c store.Consent) error
	GetConsent(ctx context.Context, id string) (store.Consent, error)
	TransitionConsent(ctx context.Context, id string, from []string, to, userID string, data json.RawMessage) (store.Consent, error)
	InTx(ctx context.Context, fn func(tx *store.Tx) error) error
	ListConsents(ctx context.Context, f store.ConsentFilter) ([]store.Consent, error)
}

// Options configures a [Service].
type Options struct {
	// Store keeps the consents. Required.
	Store Store
	// Clock is read for creation times, expiry and history. Nil means clock.Real.
	Clock clock.Clock
	// Audit receives one event per created consent and per status change. Nil
	// records nothing.
	Audit audit.Sink
	// Logger receives store failures (never request bodies). Nil discards.
	Logger *slog.Logger
	// OnChange, when set, is called after every status change this service made
	// (e.g. to drop the consent from this node's gateway cache at once).
	OnChange func(id string)
}

// Service owns the consents: creation from OBIE requests, the state machine, and
// the reads of the APIs, the journey, the gateway and the bank's admin. Safe for
// concurrent use.
type Service struct {
	st       Store
	clock    clock.Clock
	audit    audit.Sink
	log      *slog.Logger
	onChange func(string)

	mu        sync.Mutex
	listeners []func(string) // StateCaches of this node
}

// changed tells the OnChange hook and this node's caches that consent id changed.
func (s *Service) changed(id string) {
	if s.onChange != nil {
		s.onChange(id)
	}
	s.mu.Lock()
	ls := s.listeners
	s.mu.Unlock()
	for _, f := range ls {
		f(id)
	}
}

func (s *Service) listen(f func(string)) {
	s.mu.Lock()
	s.listeners = append(s.listeners[:len(s.listeners):len(s.listeners)], f)
	s.mu.Unlock()
}

// NewService checks o and returns a Service.
func NewService(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("consent: Options.Store is required")
	}
	s := &Service{st: o.Store, clock: o.Clock, audit: o.Audit, log: o.Logger, onChange: o.OnChange}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.clock.Now() }

// newID returns a fresh consent id: a prefix naming the kind and 128 random bits
// (base32, lower case), at most 40 characters (OBIE allows 128).
func newID(kind string) string {
	prefix := map[string]string{KindAccountAccess: "aac-", KindDomesticPayment: "pdc-", KindFundsConfirmation: "fcc-",
		KindDomesticVRP: "vrp-", KindGeneric: "gen-"}[kind]
	return prefix + rand.Text()
}

// Get returns the consent id. It returns ErrNotFound or ErrUnavailableStore.
func (s *Service) Get(ctx context.Context, id string) (*Consent, error) {
	sc, err := s.st.GetConsent(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrUnavailableStore, err)
	}
	return fromStore(sc)
}

// GetForClient is Get for the client clientID: another client's consent is
// ErrNotFound, and so is a consent of another kind than kind (when not empty).
func (s *Service) GetForClient(ctx context.Context, clientID, kind, id string) (*Consent, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.ClientID != clientID || kind != "" && c.Kind != kind {
		return nil, ErrNotFound
	}
	return c, nil
}

// create stores a new consent awaiting authorisation, audited.
func (s *Service) create(ctx context.Context, c *Consent) (*Consent, error) {
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	c.ID, c.StoredStatus, c.CreatedAt, c.UpdatedAt = newID(c.Kind), StatusAwaitingAuthorisation, now, now
	c.History = []Transition{{To: StatusAwaitingAuthorisation, At: now, By: "client:" + c.ClientID}}
	data, err := json.Marshal(c.document())
	if err != nil {
		return nil, fmt.Errorf("consent: encode: %w", err)
	}
	err = s.st.CreateConsent(ctx, store.Consent{ID: c.ID, Kind: c.Kind, ClientID: c.ClientID, Status: c.StoredStatus,
		Data: data, CreatedAt: now, UpdatedAt: now, ExpiresAt: c.ExpiresAt})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailableStore, err)
	}
	s.record(ctx, audit.TypeConsentCreated, c, c.History[0])
	return c, nil
}

func (s *Service) record(ctx context.Context, typ string, c *Consent, tr Transition) {
	if s.audit == nil {
		return
	}
	s.audit.Record(ctx, audit.Event{Type: typ, ClientID: c.ClientID, Subject: c.CustomerID, Data: map[string]any{
		"consent_id": c.ID, "kind": c.Kind, "from": tr.From, "to": tr.To, "by": tr.By,
	}})
}

// clone returns a deep-enough copy of c for building the next state.
func (c *Consent) clone() *Consent {
	n := *c
	n.Accounts = slices.Clone(c.Accounts)
	n.Scopes = slices.Clone(c.Scopes)
	n.History = slices.Clone(c.History)
	return &n
}
