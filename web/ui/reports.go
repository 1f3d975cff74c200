package ui

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/i18n"
	"github.com/kcledger/kcledger/web/workbook"
)

// reportsPage is the plan-against-execution report with its
// presentation options, as a GET form.
type reportsPage struct {
	// Form is the query as the form holds it: the visitor's values, or
	// the defaults.
	Form url.Values
	// Err is the API's refusal of the query, shown beside its field.
	Err error
	// Fields are the form's fields, in order, for refusals naming none.
	Fields    []string
	Provinces []domain.Province
	Report    *api.PlanReportView
	// AsOf is the moment the report was cut at, when asked.
	AsOf  time.Time
	Table reportTable
	// Download is the workbook's address, with the same query.
	Download string
}

// reportTable is the report's table as the page draws it.
type reportTable struct {
	Header []string
	Rows   []reportRow
	// Events says the last column links each row's events.
	Events bool
}

type reportRow struct {
	Code, Label string
	Figures     []string
	Seqs        []uint64
	// Sum is a subtotal or the total.
	Sum bool
}

// reportFields are the report's query parameters the form offers, as the
// API names them; as_of is typed as a date-time in Vietnam's zone.
var reportFields = []string{"year", "region", "province", "source", "by", "scheme", "effective_until", "as_of",
	"compare_previous_year", "unit", "decimals", "percent_decimals", "percent", "share_of", "events"}

// asOfLayouts are how a browser's datetime-local input sends a time.
var asOfLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05"}

// reportQuery is the API's query of the form's values: empty values are
// the API's defaults; the year defaults to this year, an officer's
// province to its first; as_of is read in Vietnam's zone.
func (s *Server) reportQuery(r *http.Request, v *visit) (form, q url.Values, err error) {
	in := r.URL.Query()
	form, q = url.Values{}, url.Values{}
	for _, k := range reportFields {
		if val := strings.TrimSpace(in.Get(k)); val != "" {
			form.Set(k, val)
			q.Set(k, val)
		}
	}
	if form.Get("year") == "" {
		y := strconv.Itoa(i18n.DateOf(s.now()).Year)
		form.Set("year", y)
		q.Set("year", y)
	}
	if v.account.Role == domain.RoleOfficer && form.Get("province") == "" && form.Get("region") == "" && len(v.account.Provinces) > 0 {
		form.Set("province", v.account.Provinces[0])
		q.Set("province", v.account.Provinces[0])
	}
	if a := form.Get("as_of"); a != "" {
		t, err := time.Parse(time.RFC3339, a)
		if err == nil { // as the API spells it: shown in Vietnam's time
			form.Set("as_of", t.In(i18n.Vietnam()).Format(asOfLayouts[1]))
		}
		for _, layout := range asOfLayouts {
			if err == nil {
				break
			}
			if t, err = time.ParseInLocation(layout, a, i18n.Vietnam()); err == nil {
				break
			}
		}
		if err != nil {
			return form, q, domain.Errorf(domain.CodeInvalidField, "as_of", "as_of %q is not a date and time such as 2025-06-30T17:00", clip(a))
		}
		q.Set("as_of", t.Format(time.RFC3339))
	}
	return form, q, nil
}

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

func (s *Server) reportsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	p := reportsPage{Fields: reportFields}
	form, q, err := s.reportQuery(r, v)
	p.Form = form
	p.Provinces = s.reportProvinces(v, form)
	if err == nil {
		var rep api.PlanReportView
		if err = s.call(r, v, request{method: http.MethodGet, path: api.PathPlanExecution, query: q}, &rep); err == nil {
			lang := reportLang(v)
			rep.Title, rep.Rules = rep.PlanReport.Title(lang), rep.PlanReport.Rules(lang)
			p.Report = &rep
			if rep.AsOf != nil {
				p.AsOf = *rep.AsOf
			}
			p.Table = tableOf(rep, lang)
			// The workbook speaks the page's language, whatever the
			// browser's download asks for.
			d := url.Values{"lang": {string(v.lang)}}
			for k, vs := range form {
				d[k] = vs
			}
			p.Download = "/reports.xlsx?" + d.Encode()
		}
	}
	if err != nil {
		if !s.refusedQuery(w, r, v, err) {
			return
		}
		p.Err = err
		var de *domain.Error
		errors.As(err, &de)
		s.render(w, r, v, statusOf(de.Code), "reports", "reports.title", p)
		return
	}
	s.render(w, r, v, http.StatusOK, "reports", "reports.title", p)
}

// refusedQuery says whether err is a refusal of the query that the form
// shows beside a field (or above it); anything else (not allowed, or
// failed) it answers itself, with no figures.
func (s *Server) refusedQuery(w http.ResponseWriter, r *http.Request, v *visit, err error) bool {
	var de *domain.Error
	if !errors.As(err, &de) {
		s.failed(w, r, v, err)
		return false
	}
	switch st := statusOf(de.Code); {
	case st == http.StatusBadRequest || st == http.StatusUnprocessableEntity:
		return true
	default:
		s.problem(w, r, v, err)
		return false
	}
}

