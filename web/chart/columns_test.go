package chart_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/chart"
	"github.com/kcledger/kcledger/web/i18n"
)

var monthsVI = [12]string{"T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12"}

func columns(monthly [12]domain.Amount) chart.Columns {
	return chart.Columns{
		ID: "months", Title: "Thực hiện theo tháng", Description: "Năm 2024.",
		Months: monthsVI, Executed: monthly, Amount: i18n.New(i18n.Vietnamese).Short,
		PlanLabel: "Kế hoạch", CumulativeLabel: "Lũy kế",
	}
}

// col is one rendered month.
type col struct{ y, height float64 }

func renderColumns(t testing.TB, c chart.Columns) (svg *node, cols []col, zero float64) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, c.Render(&buf))
	svg = parse(t, buf.Bytes())
	for _, r := range svg.withClass("chart-exec") {
		require.Equal(t, "rect", r.Name)
		cols = append(cols, col{y: number(t, r.Attr["y"]), height: number(t, r.Attr["height"])})
		assert.GreaterOrEqual(t, number(t, r.Attr["height"]), 0.0)
	}
	require.Len(t, cols, 12)
	zs := svg.withClass("chart-zero")
	require.Len(t, zs, 1)
	return svg, cols, number(t, zs[0].Attr["y1"])
}

func monthly(t testing.TB, figures ...string) [12]domain.Amount {
	var m [12]domain.Amount
	for i, f := range figures {
		m[i] = amount(t, f)
	}
	return m
}

func TestColumns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     chart.Columns
		check func(t *testing.T, svg *node, cols []col, zero float64)
	}{
		{
			name: "heights are proportional",
			c:    columns(monthly(t, "1 tỷ", "2 tỷ", "0", "4 tỷ", "2,5 tỷ")),
			check: func(t *testing.T, svg *node, cols []col, zero float64) {
				for i, want := range []float64{1, 2, 0, 4, 2.5} {
					assert.InDelta(t, want*cols[0].height, cols[i].height, 0.01, "month %d", i+1)
					assert.InDelta(t, zero, cols[i].y+cols[i].height, 0.01, "month %d stands on zero", i+1)
				}
				assert.Greater(t, cols[0].height, 0.0)
				assert.Empty(t, svg.withClass("chart-cum"))
				assert.Empty(t, svg.withClass("chart-plan-line"))
			},
		},
		{
			name: "all zeros",
			c:    columns([12]domain.Amount{}),
			check: func(t *testing.T, svg *node, cols []col, zero float64) {
				for _, c := range cols {
					assert.Zero(t, c.height)
				}
				ticks := svg.withClass("chart-tick")
				require.Len(t, ticks, 1)
				assert.Equal(t, "0 ₫", ticks[0].Text)
			},
		},
		{
			name: "negative months hang below zero",
			c:    columns(monthly(t, "2 tỷ", "-1 tỷ", "0", "1 tỷ")),
			check: func(t *testing.T, svg *node, cols []col, zero float64) {
				assert.InDelta(t, zero, cols[1].y, 0.01, "a refund month starts at zero")
				assert.InDelta(t, cols[3].height, cols[1].height, 0.01)
				assert.InDelta(t, zero, cols[0].y+cols[0].height, 0.01)
				neg := svg.withClass("chart-neg")
				require.Len(t, neg, 1)
				assert.Equal(t, "T2: -1 tỷ", neg[0].all("title")[0].Text)
			},
		},
		{
			name: "a single huge month keeps the others in proportion",
			c:    columns(monthly(t, "1 triệu", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "900 tỷ")),
			check: func(t *testing.T, svg *node, cols []col, zero float64) {
				assert.InDelta(t, cols[11].height/900_000, cols[0].height, 0.01)
				assert.Greater(t, cols[11].height, 150.0)
				vb := strings.Fields(svg.Attr["viewBox"])
				assert.GreaterOrEqual(t, cols[11].y, 0.0)
				assert.LessOrEqual(t, cols[11].y+cols[11].height, number(t, vb[3]))
			},
		},
		{
			name: "the running total and the plan",
			c: func() chart.Columns {
				c := columns(monthly(t, "1 tỷ", "2 tỷ", "-0,5 tỷ", "3 tỷ"))
				c.Cumulative, c.Plan = true, amount(t, "10 tỷ")
				return c
			}(),
			check: func(t *testing.T, svg *node, cols []col, zero float64) {
				cum := svg.withClass("chart-cum")
				require.Len(t, cum, 1)
				dots := cum[0].all("circle")
				require.Len(t, dots, 12)
				plan := svg.withClass("chart-plan-line")
				require.Len(t, plan, 1)
				line := plan[0].all("line")[0]
				py := number(t, line.Attr["y1"])
				// The plan is 10× the first month, the running total
				// after April 5.5×.
				assert.InDelta(t, zero-10*cols[0].height, py, 0.01)
				assert.InDelta(t, zero-5.5*cols[0].height, number(t, dots[3].Attr["cy"]), 0.01)
				assert.InDelta(t, zero-5.5*cols[0].height, number(t, dots[11].Attr["cy"]), 0.01)
				assert.Equal(t, "Kế hoạch 10 tỷ", plan[0].all("text")[0].Text)
				desc := svg.all("desc")[0].Text
				assert.Contains(t, desc, "T3: -500 triệu")
				assert.Contains(t, desc, "Lũy kế: 5,5 tỷ")
				assert.Contains(t, desc, "Kế hoạch 10 tỷ")
			},
		},
		{
			name: "no plan line without the running total",
			c: func() chart.Columns {
				c := columns(monthly(t, "1 tỷ"))
				c.Plan = amount(t, "10 tỷ")
				return c
			}(),
			check: func(t *testing.T, svg *node, cols []col, zero float64) {
				assert.Empty(t, svg.withClass("chart-plan-line"))
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svg, cols, zero := renderColumns(t, tc.c)
			months := svg.withClass("chart-month")
			require.Len(t, months, 12)
			for i, m := range months {
				assert.Equal(t, monthsVI[i], m.Text)
			}
			// Gridlines are round figures, from the bottom up.
			ticks := svg.withClass("chart-tick")
			require.NotEmpty(t, ticks)
			for i := 1; i < len(ticks); i++ {
				assert.Less(t, number(t, ticks[i].Attr["y"]), number(t, ticks[i-1].Attr["y"]))
			}
			tc.check(t, svg, cols, zero)
		})
	}
}

