// Package audit records security-relevant events — clients registered and removed,
// consents authorised, rejected and revoked, tokens issued and revoked, certificates
// rejected, forwarded certificates from untrusted sources — with a stable schema,
// separate from the request log (STYLE.md "Config, time, logs").
//
// An [Event] goes to a [Sink]: [NewLogSink] writes it as a JSON line marked
// "audit":true, [NewStoreSink] appends it to the database's audit trail in the caller's
// goroutine, [NewBatchStoreSink] queues it and appends it in batches (group commit) off
// the request path, [Multi] sends it to several. Recording never fails the request that
// caused the event and never blocks it for long: sinks report their own failures to
// their logger, and no sink drops an event without logging it (short of a crash, which
// loses what [NewBatchStoreSink] still had queued: see there).
//
// Events must never carry secrets: no tokens, codes, assertions, passwords or full
// software statements in Data. Identify things by id (client id, consent id, token
// jti, certificate thumbprint).
package audit

import (
	"context"
	"encoding/json"

	"github.com/portcullis/portcullis/internal/obs"
)

// The event types. They are part of the schema: never rename one.
const (
	TypeClientRegistered             = "client.registered"
	TypeClientRemoved                = "client.removed"
	TypeConsentAuthorised            = "consent.authorised"
	TypeConsentRejected              = "consent.rejected"
	TypeConsentRevoked               = "consent.revoked"
	TypeTokenIssued                  = "token.issued"
	TypeTokenRevoked                 = "token.revoked"
	TypeCertificateRejected          = "certificate.rejected"
	TypeForwardedCertUntrustedSource = "forwarded_cert.untrusted_source"
	// TypeClientAuthenticationFailed: a client failed to authenticate at an endpoint of the
	// authorization server. ClientID is the identifier it claimed (possibly unregistered);
	// Data has endpoint, reason, detail and remote_addr.
	TypeClientAuthenticationFailed = "client.authentication_failed"
	// TypeClientDynamicRegistration: a dynamic client registration call (RFC 7591/7592,
	// OB-DCR) that changed a client. Data has operation (register, update, delete),
	// software_id, org_id, ssa_issuer, x5t#S256 of the caller's certificate and, for
	// management calls, auth (registration_access_token or access_token).
	TypeClientDynamicRegistration = "client.dynamic_registration"
	// TypeClientRegistrationRefused: a dynamic client registration call refused. Data has
	// operation, error (the wire code), claim, reason and, when known, x5t#S256.
	TypeClientRegistrationRefused = "client.registration_refused"
	// TypeAdminRequest: a call to the admin API, allowed or refused. Data has method, path,
	// remote_addr, status and outcome; never the admin token.
	TypeAdminRequest = "admin.request"
)

// Event is one audit record.
type Event struct {
	// Type is one of the Type constants. Required.
	Type string
	// ClientID is the OAuth client concerned, if any.
	ClientID string
	// Subject is the customer (PSU) concerned, if any.
	Subject string
	// InteractionID is the x-fapi-interaction-id of the request that caused the event;
	// empty means the one of the request ctx belongs to (obs.InteractionID).
	InteractionID string
	// Data holds event-specific details (consent id, scopes, jti, thumbprint, reason).
	// It is encoded as JSON; never put secrets in it.
	Data map[string]any
}

// encodedRecorder is implemented by the sinks of this package: Record with e.Data already
// encoded as data (by [Multi], once for all its sinks), or data nil to encode it anew.
type encodedRecorder interface {
	recordEncoded(ctx context.Context, e Event, data json.RawMessage)
}

// encodeData returns e's Data as JSON: data when [Multi] encoded it, else a fresh encoding.
func encodeData(e Event, data json.RawMessage) (json.RawMessage, error) {
	if data != nil {
		return data, nil
	}
	return marshalData(e.Data)
}

// Sink records events. Record must not fail the caller and must return promptly; it
// reports its own failures (to a logger).
type Sink interface {
	Record(ctx context.Context, e Event)
}

// Discard is a Sink that drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Record(context.Context, Event) {}

// Multi returns a Sink that records every event to each of sinks in turn; nil sinks
// are skipped.
func Multi(sinks ...Sink) Sink {
	var out multi
	for _, s := range sinks {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

type multi []Sink

func (m multi) Record(ctx context.Context, e Event) {
	var data json.RawMessage
	if len(m) > 1 && len(e.Data) > 0 {
		// Encoded once for the sinks of this package; on failure each sink meets (and
		// logs) it itself.
		data, _ = marshalData(e.Data)
	}
	for _, s := range m {
		if r, ok := s.(encodedRecorder); ok && data != nil {
			r.recordEncoded(ctx, e, data)
			continue
		}
		s.Record(ctx, e)
	}
}

// withInteractionID fills e.InteractionID from ctx when it is empty.
func withInteractionID(ctx context.Context, e Event) Event {
	if e.InteractionID == "" {
		e.InteractionID = obs.InteractionID(ctx)
	}
	return e
}
