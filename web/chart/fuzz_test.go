package chart_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/chart"
	"github.com/kcledger/kcledger/web/i18n"
)

// FuzzBars: whatever the names and amounts, the chart renders, is
// well-formed XML with one row per item, and no bar leaves the axis.
func FuzzBars(f *testing.F) {
	f.Add("Hà Nội", int64(10_000_000_000), int64(2_500_000_000), "Huế", int64(0), int64(-1), "")
	f.Add(`<script>alert(1)</script>`, int64(1), int64(1<<62), `"><img onerror=alert(1)>`, int64(-5), int64(7), "x")
	f.Add("\x00\xff\uFFFE]]>", int64(-1<<63), int64(1<<63-1), strings.Repeat("Đắk Lắk ", 80), int64(3), int64(3), "en")
	f.Fuzz(func(t *testing.T, label1 string, plan1, exec1 int64, label2 string, plan2, exec2 int64, lang string) {
		loc := i18n.New(i18n.Vietnamese)
		if lang == "en" {
			loc = i18n.New(i18n.English)
		}
		items := []chart.Item{
			{Label: label1, Plan: domain.AmountFromInt64(plan1), Executed: domain.AmountFromInt64(exec1)},
			{Label: label2, Plan: domain.AmountFromInt64(plan2), Executed: domain.AmountFromInt64(exec2)},
			// Beyond int64, as totals over many lines may be.
			{Label: label1 + label2, Plan: domain.AmountFromInt64(plan1).Add(domain.AmountFromInt64(plan2)).Add(domain.MaxLineTotal), Executed: domain.AmountFromInt64(exec1)},
		}
		b := chart.Bars{ID: "fuzz", Title: "Fuzz " + label1, Description: label2, Items: items, Amount: loc.Short, Percent: percent(loc.Lang())}
		var buf bytes.Buffer
		require.NoError(t, b.Render(&buf))
		svg, err := parseXML(buf.Bytes())
		require.NoError(t, err, "%s", buf.Bytes())
		rs := rows(t, svg)
		require.Len(t, rs, len(items))
		for _, r := range rs {
			require.GreaterOrEqual(t, r.execW, 0.0)
			require.LessOrEqual(t, r.execW, 480.0)
			require.GreaterOrEqual(t, r.planW, 0.0)
			require.LessOrEqual(t, r.planW, 480.0)
		}
	})
}

// FuzzColumns: any twelve months render as well-formed XML inside the
// viewBox.
func FuzzColumns(f *testing.F) {
	f.Add("T1", int64(1), int64(-1), int64(1<<62), int64(0), true)
	f.Add("<b>", int64(-1<<63), int64(1<<63-1), int64(0), int64(5), false)
	f.Fuzz(func(t *testing.T, month string, a, b, c, plan int64, cum bool) {
		cols := columns([12]domain.Amount{})
		cols.Months[0], cols.PlanLabel = month, month
		for i := range cols.Executed {
			cols.Executed[i] = domain.AmountFromInt64([]int64{a, b, c}[i%3])
		}
		cols.Plan, cols.Cumulative = domain.AmountFromInt64(plan), cum
		var buf bytes.Buffer
		require.NoError(t, cols.Render(&buf))
		svg, err := parseXML(buf.Bytes())
		require.NoError(t, err, "%s", buf.Bytes())
		for _, r := range svg.withClass("chart-exec") {
			y, h := number(t, r.Attr["y"]), number(t, r.Attr["height"])
			require.GreaterOrEqual(t, h, 0.0)
			require.GreaterOrEqual(t, y, 0.0)
			require.LessOrEqual(t, y+h, 260.0)
		}
	})
}

// BenchmarkBars63 draws the 63 provinces of the old scheme.
func BenchmarkBars63(b *testing.B) {
	loc := i18n.New(i18n.Vietnamese)
	items := make([]chart.Item, 63)
	for i := range items {
		items[i] = chart.Item{Label: "Tỉnh Bà Rịa - Vũng Tàu " + strings.Repeat("x", i%20), Plan: domain.AmountFromInt64(int64(i+1) * 1_234_567_891), Executed: domain.AmountFromInt64(int64(i+1) * 987_654_321)}
	}
	bars := chart.Bars{ID: "bench", Title: "Kế hoạch", Description: "63 tỉnh", Items: items, Amount: loc.Short, Percent: percent(i18n.Vietnamese)}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := bars.Render(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes")
}

// BenchmarkColumns draws a year with its running total and plan.
func BenchmarkColumns(b *testing.B) {
	var m [12]domain.Amount
	for i := range m {
		m[i] = domain.AmountFromInt64(int64(i+1) * 1_234_567_891)
	}
	c := columns(m)
	c.Cumulative, c.Plan = true, domain.AmountFromInt64(100_000_000_000)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := c.Render(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes")
}
