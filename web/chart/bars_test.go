package chart_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/chart"
	"github.com/kcledger/kcledger/web/i18n"
)

// bars returns a Bars chart of items with the real Vietnamese formatters;
// its Percent fails the test if it is ever asked to divide by zero.
func bars(t testing.TB, items ...chart.Item) chart.Bars {
	loc := i18n.New(i18n.Vietnamese)
	pct := percent(i18n.Vietnamese)
	return chart.Bars{
		ID: "plan", Title: "Kế hoạch và thực hiện", Description: "Theo tỉnh.", Items: items,
		Amount: loc.Short,
		Percent: func(num, den domain.Amount) string {
			if den.Sign() <= 0 {
				t.Errorf("Percent called with plan %s", den)
			}
			return pct(num, den)
		},
	}
}

func renderBars(t testing.TB, b chart.Bars) (*node, []byte) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, b.Render(&buf))
	return parse(t, buf.Bytes()), buf.Bytes()
}

// row is what a test reads of one rendered row.
type row struct {
	g                   *node
	label, figures      string
	planW, execW        float64
	execClass, rowClass string
}

func rows(t testing.TB, svg *node) []row {
	t.Helper()
	var out []row
	for _, g := range svg.withClass("chart-row") {
		r := row{g: g, rowClass: g.Attr["class"]}
		for _, k := range g.Kids {
			switch {
			case hasClass(k, "chart-label"):
				r.label = k.Text
			case hasClass(k, "chart-figures"):
				r.figures = k.Text
			case hasClass(k, "chart-plan"):
				r.planW = number(t, k.Attr["width"])
			case hasClass(k, "chart-exec"):
				r.execW = number(t, k.Attr["width"])
				r.execClass = k.Attr["class"]
			}
		}
		out = append(out, r)
	}
	return out
}

func hasClass(n *node, class string) bool {
	for _, c := range strings.Fields(n.Attr["class"]) {
		if c == class {
			return true
		}
	}
	return false
}

func number(t testing.TB, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "coordinate %q", s)
	return f
}

func amount(t testing.TB, s string) domain.Amount {
	t.Helper()
	a, err := domain.ParseHumanAmount(s)
	require.NoError(t, err)
	return a
}

func TestBarsWidthsAreProportional(t *testing.T) {
	for _, tc := range []struct {
		name           string
		items          []chart.Item
		wantPlan       []float64 // of the full width
		wantExecOfPlan []float64
		wantFigures    []string
	}{
		{
			name:           "a quarter",
			items:          []chart.Item{{Label: "Hà Nội", Plan: amount(t, "10 tỷ"), Executed: amount(t, "2,5 tỷ")}},
			wantPlan:       []float64{1},
			wantExecOfPlan: []float64{0.25},
			wantFigures:    []string{"2,5 tỷ / 10 tỷ · 25,00%"},
		},
		{
			name: "rows share one scale, the largest plan",
			items: []chart.Item{
				{Label: "A", Plan: amount(t, "5 tỷ"), Executed: amount(t, "1 tỷ")},
				{Label: "B", Plan: amount(t, "20 tỷ"), Executed: amount(t, "15 tỷ")},
				{Label: "C", Plan: amount(t, "3 tỷ"), Executed: amount(t, "1.234.567.891")},
			},
			wantPlan:       []float64{0.25, 1, 0.15},
			wantExecOfPlan: []float64{0.2, 0.75, 1234567891.0 / 3e9},
			wantFigures:    []string{"1 tỷ / 5 tỷ · 20,00%", "15 tỷ / 20 tỷ · 75,00%", "1,23 tỷ / 3 tỷ · 41,15%"},
		},
		{
			name:           "one đồng of a plan",
			items:          []chart.Item{{Label: "A", Plan: amount(t, "1"), Executed: amount(t, "1")}},
			wantPlan:       []float64{1},
			wantExecOfPlan: []float64{1},
			wantFigures:    []string{"1 ₫ / 1 ₫ · 100,00%"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svg, _ := renderBars(t, bars(t, tc.items...))
			full := number(t, strings.Fields(svg.Attr["viewBox"])[2])
			got := rows(t, svg)
			require.Len(t, got, len(tc.items))
			for i, r := range got {
				assert.Equal(t, tc.items[i].Label, r.label)
				assert.Equal(t, tc.wantFigures[i], r.figures)
				assert.InDelta(t, tc.wantPlan[i]*full, r.planW, 0.01, "plan width of row %d", i)
				assert.InDelta(t, tc.wantExecOfPlan[i]*r.planW, r.execW, 0.01, "executed width of row %d", i)
				assert.NotContains(t, r.execClass, "chart-over")
			}
		})
	}
}

func TestBarsEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		name        string
		items       []chart.Item
		check       func(t *testing.T, svg *node, rs []row)
		wantFigures []string
	}{
		{
			name:        "zero plan: no percentage, no division",
			items:       []chart.Item{{Label: "A", Plan: domain.ZeroAmount, Executed: domain.ZeroAmount}, {Label: "B", Plan: amount(t, "2 tỷ"), Executed: amount(t, "1 tỷ")}},
			wantFigures: []string{"0 ₫ / 0 ₫ · —", "1 tỷ / 2 tỷ · 50,00%"},
			check: func(t *testing.T, svg *node, rs []row) {
				assert.Zero(t, rs[0].planW)
				assert.Zero(t, rs[0].execW)
			},
		},
		{
			name:        "every plan zero: the scale is the largest execution",
			items:       []chart.Item{{Label: "A", Executed: amount(t, "4 tỷ")}, {Label: "B", Executed: amount(t, "1 tỷ")}},
			wantFigures: []string{"4 tỷ / 0 ₫ · —", "1 tỷ / 0 ₫ · —"},
			check: func(t *testing.T, svg *node, rs []row) {
				assert.InDelta(t, 480, rs[0].execW, 0.01)
				assert.InDelta(t, 120, rs[1].execW, 0.01)
				assert.Contains(t, rs[0].execClass, "chart-over")
			},
		},
		{
			name:        "nothing at all",
			items:       []chart.Item{{Label: "A"}},
			wantFigures: []string{"0 ₫ / 0 ₫ · —"},
			check: func(t *testing.T, svg *node, rs []row) {
				assert.Zero(t, rs[0].planW)
				assert.Zero(t, rs[0].execW)
			},
		},
		{
			name:        "over its plan, inside the axis",
			items:       []chart.Item{{Label: "A", Plan: amount(t, "10 tỷ"), Executed: amount(t, "5 tỷ")}, {Label: "B", Plan: amount(t, "4 tỷ"), Executed: amount(t, "6 tỷ")}},
			wantFigures: []string{"5 tỷ / 10 tỷ · 50,00%", "6 tỷ / 4 tỷ · 150,00%"},
			check: func(t *testing.T, svg *node, rs []row) {
				assert.Contains(t, rs[1].execClass, "chart-over")
				assert.Contains(t, rs[1].rowClass, "chart-over")
				assert.NotContains(t, rs[1].rowClass, "chart-capped")
				assert.InDelta(t, 1.5*rs[1].planW, rs[1].execW, 0.01)
				marks := rs[1].g.withClass("chart-plan-mark")
				require.Len(t, marks, 1, "a tick where the plan ends")
				assert.InDelta(t, rs[1].planW, number(t, marks[0].Attr["x1"]), 0.01)
				assert.Empty(t, rs[0].g.withClass("chart-plan-mark"))
			},
		},
		{
			name:        "over the axis: capped, with a chevron",
			items:       []chart.Item{{Label: "A", Plan: amount(t, "10 tỷ"), Executed: amount(t, "35 tỷ")}},
			wantFigures: []string{"35 tỷ / 10 tỷ · 350,00%"},
			check: func(t *testing.T, svg *node, rs []row) {
				assert.Contains(t, rs[0].rowClass, "chart-capped")
				assert.InDelta(t, rs[0].planW, rs[0].execW, 0.01, "capped at the axis, which is this plan")
				assert.Len(t, rs[0].g.withClass("chart-chevron"), 1)
			},
		},
		{
			name:        "negative: refunds above disbursements",
			items:       []chart.Item{{Label: "A", Plan: amount(t, "2 tỷ"), Executed: amount(t, "-150 triệu")}},
			wantFigures: []string{"-150 triệu / 2 tỷ · -7,50%"},
			check: func(t *testing.T, svg *node, rs []row) {
				assert.Zero(t, rs[0].execW)
				assert.InDelta(t, 480, rs[0].planW, 0.01)
				assert.Contains(t, rs[0].rowClass, "chart-neg")
				figs := rs[0].g.withClass("chart-figures")
				require.Len(t, figs, 1)
				assert.Contains(t, figs[0].Attr["class"], "chart-neg")
				assert.NotContains(t, rs[0].execClass, "chart-over")
			},
		},
		{
			name:        "a negative plan is drawn as none",
			items:       []chart.Item{{Label: "A", Plan: amount(t, "-1 tỷ"), Executed: amount(t, "1 tỷ")}},
			wantFigures: []string{"1 tỷ / -1 tỷ · —"},
			check: func(t *testing.T, svg *node, rs []row) {
				assert.Zero(t, rs[0].planW)
				assert.InDelta(t, 480, rs[0].execW, 0.01)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svg, _ := renderBars(t, bars(t, tc.items...))
			rs := rows(t, svg)
			require.Len(t, rs, len(tc.items))
			for i, r := range rs {
				assert.Equal(t, tc.wantFigures[i], r.figures)
				assert.GreaterOrEqual(t, r.planW, 0.0)
				assert.GreaterOrEqual(t, r.execW, 0.0)
				assert.LessOrEqual(t, r.execW, 480.0)
			}
			tc.check(t, svg, rs)
		})
	}
}

