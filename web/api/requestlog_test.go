package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

// go test -run '^$' -bench RequestLog -count 5 ./web/api: the middleware
// around a handler that does nothing, its line written to a file as
// serve writes it to stderr.
func BenchmarkRequestLog(b *testing.B) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		b.Run(level.String(), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			require.NoError(b, err)
			defer f.Close()
			a := &Server{log: slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: level}))}
			h := a.middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if sw, ok := w.(*statusWriter); ok {
					sw.account = "officer-hanoi"
				}
				w.WriteHeader(http.StatusCreated)
			}))
			req := httptest.NewRequest(http.MethodPost, "/v1/disbursements", nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// logRequestFixture is a request as the middleware logs it, refused.
func logRequestFixture() (*http.Request, *statusWriter) {
	req := httptest.NewRequest(http.MethodPost, "/v1/disbursements", nil)
	sw := &statusWriter{status: http.StatusUnprocessableEntity, account: "officer-hanoi", code: domain.CodeInsufficientFunds, route: "POST /v1/disbursements"}
	return req, sw
}

// Each request's line says what issue 16 asks of it: its id, method,
// path, route, status, duration (under a millisecond too), account and
// refusal code.
func TestRequestLogLine(t *testing.T) {
	var out bytes.Buffer
	a := &Server{log: slog.New(slog.NewJSONHandler(&out, nil))}
	req, sw := logRequestFixture()
	a.logRequest(req, sw, "req-1", 3250*time.Microsecond)
	var line map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &line), out.String())
	delete(line, "time")
	require.Equal(t, map[string]any{"level": "INFO", "msg": "request", "request_id": "req-1", "method": "POST",
		"path": "/v1/disbursements", "route": "POST /v1/disbursements", "status": float64(422), "duration_ms": 3.25,
		"account": "officer-hanoi", "code": "insufficient_funds"}, line)

	// Neither account nor code when there is none.
	out.Reset()
	a.logRequest(req, &statusWriter{status: http.StatusOK}, "req-2", 0)
	line = nil
	require.NoError(t, json.Unmarshal(out.Bytes(), &line), out.String())
	require.NotContains(t, line, "account")
	require.NotContains(t, line, "code")
	require.Equal(t, "unmatched", line["route"], "refused before any route matched")
}

// Below the logger's level the line costs nothing: no attribute is
// built, nothing allocated.
func TestRequestLogDisabledAllocatesNothing(t *testing.T) {
	a := &Server{log: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	req, sw := logRequestFixture()
	allocs := testing.AllocsPerRun(100, func() { a.logRequest(req, sw, "req-1", time.Millisecond) })
	require.Zero(t, allocs)
}
