package apitest

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// BudgetYearSetup records the budget-year setup, at the test clock
// (1 June 2026):
//   - 2025/02/national (Hà Giang, merged into 08 Tuyên Quang on 1 July
//     2025): 700 000 000 on the line and 300 000 000 to project DA-1,
//     100 000 000 disbursed in May: 900 000 000 available, 300 000 000 of
//     them DA-1's;
//   - 2025/01/national (Hà Nội, not merged): 1 000 000 000 allocated,
//     all available;
//   - 2025/01/local: 100 000 000 allocated, 40 000 000 disbursed, the
//     other 60 000 000 lapsed on 1 February 2026: the line is closed.
func BudgetYearSetup(t *testing.T, ta *Client) {
	t.Helper()
	line := func(prov, src string, kv ...any) map[string]any {
		b := map[string]any{"fiscal_year": 2025, "province": prov, "source": src}
		for i := 0; i < len(kv); i += 2 {
			b[kv[i].(string)] = kv[i+1]
		}
		return b
	}
	for _, m := range []struct {
		path string
		body map[string]any
	}{
		{PathAllocations, line("02", "national", "amount", "700000000", "decision", "10/QĐ-UBND", "effective_date", "2025-03-01")},
		{PathAllocations, line("02", "national", "amount", "300000000", "project", "DA-1", "decision", "11/QĐ-UBND", "effective_date", "2025-03-01")},
		{PathDisbursements, line("02", "national", "amount", "100000000", "voucher", "UNC-1", "beneficiary", "HTX Mây tre Hà Giang", "effective_date", "2025-05-01")},
		{PathAllocations, line("01", "national", "amount", "1000000000", "decision", "12/QĐ-UBND", "effective_date", "2025-03-01")},
		{PathAllocations, line("01", "local", "amount", "100000000", "decision", "13/QĐ-UBND", "effective_date", "2025-03-01")},
		{PathDisbursements, line("01", "local", "amount", "40000000", "voucher", "UNC-2", "beneficiary", "HTX Gốm Bát Tràng", "effective_date", "2025-05-01")},
		{PathLapses, line("01", "local", "amount", "60000000", "decision", "14/QĐ-UBND", "effective_date", "2026-02-01")},
	} {
		r := ta.Post(t, m.path, uuid.NewString(), MustJSON(t, m.body))
		require.Equal(t, http.StatusCreated, r.Status, "%s: %s", m.path, r.Body)
	}
}
