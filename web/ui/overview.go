package ui

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/chart"
	"github.com/kcledger/kcledger/web/i18n"
)

// overviewPage is a fiscal year at a glance: plan, executed, available
// and the percentage of plan per province, region and source, as the
// plan-against-execution report counts them within the visitor's scope
// (an officer's own provinces), and its execution month by month.
type overviewPage struct {
	// Year is the year shown; YearText what the form holds (the refused
	// input, when the API refused it).
	Year     int
	YearText string
	// Err is the API's refusal of the query, shown beside the year.
	Err error
	// Title and Rules are the main report's, in the visitor's language.
	Title, Rules string
	Provinces    []figures
	// Regions are empty for an officer: it reads its provinces only.
	Regions []figures
	Sources []figures
	Total   figures
	// More is how many of an officer's provinces the page leaves to the
	// reports page.
	More int
	// Months are the year's twelve months; a month after today (in
	// Vietnam) is not Shown.
	Months []monthFigures
	// AfterYear is what was executed after 31 December, in the
	// settlement period, when there is some: in no month's column.
	AfterYear *domain.Amount
	// Bars and Columns are the charts, drawn on the server.
	Bars, Columns template.HTML
	// The tables of the page, for its "overviewtable" template.
	ProvinceTable, RegionTable, SourceTable figureTable
}

// figureTable is a table of figures with its total row.
type figureTable struct {
	L *i18n.Localizer
	// Caption is a catalogue key; First the heading of the rows' names.
	Caption, First string
	Rows           []figures
	Total          figures
}

// figures is a row of the overview's tables: exact amounts, rendered by
// the page in the visitor's language.
type figures struct {
	Label                     string
	Plan, Executed, Available domain.Amount
	// Percent is executed over plan by the report's rule, in the
	// visitor's language ("24,00%"), or "—" when the plan is zero.
	Percent string
}

// monthFigures is a month's execution and the year's up to its end.
type monthFigures struct {
	Month                int
	Label                string
	Shown                bool
	Executed, Cumulative domain.Amount
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, v *visit) {
	today := i18n.DateOf(s.now())
	p := overviewPage{Year: today.Year, YearText: strconv.Itoa(today.Year)}
	if y := r.URL.Query().Get("year"); y != "" {
		p.YearText = y
		n, err := strconv.Atoi(strings.TrimSpace(y))
		if err != nil {
			n = -1 // the API names the field and the rule
		}
		p.Year = n
	}
	err := s.overviewFigures(r, v, &p, today)
	var de *domain.Error
	switch {
	case err == nil:
	case errors.As(err, &de) && de.Field == "year":
		// A refused year: the form again, with the refusal beside it.
		p = overviewPage{Year: p.Year, YearText: p.YearText, Err: err}
		s.render(w, r, v, statusOf(de.Code), "overview", "overview.title", p)
		return
	default:
		s.problem(w, r, v, err)
		return
	}
	s.render(w, r, v, http.StatusOK, "overview", "overview.title", p)
}

// scopes are the report queries an overview sums up: the whole country
// for most accounts; for an officer one per province of its own, since
// the API reads an officer's reports one province at a time.
func scopes(acc *domain.Account) []url.Values {
	if acc.Role != domain.RoleOfficer {
		return []url.Values{{}}
	}
	var qs []url.Values
	for _, p := range acc.Provinces {
		qs = append(qs, url.Values{"province": {p}})
	}
	if len(qs) == 0 { // the API says what is wrong
		qs = []url.Values{{}}
	}
	return qs
}

// maxOverviewScopes bounds the reports one overview asks for: an
// officer's provinces beyond it are read on the reports page.
const maxOverviewScopes = 6

