package main

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/kcledger/kcledger/web/api/apitest"
)

// TestReportWorkbook writes the report as a workbook, reopens it with
// excelize and checks the cells: numbers stored as numbers with vi-VN
// display formats, text as text, the title and the rules on top, one
// sheet per breakdown with --by's first; then LibreOffice converts its
// first sheet to CSV, which must read as kcledger's own CSV.
func TestReportWorkbook(t *testing.T) {
	ta := newTestAPI(t)
	apitest.ReportLedger(t, ta.Client)
	cliAgainst(t, ta)
	dir := t.TempDir()
	book := filepath.Join(dir, "report.xlsx")
	args := []string{"report", "--year", "2025", "--region", "north", "--unit", "ty", "--decimals", "1", "--percent", "truncate", "--percent-decimals", "1"}
	code, _, stderr := runIn(append(args, "--format", "xlsx", "--output", book)...)
	require.Equal(t, exitOK, code, stderr)

	f, err := excelize.OpenFile(book)
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, []string{"Theo tỉnh", "Theo nguồn", "Theo nội dung", "Theo đề án"}, f.GetSheetList())
	const s = "Theo tỉnh"
	cell := func(ref string) string {
		v, err := f.GetCellValue(s, ref, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		return v
	}
	format := func(ref string) string {
		id, err := f.GetCellStyle(s, ref)
		require.NoError(t, err)
		st, err := f.GetStyle(id)
		require.NoError(t, err)
		if st.CustomNumFmt == nil {
			return ""
		}
		return *st.CustomNumFmt
	}
	typ := func(ref string) excelize.CellType {
		ct, err := f.GetCellType(s, ref)
		require.NoError(t, err)
		return ct
	}
	assert.Equal(t, "Kế hoạch và thực hiện kinh phí khuyến công năm 2025 — 15 tỉnh phía Bắc — KCQG và KCĐP — cả năm — danh mục tỉnh: 34 — đơn vị: tỷ đồng", cell("A1"))
	assert.Equal(t, "Số tiền: tỷ đồng, 1 chữ số thập phân, làm tròn; tỷ lệ: 1 chữ số thập phân, cắt bớt; tỷ lệ so với kế hoạch tính trên kế hoạch của chính dòng; tỷ trọng tính trên tổng thực hiện của phạm vi", cell("A2"))
	assert.Equal(t, "Kế hoạch", cell("C4"))
	assert.Equal(t, "Tỷ lệ so với kế hoạch", cell("F4"))
	assert.Equal(t, "01", cell("A5"))
	assert.Equal(t, excelize.CellTypeSharedString, typ("A5"), "a code is text")
	assert.Equal(t, "Hà Nội", cell("B5"))
	assert.Equal(t, "7.0", cell("C5"))
	assert.Equal(t, excelize.CellTypeUnset, typ("C5"), "a number")
	assert.Equal(t, "[$-42A]#,##0.0", format("C5"))
	assert.Equal(t, "1.7", cell("D5"))
	assert.Equal(t, "0.242", cell("F5"), "24,28…% truncated to 24,2%")
	assert.Equal(t, "[$-42A]#,##0.0%", format("F5"))
	assert.Equal(t, "1", cell("H5"))
	assert.Equal(t, "1.5", cell("I5"), "the counterpart")
	assert.Equal(t, "Quảng Ninh", cell("B6"))
	assert.Equal(t, "Cộng KCQG", cell("B7"))
	assert.Equal(t, "Tổng cộng", cell("B9"))
	assert.Equal(t, "8.0", cell("C9"))

	// What LibreOffice shows of the first sheet is what kcledger's CSV says.
	lo := lookTool(t, "libreoffice", "apt-get install libreoffice-calc-nogui; scripts/test does it")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lo, "--headless", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", dir, book)
	cmd.Env = append(os.Environ(), "HOME="+dir) // its profile, not the user's
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	converted := readCSV(t, filepath.Join(dir, "report.csv"))
	code, ours, stderr := runIn(append(args, "--format", "csv")...)
	require.Equal(t, exitOK, code, stderr)
	want, err := csv.NewReader(strings.NewReader(ours)).ReadAll()
	if err != nil { // rows of different lengths
		r := csv.NewReader(strings.NewReader(ours))
		r.FieldsPerRecord = -1
		want, err = r.ReadAll()
		require.NoError(t, err)
	}
	// LibreOffice writes the blank row 3 and pads rows to the widest.
	var got [][]string
	for i, row := range converted {
		if i == 2 {
			continue
		}
		for len(row) > 0 && row[len(row)-1] == "" {
			row = row[:len(row)-1]
		}
		got = append(got, row)
	}
	assert.Equal(t, want, got)
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	require.NoError(t, err)
	return recs
}
