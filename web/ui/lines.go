package ui

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/i18n"
)

// The province and line pages, the audit trail and each event's details:
// everything read from the API's /v1/provinces, /v1/balances, /v1/audit
// and /v1/events/{seq}, as the visitor's account, which bounds what they
// show. Every page may be seen as the ledger stood at a moment in the past
// ("xem như tại ngày"): the API's as_of.

// travel is the moment a page is seen as of: a date and, optionally, a
// time of day in Vietnam, as the visitor typed them.
type travel struct {
	Date, Time string
	// AsOf is what the API is asked for: "" for today.
	AsOf string
	// Err is the API's refusal of the moment, shown beside the date.
	Err error
	// Past is the moment the API answered as of; nil for today.
	Past *time.Time
	// Seconds says the moment is shown to the second.
	Seconds bool
	// Today is the page's address as of today.
	Today string
}

var (
	isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	viDate  = regexp.MustCompile(`^(\d{1,2})/(\d{1,2})/(\d{4})$`)
)

// readTravel reads ?date= (YYYY-MM-DD, as a date input sends it, or
// DD/MM/YYYY as people type it) and ?time= (HH:MM or HH:MM:SS) into the
// API's as_of. A date alone is the end of that day (or now, today). What
// cannot be read goes to the API as it is, to be refused with its field.
func (s *Server) readTravel(r *http.Request) travel {
	q := r.URL.Query()
	t := travel{Date: strings.TrimSpace(q.Get("date")), Time: strings.TrimSpace(q.Get("time"))}
	day := t.Date
	if day == "" && t.Time == "" {
		return t
	}
	if day == "" { // a time of today
		day = s.now().In(i18n.Vietnam()).Format(time.DateOnly)
	}
	if m := viDate.FindStringSubmatch(day); m != nil {
		day = m[3] + "-" + pad2(m[2]) + "-" + pad2(m[1])
		t.Date = day // as the date field holds it
	}
	switch {
	case !isoDate.MatchString(day):
		t.AsOf = day
	case t.Time == "":
		now := s.now().In(i18n.Vietnam())
		if day == now.Format(time.DateOnly) {
			t.AsOf = now.Format(time.RFC3339Nano)
		} else {
			t.AsOf = day + "T23:59:59.999999999+07:00"
		}
		t.Seconds = true
	default:
		hm := t.Time
		if len(hm) == len("15:04") {
			hm += ":00"
		} else {
			t.Seconds = true
		}
		t.AsOf = day + "T" + hm + "+07:00"
	}
	return t
}

func pad2(s string) string {
	if len(s) == 1 {
		return "0" + s
	}
	return s
}

// query is the travel's part of a page's address, for links that keep it.
func (t travel) query() url.Values {
	q := url.Values{}
	if t.Date != "" {
		q.Set("date", t.Date)
	}
	if t.Time != "" {
		q.Set("time", t.Time)
	}
	return q
}

// asOf adds the travel's moment to an API query.
func (t travel) asOf(q url.Values) url.Values {
	if t.AsOf != "" {
		q.Set("as_of", t.AsOf)
	}
	return q
}

// answered keeps the moment the API answered as of.
func (t *travel) answered(cut *api.CutView) {
	if cut != nil && cut.AsOf != nil {
		at := *cut.AsOf
		t.Past = &at
	}
}

// refused tells whether err is the API's refusal of the moment: then it
// is kept, for the page to show beside the date.
func (t *travel) refused(err error) bool {
	var de *domain.Error
	if errors.As(err, &de) && de.Field == "as_of" {
		t.Err = err
		return true
	}
	return false
}

// Label is the moment in the visitor's language, labelled with Vietnam's
// zone.
func (t travel) Label(l *i18n.Localizer) string {
	if t.Past == nil {
		return ""
	}
	at := t.Past.In(i18n.Vietnam())
	if !t.Seconds {
		return l.DateTime(at)
	}
	sep := " "
	if l.Lang() == i18n.English {
		sep = ", "
	}
	return l.Date(i18n.DateOf(at)) + sep + l.T("time.vietnam", i18n.N("time", at.Format(time.TimeOnly)))
}

// href is path with the query q.
func href(path string, q url.Values) string {
	u := url.URL{Path: path, RawQuery: q.Encode()}
	return u.String()
}

func lineHref(k domain.LineKey, q url.Values) string {
	return href("/lines/"+strconv.Itoa(k.FiscalYear)+"/"+url.PathEscape(k.Province)+"/"+url.PathEscape(string(k.Source)), q)
}

// provinceOf is the province of code, in the scheme in force or the one
// before the merger.
func provinceOf(code string) domain.Province {
	for _, sc := range []domain.Scheme{domain.Scheme34, domain.Scheme63} {
		if p, ok := domain.LookupProvince(sc, code); ok {
			return p
		}
	}
	return domain.Province{Code: code, Name: code}
}

