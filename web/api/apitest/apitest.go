// Package apitest holds what the tests of the HTTP API share, in
// web/api and in cmd/kcledger: a client that reads whole answers, the
// checks of a problem details answer and of amounts, and the request
// bodies the ledger accepts.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
)

// Response is an answer read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Client sends requests to an API under test.
type Client struct {
	URL  string
	HTTP *http.Client
	// Token is sent as the bearer token unless a request sets its own
	// Authorization header.
	Token string
}

// As is the client with another token.
func (c *Client) As(token string) *Client {
	o := *c
	o.Token = token
	return &o
}

// Do sends a request and reads its answer.
func (c *Client) Do(t *testing.T, method, path string, header http.Header, body []byte) Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.URL+path, rd)
	require.NoError(t, err)
	maps.Copy(req.Header, header)
	if _, set := header["Authorization"]; !set && c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Post sends a JSON body with an Idempotency-Key.
func (c *Client) Post(t *testing.T, path, key string, body []byte) Response {
	t.Helper()
	return c.Do(t, http.MethodPost, path, http.Header{
		"Content-Type":    {"application/json"},
		"Idempotency-Key": {key},
	}, body)
}

// Get sends a GET.
func (c *Client) Get(t *testing.T, path string) Response {
	t.Helper()
	return c.Do(t, http.MethodGet, path, nil, nil)
}

// AddAccount creates an account through the API, with the client's
// token (an admin's), and returns its token.
func (c *Client) AddAccount(t *testing.T, name string, role domain.Role, provinces, sources []string) string {
	t.Helper()
	r := c.Do(t, http.MethodPost, "/v1/users", http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + c.Token}},
		MustJSON(t, api.NewAccountRequest{Name: name, Role: string(role), Provinces: provinces, Sources: sources}))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var res api.NewAccountResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	return res.Token
}

// RequireProblem checks an RFC 9457 answer and returns it.
func RequireProblem(t *testing.T, r Response, status int, code domain.Code, field string) api.Problem {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "application/problem+json", mt)
	var p api.Problem
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&p), "body: %s", r.Body)
	assert.Equal(t, code, p.Code, "detail: %s", p.Detail)
	assert.Equal(t, field, p.Field, "detail: %s", p.Detail)
	assert.Equal(t, status, p.Status)
	assert.Equal(t, "urn:kcledger:error:"+string(code), p.Type)
	assert.Equal(t, http.StatusText(status), p.Title)
	assert.NotEmpty(t, strings.TrimSpace(p.Detail))
	assert.NotEmpty(t, p.RequestID)
	assert.Equal(t, r.Header.Get("X-Request-Id"), p.RequestID)
	return p
}

// RequireAmount compares amounts by value: decimals that are equal numbers
// need not be equal structs.
func RequireAmount(t *testing.T, want string, got domain.Amount, msgAndArgs ...any) {
	t.Helper()
	w, err := domain.ParseAmount(want)
	require.NoError(t, err)
	if !w.Equal(got) {
		t.Fatalf("want %s đồng, got %s %s", w, got, fmt.Sprint(msgAndArgs...))
	}
}

// MustJSON is v as JSON.
func MustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// Paths of the recording routes.
const (
	PathAllocations   = "/v1/allocations"
	PathAdjustments   = "/v1/adjustments"
	PathDisbursements = "/v1/disbursements"
	PathRefunds       = "/v1/refunds"
	PathTransfers     = "/v1/transfers"
	PathLapses        = "/v1/lapses"
)

// ValidBody returns a body that the ledger accepts on the line 2025/01/
// national once it holds the setup's allocation and disbursement. Every
// bad-input case changes one thing about it.
func ValidBody(path string) map[string]any {
	b := map[string]any{"fiscal_year": 2025, "province": "01", "source": "national"}
	switch path {
	case PathAllocations:
		maps.Copy(b, map[string]any{"amount": "1000000000", "decision": "123/QĐ-BCT", "effective_date": "2025-03-01", "category": "training"})
	case PathDisbursements:
		maps.Copy(b, map[string]any{"amount": "100000000", "voucher": "UNC-0002", "beneficiary": "Hợp tác xã Gốm Bát Tràng", "effective_date": "2025-05-01"})
	case PathRefunds:
		maps.Copy(b, map[string]any{"amount": "1000", "voucher": "NT-0001", "reason": "Thu hồi theo kết luận kiểm toán", "effective_date": "2025-06-01"})
	case PathAdjustments:
		maps.Copy(b, map[string]any{"delta": "-1000", "decision": "45/QĐ-BCT", "reason": "Điều chỉnh giảm kế hoạch", "effective_date": "2025-06-15"})
	default:
		panic("no valid body for " + path)
	}
	return b
}

// SameLines compares two reports line by line, by value.
func SameLines(t *testing.T, want, got projections.Report, msg string) {
	t.Helper()
	require.Len(t, got.Lines, len(want.Lines), msg)
	for i := range want.Lines {
		w, g := want.Lines[i], got.Lines[i]
		require.Equal(t, w.Line, g.Line, msg)
		require.Equal(t, w.Totals.Events, g.Totals.Events, "%s: line %s", msg, w.Line)
		for _, pair := range [][2]domain.Amount{
			{w.Totals.Balance.Allocated, g.Totals.Balance.Allocated},
			{w.Totals.Balance.Disbursed, g.Totals.Balance.Disbursed},
			{w.Totals.Balance.Refunded, g.Totals.Balance.Refunded},
		} {
			require.True(t, pair[0].Equal(pair[1]), "%s: line %s: want %s, got %s", msg, w.Line, pair[0], pair[1])
		}
		require.Len(t, g.Projects, len(w.Projects), msg)
		for j := range w.Projects {
			require.Equal(t, w.Projects[j].Project, g.Projects[j].Project)
			require.True(t, w.Projects[j].Balance.Available().Equal(g.Projects[j].Balance.Available()), "%s: project %s", msg, w.Projects[j].Project)
		}
	}
}