func TestBarsEscapeHostileLabels(t *testing.T) {
	for _, label := range []string{
		`<script>alert(1)</script>`,
		`"><img src=x onerror=alert(1)>`,
		`' onmouseover='alert(1)`,
		`]]><!-- &amp; &#0; <![CDATA[`,
		"Hà\x00Nội\x1b[31m\uFFFE",
		"\xff\xfe broken UTF-8",
		`</title><script>alert(1)</script>`,
	} {
		t.Run(label, func(t *testing.T) {
			b := bars(t, chart.Item{Label: label, Plan: amount(t, "1 tỷ"), Executed: amount(t, "1 triệu")})
			b.Title, b.Description = label, label
			svg, raw := renderBars(t, b)
			for _, banned := range []string{"script", "img", "foreignObject", "a", "use", "style"} {
				assert.Empty(t, svg.all(banned), "element %s from a label", banned)
			}
			var walk func(n *node)
			walk = func(n *node) {
				for name := range n.Attr {
					assert.False(t, strings.HasPrefix(strings.ToLower(name), "on"), "event attribute %s", name)
				}
				for _, k := range n.Kids {
					walk(k)
				}
			}
			walk(svg)
			assert.NotContains(t, string(raw), "<script")
			assert.NotContains(t, string(raw), "<img")
			rs := rows(t, svg)
			require.Len(t, rs, 1)
			assert.True(t, utf8.ValidString(rs[0].label))
			want := cleanTitle(label)
			assert.Equal(t, want, rs[0].label, "the label comes out as text")
			assert.Equal(t, want, svg.all("title")[0].Text)
			assert.True(t, strings.HasPrefix(svg.all("desc")[0].Text, want))
		})
	}
}

