package apitest

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
)

// YearEndLines records, through the API, allocations to the 2025 lines of
// three merged provinces (02 and 06 national, 10 local), one with a
// project, and a disbursement from 02.
func YearEndLines(t *testing.T, ta *Client) {
	t.Helper()
	for i, b := range []map[string]any{
		{"fiscal_year": 2025, "province": "02", "source": "national", "amount": "2000000000", "project": "DA-01", "decision": "12/QĐ-BCT", "effective_date": "2025-03-01"},
		{"fiscal_year": 2025, "province": "02", "source": "national", "amount": "300000000", "decision": "12/QĐ-BCT", "effective_date": "2025-03-01"},
		{"fiscal_year": 2025, "province": "06", "source": "national", "amount": "700000000", "decision": "12/QĐ-BCT", "effective_date": "2025-03-01"},
		{"fiscal_year": 2025, "province": "10", "source": "local", "amount": "400000000", "decision": "9/QĐ-UBND", "effective_date": "2025-03-01"},
		{"fiscal_year": 2025, "province": "01", "source": "national", "amount": "900000000", "decision": "12/QĐ-BCT", "effective_date": "2025-03-01"},
	} {
		r := ta.Post(t, "/v1/allocations", "alloc-"+string(rune('a'+i)), MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	r := ta.Post(t, "/v1/disbursements", "disb-02", MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "02", "source": "national", "amount": "500000000",
		"project": "DA-01", "voucher": "KB-1", "beneficiary": "HTX Mây tre", "effective_date": "2025-05-10"}))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
}

// YearEndPost posts a year-end operation and reads its answer.
func YearEndPost(t *testing.T, ta *Client, path string, body map[string]any) (Response, api.YearEndResponse) {
	t.Helper()
	r := ta.Do(t, http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, MustJSON(t, body))
	var res api.YearEndResponse
	if r.Status == http.StatusOK {
		require.NoError(t, json.Unmarshal(r.Body, &res), "%s", r.Body)
	}
	return r, res
}

// LineAvailable is the ledger's own view of a line's available money.
func LineAvailable(t *testing.T, l *domain.Ledger, k domain.LineKey) domain.Amount {
	t.Helper()
	st, err := l.State(t.Context(), k)
	require.NoError(t, err)
	return st.Balance.Available()
}
