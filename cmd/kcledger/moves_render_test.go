package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/workbook"
)

// movesLedger is the year on the domain ledger: 2 tỷ to 02 Hà
// Giang in March 2025, 500 triệu paid in May, the rest passed to 08
// Tuyên Quang on 1 July, 1 tỷ paid there, 300 triệu carried over to 2026
// in January 2026; 01 Hà Nội's 2024 line lapses.
func movesLedger(t *testing.T) []domain.Recorded {
	t.Helper()
	log := eventstore.NewMemory()
	l := domain.NewLedger(log, domain.Policy{})
	nat := domain.SourceNational
	now := time.Date(2026, time.June, 1, 3, 0, 0, 0, time.UTC)
	cmd := func(k domain.CommandKind, line domain.LineKey, project string, amount int64, date string) domain.Command {
		d, err := domain.ParseDate(date)
		require.NoError(t, err)
		c := domain.Command{Kind: k, FiscalYear: line.FiscalYear, Province: line.Province, Source: line.Source, Project: project,
			Amount: domain.AmountFromInt64(amount), EffectiveDate: d, EventID: uuid.Must(uuid.NewV7()).String(), InEventID: uuid.Must(uuid.NewV7()).String(),
			Actor: "admin", IdempotencyKey: uuid.NewString(), Now: now}
		switch k {
		case domain.Allocate:
			c.Decision = "1/QĐ-UBND"
		case domain.Disburse:
			c.Voucher, c.Beneficiary = "KB-1", "HTX"
		case domain.Transfer, domain.Lapse:
			c.Decision = "9/QĐ-UBND"
		}
		return c
	}
	record := func(c domain.Command) {
		_, err := l.Record(t.Context(), c)
		require.NoError(t, err)
	}
	transfer := func(c domain.Command, kind domain.TransferKind, to domain.LineKey) {
		c.TransferKind, c.To = kind, to
		_, err := l.Transfer(t.Context(), c)
		require.NoError(t, err)
	}
	hn24, hg, tq, tq26 := domain.LineKey{FiscalYear: 2024, Province: "01", Source: nat}, domain.LineKey{FiscalYear: 2025, Province: "02", Source: nat},
		domain.LineKey{FiscalYear: 2025, Province: "08", Source: nat}, domain.LineKey{FiscalYear: 2026, Province: "08", Source: nat}
	record(cmd(domain.Allocate, hn24, "", 700*million, "2024-02-01"))
	record(cmd(domain.Lapse, hn24, "", 700*million, "2025-02-01"))
	record(cmd(domain.Allocate, hg, "DA-01", 2000*million, "2025-03-01"))
	record(cmd(domain.Disburse, hg, "DA-01", 500*million, "2025-05-10"))
	transfer(cmd(domain.Transfer, hg, "DA-01", 1500*million, "2025-07-01"), domain.TransferSuccession, tq)
	record(cmd(domain.Disburse, tq, "DA-01", 1000*million, "2025-08-15"))
	transfer(cmd(domain.Transfer, tq, "DA-01", 300*million, "2026-01-20"), domain.TransferCarryOver, tq26)
	return log.Events()
}

const million = 1_000_000

// TestAuditShowsTransfersAndLapses: each side of a transfer names its
// kind and the other line, a lapse says so, and every row has the line's
// transfers and lapses after it.
func TestAuditShowsTransfersAndLapses(t *testing.T) {
	trail := projections.NewTrail(projections.Filter{}, "", projections.Cut{}, 0, 100)
	for _, r := range movesLedger(t) {
		require.True(t, trail.Add(r, time.Time{}))
	}
	var out bytes.Buffer
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	cells := func(i int) []string {
		out.Reset()
		printAuditEntry(tw, trail.Entries[i])
		require.NoError(t, tw.Flush())
		return strings.Split(strings.TrimSuffix(out.String(), "\n"), "  ")
	}
	row := func(i int) string {
		out.Reset()
		printAuditEntry(tw, trail.Entries[i])
		require.NoError(t, tw.Flush())
		return out.String()
	}
	assert.Len(t, strings.Split(auditHeader, "\t"), 13)
	assert.Contains(t, row(1), "lapsed (line closed: refunds only)")
	outSide, inSide := row(4), row(5)
	assert.Contains(t, outSide, "transferred_out (succession) → 2025 · 08 Tuyên Quang · KCQG")
	assert.Contains(t, inSide, "transferred_in (succession) ← 2025 · 02 Hà Giang · KCQG")
	assert.Contains(t, row(7), "transferred_out (carry_over) → 2026 · 08 Tuyên Quang · KCQG")
	assert.Contains(t, row(8), "transferred_in (carry_over) ← 2025 · 08 Tuyên Quang · KCQG")
	// The line's totals after the movement close the row: available,
	// transferred in, transferred out, lapsed.
	c := cells(4)
	assert.Equal(t, []string{"0 ₫", "0 ₫", "1.500.000.000 ₫", "0 ₫"}, c[len(c)-4:], "02 after passing on its available")
	c = cells(1)
	assert.Equal(t, []string{"0 ₫", "0 ₫", "0 ₫", "700.000.000 ₫"}, c[len(c)-4:], "01's 2024 line after its lapse")
}

