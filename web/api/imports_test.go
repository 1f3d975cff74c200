package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

func importMovement(t *testing.T, kind domain.CommandKind, key string, body map[string]any) api.ImportMovement {
	t.Helper()
	return api.ImportMovement{Kind: kind, IdempotencyKey: key, Body: apitest.MustJSON(t, body)}
}

func postImport(t *testing.T, c *apitest.Client, ms ...api.ImportMovement) apitest.Response {
	t.Helper()
	return c.Do(t, http.MethodPost, api.PathImports, http.Header{"Content-Type": {"application/json"}}, apitest.MustJSON(t, api.ImportRequest{Movements: ms}))
}

// TestImportBatch checks that a batch is recorded in one atomic write,
// answered as recorded when sent again, refused whole when one of its
// movements is, with the movement's place in the field, and only for
// admins.
func TestImportBatch(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	alloc := func(province, key string) api.ImportMovement {
		return importMovement(t, domain.Allocate, key, map[string]any{"fiscal_year": 2025, "province": province, "source": "national",
			"amount": "1000000", "decision": "1/QĐ-BCT", "effective_date": "2025-03-02"})
	}
	batch := []api.ImportMovement{alloc("01", "k-01"), alloc("79", "k-79")}
	r := postImport(t, ta.Client, batch...)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var res api.ImportResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	require.Len(t, res.Results, 2)
	assert.Equal(t, res.Results[0].Seq+1, res.Results[1].Seq)
	assert.False(t, res.Results[0].Replayed)
	seq := ta.StreamLastSeq(t)

	r = postImport(t, ta.Client, batch...)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.NoError(t, json.Unmarshal(r.Body, &res))
	assert.True(t, res.Results[0].Replayed && res.Results[1].Replayed)
	assert.Equal(t, seq, ta.StreamLastSeq(t), "sent again: nothing appended")

	// Several movements of one line: one write, decided in order.
	paid := importMovement(t, domain.Disburse, "k-d01", map[string]any{"fiscal_year": 2025, "province": "01", "source": "national",
		"amount": "1000000", "voucher": "KB-1", "beneficiary": "HTX", "effective_date": "2025-03-10"})
	r = postImport(t, ta.Client, alloc("01", "k-01b"), paid, alloc("79", "k-79b"))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.NoError(t, json.Unmarshal(r.Body, &res))
	require.Len(t, res.Results, 3)
	assert.Equal(t, res.Results[0].Seq+1, res.Results[1].Seq)
	assert.Equal(t, res.Results[1].Seq+1, res.Results[2].Seq)

	officer := ta.AddAccount(t, "can-bo", domain.RoleOfficer, []string{"01"}, []string{"national"})
	seq = ta.StreamLastSeq(t)
	overspent := importMovement(t, domain.Disburse, "k-d", map[string]any{"fiscal_year": 2025, "province": "79", "source": "national",
		"amount": "5000000", "voucher": "KB-1", "beneficiary": "HTX", "effective_date": "2025-03-10"})
	for _, tc := range []struct {
		name   string
		c      *apitest.Client
		ms     []api.ImportMovement
		status int
		code   domain.Code
		field  string
	}{
		{"an officer", ta.Client.As(officer), []api.ImportMovement{alloc("01", "k-o")}, http.StatusForbidden, domain.CodeForbidden, ""},
		{"overspent", ta.Client, []api.ImportMovement{alloc("02", "k-02"), overspent}, http.StatusUnprocessableEntity, domain.CodeInsufficientFunds, "movements[1].amount"},
		{"overspent on one line, given the one before", ta.Client, []api.ImportMovement{alloc("04", "k-04"), importMovement(t, domain.Disburse, "k-d3", map[string]any{"fiscal_year": 2025, "province": "04", "source": "national",
			"amount": "1000001", "voucher": "KB-1", "beneficiary": "HTX", "effective_date": "2025-03-10"})}, http.StatusUnprocessableEntity, domain.CodeInsufficientFunds, "movements[1].amount"},
		{"a bad amount", ta.Client, []api.ImportMovement{importMovement(t, domain.Allocate, "k-x", map[string]any{"fiscal_year": 2025, "province": "02", "source": "national",
			"amount": "1.5e6", "decision": "1/QĐ-BCT", "effective_date": "2025-03-02"})}, http.StatusBadRequest, domain.CodeInvalidAmount, "movements[0].amount"},
		{"a transfer", ta.Client, []api.ImportMovement{importMovement(t, domain.Transfer, "k-t", map[string]any{})}, http.StatusBadRequest, domain.CodeInvalidField, "movements[0].kind"},
		{"no key", ta.Client, []api.ImportMovement{alloc("02", "")}, http.StatusBadRequest, domain.CodeInvalidIdempotencyKey, "movements[0].idempotency_key"},
		{"empty", ta.Client, nil, http.StatusBadRequest, domain.CodeInvalidField, "movements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apitest.RequireProblem(t, postImport(t, tc.c, tc.ms...), tc.status, tc.code, tc.field)
			assert.Equal(t, seq, ta.StreamLastSeq(t), "nothing appended")
		})
	}
}

