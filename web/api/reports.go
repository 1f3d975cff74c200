package api

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
)

// PathPlanExecution is the report route.
const PathPlanExecution = "/v1/reports/plan-execution"

// planParams are the query parameters of the report, which the CLI's
// flags repeat with dashes.
var planParams = []string{"year", "region", "province", "source", "by", "scheme", "effective_until", "as_of",
	"compare_previous_year", "unit", "decimals", "percent_decimals", "percent", "share_of", "events", "monthly"}

// ParsePlanQuery reads a report's parameters; every error names the
// parameter. asOf is zero when not given.
func ParsePlanQuery(q url.Values, now time.Time, p domain.Policy) (pq projections.PlanQuery, asOf time.Time, err error) {
	if err := checkParams(q, planParams...); err != nil {
		return pq, asOf, err
	}
	for k, v := range q {
		if len(v) > 1 {
			return pq, asOf, domain.Errorf(domain.CodeInvalidField, k, "%s is given %d times", k, len(v))
		}
	}
	y := q.Get("year")
	if y == "" {
		return pq, asOf, domain.Errorf(domain.CodeMissingField, "year", "year is required: the fiscal year, e.g. 2024")
	}
	if pq.FiscalYear, err = strconv.Atoi(y); err != nil {
		return pq, asOf, domain.Errorf(domain.CodeInvalidYear, "year", "year %q must be a fiscal year from %d to %d", y, domain.MinFiscalYear, domain.MaxFiscalYear)
	}
	pq.Region = domain.Region(q.Get("region"))
	pq.Province = q.Get("province")
	if s := q.Get("source"); s != "" && s != "both" {
		if pq.Source, err = domain.ParseSource(s); err != nil {
			return pq, asOf, err
		}
	}
	pq.By = projections.Breakdown(q.Get("by"))
	pq.Scheme = domain.Scheme(q.Get("scheme"))
	if s := q.Get("effective_until"); s != "" {
		if pq.EffectiveUntil, err = domain.ParseDate(s); err != nil {
			return pq, asOf, withField(err, "effective_until")
		}
	}
	if s := q.Get("as_of"); s != "" {
		if asOf, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return pq, asOf, domain.Errorf(domain.CodeInvalidField, "as_of", "as_of %q is not a time with its zone, such as 2025-06-30T17:00:00+07:00", s)
		}
		if asOf.After(now) {
			return pq, asOf, domain.Errorf(domain.CodeInvalidField, "as_of", "as_of %s is in the future", s)
		}
	}
	bools := map[string]*bool{"compare_previous_year": &pq.ComparePrevious, "events": &pq.Events, "monthly": &pq.Monthly}
	for _, k := range []string{"compare_previous_year", "events", "monthly"} {
		if s := q.Get(k); s != "" {
			if *bools[k], err = strconv.ParseBool(s); err != nil {
				return pq, asOf, domain.Errorf(domain.CodeInvalidField, k, "%s %q: want true or false", k, s)
			}
		}
	}
	pr := projections.DefaultPresentation()
	if s := q.Get("unit"); s != "" {
		if pr.Unit, err = projections.ParseUnit(s); err != nil {
			return pq, asOf, err
		}
	}
	for _, d := range []struct {
		key string
		to  *int
	}{{"decimals", &pr.Decimals}, {"percent_decimals", &pr.PercentDecimals}} {
		if s := q.Get(d.key); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return pq, asOf, domain.Errorf(domain.CodeInvalidField, d.key, "%s %q: want 0 to 4", d.key, s)
			}
			*d.to = n
		}
	}
	if s := q.Get("percent"); s != "" {
		if pr.PercentRounding, err = projections.ParseRounding(s); err != nil {
			return pq, asOf, err
		}
	}
	if s := q.Get("share_of"); s != "" {
		if pr.ShareOf, err = projections.ParseDenominator(s); err != nil {
			return pq, asOf, err
		}
	}
	pq.Presentation = pr
	return pq, asOf, pq.Normalize(p)
}

// PlanReportView is the report as the API answers it: the title and the
// presentation rules in words, beside the figures.
type PlanReportView struct {
	Title string `json:"title"`
	Rules string `json:"rules"`
	projections.PlanReport
	AsOf *time.Time `json:"as_of,omitempty"`
}