func (s *Server) overviewFigures(r *http.Request, v *visit, p *overviewPage, today domain.Date) error {
	lang := reportLang(v)
	qs := scopes(v.account)
	if len(qs) > maxOverviewScopes {
		p.More = len(qs) - maxOverviewScopes
		qs = qs[:maxOverviewScopes]
	}
	year := strconv.Itoa(p.Year)
	report := func(scope url.Values, extra ...string) (api.PlanReportView, error) {
		q := url.Values{"year": {year}}
		for k, vs := range scope {
			q[k] = vs
		}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		var rep api.PlanReportView
		err := s.call(r, v, request{method: http.MethodGet, path: api.PathPlanExecution, query: q}, &rep)
		return rep, err
	}
	var totals []projections.PlanRow
	var executed [projections.MonthsOfYear]domain.Amount
	officer := v.account.Role == domain.RoleOfficer
	for _, scope := range qs {
		by := "province"
		if officer {
			by = "source"
		}
		rep, err := report(scope, "by", by, "monthly", "true")
		if err != nil {
			return err
		}
		if err := addMonths(&executed, rep); err != nil {
			return err
		}
		if p.Title == "" {
			p.Title, p.Rules = rep.PlanReport.Title(lang), rep.PlanReport.Rules(lang)
		}
		totals = append(totals, rep.Total)
		if officer {
			f, err := figuresOf(v.l, provinceLabel(rep), rep.Total)
			if err != nil {
				return err
			}
			p.Provinces = append(p.Provinces, f)
			for _, row := range rep.Rows {
				label := row.Label
				if len(qs) > 1 {
					label = provinceLabel(rep) + " · " + label
				}
				f, err := figuresOf(v.l, label, row)
				if err != nil {
					return err
				}
				p.Sources = append(p.Sources, f)
			}
			continue
		}
		for _, row := range rep.Rows {
			f, err := figuresOf(v.l, row.Label, row)
			if err != nil {
				return err
			}
			p.Provinces = append(p.Provinces, f)
		}
		for _, row := range rep.Sources {
			f, err := figuresOf(v.l, row.Label, row)
			if err != nil {
				return err
			}
			p.Sources = append(p.Sources, f)
		}
		p.Total, err = figuresOf(v.l, v.l.T("report.total"), rep.Total)
		if err != nil {
			return err
		}
		// A region is the sum of its provinces' rows (a succession moves
		// money within one province, so within one region).
		byRegion := map[domain.Region][]projections.PlanRow{}
		for _, row := range rep.Rows {
			pv, ok := domain.LookupProvince(rep.Scheme, row.Key)
			if !ok {
				return fmt.Errorf("ui: the report's row %q is no province of scheme %s", row.Key, rep.Scheme)
			}
			byRegion[pv.Region] = append(byRegion[pv.Region], row)
		}
		for _, region := range domain.Regions() {
			f, err := sumFigures(v.l, v.l.T("region."+string(region)), byRegion[region])
			if err != nil {
				return err
			}
			p.Regions = append(p.Regions, f)
		}
	}
	if officer && len(totals) == 1 {
		total, err := figuresOf(v.l, v.l.T("report.total"), totals[0])
		if err != nil {
			return err
		}
		p.Total = total
	} else if officer {
		total, err := sumFigures(v.l, v.l.T("report.total"), totals)
		if err != nil {
			return err
		}
		p.Total = total
	}
	months := monthsOf(p.Year, today, executed)
	p.Months = months
	if dec := months[11]; dec.Shown {
		if rest := p.Total.Executed.Sub(dec.Cumulative); !rest.IsZero() {
			p.AfterYear = &rest
		}
	}
	for i := range p.Months {
		p.Months[i].Label = v.l.T(fmt.Sprintf("overview.month_%02d", i+1))
	}
	p.ProvinceTable = figureTable{L: v.l, Caption: "overview.by_province_caption", First: v.l.Field("province"), Rows: p.Provinces, Total: p.Total}
	p.RegionTable = figureTable{L: v.l, Caption: "overview.by_region_caption", First: v.l.T("overview.region"), Rows: p.Regions, Total: p.Total}
	p.SourceTable = figureTable{L: v.l, Caption: "overview.by_source_caption", First: v.l.Field("source"), Rows: p.Sources, Total: p.Total}
	return s.overviewCharts(v, p)
}

// addMonths adds a report's executed month by month (the API's
// monthly=true) to sum.
func addMonths(sum *[projections.MonthsOfYear]domain.Amount, rep api.PlanReportView) error {
	if len(rep.Monthly) != projections.MonthsOfYear {
		return fmt.Errorf("ui: the report has %d months, not %d", len(rep.Monthly), projections.MonthsOfYear)
	}
	for i, m := range rep.Monthly {
		a, err := domain.ParseTotal(m.Dong)
		if err != nil {
			return fmt.Errorf("ui: a month of the report: %w", err)
		}
		sum[i] = sum[i].Add(a)
	}
	return nil
}