// cleanTitle is what the chart makes of a title: XML-illegal characters
// and invalid UTF-8 replaced.
func cleanTitle(s string) string {
	var b strings.Builder
	for _, r := range s { // one U+FFFD per invalid byte
		if r < 0x20 || r == 0xFFFE || r == 0x7f {
			r = '\uFFFD'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestBarsLongLabels(t *testing.T) {
	long := "Đề án hỗ trợ ứng dụng máy móc thiết bị tiên tiến vào sản xuất gốm sứ mỹ nghệ tại làng nghề Bát Tràng, huyện Gia Lâm"
	svg, _ := renderBars(t, bars(t,
		chart.Item{Label: long, Plan: amount(t, "1 tỷ"), Executed: amount(t, "1 triệu")},
		chart.Item{Label: "Hà Nội", Plan: amount(t, "1 tỷ"), Executed: amount(t, "1 triệu")},
	))
	rs := rows(t, svg)
	require.Len(t, rs, 2)
	assert.True(t, strings.HasSuffix(rs[0].label, "…"), "truncated: %q", rs[0].label)
	assert.True(t, strings.HasPrefix(long, strings.TrimSuffix(rs[0].label, "…")))
	assert.Less(t, utf8.RuneCountInString(rs[0].label), utf8.RuneCountInString(long))
	titles := rs[0].g.all("title")
	require.Len(t, titles, 1, "the full name in a <title>")
	assert.Equal(t, long, titles[0].Text)
	assert.Equal(t, "Hà Nội", rs[1].label)
	assert.Empty(t, rs[1].g.all("title"), "a name that fits needs no tooltip")

	// A label of a megabyte is bounded everywhere.
	huge := strings.Repeat("Ninh Bình ", 100_000)
	_, raw := renderBars(t, bars(t, chart.Item{Label: huge, Plan: amount(t, "1 tỷ")}))
	assert.Less(t, len(raw), 10_000)
}

func TestBarsManyRows(t *testing.T) {
	for _, n := range []int{1, 34, 63} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			items := make([]chart.Item, n)
			for i := range items {
				items[i] = chart.Item{Label: fmt.Sprintf("Tỉnh %d", i+1), Plan: domain.AmountFromInt64(int64(i+1) * 100_000_000), Executed: domain.AmountFromInt64(int64(i+1) * 40_000_000)}
			}
			svg, _ := renderBars(t, bars(t, items...))
			rs := rows(t, svg)
			require.Len(t, rs, n)
			vb := strings.Fields(svg.Attr["viewBox"])
			require.Len(t, vb, 4)
			height := number(t, vb[3])
			assert.Equal(t, "100%", svg.Attr["width"])
			// Rows keep their height: the chart grows instead of squeezing.
			var prev float64 = -1
			for i, r := range rs {
				assert.Equal(t, items[i].Label, r.label, "in the order given")
				var y float64
				for _, k := range r.g.Kids {
					if hasClass(k, "chart-plan") {
						y = number(t, k.Attr["y"])
					}
				}
				if prev >= 0 {
					assert.GreaterOrEqual(t, y-prev, 40.0, "row %d", i)
				}
				prev = y
				assert.InDelta(t, 0.4*r.planW, r.execW, 0.01)
			}
			assert.Greater(t, height, prev)
			assert.GreaterOrEqual(t, height, 40.0*float64(n))
		})
	}
}

func TestBarsFiguresInEnglish(t *testing.T) {
	loc := i18n.New(i18n.English)
	b := chart.Bars{ID: "en", Title: "Plan", Items: []chart.Item{{Label: "Hà Nội", Plan: amount(t, "10 tỷ"), Executed: amount(t, "2,5 tỷ")}}, Amount: loc.Short, Percent: percent(i18n.English)}
	svg, _ := renderBars(t, b)
	rs := rows(t, svg)
	require.Len(t, rs, 1)
	assert.Equal(t, "2.5 billion đồng / 10 billion đồng · 25.00%", rs[0].figures)
	desc := svg.all("desc")
	require.Len(t, desc, 1)
	assert.Contains(t, desc[0].Text, "Hà Nội: 2.5 billion đồng / 10 billion đồng · 25.00%")
}

func TestBarsRefusals(t *testing.T) {
	ok := bars(t, chart.Item{Label: "A"})
	for _, tc := range []struct {
		name string
		edit func(b *chart.Bars)
		want string
	}{
		{"empty id", func(b *chart.Bars) { b.ID = "" }, "id prefix"},
		{"id with a space", func(b *chart.Bars) { b.ID = "a b" }, "id prefix"},
		{"id with a quote", func(b *chart.Bars) { b.ID = `a"onload="x` }, "id prefix"},
		{"id from a digit", func(b *chart.Bars) { b.ID = "1a" }, "id prefix"},
		{"no title", func(b *chart.Bars) { b.Title = " \n" }, "title"},
		{"no amount formatter", func(b *chart.Bars) { b.Amount = nil }, "formatter"},
		{"no percent formatter", func(b *chart.Bars) { b.Percent = nil }, "formatter"},
		{"too many items", func(b *chart.Bars) { b.Items = make([]chart.Item, chart.MaxItems+1) }, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ok
			tc.edit(&b)
			var buf bytes.Buffer
			err := b.Render(&buf)
			require.ErrorContains(t, err, tc.want)
			assert.Zero(t, buf.Len(), "nothing written")
			_, err = b.HTML()
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestBarsEmpty(t *testing.T) {
	svg, _ := renderBars(t, bars(t))
	assert.Empty(t, rows(t, svg))
	assert.Len(t, svg.all("title"), 1)
}
