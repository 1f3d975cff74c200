package chart

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/kcledger/kcledger/domain"
)

// Columns is a chart of execution month by month over a fiscal year:
// twelve columns of what was executed (net of refunds) in each month, a
// negative month below the zero line (class chart-neg). With Cumulative it
// also draws the running total as a line (chart-cum) and, if Plan is
// positive, the year's plan as a dashed horizontal line (chart-plan-line),
// which the running total is meant to reach; the plan is not drawn without
// the running total, since a month is not comparable with a year.
type Columns struct {
	// ID prefixes the ids of <title> and <desc>, and Title (required)
	// and Description are their texts, as for Bars.
	ID                 string
	Title, Description string
	// Months labels the columns: T1…T12, or Jan…Dec.
	Months [12]string
	// Executed is each month's net execution.
	Executed [12]domain.Amount
	// Cumulative draws the running total; Plan the plan line with it.
	Cumulative bool
	Plan       domain.Amount
	// PlanLabel names the plan line ("Kế hoạch"); it is followed by the
	// plan's figure. CumulativeLabel names the running total in <desc>.
	PlanLabel, CumulativeLabel string
	// Amount renders a figure, for instance (*i18n.Localizer).Short.
	Amount func(domain.Amount) string
}

// Layout of Columns, in user units of the viewBox.
const (
	colsWidth       = 480
	colsHeight      = 260
	colsPlotMinLeft = 40
	colsPlotMaxLeft = 160
	colsPlotRight   = 476
	colsPlotTop     = 20
	colsPlotBot     = 226
	colsFont        = 12
	colsTicks       = 4
	// maxColumnAmount bounds every amount of a Columns chart (and so the
	// running total and the gridlines, which stay inside ParseTotal's
	// digits): 10^27 đồng, a billion times MaxLineTotal.
	maxColumnDigits = 27
)

// Render writes the chart as an <svg> element. Nothing is written if it
// fails.
func (c Columns) Render(w io.Writer) error {
	v, err := c.view()
	if err != nil {
		return err
	}
	return render(w, "columns.svg", v)
}

// HTML returns the chart as an <svg> element for an html/template page.
func (c Columns) HTML() (template.HTML, error) {
	v, err := c.view()
	if err != nil {
		return "", err
	}
	return renderHTML("columns.svg", v)
}

type columnsView struct {
	ID, Title, Desc string
	ViewBox         template.HTMLAttr
	Ticks           []tick
	Cols            []column
	Zero            template.HTMLAttr
	Plan, PlanAt    template.HTMLAttr // empty: no plan line
	PlanText        string
	CumPoints       template.HTMLAttr // empty: no running total
	Cum             []template.HTMLAttr
}

type tick struct {
	Line, At template.HTMLAttr
	Text     string
}

type column struct {
	Rect, At     template.HTMLAttr
	Title, Label string
}

var maxColumnAmount = decimal.New(1, maxColumnDigits)

// floorTo returns the largest multiple of step at most d, exactly: Div
// would round a tiny quotient to zero at decimal's division precision, and
// leave a refund of one đồng below the bottom gridline.
func floorTo(d, step decimal.Decimal) decimal.Decimal {
	q, r := d.QuoRem(step, 0)
	if r.Sign() < 0 {
		q = q.Sub(decimal.NewFromInt(1))
	}
	return q.Mul(step)
}

