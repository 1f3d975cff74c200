package main

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// An item the rules refuse is reported with its error, and the others are
// recorded: here a transfer of part of 06's money was recorded earlier
// under the key the succession derives, so the succession's own transfer
// of what is left is a different movement under a used key.
func TestYearEndReportsARefusedItem(t *testing.T) {
	ta := newTestAPI(t)
	apitest.YearEndLines(t, ta.Client)
	from := domain.LineKey{FiscalYear: 2025, Province: "06", Source: domain.SourceNational}
	_, err := ta.ledger.Transfer(t.Context(), domain.Command{
		Kind: domain.Transfer, FiscalYear: 2025, Province: "06", Source: domain.SourceNational, Amount: mustAmount(t, "100000000"),
		Decision: "1234/QĐ-UBND", EffectiveDate: mustDate(t, "2025-07-01"), TransferKind: domain.TransferSuccession,
		To:             domain.LineKey{FiscalYear: 2025, Province: "19", Source: domain.SourceNational},
		IdempotencyKey: domain.YearEndKey(domain.OpSuccession, "1234/QĐ-UBND", from, ""),
		EventID:        uuid.Must(uuid.NewV7()).String(), InEventID: uuid.Must(uuid.NewV7()).String(), Actor: "admin", Now: testNow,
	})
	require.NoError(t, err)
	r, res := apitest.YearEndPost(t, ta.Client, "/v1/year-end/succession", map[string]any{"effective_date": "2025-07-01", "decision": "1234/QĐ-UBND", "source": "national"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, 1, res.Summary.Refused)
	assert.Equal(t, 2, res.Summary.Recorded)
	apitest.RequireAmount(t, "1800000000", res.Summary.Amount, "what was recorded")
	var refused []webapi.YearEndItem
	for _, it := range res.Items {
		if it.Status == "refused" {
			refused = append(refused, it)
		}
	}
	require.Len(t, refused, 1)
	assert.Equal(t, from, refused[0].Line)
	require.NotNil(t, refused[0].Error)
	assert.Equal(t, domain.CodeIdempotencyKeyReused, refused[0].Error.Code)
	assert.Equal(t, http.StatusConflict, refused[0].Error.Status)
	assert.Equal(t, "urn:kcledger:error:idempotency_key_reused", refused[0].Error.Type)
	apitest.RequireAmount(t, "600000000", apitest.LineAvailable(t, ta.ledger, from), "nothing more left 06")

	// The CLI says so, and exits 1; the local line is recorded.
	cliAgainst(t, ta)
	code, stdout, stderr := runIn("succession", "--date", "2025-07-01", "--decision", "1234/QĐ-UBND")
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stdout, "refused transfer 2025 · 06 Bắc Kạn · KCQG")
	assert.Contains(t, stdout, "idempotency_key_reused")
	assert.Contains(t, stdout, "Done: 1 recorded, 0 already recorded, 1 refused, of 2 items")
	assert.Contains(t, stderr, "refused: 1 item")
	apitest.RequireAmount(t, "0", apitest.LineAvailable(t, ta.ledger, domain.LineKey{FiscalYear: 2025, Province: "10", Source: domain.SourceLocal}))
}