// balances asks the API for the balances of q, as of the travel's moment.
func (s *Server) balances(r *http.Request, v *visit, t *travel, q url.Values) (projections.Report, error) {
	var rep struct {
		projections.Report
		Cut *api.CutView `json:"cut"`
	}
	err := s.call(r, v, request{method: http.MethodGet, path: "/v1/balances", query: t.asOf(q)}, &rep)
	t.answered(rep.Cut)
	return rep.Report, err
}

// provincesPage lists the provinces the visitor may see, by region, with
// a fiscal year's figures.
type provincesPage struct {
	Travel  travel
	Year    int
	Years   []int
	Regions []regionRow
}

type regionRow struct {
	Region    domain.Region
	Provinces []provinceRow
}

type provinceRow struct {
	Province domain.Province
	// Former says the province was merged away (the 63-province scheme).
	Former bool
	Href   string
	Totals *projections.Totals
}

func (s *Server) provincesPage(w http.ResponseWriter, r *http.Request, v *visit) {
	p := provincesPage{Travel: s.readTravel(r)}
	p.Travel.Today = "/provinces"
	var list api.ProvincesResponse
	if err := s.call(r, v, request{method: http.MethodGet, path: "/v1/provinces"}, &list); err != nil {
		s.problem(w, r, v, err)
		return
	}
	rep, err := s.balances(r, v, &p.Travel, url.Values{})
	if err != nil && !p.Travel.refused(err) {
		s.problem(w, r, v, err)
		return
	}
	for _, y := range rep.Years {
		p.Years = append(p.Years, y.FiscalYear)
	}
	slices.Sort(p.Years)
	p.Year = i18n.DateOf(s.now()).Year
	if len(p.Years) > 0 {
		p.Year = p.Years[len(p.Years)-1]
	}
	if y, err := strconv.Atoi(r.URL.Query().Get("year")); err == nil {
		p.Year = y
	}
	if !slices.Contains(p.Years, p.Year) {
		p.Years = append(p.Years, p.Year)
		slices.Sort(p.Years)
	}
	totals := map[string]*projections.Totals{}
	for _, py := range rep.Provinces {
		if py.FiscalYear == p.Year {
			t := py.Totals
			totals[py.Province] = &t
		}
	}
	q := p.Travel.query()
	rows := map[domain.Region][]provinceRow{}
	seen := map[string]bool{}
	add := func(pv domain.Province, former bool) {
		if seen[pv.Code] || v.account.MayReadProvince(pv.Code) != nil {
			return
		}
		seen[pv.Code] = true
		rows[pv.Region] = append(rows[pv.Region], provinceRow{Province: pv, Former: former, Href: href("/provinces/"+url.PathEscape(pv.Code), q), Totals: totals[pv.Code]})
	}
	for _, pv := range list.Provinces {
		add(pv, false)
	}
	for _, py := range rep.Provinces { // lines of provinces merged away since
		add(provinceOf(py.Province), true)
	}
	for _, rg := range domain.Regions() {
		if len(rows[rg]) == 0 {
			continue
		}
		slices.SortFunc(rows[rg], func(a, b provinceRow) int { return cmp.Compare(a.Province.Code, b.Province.Code) })
		p.Regions = append(p.Regions, regionRow{Region: rg, Provinces: rows[rg]})
	}
	status := http.StatusOK
	if p.Travel.Err != nil {
		status, p.Regions = statusOf(domain.ErrorCode(p.Travel.Err)), nil
	}
	s.render(w, r, v, status, "provinces", "provinces.title", p)
}

// provincePage is every budget line of one province, by fiscal year and
// source, with its projects.
type provincePage struct {
	Province domain.Province
	Travel   travel
	Years    []yearLines
}

type yearLines struct {
	Year  int
	Lines []lineRow
}

type lineRow struct {
	projections.LineBalance
	Href string
}

func (s *Server) provincePage(w http.ResponseWriter, r *http.Request, v *visit) {
	code := r.PathValue("code")
	p := provincePage{Province: provinceOf(code), Travel: s.readTravel(r)}
	p.Travel.Today = href("/provinces/"+url.PathEscape(code), nil)
	rep, err := s.balances(r, v, &p.Travel, url.Values{"province": {code}})
	if err != nil && !p.Travel.refused(err) {
		s.problem(w, r, v, err)
		return
	}
	q := p.Travel.query()
	byYear := map[int]*yearLines{}
	for _, lb := range rep.Lines {
		y := byYear[lb.Line.FiscalYear]
		if y == nil {
			y = &yearLines{Year: lb.Line.FiscalYear}
			byYear[lb.Line.FiscalYear] = y
		}
		y.Lines = append(y.Lines, lineRow{LineBalance: lb, Href: lineHref(lb.Line, q)})
	}
	for _, y := range byYear {
		p.Years = append(p.Years, *y)
	}
	slices.SortFunc(p.Years, func(a, b yearLines) int { return cmp.Compare(b.Year, a.Year) })
	status := http.StatusOK
	if p.Travel.Err != nil {
		status, p.Years = statusOf(domain.ErrorCode(p.Travel.Err)), nil
	}
	s.render(w, r, v, status, "province", "province.title", p)
}