func TestColumnsGridlinesAreRound(t *testing.T) {
	svg, _, _ := renderColumns(t, columns(monthly(t, "3,7 tỷ", "-1,2 tỷ", "8,3 tỷ")))
	var got []string
	for _, tk := range svg.withClass("chart-tick") {
		got = append(got, tk.Text)
	}
	assert.Equal(t, []string{"-5 tỷ", "0 ₫", "5 tỷ", "10 tỷ"}, got)
}

func TestColumnsRefusals(t *testing.T) {
	huge, err := domain.ParseTotal("1" + strings.Repeat("0", 27))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		edit func(c *chart.Columns)
		want string
	}{
		{"bad id", func(c *chart.Columns) { c.ID = "x y" }, "id prefix"},
		{"no title", func(c *chart.Columns) { c.Title = "" }, "title"},
		{"no formatter", func(c *chart.Columns) { c.Amount = nil }, "formatter"},
		{"a month beyond any ledger", func(c *chart.Columns) { c.Executed[5] = huge }, "month 6"},
		{"a plan beyond any ledger", func(c *chart.Columns) { c.Plan = huge.Neg() }, "plan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := columns([12]domain.Amount{})
			tc.edit(&c)
			var buf bytes.Buffer
			require.ErrorContains(t, c.Render(&buf), tc.want)
			assert.Zero(t, buf.Len())
			_, err := c.HTML()
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestColumnsEscape(t *testing.T) {
	c := columns(monthly(t, "1 tỷ"))
	c.Months[0] = `<script>`
	c.Title, c.Description, c.PlanLabel = `"><img onerror=alert(1)>`, `</desc><script>alert(1)</script>`, `<b>`
	c.Cumulative, c.Plan = true, amount(t, "2 tỷ")
	svg, _, _ := renderColumns(t, c)
	assert.Empty(t, svg.all("script"))
	assert.Empty(t, svg.all("img"))
	assert.Empty(t, svg.all("b"))
	assert.Equal(t, `"><img onerror=alert(1)>`, svg.all("title")[0].Text)
	assert.Equal(t, "<script>", svg.withClass("chart-month")[0].Text)
}

// The gridlines cover every month, however small a month is beside the
// largest: the bottom line is below a refund of one đồng.
func TestColumnsGridlinesCoverTinyNegatives(t *testing.T) {
	big, err := domain.ParseTotal("9" + strings.Repeat("9", 26))
	require.NoError(t, err)
	m := monthly(t, "-1")
	m[11] = big
	c := columns(m)
	c.Cumulative, c.Plan = true, big
	svg, cols, zero := renderColumns(t, c)
	ticks := svg.withClass("chart-tick")
	require.GreaterOrEqual(t, len(ticks), 3)
	assert.True(t, strings.HasPrefix(ticks[0].Text, "-"), "the lowest gridline %q is below zero", ticks[0].Text)
	lowest := number(t, svg.withClass("chart-grid")[0].all("line")[0].Attr["y1"])
	assert.GreaterOrEqual(t, lowest, cols[0].y+cols[0].height)
	assert.GreaterOrEqual(t, lowest, zero)
}
