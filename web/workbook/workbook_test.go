package workbook_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/workbook"
)

// hostile is a report by project as the API answers it (decoded from its
// JSON, as the console and the CLI get it), whose project names and
// title are a formula and a script.
const hostile = `{
 "title": "=HYPERLINK(\"http://evil\",\"title\")",
 "rules": "+1+1",
 "fiscal_year": 2025, "scope": {"kind": "country"}, "source": "national", "by": "project", "scheme": "34",
 "presentation": {"unit": "trieu", "decimals": 0, "amount_rounding": "round", "percent_decimals": 2, "percent_rounding": "round", "share_of": "own"},
 "rows": [
  {"key": "01/national/=1+1", "label": "=HYPERLINK(\"http://evil\",\"x\")",
   "plan": {"dong": "5000000000", "text": "5.000"}, "executed": {"dong": "1200000000", "text": "1.200"}, "available": {"dong": "3800000000", "text": "3.800"},
   "percent_of_plan": {"numerator": "1200000000", "denominator": "5000000000", "of": "own_plan", "rounding": "round", "decimals": 2, "comparable": true, "value": "24.00", "text": "24,00%"},
   "share": {"numerator": "1200000000", "denominator": "1200000000", "of": "scope_executed", "rounding": "round", "decimals": 2, "comparable": true, "value": "100.00", "text": "100,00%"},
   "projects": 1, "counterpart": {"dong": "0", "text": "0"}},
  {"key": "01/national/DA-2", "label": "<script>alert(1)</script>",
   "plan": {"dong": "0", "text": "0"}, "executed": {"dong": "0", "text": "0"}, "available": {"dong": "0", "text": "0"},
   "percent_of_plan": {"of": "own_plan", "comparable": false, "text": "—"}, "share": {"of": "scope_executed", "comparable": false, "text": "—"},
   "counterpart": {"dong": "0", "text": "0"}}
 ],
 "total": {"key": "", "label": "",
   "plan": {"dong": "5000000000", "text": "5.000"}, "executed": {"dong": "1200000000", "text": "1.200"}, "available": {"dong": "3800000000", "text": "3.800"},
   "percent_of_plan": {"numerator": "1200000000", "denominator": "5000000000", "of": "own_plan", "rounding": "round", "decimals": 2, "comparable": true, "value": "24.00", "text": "24,00%"},
   "share": {"numerator": "1200000000", "denominator": "1200000000", "of": "scope_executed", "rounding": "round", "decimals": 2, "comparable": true, "value": "100.00", "text": "100,00%"},
   "projects": 1, "counterpart": {"dong": "0", "text": "0"}}
}`

// TestHostileTextIsText: a name that reads as a formula or a script is a
// string cell holding exactly that text, never a formula; the figures
// beside it are numbers.
func TestHostileTextIsText(t *testing.T) {
	var v api.PlanReportView
	require.NoError(t, json.Unmarshal([]byte(hostile), &v))
	var buf bytes.Buffer
	require.NoError(t, workbook.Write(&buf, []api.PlanReportView{v}, projections.LangEN))

	f, err := excelize.OpenReader(&buf)
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, []string{"By project"}, f.GetSheetList())
	const s = "By project"
	for _, c := range []struct{ ref, want string }{
		{"A1", `=HYPERLINK("http://evil","title")`},
		{"A2", "+1+1"},
		{"A5", "01/national/=1+1"},
		{"B5", `=HYPERLINK("http://evil","x")`},
		{"B6", "<script>alert(1)</script>"},
	} {
		got, err := f.GetCellValue(s, c.ref, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		assert.Equal(t, c.want, got, c.ref)
		formula, err := f.GetCellFormula(s, c.ref)
		require.NoError(t, err)
		assert.Empty(t, formula, "%s is no formula", c.ref)
		typ, err := f.GetCellType(s, c.ref)
		require.NoError(t, err)
		assert.Equal(t, excelize.CellTypeSharedString, typ, "%s is a string", c.ref)
	}
	got, err := f.GetCellValue(s, "C5", excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	assert.Equal(t, "5000", got, "the plan in triệu, a number")
	got, err = f.GetCellValue(s, "F6", excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	assert.Equal(t, "—", got, "no percentage of nothing")
	got, err = f.GetCellValue(s, "B7", excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	assert.Equal(t, "Total", got)
}