// DefaultTrailPage is how many movements a page of the trail shows.
const DefaultTrailPage = 50

// linePage is one budget line: its figures, its projects and its audit
// trail, a page at a time, of the whole line or of one project.
type linePage struct {
	Line     domain.LineKey
	Province domain.Province
	Travel   travel
	Project  string
	// Balance is the line's; nil when it had no movement (then).
	Balance *projections.LineBalance
	Trail   []trailRow
	// ProvinceHref is the province's page; NextHref the trail's next
	// page, FirstHref its first (when this is not the first).
	ProvinceHref, NextHref, FirstHref string
}

type trailRow struct {
	projections.TrailEntry
	Href string
}

func (s *Server) linePage(w http.ResponseWriter, r *http.Request, v *visit) {
	p := linePage{Travel: s.readTravel(r), Project: strings.TrimSpace(r.URL.Query().Get("project"))}
	q := r.URL.Query()
	filter := url.Values{"year": {r.PathValue("year")}, "province": {r.PathValue("province")}, "source": {r.PathValue("source")}}
	rep, err := s.balances(r, v, &p.Travel, filter)
	if err != nil && !p.Travel.refused(err) {
		s.problem(w, r, v, err)
		return
	}
	p.Line.FiscalYear, _ = strconv.Atoi(r.PathValue("year")) // the API has read it
	p.Line.Province, p.Line.Source = r.PathValue("province"), domain.Source(r.PathValue("source"))
	p.Province = provinceOf(p.Line.Province)
	if p.Project != "" {
		p.Travel.Today = lineHref(p.Line, url.Values{"project": {p.Project}})
	} else {
		p.Travel.Today = lineHref(p.Line, nil)
	}
	keep := p.Travel.query()
	p.ProvinceHref = href("/provinces/"+url.PathEscape(p.Line.Province), keep)
	if p.Travel.Err != nil {
		s.render(w, r, v, statusOf(domain.ErrorCode(p.Travel.Err)), "line", "line.title", p)
		return
	}
	for i := range rep.Lines {
		if rep.Lines[i].Line == p.Line {
			p.Balance = &rep.Lines[i]
		}
	}
	if p.Balance == nil && p.Travel.Past == nil {
		s.problem(w, r, v, domain.Errorf(domain.CodeNotFound, "", "line %s has no movement the account sees", p.Line))
		return
	}
	aq := url.Values{}
	for k, vs := range filter {
		aq[k] = vs
	}
	if p.Project != "" {
		aq.Set("project", p.Project)
		keep.Set("project", p.Project)
	}
	limit := q.Get("limit")
	if limit != "" {
		aq.Set("limit", limit)
		keep.Set("limit", limit)
	} else {
		aq.Set("limit", strconv.Itoa(DefaultTrailPage))
	}
	if after := q.Get("after"); after != "" {
		aq.Set("after_seq", after)
		p.FirstHref = lineHref(p.Line, keep)
	}
	var trail api.AuditResponse
	if err := s.call(r, v, request{method: http.MethodGet, path: "/v1/audit", query: p.Travel.asOf(aq)}, &trail); err != nil {
		s.problem(w, r, v, err)
		return
	}
	for _, e := range trail.Entries {
		p.Trail = append(p.Trail, trailRow{TrailEntry: e, Href: href("/events/"+strconv.FormatUint(e.Seq, 10), nil)})
	}
	if trail.NextAfterSeq != 0 {
		next := url.Values{}
		for k, vs := range keep {
			next[k] = vs
		}
		next.Set("after", strconv.FormatUint(trail.NextAfterSeq, 10))
		p.NextHref = lineHref(p.Line, next)
	}
	s.render(w, r, v, http.StatusOK, "line", "line.title", p)
}

// eventPage is one event's details, as the audit trail shows it.
type eventPage struct {
	Entry    projections.TrailEntry
	Province domain.Province
	// LineHref is the line's page; "" for the ledger's own events.
	LineHref string
}

func (s *Server) eventPage(w http.ResponseWriter, r *http.Request, v *visit) {
	var p eventPage
	if err := s.call(r, v, request{method: http.MethodGet, path: "/v1/events/" + r.PathValue("seq")}, &p.Entry); err != nil {
		s.problem(w, r, v, err)
		return
	}
	if k := p.Entry.Event.Line(); k != (domain.LineKey{}) {
		p.Province = provinceOf(k.Province)
		p.LineHref = lineHref(k, nil)
	}
	s.render(w, r, v, http.StatusOK, "event", "event.title", p)
}