// monthsOf is the year's execution month by month, as the report counts
// it (by effective date), with the running total. Months after today are
// left out: nothing can have been executed in them yet. What is dated
// before the year counts in January; what is dated after it (the
// settlement period) in no month: the page says so apart.
func monthsOf(year int, today domain.Date, executed [projections.MonthsOfYear]domain.Amount) []monthFigures {
	out := make([]monthFigures, 12)
	var cum domain.Amount
	for m := range out {
		out[m] = monthFigures{Month: m + 1}
		if (domain.Date{Year: year, Month: time.Month(m + 1), Day: 1}).After(today) {
			continue
		}
		cum = cum.Add(executed[m])
		out[m].Shown, out[m].Executed, out[m].Cumulative = true, executed[m], cum
	}
	return out
}

// provinceLabel names a province report's scope.
func provinceLabel(rep api.PlanReportView) string {
	if rep.Scope.Province != nil {
		return rep.Scope.Province.Name
	}
	return rep.Title
}

// reportLang is the language a report's title and rules are given in.
func reportLang(v *visit) string {
	if v.lang == i18n.English {
		return projections.LangEN
	}
	return projections.LangVI
}

// figuresOf reads a report's row: its exact figures, and its percentage
// of plan as the API computed it, in the visitor's language.
func figuresOf(l *i18n.Localizer, label string, row projections.PlanRow) (figures, error) {
	f := figures{Label: label, Percent: percentText(l, row.PercentOfPlan)}
	for _, m := range []struct {
		to    *domain.Amount
		money projections.Money
	}{{&f.Plan, row.Plan}, {&f.Executed, row.Executed}, {&f.Available, row.Available}} {
		a, err := domain.ParseTotal(m.money.Dong)
		if err != nil {
			return f, fmt.Errorf("ui: a figure of the report: %w", err)
		}
		*m.to = a
	}
	return f, nil
}

// sumFigures adds up an officer's provinces: exact sums, and the
// percentage of their plan by the report's default rule.
func sumFigures(l *i18n.Localizer, label string, rows []projections.PlanRow) (figures, error) {
	sum := figures{Label: label}
	for _, row := range rows {
		f, err := figuresOf(l, label, row)
		if err != nil {
			return sum, err
		}
		sum.Plan, sum.Executed, sum.Available = sum.Plan.Add(f.Plan), sum.Executed.Add(f.Executed), sum.Available.Add(f.Available)
	}
	sum.Percent = percentText(l, projections.DefaultPresentation().Percent(sum.Executed, sum.Plan, "own_plan"))
	return sum, nil
}

// percentText is a percentage as the visitor reads it: the API's
// rendered value with the language's decimal mark.
func percentText(l *i18n.Localizer, pc projections.Percent) string {
	if !pc.Comparable || pc.Value == "" {
		return projections.NotComparable
	}
	s := pc.Value
	if l.Lang() != i18n.English {
		s = strings.ReplaceAll(s, ".", ",")
	}
	return s + "%"
}

// overviewCharts draws the page's two charts from its tables' figures:
// plan against execution per province, and execution month by month
// with its running total against the year's plan.
func (s *Server) overviewCharts(v *visit, p *overviewPage) error {
	l := v.l
	pres := projections.DefaultPresentation()
	items := make([]chart.Item, 0, len(p.Provinces))
	for _, f := range p.Provinces {
		items = append(items, chart.Item{Label: f.Label, Plan: f.Plan, Executed: f.Executed})
	}
	if len(items) > 0 {
		bars, err := chart.Bars{
			ID:          "overview-provinces",
			Title:       l.T("overview.by_province"),
			Description: l.T("overview.bars_desc", i18n.N("year", p.Year)),
			Items:       items,
			Amount:      l.Short,
			Percent: func(executed, plan domain.Amount) string {
				return percentText(l, pres.Percent(executed, plan, "own_plan"))
			},
		}.HTML()
		if err != nil {
			return fmt.Errorf("ui: the provinces' chart: %w", err)
		}
		p.Bars = bars
	}
	c := chart.Columns{
		ID:          "overview-months",
		Title:       l.T("overview.by_month"),
		Description: l.T("overview.columns_desc", i18n.N("year", p.Year)),
		Cumulative:  true,
		Plan:        p.Total.Plan,
		PlanLabel:   l.T("report.plan"), CumulativeLabel: l.T("overview.cumulative"),
		Amount: l.Short,
	}
	for i, m := range p.Months {
		c.Months[i], c.Executed[i] = m.Label, m.Executed
	}
	cols, err := c.HTML()
	if err != nil {
		return fmt.Errorf("ui: the months' chart: %w", err)
	}
	p.Columns = cols
	return nil
}
