package chart

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/kcledger/kcledger/domain"
)

// Item is one row of a Bars chart.
type Item struct {
	// Label names the row: a province, region, source or project. It is
	// outside text; the chart escapes it, and shortens it with "…" where
	// it does not fit, keeping the whole name in the row's <title>.
	Label string
	// Plan is the row's plan (allocated), Executed its net execution
	// (disbursed − refunded), which may be negative when refunds exceed
	// what was disbursed.
	Plan, Executed domain.Amount
}

// Bars is a chart of plan against execution, one horizontal row per item,
// in the order given.
//
// Every bar has the same scale: the largest plan is the full width (if
// every plan is zero, the largest execution is). A plan bar is drawn light
// (class chart-plan), the executed bar darker over it (chart-exec). An
// execution above its plan has class chart-over, a tick where the plan
// ends, and, when it would run past the axis, is cut at the axis with a
// chevron (chart-capped). A negative execution has no bar; its figures have
// class chart-neg and say the amount with its sign.
type Bars struct {
	// ID prefixes the ids of the chart's <title> and <desc>: a letter,
	// then letters, digits, '-' or '_'. Each chart on a page needs its own.
	ID string
	// Title names the chart (the <title>, read first by screen readers;
	// required); Description says what it shows (the start of <desc>).
	// Both are escaped.
	Title, Description string
	Items              []Item
	// Amount renders a figure, for instance (*i18n.Localizer).Short.
	Amount func(domain.Amount) string
	// Percent renders executed as a percentage of plan with the page's
	// rule, for instance projections.Presentation.Percent(...).Text. It is
	// called only with a positive plan; a zero or negative plan shows
	// NotComparable.
	Percent func(executed, plan domain.Amount) string
}

// Layout of Bars, in user units of the viewBox.
const (
	barsWidth       = 480
	barsTop         = 4
	barsLabelFont   = 14
	barsFigureFont  = 13
	barsPlanHeight  = 14
	barsExecInset   = 3 // the executed bar is inset in the plan bar
	barsGap         = 12
	barsPitch       = 44 // a row: label and figures on one line, then bars
	barsPitchTwo    = 62 // a row: label, then figures, then bars
	barsMinLabel    = 24 // runes a label keeps before the figures move below it
	barsChevronSize = 6
)

// Render writes the chart as an <svg> element. Nothing is written if it
// fails.
func (b Bars) Render(w io.Writer) error {
	v, err := b.view()
	if err != nil {
		return err
	}
	return render(w, "bars.svg", v)
}

// HTML returns the chart as an <svg> element for an html/template page.
func (b Bars) HTML() (template.HTML, error) {
	v, err := b.view()
	if err != nil {
		return "", err
	}
	return renderHTML("bars.svg", v)
}

type barsView struct {
	ID, Title, Desc string
	ViewBox         template.HTMLAttr
	Rows            []barRow
}

// barRow is one row: its texts, escaped by the template, and its marks'
// attributes, made by attrs from numbers and class names.
type barRow struct {
	Name, Label, Figures string
	Truncated            bool
	G, LabelAt, FigureAt template.HTMLAttr
	Plan, Exec           template.HTMLAttr
	Mark, Chevron        template.HTMLAttr // empty: not drawn
}

