package chart_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/chart"
	"github.com/kcledger/kcledger/web/i18n"
)

var sample = flag.String("sample", "", "write a page with sample charts to this HTML file, to look at in a browser")

// TestSample renders both charts in both languages on one page, checks the
// page's SVGs, and writes the page where -sample says, so that a person can
// screenshot it.
func TestSample(t *testing.T) {
	var page bytes.Buffer
	page.WriteString(`<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>chart sample</title><link rel="stylesheet" href="sample.css"></head><body>`)
	for _, lang := range i18n.Langs {
		loc := i18n.New(lang)
		months := [12]string{"T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12"}
		if lang == i18n.English {
			months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
		}
		bars := chart.Bars{
			ID: "bars-" + string(lang), Title: "Kế hoạch và thực hiện 2024", Description: "Mỗi tỉnh: thực hiện trên kế hoạch.",
			Items: []chart.Item{
				{Label: "Hà Nội", Plan: tỷ(10), Executed: domain.AmountFromInt64(2_500_000_000)},
				{Label: "Thành phố Hồ Chí Minh", Plan: tỷ(8), Executed: tỷ(9)},
				{Label: "Bà Rịa - Vũng Tàu", Plan: tỷ(3), Executed: domain.AmountFromInt64(2_950_000_000)},
				{Label: "Đề án hỗ trợ ứng dụng máy móc thiết bị tiên tiến trong sản xuất gốm sứ mỹ nghệ", Plan: tỷ(5), Executed: tỷ(1)},
				{Label: "Lai Châu", Plan: domain.ZeroAmount, Executed: domain.ZeroAmount},
				{Label: "Cao Bằng (nộp trả)", Plan: tỷ(2), Executed: domain.AmountFromInt64(-150_000_000)},
				{Label: "Quá mức trục", Plan: tỷ(4), Executed: tỷ(14)},
				{Label: `<script>alert(1)</script>`, Plan: tỷ(1), Executed: domain.AmountFromInt64(400_000_000)},
			},
			Amount:  loc.Short,
			Percent: percent(lang),
		}
		var monthly [12]domain.Amount
		for i := range monthly {
			monthly[i] = domain.AmountFromInt64(int64(i+1) * 700_000_000)
		}
		monthly[3] = domain.AmountFromInt64(-1_200_000_000)
		monthly[11] = tỷ(14)
		cols := chart.Columns{
			ID: "cols-" + string(lang), Title: "Thực hiện theo tháng", Description: "Thực hiện từng tháng năm 2024.",
			Months: months, Executed: monthly, Cumulative: true, Plan: tỷ(60),
			PlanLabel: "Kế hoạch", CumulativeLabel: "Lũy kế", Amount: loc.Short,
		}
		if lang == i18n.English {
			bars.Title, bars.Description = "Plan and execution 2024", "Each province: executed of plan."
			cols.Title, cols.Description, cols.PlanLabel, cols.CumulativeLabel = "Execution by month", "Executed each month of 2024.", "Plan", "Running total"
		}
		page.WriteString(`<section><h2>` + string(lang) + `</h2>`)
		var one bytes.Buffer
		require.NoError(t, bars.Render(&one))
		requireWellFormed(t, one.Bytes())
		page.Write(one.Bytes())
		one.Reset()
		require.NoError(t, cols.Render(&one))
		requireWellFormed(t, one.Bytes())
		page.Write(one.Bytes())
		page.WriteString(`</section>`)
	}
	// The 63 provinces of the old scheme, with made-up figures.
	var items []chart.Item
	for i, p := range domain.Provinces(domain.Scheme63) {
		plan := domain.AmountFromInt64(int64(1+(i*7)%13) * 850_000_000)
		exec := domain.AmountFromInt64(int64(1+(i*5)%11) * 610_000_000)
		items = append(items, chart.Item{Label: p.Name, Plan: plan, Executed: exec})
	}
	loc := i18n.New(i18n.Vietnamese)
	many := chart.Bars{ID: "bars-63", Title: "63 tỉnh", Description: "Kế hoạch và thực hiện của 63 tỉnh.", Items: items, Amount: loc.Short, Percent: percent(i18n.Vietnamese)}
	h, err := many.HTML()
	require.NoError(t, err)
	requireWellFormed(t, []byte(h))
	page.WriteString(`<section><h2>63</h2>` + string(h) + `</section>`)
	page.WriteString(`</body></html>`)
	if *sample != "" {
		require.NoError(t, os.WriteFile(*sample, page.Bytes(), 0o644))
	}
}
