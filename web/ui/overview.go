package ui

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/i18n"
)

// overviewPage is a fiscal year at a glance: plan, executed and available
// per province, as the plan-against-execution report counts them, within
// the visitor's scope.
type overviewPage struct {
	Year   int
	Report api.PlanReportView
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, v *visit) {
	p := overviewPage{Year: i18n.DateOf(s.now()).Year}
	if y := r.URL.Query().Get("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil {
			n = -1 // the API names the field and the rule
		}
		p.Year = n
	}
	q := url.Values{"year": {strconv.Itoa(p.Year)}, "by": {"province"}}
	if err := s.call(r, v, request{method: http.MethodGet, path: api.PathPlanExecution, query: q}, &p.Report); err != nil {
		s.problem(w, r, v, err)
		return
	}
	s.render(w, r, v, http.StatusOK, "overview", "overview.title", p)
}