// TestBalancesTableShowsTransfersAndLapses: the balances table has the
// columns when some line moved money, and marks a lapsed line.
func TestBalancesTableShowsTransfersAndLapses(t *testing.T) {
	b := projections.NewBalances()
	recs := movesLedger(t)
	for _, r := range recs {
		require.NoError(t, b.Apply(r))
	}
	var out bytes.Buffer
	printReport(&out, b.Report(projections.Filter{}), false)
	lines := strings.Split(out.String(), "\n")
	assert.Regexp(t, `Net disbursed\s+Transferred in\s+Transferred out\s+Lapsed\s+Available\s+Events`, lines[0])
	assert.Regexp(t, `2024\s+01 Hà Nội\s+KCQG \(lapsed\)\s+700.000.000 ₫\s+0 ₫\s+0 ₫\s+0 ₫\s+0 ₫\s+0 ₫\s+700.000.000 ₫\s+0 ₫\s+2`, lines[1])
	assert.Regexp(t, `2025\s+08 Tuyên Quang\s+KCQG\s+0 ₫\s+1.000.000.000 ₫\s+0 ₫\s+1.000.000.000 ₫\s+1.500.000.000 ₫\s+300.000.000 ₫\s+0 ₫\s+200.000.000 ₫\s+3`, lines[3])

	plain := projections.NewBalances()
	require.NoError(t, plain.Apply(recs[0]))
	out.Reset()
	printReport(&out, plain.Report(projections.Filter{}), false)
	assert.NotContains(t, out.String(), "Transferred in", "no columns for what never happened")
}

// TestPlanReportOutputsShowMoves: the report's CSV and workbook have the
// transfers', carry-overs' and lapses' columns, numbers in the workbook,
// with the previous year's after them.
func TestPlanReportOutputsShowMoves(t *testing.T) {
	p := projections.NewPlans(projections.Cut{})
	for _, r := range movesLedger(t) {
		require.NoError(t, p.Apply(r))
	}
	q := projections.PlanQuery{FiscalYear: 2025, ComparePrevious: true}
	require.NoError(t, q.Normalize(domain.Policy{}))
	rep, err := p.PlanExecution(q)
	require.NoError(t, err)
	v := webapi.ViewOfPlan(rep, time.Time{}, projections.LangVI)

	var out bytes.Buffer
	require.NoError(t, writePlanReport(&out, v, "csv", projections.LangVI))
	cr := csv.NewReader(strings.NewReader(out.String()))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2+1+2+2+1, "title, rules, header, 01 (2024's), 08, KCQG and KCĐP subtotals, total")
	header := rows[2]
	assert.Equal(t, []string{"Dự toán giao", "Nhận chuyển giao", "Chuyển giao", "Năm trước chuyển sang", "Chuyển sang năm sau", "Hủy dự toán", "Kế hoạch 2024"}, header[9:16])
	assert.Equal(t, []string{"08", "Tuyên Quang", "1.700", "1.500", "200", "88,24%", "100,00%", "1", "0"}, rows[4][:9], "DA-01 is one project")
	assert.Equal(t, []string{"2.000", "0", "0", "0", "300", "0"}, rows[4][9:15], "the succession is a move within Tuyên Quang")
	assert.Contains(t, rows[1][0], "kinh phí chuyển nguồn tính vào kế hoạch năm nhận")

	book := filepath.Join(t.TempDir(), "report.xlsx")
	f, err := os.Create(book)
	require.NoError(t, err)
	require.NoError(t, workbook.Write(f, []webapi.PlanReportView{v}, projections.LangVI))
	require.NoError(t, f.Close())
	x, err := excelize.OpenFile(book)
	require.NoError(t, err)
	defer x.Close()
	sheet := x.GetSheetList()[0]
	cell := func(ref string) string {
		s, err := x.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		return s
	}
	assert.Equal(t, "Dự toán giao", cell("J4"))
	assert.Equal(t, "Hủy dự toán", cell("O4"))
	assert.Equal(t, "Kế hoạch 2024", cell("P4"))
	assert.Equal(t, "700", cell("P5"), "01's previous plan, moved right")
	assert.Equal(t, "2000", cell("J6"), "allocated, a number in triệu")
	assert.Equal(t, excelize.CellTypeUnset, typeOf(t, x, sheet, "J6"), "a number")
	assert.Equal(t, "300", cell("N6"), "carried over")
	assert.Equal(t, "1700", cell("C6"))
}

func typeOf(t *testing.T, f *excelize.File, sheet, ref string) excelize.CellType {
	ct, err := f.GetCellType(sheet, ref)
	require.NoError(t, err)
	return ct
}