// reportProvinces are the provinces the form offers: an officer's own,
// or every province of the report's scheme.
func (s *Server) reportProvinces(v *visit, form url.Values) []domain.Province {
	scheme := domain.Scheme(form.Get("scheme"))
	if scheme != domain.Scheme63 && scheme != domain.Scheme34 {
		y, err := strconv.Atoi(form.Get("year"))
		if err != nil || y < domain.MinFiscalYear || y > domain.MaxFiscalYear {
			y = i18n.DateOf(s.now()).Year
		}
		scheme = projections.DefaultScheme(y)
	}
	all := domain.Provinces(scheme)
	if v.account.Role != domain.RoleOfficer {
		return all
	}
	var own []domain.Province
	for _, p := range all {
		if v.account.MayReadProvince(p.Code) == nil {
			own = append(own, p)
		}
	}
	return own
}

// tableOf is the report's table: the report's own headings and figures
// (as its presentation rules render them), with the language's marks.
func tableOf(rep api.PlanReportView, lang string) reportTable {
	text := rep.PlanReport.Table(lang)
	t := reportTable{Header: text[0], Events: rep.Total.Seqs != nil}
	rows := append([]projections.PlanRow{}, rep.Rows...)
	if rep.Source == "both" && rep.By != projections.BySource {
		rows = append(rows, rep.Sources...)
	}
	rows = append(rows, rep.Total)
	figures := len(t.Header) - 2
	if t.Events {
		figures--
		t.Header = t.Header[:len(t.Header)-1]
	}
	for i, row := range rows {
		cells := text[i+1]
		out := reportRow{Code: cells[0], Label: cells[1], Seqs: row.Seqs, Sum: i >= len(rep.Rows)}
		for _, c := range cells[2 : 2+figures] {
			if lang == projections.LangEN {
				c = i18n.SwapSeparators(c)
			}
			out.Figures = append(out.Figures, c)
		}
		t.Rows = append(t.Rows, out)
	}
	return t
}

// reportsWorkbook answers GET /reports.xlsx: the workbook kcledger
// report --format xlsx writes, one sheet per breakdown (the asked one
// first), each read from the API as the visitor's account.
func (s *Server) reportsWorkbook(w http.ResponseWriter, r *http.Request, v *visit) {
	form, q, err := s.reportQuery(r, v)
	by := projections.Breakdown(q.Get("by"))
	if by == "" {
		by = projections.ByProvince
	}
	bys := []projections.Breakdown{by}
	for _, b := range workbook.Breakdowns {
		if b != by {
			bys = append(bys, b)
		}
	}
	var views []api.PlanReportView
	lang := reportLang(v)
	if l, ok := i18n.ParseLang(r.URL.Query().Get("lang")); ok { // the page's
		lang = reportLang(&visit{lang: l})
	}
	for _, b := range bys {
		if err != nil {
			break
		}
		q.Set("by", string(b))
		var rep api.PlanReportView
		if err = s.call(r, v, request{method: http.MethodGet, path: api.PathPlanExecution, query: q}, &rep); err == nil {
			rep.Title, rep.Rules = rep.PlanReport.Title(lang), rep.PlanReport.Rules(lang)
			views = append(views, rep)
		}
	}
	if err != nil {
		// The form, with the refusal beside its field.
		if !s.refusedQuery(w, r, v, err) {
			return
		}
		var de *domain.Error
		errors.As(err, &de)
		s.render(w, r, v, statusOf(de.Code), "reports", "reports.title",
			reportsPage{Form: form, Err: err, Fields: reportFields, Provinces: s.reportProvinces(v, form)})
		return
	}
	var buf bytes.Buffer
	if err := workbook.Write(&buf, views, lang); err != nil {
		s.failed(w, r, v, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	h.Set("Content-Disposition", `attachment; filename="`+workbookName(views[0])+`"`)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_-]+`)

// workbookName names a report's workbook by year, scope and breakdown:
// kcledger-2025-01-province.xlsx, kcledger-2025-north-source.xlsx,
// kcledger-2025-country-province.xlsx.
func workbookName(rep api.PlanReportView) string {
	scope := "country"
	switch {
	case rep.Scope.Province != nil:
		scope = rep.Scope.Province.Code
	case rep.Scope.Region != "":
		scope = string(rep.Scope.Region)
	}
	if rep.Source != "both" {
		scope += "-" + rep.Source
	}
	name := fmt.Sprintf("kcledger-%d-%s-%s", rep.FiscalYear, scope, rep.By)
	return unsafeName.ReplaceAllString(strings.ToLower(name), "_") + ".xlsx"
}
