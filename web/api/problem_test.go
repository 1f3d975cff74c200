package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

func TestEveryCodeHasStatus(t *testing.T) {
	seen := map[domain.Code]bool{}
	for _, c := range domain.Codes {
		require.False(t, seen[c], "code %s is listed twice", c)
		seen[c] = true
		status, ok := StatusOf[c]
		require.True(t, ok, "code %s has no HTTP status", c)
		require.True(t, status >= 400 && status <= 599, "code %s maps to %d", c, status)
		require.NotEmpty(t, http.StatusText(status), "code %s maps to %d", c, status)
	}
	for c := range StatusOf {
		require.True(t, seen[c], "StatusOf maps %s, which is not in domain.Codes", c)
	}
}

// An error that is not a domain error reaches the client as a bare 500
// with a request id, never its text.
func TestInternalErrorHidesDetail(t *testing.T) {
	var logged bytes.Buffer
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/balances", nil)
	req = req.WithContext(WithRequestID(req.Context(), "req-1"))
	WriteError(rec, req, slog.New(slog.NewTextHandler(&logged, nil)), errors.New("nats: secret connection detail"))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "secret")
	assert.Contains(t, logged.String(), "secret")
	var p Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Equal(t, domain.CodeInternal, p.Code)
	assert.Equal(t, "req-1", p.RequestID)
}

// recordAnswer is what a recording route answers, for writeJSON's test
// and benchmark.
func recordAnswer(t testing.TB) RecordResponse {
	amount, err := domain.ParseAmount("1000")
	require.NoError(t, err)
	date, err := domain.ParseDate("2025-05-02")
	require.NoError(t, err)
	line := domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}
	return RecordResponse{
		Event: domain.Event{
			ID: "01970a6e-8000-7000-8000-000000000005", Type: domain.Disburse.EventType(),
			FiscalYear: 2025, Province: "01", Source: domain.SourceNational, Amount: amount,
			Voucher: "UNC-0043", Beneficiary: "Công ty TNHH Mây tre đan <Phú Vinh>",
			EffectiveDate: date, RecordedAt: time.Date(2025, time.May, 2, 3, 0, 0, 0, time.UTC),
			Actor: "officer-hanoi", IdempotencyKey: "k-1",
			PrevHash: "0f3a", Hash: "9b1c", SignedBy: "abcd", Signature: "c2ln",
		},
		Seq:  42,
		Line: LineView{Line: line, Events: 3, LastSeq: 42},
	}
}

// The API answers compact JSON: one line, the value and a newline.
func TestWriteJSONIsCompact(t *testing.T) {
	v := recordAnswer(t)
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusCreated, v)
	require.Equal(t, http.StatusCreated, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	body := rec.Body.Bytes()
	require.True(t, bytes.HasSuffix(body, []byte("}\n")), "%s", body)
	assert.Equal(t, 1, bytes.Count(body, []byte("\n")), "not one line: %s", body)
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, body))
	assert.Equal(t, string(bytes.TrimSuffix(body, []byte("\n"))), compact.String())
	want, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(body))
	assert.NotContains(t, string(body), "<Phú", "HTML is escaped as before")
}

// go test -run '^$' -bench WriteJSON -count 5 ./web/api
func BenchmarkWriteJSON(b *testing.B) {
	v := recordAnswer(b)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		writeJSON(w, http.StatusCreated, v)
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
