package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

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