// ViewOfPlan is a plan report as the API and the CLI show it.
func ViewOfPlan(rep projections.PlanReport, asOf time.Time, lang string) PlanReportView {
	v := PlanReportView{Title: rep.Title(lang), Rules: rep.Rules(lang), PlanReport: rep}
	if !asOf.IsZero() {
		v.AsOf = &asOf
	}
	return v
}

// getPlanExecution answers GET /v1/reports/plan-execution: rebuilt from
// the stream up to the cut, officers seeing only their provinces and
// sources.
func (a *Server) getPlanExecution(w http.ResponseWriter, r *http.Request) {
	acc := accountOf(r)
	if err := acc.MayRead(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	pq, asOf, err := ParsePlanQuery(r.URL.Query(), a.now(), a.policy)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if acc.Role == domain.RoleOfficer {
		if err := officerScope(acc, &pq); err != nil {
			WriteError(w, r, a.log, err)
			return
		}
	}
	pq.Allow = reportAllows(acc, pq)
	if a.plans != nil && asOf.IsZero() && !pq.Events && a.plansHealth.Stalled() == nil {
		// The live model, once it holds this server's writes and what
		// the balances hold (it replays the stream beside them at start).
		if err := a.plans.WaitFor(r.Context(), max(a.lastWrite.Load(), a.balances.Applied())); err != nil {
			WriteError(w, r, a.log, domain.Errorf(domain.CodeUnavailable, "", "reports are catching up with recent writes; retry shortly"))
			return
		}
		rep, err := a.plans.PlanExecution(pq)
		if err != nil {
			WriteError(w, r, a.log, err)
			return
		}
		writeJSON(w, http.StatusOK, ViewOfPlan(rep, asOf, projections.LangVI))
		return
	}
	state, err := a.history.State(r.Context())
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	years := []int{pq.FiscalYear}
	filter := eventstore.Filter(pq.FiscalYear, "", "")
	if pq.ComparePrevious {
		years, filter = append(years, pq.FiscalYear-1), eventstore.AllEvents
	}
	cut := projections.Cut{AsOf: asOf}
	plans := projections.NewPlans(cut, years...)
	err = a.scanPast(r.Context(), filter, state.LastSeq, cut, plans.Add)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	rep, err := plans.PlanExecution(pq)
	if errors.Is(err, domain.ErrCorrupt) {
		err = unsoundAt(plans.Applied(), err)
	}
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, ViewOfPlan(rep, asOf, projections.LangVI))
}

// officerScope limits an officer's report to what it may read, and makes
// the report say so: its scope is one of the officer's provinces (the
// only one by default), its source one of the officer's (the only one by
// default). A country or region report would state a scope whose figures
// it could not count.
func officerScope(acc *domain.Account, pq *projections.PlanQuery) error {
	if pq.Region != "" {
		return domain.Errorf(domain.CodeForbidden, "region", "account %s reads the reports of its provinces (%s), one at a time, not of a region: give province", acc.Name, strings.Join(acc.Provinces, ", "))
	}
	switch {
	case pq.Province != "":
		if err := acc.MayReadProvince(pq.Province); err != nil {
			return err
		}
	case len(acc.Provinces) == 1:
		pq.Province = acc.Provinces[0]
	default:
		return domain.Errorf(domain.CodeForbidden, "province", "account %s reads the reports of its provinces (%s), one at a time: give province", acc.Name, strings.Join(acc.Provinces, ", "))
	}
	switch {
	case pq.Source != "":
		if !slices.Contains(acc.Sources, pq.Source) {
			return domain.Errorf(domain.CodeForbidden, "source", "account %s may not read source %s", acc.Name, pq.Source)
		}
	case len(acc.Sources) == 1:
		pq.Source = acc.Sources[0]
	}
	return nil
}

// reportAllows is the lines a report counts for acc: those it may read,
// and, under the 34-province scheme, the lines of an old province whose
// successor it may read (they roll up into it).
func reportAllows(acc *domain.Account, pq projections.PlanQuery) func(domain.LineKey) bool {
	scheme := pq.Scheme
	if scheme == "" {
		scheme = projections.DefaultScheme(pq.FiscalYear)
	}
	return func(k domain.LineKey) bool {
		if acc.Sees(k) {
			return true
		}
		if scheme != domain.Scheme34 {
			return false
		}
		p, ok := domain.Successor(k.Province)
		if !ok {
			return false
		}
		k.Province = p.Code
		return acc.Sees(k)
	}
}