func (b Bars) view() (barsView, error) {
	if err := checkID(b.ID); err != nil {
		return barsView{}, err
	}
	if clean(b.Title, 1) == "" {
		// The <title> is the chart's accessible name.
		return barsView{}, errors.New("chart: the chart needs a title, its accessible name")
	}
	if b.Amount == nil || b.Percent == nil {
		return barsView{}, errors.New("chart: Bars needs both an Amount and a Percent formatter")
	}
	if len(b.Items) > MaxItems {
		return barsView{}, fmt.Errorf("chart: %d items: at most %d", len(b.Items), MaxItems)
	}

	// The scale: the largest plan, or the largest execution if no plan.
	var scale decimal.Decimal
	for _, it := range b.Items {
		if p := it.Plan.Decimal(); p.Cmp(scale) > 0 {
			scale = p
		}
	}
	if scale.Sign() == 0 {
		for _, it := range b.Items {
			if e := it.Executed.Decimal(); e.Cmp(scale) > 0 {
				scale = e
			}
		}
	}

	type texts struct{ name, figures string }
	all := make([]texts, len(b.Items))
	widest, longest := 0.0, 0
	for i, it := range b.Items {
		pct := NotComparable
		if it.Plan.Sign() > 0 {
			pct = clean(b.Percent(it.Executed, it.Plan), maxTextRunes)
		}
		figures := clean(b.Amount(it.Executed), maxTextRunes) + " / " + clean(b.Amount(it.Plan), maxTextRunes) + " · " + pct
		all[i] = texts{name: clean(it.Label, maxTextRunes), figures: figures}
		widest = max(widest, textWidth(figures, barsFigureFont))
		longest = max(longest, utf8.RuneCountInString(all[i].name))
	}
	// One line per row if the widest figures leave room for every label,
	// or at least for barsMinLabel runes of it; else every row puts its
	// figures below its label, so that the rows stay alike.
	labelRoom := barsWidth - widest - barsGap
	room := runesIn(labelRoom, barsLabelFont)
	oneLine := room >= barsMinLabel || (room > 0 && longest <= room)
	pitch := barsPitch
	if !oneLine {
		pitch, labelRoom = barsPitchTwo, barsWidth
	}

	full := dec(barsWidth)
	one := decimal.NewFromInt(1)
	v := barsView{
		ID: b.ID, Title: clean(b.Title, maxTextRunes),
		ViewBox: attrs("viewBox", "0 0 "+itoa(barsWidth)+" "+itoa(barsTop+pitch*len(b.Items))),
		Rows:    make([]barRow, len(b.Items)),
	}
	var desc strings.Builder
	desc.WriteString(clean(b.Description, maxDescRunes))
	for i, it := range b.Items {
		t := all[i]
		y := barsTop + pitch*i
		label, cut := truncate(t.name, runesIn(labelRoom, barsLabelFont))
		r := barRow{Name: t.name, Label: label, Truncated: cut, Figures: t.figures}
		labelY := itoa(y + barsLabelFont + 2)
		r.LabelAt = attrs("y", labelY)
		barY := y + barsLabelFont + 8
		figureX, figureY, anchor := itoa(barsWidth), labelY, "end"
		if !oneLine {
			figureX, figureY, anchor = "0", itoa(y+barsLabelFont+2+barsFigureFont+5), "start"
			barY += barsFigureFont + 5
		}
		rowClass, figureClass, figureFill := "chart-row", "chart-figures", colourFigure
		execClass, execFill := "chart-exec", colourExec

		planW := ratio(it.Plan.Decimal(), scale, one).Mul(full)
		r.Plan = attrs("y", itoa(barY), "width", coord(planW))
		// The executed bar's ratio is taken of the scale exactly, not of
		// the rounded plan width, so that 2,5 of 10 is 25% to the unit.
		execW := coord(ratio(it.Executed.Decimal(), scale, one).Mul(full))
		switch {
		case it.Executed.Sign() < 0:
			rowClass += " chart-neg"
			figureClass += " chart-neg"
			figureFill = colourNeg
		case it.Executed.Cmp(it.Plan) > 0 && it.Executed.Sign() > 0:
			rowClass += " chart-over"
			execClass += " chart-over"
			execFill = colourOver
			if it.Plan.Sign() > 0 { // else no plan to mark
				r.Mark = attrs("x1", coord(planW), "y1", itoa(barY-3), "x2", coord(planW), "y2", itoa(barY+barsPlanHeight+3))
			}
			if scale.Sign() > 0 && it.Executed.Decimal().Cmp(scale) > 0 {
				rowClass += " chart-capped"
				x0, x1 := barsWidth-barsChevronSize-3, barsWidth-3
				r.Chevron = attrs("points", fmt.Sprintf("%d,%d %d,%d %d,%d", x0, barY+barsExecInset, x1, barY+barsPlanHeight/2, x0, barY+barsPlanHeight-barsExecInset))
			}
		}
		r.G = attrs("class", rowClass)
		r.FigureAt = attrs("class", figureClass, "x", figureX, "y", figureY, "text-anchor", anchor, "fill", figureFill)
		r.Exec = attrs("class", execClass, "y", itoa(barY+barsExecInset), "width", execW, "height", itoa(barsPlanHeight-2*barsExecInset), "fill", execFill)
		v.Rows[i] = r
		desc.WriteString("\n")
		desc.WriteString(t.name)
		desc.WriteString(": ")
		desc.WriteString(t.figures)
	}
	v.Desc = strings.TrimPrefix(desc.String(), "\n")
	return v, nil
}
