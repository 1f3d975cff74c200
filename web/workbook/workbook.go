// Package workbook writes plan-against-execution reports as an Excel
// workbook, the one `kcledger report --format xlsx` and the console's
// download give: one sheet per breakdown, the title and the presentation
// rules on top, amounts and percentages stored as numbers with vi-VN
// display formats, and every text (names, codes, labels) a string cell,
// never a formula, whatever it looks like.
package workbook

import (
	"fmt"
	"io"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// Breakdowns are the sheets of a workbook, in order.
var Breakdowns = []projections.Breakdown{projections.ByProvince, projections.BySource, projections.ByCategory, projections.ByProject}

// sheetName is a breakdown's sheet.
func sheetName(b projections.Breakdown, lang string) string {
	names := map[projections.Breakdown][2]string{
		projections.ByProvince: {"Theo tỉnh", "By province"}, projections.BySource: {"Theo nguồn", "By source"},
		projections.ByCategory: {"Theo nội dung", "By content"}, projections.ByProject: {"Theo đề án", "By project"},
	}[b]
	if lang == projections.LangEN {
		return names[1]
	}
	return names[0]
}

// viLocale is the vi-VN locale tag of Excel number formats: the dot
// groups thousands, the comma is the decimal mark.
const viLocale = "[$-42A]"

func numberFormat(decimals int, percent bool) string {
	f := "#,##0"
	if decimals > 0 {
		f += "." + strings.Repeat("0", decimals)
	}
	if percent {
		f += "%"
	}
	return viLocale + f
}

// Write writes one sheet per report (per breakdown), the first one
// active: the title and the presentation rules on top, then the table,
// amounts and percentages stored as numbers (as rendered, by the
// report's rules) with vi-VN display formats. The views' Title and Rules
// are written as they are: localize them before (PlanReport.Title(lang)).
func Write(w io.Writer, views []webapi.PlanReportView, lang string) error {
	f := excelize.NewFile()
	defer f.Close()
	for i, v := range views {
		name := sheetName(v.By, lang)
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(name); err != nil {
			return err
		}
		if err := writePlanSheet(f, name, v, lang); err != nil {
			return fmt.Errorf("workbook: sheet %s: %w", name, err)
		}
	}
	f.SetActiveSheet(0)
	_, err := f.WriteTo(w)
	return err
}

func writePlanSheet(f *excelize.File, sheet string, v webapi.PlanReportView, lang string) error {
	p := v.Presentation
	amountStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr(numberFormat(p.Decimals, false))})
	if err != nil {
		return err
	}
	percentStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr(numberFormat(p.PercentDecimals, true))})
	if err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	if err := f.SetCellStr(sheet, "A1", v.Title); err != nil {
		return err
	}
	if err := f.SetCellStr(sheet, "A2", v.Rules); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "A1", "A1", bold); err != nil {
		return err
	}
	table := v.PlanReport.Table(lang)
	const first = 4 // the header's row
	for i, h := range table[0] {
		cell, _ := excelize.CoordinatesToCellName(i+1, first)
		if err := f.SetCellStr(sheet, cell, h); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, cell, cell, bold); err != nil {
			return err
		}
	}
	moves := v.PlanReport.Moves()
	rows := append([]projections.PlanRow{}, v.Rows...)
	if v.Source == "both" && v.By != projections.BySource {
		rows = append(rows, v.Sources...)
	}
	rows = append(rows, v.Total)
	for r, row := range rows {
		labels := table[r+1]
		y := first + 1 + r
		put := func(col int, value string, style int) error {
			cell, _ := excelize.CoordinatesToCellName(col, y)
			if style < 0 {
				return f.SetCellStr(sheet, cell, value)
			}
			if err := f.SetCellDefault(sheet, cell, value); err != nil {
				return err
			}
			if style > 0 {
				return f.SetCellStyle(sheet, cell, cell, style)
			}
			return nil
		}
		amount := func(col int, m projections.Money) error {
			a, err := domain.ParseTotal(m.Dong)
			if err != nil {
				return err
			}
			return put(col, p.Machine(a), amountStyle)
		}
		percent := func(col int, pc projections.Percent) error {
			if !pc.Comparable {
				return put(col, pc.Text, -1)
			}
			d, err := decimal.NewFromString(pc.Value)
			if err != nil {
				return err
			}
			return put(col, d.Shift(-2).String(), percentStyle)
		}
		cells := []func() error{
			func() error { return put(1, labels[0], -1) },
			func() error { return put(2, labels[1], -1) },
			func() error { return amount(3, row.Plan) },
			func() error { return amount(4, row.Executed) },
			func() error { return amount(5, row.Available) },
			func() error { return percent(6, row.PercentOfPlan) },
			func() error { return percent(7, row.Share) },
			func() error { return put(8, fmt.Sprint(row.Projects), 0) },
			func() error { return amount(9, row.Counterpart) },
		}
		if moves {
			for _, m := range row.MoveFigures() {
				col := len(cells) + 1
				cells = append(cells, func() error { return amount(col, m) })
			}
		}
		if prev := row.Previous; prev != nil {
			col := len(cells) + 1
			cells = append(cells,
				func() error { return amount(col, prev.Plan) },
				func() error { return amount(col+1, prev.Executed) },
				func() error { return percent(col+2, prev.PlanGrowth) },
				func() error { return percent(col+3, prev.ExecutedGrowth) })
		}
		if row.Seqs != nil {
			col := len(cells) + 1
			cells = append(cells, func() error { return put(col, labels[col-1], -1) })
		}
		for _, c := range cells {
			if err := c(); err != nil {
				return err
			}
		}
		if r >= len(v.Rows) { // subtotals and total
			a, _ := excelize.CoordinatesToCellName(1, y)
			b, _ := excelize.CoordinatesToCellName(2, y)
			if err := f.SetCellStyle(sheet, a, b, bold); err != nil {
				return err
			}
		}
	}
	// Wide enough for the headings and a billion in đồng, and printed
	// on one landscape page width, as the ministry's tables are.
	if err := f.SetColWidth(sheet, "B", "B", 30); err != nil {
		return err
	}
	if err := f.SetColWidth(sheet, "C", "I", 16); err != nil {
		return err
	}
	if err := f.SetColWidth(sheet, "F", "F", 24); err != nil { // Tỷ lệ so với kế hoạch
		return err
	}
	if err := f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: ptr(true)}); err != nil {
		return err
	}
	return f.SetPageLayout(sheet, &excelize.PageLayoutOptions{
		Orientation: ptr("landscape"), FitToWidth: ptr(1), FitToHeight: ptr(0),
	})
}

func ptr[T any](v T) *T { return &v }