// TestImportAs checks that an admin imports movements on behalf of the
// account they were by: the events name both, a retry is answered, and
// anyone else is refused, naming the field, with nothing recorded.
func TestImportAs(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	alloc := importMovement(t, domain.Allocate, "k-as", map[string]any{"fiscal_year": 2025, "province": "01", "source": "national",
		"amount": "1000000", "decision": "1/QĐ-BCT", "effective_date": "2025-03-02"})
	post := func(c *apitest.Client, req api.ImportRequest) apitest.Response {
		return c.Do(t, http.MethodPost, api.PathImports, http.Header{"Content-Type": {"application/json"}}, apitest.MustJSON(t, req))
	}
	officer := ta.AddAccount(t, "can-bo", domain.RoleOfficer, []string{"01"}, []string{"national"})
	for _, tc := range []struct {
		name   string
		c      *apitest.Client
		as     string
		status int
		code   domain.Code
		field  string
	}{
		{"an officer", ta.Client.As(officer), "so-cong-thuong-ha-noi", http.StatusForbidden, domain.CodeForbidden, "as"},
		{"the admin itself", ta.Client, "admin", http.StatusBadRequest, domain.CodeInvalidField, "as"},
		{"too long", ta.Client, strings.Repeat("a", domain.MaxActorLen+1), http.StatusBadRequest, domain.CodeInvalidField, "as"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(tc.c, api.ImportRequest{As: tc.as, Movements: []api.ImportMovement{alloc}})
			apitest.RequireProblem(t, r, tc.status, tc.code, tc.field)
			assert.Zero(t, ta.StreamLastSeq(t), "nothing appended")
		})
	}

	req := api.ImportRequest{As: "so-cong-thuong-ha-noi", Movements: []api.ImportMovement{alloc}}
	r := post(ta.Client, req)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var res api.ImportResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	require.Len(t, res.Results, 1)
	// The audit trail's entry shows both.
	r = ta.Get(t, fmt.Sprint("/v1/events/", res.Results[0].Seq))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var e projections.TrailEntry
	require.NoError(t, json.Unmarshal(r.Body, &e))
	assert.Equal(t, "so-cong-thuong-ha-noi", e.Event.Actor)
	assert.Equal(t, "admin", e.Event.ImportedBy)

	r = post(ta.Client, req)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.NoError(t, json.Unmarshal(r.Body, &res))
	assert.True(t, res.Results[0].Replayed, "sent again: answered")
	assert.Equal(t, uint64(1), ta.StreamLastSeq(t))
}

// TestImportNamesTheFirstBadMovement checks that a large batch, decoded
// in parts, is refused on its first bad movement, whichever part finds
// which, and records nothing.
func TestImportNamesTheFirstBadMovement(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	ms := make([]api.ImportMovement, 1200)
	for i := range ms {
		ms[i] = importMovement(t, domain.Allocate, fmt.Sprintf("k-%d", i), map[string]any{"fiscal_year": 2025, "province": "01", "source": "national",
			"amount": "1000", "decision": "1/QĐ-BCT", "effective_date": "2025-03-02"})
	}
	ms[1100].IdempotencyKey = ""
	ms[650].Kind = domain.Transfer
	ms[301] = importMovement(t, domain.Allocate, "k-301", map[string]any{"fiscal_year": 2025, "province": "01", "source": "national",
		"amount": "1,5", "decision": "1/QĐ-BCT", "effective_date": "2025-03-02"})
	apitest.RequireProblem(t, postImport(t, ta.Client, ms...), http.StatusBadRequest, domain.CodeInvalidAmount, "movements[301].amount")
	ms[301] = ms[0]
	apitest.RequireProblem(t, postImport(t, ta.Client, ms...), http.StatusBadRequest, domain.CodeInvalidField, "movements[650].kind")
	assert.Zero(t, ta.StreamLastSeq(t), "nothing appended")

	ms[301], ms[650], ms[1100] = importMovement(t, domain.Allocate, "k-301", map[string]any{"fiscal_year": 2025, "province": "01", "source": "national",
		"amount": "1000", "decision": "1/QĐ-BCT", "effective_date": "2025-03-02"}), ms[0], ms[0]
	ms[650].IdempotencyKey, ms[1100].IdempotencyKey = "k-650", "k-1100"
	r := postImport(t, ta.Client, ms...)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var res api.ImportResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	require.Len(t, res.Results, len(ms))
	for i := 1; i < len(res.Results); i++ {
		assert.Equal(t, res.Results[i-1].Seq+1, res.Results[i].Seq)
		assert.Less(t, res.Results[i-1].EventID, res.Results[i].EventID, "event ids grow with the rows")
	}
}
