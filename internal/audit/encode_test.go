package audit

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzMarshalData: the fast encoder writes exactly json.Marshal's bytes.
func FuzzMarshalData(f *testing.F) {
	f.Add("jti", "abc-_1", "scope", "accounts payments", int64(1799999999), true, 1.5)
	f.Add("x5t#S256", "<&>", "z", "\u2028\xff\"\\\n", int64(-1), false, 0.0)
	f.Add("a", "", "", "", int64(0), false, 1e300)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, n int64, b bool, fl float64) {
		for _, m := range []map[string]any{
			{k1: v1, k2: v2},
			{k1: v1, k2: n, "aut": "APPLICATION", "exp": int(n), "ok": b},
			{k1: fl, k2: v2},
			{k1: []string{v1}},
			{},
			nil,
		} {
			got, gerr := marshalData(m)
			want, werr := json.Marshal(m)
			if (gerr == nil) != (werr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("marshalData(%#v) = %s, %v; json.Marshal = %s, %v", m, got, gerr, want, werr)
			}
		}
	})
}

func BenchmarkMarshalData(b *testing.B) {
	m := map[string]any{
		"jti": "Zq3mX0c2VnJd7b1yLq8tRkHf9sPwYx4a", "aut": "APPLICATION", "scope": "accounts payments",
		"x5t#S256": "Wk1mQ2F0c2VuZFJhbmRvbVRodW1icHJpbnQ3Nzc3Nzc", "exp": int64(1799999999),
		"grant_type": "client_credentials",
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = marshalData(m)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(m)
		}
	})
}
