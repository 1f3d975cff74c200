package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// TestCLIReadsTotalsAtTheBound decodes answers as the CLI does (recording,
// balances) with a line at domain.MaxLineTotal and aggregates of every line
// the ledger can hold at the bound (23 digits), and prints them.
func TestCLIReadsTotalsAtTheBound(t *testing.T) {
	full := domain.Balance{Allocated: domain.MaxLineTotal, Disbursed: domain.MaxLineTotal, Refunded: domain.MaxLineTotal.Sub(domain.AmountFromInt64(1))}
	key := domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}

	rec := webapi.RecordResponse{
		Event: domain.Event{ID: "0190f3c4-0000-7000-8000-000000000000", Type: domain.TypeRefunded, FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
			Amount: domain.AmountFromInt64(1), Voucher: "KB-1", Reason: "r", EffectiveDate: domain.Date{Year: 2025, Month: 3, Day: 1}, Actor: "a"},
		Seq:     7,
		Line:    webapi.LineView{Line: key, Balance: full, Events: 1000, LastSeq: 7},
		Project: &webapi.ProjectView{Project: "DA-01", Balance: full},
	}
	raw, err := json.Marshal(rec)
	require.NoError(t, err)
	var back webapi.RecordResponse
	require.NoError(t, json.Unmarshal(raw, &back), "the answer to a recording reads back")
	assert.True(t, back.Line.Balance.Allocated.Equal(domain.MaxLineTotal))
	assert.True(t, back.Project.Balance.Refunded.Equal(full.Refunded))
	var out bytes.Buffer
	printRecorded(&out, back)
	assert.Contains(t, out.String(), "allocated "+domain.MaxLineTotal.VND())

	const lines = (domain.MaxFiscalYear - domain.MinFiscalYear + 1) * 100 * 2
	all := domain.ZeroAmount
	for i := 0; i < lines; i++ {
		all = all.Add(domain.MaxLineTotal)
	}
	sum := domain.Balance{Allocated: all, Disbursed: all, Refunded: domain.ZeroAmount}
	report := projections.Report{
		AsOfSeq: 7,
		Lines:   []projections.LineBalance{{Line: key, Totals: projections.Totals{Balance: full, Events: 1000, LastSeq: 7}, Projects: []projections.ProjectBalance{}}},
		Years:   []projections.Year{{FiscalYear: 2025, Totals: projections.Totals{Balance: sum}}, {FiscalYear: 2026, Totals: projections.Totals{Balance: sum}}},
		Total:   projections.Totals{Balance: sum},
	}
	raw, err = json.Marshal(report)
	require.NoError(t, err)
	var got projections.Report
	require.NoError(t, json.Unmarshal(raw, &got), "the balances read back")
	require.Len(t, got.Total.Balance.Allocated.String(), 23)
	assert.True(t, got.Total.Balance.Allocated.Equal(all), "total %s, want %s", got.Total.Balance.Allocated, all)
	out.Reset()
	printReport(&out, got, false)
	assert.Contains(t, out.String(), all.VND())
}
