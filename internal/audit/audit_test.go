package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/store"
)

const requestIID = "6f1c2a9e-8b1d-4c3e-9f00-1234567890ab"

func requestCtx() context.Context { return obs.NewContext(context.Background(), "req-1", requestIID) }

func TestLogSink(t *testing.T) {
	tests := []struct {
		name  string
		ctx   context.Context
		event Event
		want  map[string]any
	}{
		{
			name: "interaction id from the request",
			ctx:  requestCtx(),
			event: Event{Type: TypeConsentAuthorised, ClientID: "tpp-1", Subject: "psu-7",
				Data: map[string]any{"consent_id": "c-1", "scopes": []string{"accounts"}}},
			want: map[string]any{"level": "INFO", "msg": "audit", "audit": true, "type": "consent.authorised",
				"client_id": "tpp-1", "subject": "psu-7", "interaction_id": requestIID,
				"data": map[string]any{"consent_id": "c-1", "scopes": []any{"accounts"}}},
		},
		{
			name:  "explicit interaction id wins",
			ctx:   requestCtx(),
			event: Event{Type: TypeTokenRevoked, ClientID: "tpp-2", InteractionID: "explicit"},
			want: map[string]any{"level": "INFO", "msg": "audit", "audit": true, "type": "token.revoked",
				"client_id": "tpp-2", "subject": "", "interaction_id": "explicit", "data": nil},
		},
		{
			name:  "outside a request",
			ctx:   context.Background(),
			event: Event{Type: TypeClientRemoved, ClientID: "tpp-3"},
			want: map[string]any{"level": "INFO", "msg": "audit", "audit": true, "type": "client.removed",
				"client_id": "tpp-3", "subject": "", "interaction_id": "", "data": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			// A context-aware logger must not add request attributes to the schema.
			NewLogSink(obs.NewLogger(&buf, "info")).Record(tt.ctx, tt.event)
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("not one JSON line: %v\n%s", err, buf.String())
			}
			delete(got, "time")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("audit line (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeAppender records what it is asked to append and the context it got.
type fakeAppender struct {
	got         []store.AuditEvent
	ctxErr      error
	hasDeadline bool
	err         error
}

func (f *fakeAppender) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	f.got = append(f.got, e)
	f.ctxErr = ctx.Err()
	_, f.hasDeadline = ctx.Deadline()
	return f.err
}

func TestStoreSink(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)

	t.Run("appends with clock time and request id", func(t *testing.T) {
		var logs bytes.Buffer
		a := &fakeAppender{}
		ctx, cancel := context.WithCancel(requestCtx())
		cancel() // the client went away: the event is still recorded
		NewStoreSink(a, clk, slog.New(slog.NewJSONHandler(&logs, nil))).Record(ctx, Event{
			Type: TypeCertificateRejected, ClientID: "tpp-1",
			Data: map[string]any{"reason": "revoked", "thumbprint": "abc"},
		})
		want := []store.AuditEvent{{Time: now, Type: "certificate.rejected", ClientID: "tpp-1", InteractionID: requestIID,
			Data: json.RawMessage(`{"reason":"revoked","thumbprint":"abc"}`)}}
		if diff := cmp.Diff(want, a.got); diff != "" {
			t.Errorf("appended (-want +got):\n%s", diff)
		}
		if a.ctxErr != nil || !a.hasDeadline {
			t.Errorf("append context: err %v, deadline %v; want live and bounded", a.ctxErr, a.hasDeadline)
		}
		if logs.Len() != 0 {
			t.Errorf("unexpected log output: %s", logs.String())
		}
	})

	t.Run("no data stays empty", func(t *testing.T) {
		a := &fakeAppender{}
		NewStoreSink(a, clk, slog.New(slog.DiscardHandler)).Record(context.Background(), Event{Type: TypeClientRegistered, ClientID: "c"})
		want := []store.AuditEvent{{Time: now, Type: "client.registered", ClientID: "c"}}
		if diff := cmp.Diff(want, a.got); diff != "" {
			t.Errorf("appended (-want +got):\n%s", diff)
		}
	})

	failures := []struct {
		name     string
		appender *fakeAppender
		event    Event
		op       string
		appended int
	}{
		{"store error", &fakeAppender{err: store.ErrInvalidInput}, Event{Type: TypeTokenIssued, ClientID: "c"}, "append", 1},
		{"unencodable data", &fakeAppender{}, Event{Type: TypeTokenIssued, ClientID: "c", Data: map[string]any{"f": func() {}}}, "encode data", 0},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			NewStoreSink(tt.appender, clk, slog.New(slog.NewJSONHandler(&logs, nil))).Record(requestCtx(), tt.event)
			if len(tt.appender.got) != tt.appended {
				t.Errorf("appended %d events, want %d", len(tt.appender.got), tt.appended)
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("failure not logged as one JSON line: %v\n%s", err, logs.String())
			}
			if line["level"] != "ERROR" || line["op"] != tt.op || line["type"] != tt.event.Type ||
				line["client_id"] != "c" || line["interaction_id"] != requestIID {
				t.Errorf("failure log = %v", line)
			}
		})
	}
}

// *store.Store is the production Appender.
var _ Appender = (*store.Store)(nil)

// recorder is a Sink that remembers what it recorded, tagged with its name.
type recorder struct {
	name string
	log  *[]string
}

func (r recorder) Record(_ context.Context, e Event) { *r.log = append(*r.log, r.name+":"+e.Type) }

func TestMulti(t *testing.T) {
	var got []string
	s := Multi(recorder{"a", &got}, nil, recorder{"b", &got})
	s.Record(context.Background(), Event{Type: TypeConsentRevoked})
	Discard.Record(context.Background(), Event{Type: TypeConsentRejected})
	if diff := cmp.Diff([]string{"a:consent.revoked", "b:consent.revoked"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	Multi().Record(context.Background(), Event{Type: TypeTokenIssued}) // empty: no-op
}

// TestMultiSharesEncoding: Data encoded once by Multi reaches every sink as the same JSON
// that each would have written alone, with JSON and text log handlers alike.
func TestMultiSharesEncoding(t *testing.T) {
	e := Event{Type: TypeTokenIssued, ClientID: "tpp-1",
		Data: map[string]any{"jti": "at-1", "scope": "accounts payments", "exp": 1764064800, "x5t#S256": "abc"}}
	const wantData = `{"exp":1764064800,"jti":"at-1","scope":"accounts payments","x5t#S256":"abc"}`

	var jsonLogs, textLogs bytes.Buffer
	a := &fakeAppender{}
	Multi(NewLogSink(obs.NewLogger(&jsonLogs, "info")), NewStoreSink(a, clock.NewFake(time.Unix(0, 0)), slog.New(slog.DiscardHandler))).
		Record(requestCtx(), e)
	Multi(NewLogSink(slog.New(slog.NewTextHandler(&textLogs, nil))), Discard).Record(requestCtx(), e)

	if len(a.got) != 1 || string(a.got[0].Data) != wantData {
		t.Fatalf("stored data = %v, want %s", a.got, wantData)
	}
	var line struct{ Data json.RawMessage }
	if err := json.Unmarshal(jsonLogs.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if string(line.Data) != wantData {
		t.Errorf("JSON log data = %s, want %s", line.Data, wantData)
	}
	if want := strconv.Quote(wantData); !strings.Contains(textLogs.String(), "data="+want) {
		t.Errorf("text log line %q lacks data=%s", textLogs.String(), want)
	}
}