func (c Columns) view() (columnsView, error) {
	if err := checkID(c.ID); err != nil {
		return columnsView{}, err
	}
	if clean(c.Title, 1) == "" {
		// The <title> is the chart's accessible name.
		return columnsView{}, errors.New("chart: the chart needs a title, its accessible name")
	}
	if c.Amount == nil {
		return columnsView{}, errors.New("chart: Columns needs an Amount formatter")
	}
	check := func(a domain.Amount, what string) error {
		if a.Decimal().Abs().Cmp(maxColumnAmount) >= 0 {
			return fmt.Errorf("chart: %s %s đồng: at most %d digits", what, clip(a.String(), 40), maxColumnDigits)
		}
		return nil
	}
	if err := check(c.Plan, "plan"); err != nil {
		return columnsView{}, err
	}
	var cum [12]decimal.Decimal
	running := decimal.Zero
	for i, a := range c.Executed {
		if err := check(a, "month "+itoa(i+1)); err != nil {
			return columnsView{}, err
		}
		running = running.Add(a.Decimal())
		cum[i] = running
	}
	drawPlan := c.Cumulative && c.Plan.Sign() > 0

	// The value range: zero, every month, and the line and plan if drawn.
	hi, lo := decimal.Zero, decimal.Zero
	see := func(d decimal.Decimal) {
		if d.Cmp(hi) > 0 {
			hi = d
		}
		if d.Cmp(lo) < 0 {
			lo = d
		}
	}
	for i, a := range c.Executed {
		see(a.Decimal())
		if c.Cumulative {
			see(cum[i])
		}
	}
	if drawPlan {
		see(c.Plan.Decimal())
	}
	// Gridlines at multiples of a round step that cover [lo, hi].
	var bottom, top, step decimal.Decimal
	if hi.Equal(lo) {
		bottom, top, step = decimal.Zero, decimal.Zero, decimal.NewFromInt(1)
	} else {
		step = niceStep(amountOf(hi.Sub(lo)), colsTicks)
		bottom = floorTo(lo, step)
		top = floorTo(hi.Neg(), step).Neg() // the ceiling
	}
	span := top.Sub(bottom)
	plotH := dec(colsPlotBot - colsPlotTop)
	// y maps an amount to its height in the viewBox: exact decimals, then
	// rounded once by coord.
	y := func(d decimal.Decimal) decimal.Decimal {
		if span.Sign() == 0 {
			return dec(colsPlotBot)
		}
		return dec(colsPlotBot).Sub(d.Sub(bottom).Mul(plotH).DivRound(span, ratioDecimals))
	}

	v := columnsView{
		ID: c.ID, Title: clean(c.Title, maxTextRunes),
		ViewBox: attrs("viewBox", "0 0 "+itoa(colsWidth)+" "+itoa(colsHeight)),
	}
	// The gridlines' figures set the left margin, within bounds.
	type tickAt struct {
		y    decimal.Decimal
		text string
	}
	var ticks []tickAt
	widest := 0.0
	for t := bottom; t.Cmp(top) <= 0; t = t.Add(step) {
		text := clean(c.Amount(amountOf(t)), maxTextRunes)
		widest = max(widest, textWidth(text, colsFont))
		ticks = append(ticks, tickAt{y: y(t), text: text})
	}
	left := min(max(int(widest)+8, colsPlotMinLeft), colsPlotMaxLeft)
	plotLeft, plotRight := itoa(left), itoa(colsPlotRight)
	for _, tk := range ticks {
		text := tk.text
		if widest+8 > colsPlotMaxLeft {
			text, _ = truncate(text, runesIn(colsPlotMaxLeft-8, colsFont))
		}
		v.Ticks = append(v.Ticks, tick{
			Line: attrs("x1", plotLeft, "y1", coord(tk.y), "x2", plotRight, "y2", coord(tk.y)),
			At:   attrs("x", itoa(left-6), "y", coord(tk.y.Add(dec(4)))),
			Text: text,
		})
	}
	zero := y(decimal.Zero)
	v.Zero = attrs("x1", plotLeft, "y1", coord(zero), "x2", plotRight, "y2", coord(zero))

	slot := dec(colsPlotRight - left).Div(dec(12))
	half := slot.Mul(decimal.RequireFromString("0.34"))
	var desc strings.Builder
	desc.WriteString(clean(c.Description, maxDescRunes))
	var points []string
	for i, a := range c.Executed {
		centre := dec(left).Add(slot.Mul(dec(i))).Add(slot.Div(dec(2)))
		month := clean(c.Months[i], 12)
		figure := clean(c.Amount(a), maxTextRunes)
		top, bot := y(a.Decimal()), zero
		class, fill := "chart-exec", colourExec
		if a.Sign() < 0 {
			top, bot = zero, y(a.Decimal())
			class, fill = "chart-exec chart-neg", colourNeg
		}
		v.Cols = append(v.Cols, column{
			Rect: attrs("class", class, "x", coord(centre.Sub(half)), "y", coord(top),
				"width", coord(half.Mul(dec(2))), "height", coord(bot.Sub(top)), "fill", fill),
			At:    attrs("x", coord(centre), "y", itoa(colsPlotBot+colsFont+6)),
			Title: month + ": " + figure, Label: month,
		})
		if c.Cumulative {
			x, y := coord(centre), coord(y(cum[i]))
			v.Cum = append(v.Cum, attrs("cx", x, "cy", y))
			points = append(points, x+","+y)
		}
		desc.WriteString("\n")
		desc.WriteString(month)
		desc.WriteString(": ")
		desc.WriteString(figure)
	}
	if c.Cumulative {
		v.CumPoints = attrs("points", strings.Join(points, " "))
		desc.WriteString("\n")
		desc.WriteString(clean(c.CumulativeLabel, maxTextRunes))
		desc.WriteString(": ")
		desc.WriteString(clean(c.Amount(amountOf(running)), maxTextRunes))
	}
	if drawPlan {
		py := y(c.Plan.Decimal())
		v.Plan = attrs("x1", plotLeft, "y1", coord(py), "x2", plotRight, "y2", coord(py))
		v.PlanAt = attrs("x", plotRight, "y", coord(py.Sub(dec(4))))
		v.PlanText = strings.TrimSpace(clean(c.PlanLabel, maxTextRunes) + " " + clean(c.Amount(c.Plan), maxTextRunes))
		desc.WriteString("\n")
		desc.WriteString(v.PlanText)
	}
	v.Desc = strings.TrimPrefix(desc.String(), "\n")
	return v, nil
}
