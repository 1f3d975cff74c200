package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// pathPlanExecution is the report route.
const pathPlanExecution = "/v1/reports/plan-execution"

// planParams are the query parameters of the report, which the CLI's
// flags repeat with dashes.
var planParams = []string{"year", "region", "province", "source", "by", "scheme", "effective_until", "as_of",
	"compare_previous_year", "unit", "decimals", "percent_decimals", "percent", "share_of", "events"}

// parsePlanQuery reads a report's parameters; every error names the
// parameter. asOf is zero when not given.
func parsePlanQuery(q url.Values, now time.Time, p domain.Policy) (pq projections.PlanQuery, asOf time.Time, err error) {
	if err := webapi.CheckParams(q, planParams...); err != nil {
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
			return pq, asOf, webapi.WithField(err, "effective_until")
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
	bools := map[string]*bool{"compare_previous_year": &pq.ComparePrevious, "events": &pq.Events}
	for _, k := range []string{"compare_previous_year", "events"} {
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

// planReportView is the report as the API answers it: the title and the
// presentation rules in words, beside the figures.
type planReportView struct {
	Title string `json:"title"`
	Rules string `json:"rules"`
	projections.PlanReport
	AsOf *time.Time `json:"as_of,omitempty"`
}

func viewOfPlan(rep projections.PlanReport, asOf time.Time, lang string) planReportView {
	v := planReportView{Title: rep.Title(lang), Rules: rep.Rules(lang), PlanReport: rep}
	if !asOf.IsZero() {
		v.AsOf = &asOf
	}
	return v
}

// getPlanExecution answers GET /v1/reports/plan-execution: rebuilt from
// the stream up to the cut, officers seeing only their provinces and
// sources.
func (a *api) getPlanExecution(w http.ResponseWriter, r *http.Request) {
	acc := accountOf(r)
	if err := acc.MayRead(); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	pq, asOf, err := parsePlanQuery(r.URL.Query(), a.now(), a.policy)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	if acc.Role == domain.RoleOfficer {
		if err := officerScope(acc, &pq); err != nil {
			webapi.WriteError(w, r, a.log, err)
			return
		}
	}
	pq.Allow = reportAllows(acc, pq)
	if a.plans != nil && asOf.IsZero() && !pq.Events && a.plansHealth.stalled() == nil {
		// The live model, once it holds this server's writes and what
		// the balances hold (it replays the stream beside them at start).
		if err := a.plans.WaitFor(r.Context(), max(a.lastWrite.Load(), a.balances.Applied())); err != nil {
			webapi.WriteError(w, r, a.log, domain.Errorf(domain.CodeUnavailable, "", "reports are catching up with recent writes; retry shortly"))
			return
		}
		rep, err := a.plans.PlanExecution(pq)
		if err != nil {
			webapi.WriteError(w, r, a.log, err)
			return
		}
		webapi.WriteJSON(w, http.StatusOK, viewOfPlan(rep, asOf, projections.LangVI))
		return
	}
	state, err := a.history.State(r.Context())
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
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
		webapi.WriteError(w, r, a.log, err)
		return
	}
	rep, err := plans.PlanExecution(pq)
	if errors.Is(err, domain.ErrCorrupt) {
		err = unsoundAt(plans.Applied(), err)
	}
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	webapi.WriteJSON(w, http.StatusOK, viewOfPlan(rep, asOf, projections.LangVI))
}

// runReport is `kcledger report`.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", "plan against execution (kế hoạch, thực hiện) by province, source, content or project, as the ministry's tables read; through the server, or straight from the stream with --nats-url", stderr)
	server := addClientFlags(fs)
	nf := addReaderFlags(fs) // --nats-url: straight from the stream
	keysFile := fs.String("keys", env("KCLEDGER_KEYS", ""), "with --nats-url, required: the pinned public keys, saved earlier with: kcledger keys > keys.json (KCLEDGER_KEYS)")
	settle := fs.String("settlement-end-2026", env("KCLEDGER_SETTLEMENT_END_2026", "01-31"), "as given to serve (KCLEDGER_SETTLEMENT_END_2026)")
	year := fs.Int("year", 0, "required: the fiscal year")
	region := fs.String("region", "", "only this region: north, central_highlands or south (default: the whole country)")
	province := fs.String("province", "", "only this province, a code of --scheme")
	source := fs.String("source", "", "only this source: national (KCQG) or local (KCĐP) (default: both)")
	by := fs.String("by", "province", "rows: province, source, category or project")
	scheme := fs.String("scheme", "", "province scheme: 63 or 34; under 34 earlier movements roll up to today's provinces (default: the scheme at the end of --year)")
	effectiveUntil := fs.String("effective-until", "", "only movements dated on or before YYYY-MM-DD, e.g. the first 9 months; the previous year is cut on the same day")
	asOf := fs.String("as-of", "", "as the ledger knew it at this moment, e.g. 2025-06-30T17:00:00+07:00")
	compare := fs.Bool("compare-previous-year", false, "add the previous year's plan and execution, for the same cut, and their growth")
	unit := fs.String("unit", "trieu", "unit of amounts: dong, trieu (triệu đồng) or ty (tỷ đồng)")
	decimals := fs.Int("decimals", 0, "decimals of amounts, 0 to 4 (rounded half up)")
	percentDecimals := fs.Int("percent-decimals", 2, "decimals of percentages, 0 to 4")
	percent := fs.String("percent", "round", "percentages: round (half up) or truncate")
	shareOf := fs.String("share-of", "own", "percentage of plan over: own (each row's own plan) or total (the scope's total plan)")
	events := fs.Bool("events", false, "list the stream sequences of the events behind each row")
	format := fs.String("format", "table", "output: table, json, csv or xlsx (an Excel workbook, one sheet per breakdown, --by's first)")
	output := fs.String("output", "", "write to this file instead of standard output")
	lang := fs.String("lang", projections.LangVI, "headings: vi or en (figures are vi-VN in both)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "kcledger report: "+format+"\n", a...)
		return code
	}
	switch *format {
	case "table", "json", "csv", "xlsx":
	default:
		return fail(exitUsage, "--format %q: want table, json, csv or xlsx", *format)
	}
	if *lang != projections.LangVI && *lang != projections.LangEN {
		return fail(exitUsage, "--lang %q: want vi or en", *lang)
	}
	settlement, err := domain.ParseMonthDay(*settle)
	if err != nil {
		return fail(exitUsage, "--settlement-end-2026: %v", err)
	}
	policy := domain.Policy{SettlementEndFrom2026: settlement}
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *year != 0 {
		set("year", strconv.Itoa(*year))
	}
	set("region", *region)
	set("province", *province)
	set("source", *source)
	set("by", *by)
	set("scheme", *scheme)
	set("effective_until", *effectiveUntil)
	set("as_of", *asOf)
	if *compare {
		set("compare_previous_year", "true")
	}
	set("unit", *unit)
	set("decimals", strconv.Itoa(*decimals))
	set("percent_decimals", strconv.Itoa(*percentDecimals))
	set("percent", *percent)
	set("share_of", *shareOf)
	if *events {
		set("events", "true")
	}
	pq, cutoff, err := parsePlanQuery(q, time.Now(), policy)
	if err != nil {
		var de *domain.Error
		if errors.As(err, &de) && de.Field != "" {
			return fail(exitUsage, "--%s: %s", flagName(de.Field), de.Message)
		}
		return fail(exitUsage, "%v", err)
	}
	// Straight from the stream only when --nats-url is given here:
	// KCLEDGER_NATS_URL, set for the other reader commands, does not turn
	// the server's report into the stream's.
	fromStream := false
	fs.Visit(func(f *flag.Flag) { fromStream = fromStream || f.Name == "nats-url" })
	// The reports to write: --by's, then, in a workbook, every other
	// breakdown on its own sheet.
	bys := []projections.Breakdown{pq.By}
	if *format == "xlsx" {
		for _, b := range breakdowns {
			if b != pq.By {
				bys = append(bys, b)
			}
		}
	}
	var views []planReportView
	if fromStream {
		plans, code := plansFromStream(ctx, nf, *keysFile, pq, cutoff, stderr)
		if code != exitOK {
			return code
		}
		for _, b := range bys {
			q := pq
			q.By = b
			rep, err := plans.PlanExecution(q)
			if err != nil {
				return fail(exitRefused, "%v", err)
			}
			views = append(views, viewOfPlan(rep, cutoff, *lang))
		}
	} else {
		c, err := server.client()
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		for _, b := range bys {
			q.Set("by", string(b))
			var view planReportView
			if _, err := c.do(ctx, http.MethodGet, pathPlanExecution+"?"+q.Encode(), nil, nil, &view); err != nil {
				return exitFor(err, stderr, *server.server)
			}
			view.Title, view.Rules = view.PlanReport.Title(*lang), view.PlanReport.Rules(*lang)
			views = append(views, view)
		}
	}
	out := stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			return fail(exitFailure, "--output: %v", err)
		}
		defer f.Close()
		out = f
	}
	write := func() error { return writePlanReport(out, views[0], *format, *lang) }
	if *format == "xlsx" {
		write = func() error { return writePlanXLSX(out, views, *lang) }
	}
	if err := write(); err != nil {
		return fail(exitFailure, "%v", err)
	}
	if f, ok := out.(*os.File); ok && out != stdout {
		if err := f.Close(); err != nil {
			return fail(exitFailure, "--output: %v", err)
		}
	}
	return exitOK
}

// flagName is the CLI flag of a query parameter.
func flagName(param string) string {
	b := []byte(param)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// writePlanReport writes the report in a format; the title and the
// presentation rules are in every one.
func writePlanReport(w io.Writer, v planReportView, format, lang string) error {
	rows := v.PlanReport.Table(lang)
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{v.Title})
		_ = cw.Write([]string{v.Rules})
		_ = cw.WriteAll(rows)
		return cw.Error()
	}
	fmt.Fprintln(w, v.Title)
	fmt.Fprintln(w, v.Rules)
	if v.AsOf != nil {
		fmt.Fprintf(w, "%s %s\n", map[string]string{projections.LangVI: "Theo sổ cái tại", projections.LangEN: "As the ledger knew it at"}[lang], humanTime(*v.AsOf))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw, "\t")
	}
	return tw.Flush()
}

// plansFromStream builds the report model straight from the stream, as
// replay does: the auditor's own copy, every event signed by a pinned
// key.
func plansFromStream(ctx context.Context, nf *readerFlags, keysFile string, pq projections.PlanQuery, cutoff time.Time, stderr io.Writer) (*projections.Plans, int) {
	fail := func(code int, format string, a ...any) (*projections.Plans, int) {
		fmt.Fprintf(stderr, "kcledger report: "+format+"\n", a...)
		return nil, code
	}
	if err := nf.check(); err != nil {
		return fail(exitUsage, "%v", err)
	}
	if keysFile == "" {
		return fail(exitUsage, "--keys is required with --nats-url: the public keys you pinned earlier with kcledger keys > keys.json; every event must be signed by one of them")
	}
	ring, err := pinnedKeys(keysFile)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	nc, rd, err := nf.open(ctx, "kcledger-report")
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	defer nc.Close()
	state, err := rd.State(ctx)
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	last := state.LastSeq
	reps, err := readRepudiations(ctx, rd, last, ring, cutoff)
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	years := []int{pq.FiscalYear}
	if pq.ComparePrevious {
		years = append(years, pq.FiscalYear-1)
	}
	plans := projections.NewPlans(projections.Cut{AsOf: cutoff}, years...)
	rd.CheckSignatures(ring)
	next := uint64(1)
	err = rd.Scan(ctx, last, func(se eventstore.StoredEvent) (bool, error) {
		if !cutoff.IsZero() && se.Stored.After(cutoff) {
			return false, nil
		}
		for ; se.Seq > next && reps.Covers(next, ""); next++ {
			if err := plans.Apply(domain.Recorded{Seq: next, Repudiated: true}); err != nil {
				return false, err
			}
		}
		if se.Seq != next {
			return false, fmt.Errorf("%w: the stream has no message at seq %d (the next is seq %d): a message was removed", domain.ErrCorrupt, next, se.Seq)
		}
		next = se.Seq + 1
		if reps.Has(se.Seq) && reps.Covers(se.Seq, se.Digest()) {
			return true, plans.Apply(domain.Recorded{Seq: se.Seq, Repudiated: true})
		}
		if se.Err != nil {
			return false, se.Err
		}
		if se.Unsigned != nil {
			return false, fmt.Errorf("event at seq %d: %w", se.Seq, se.Unsigned)
		}
		return plans.Add(se.Recorded, se.Stored)
	})
	if err != nil {
		if errors.Is(err, domain.ErrCorrupt) || errors.Is(err, domain.ErrForged) {
			return fail(exitRefused, "the stream is not sound, so no report is shown (run kcledger verify): %v", err)
		}
		return fail(exitFailure, "%v", err)
	}
	return plans, exitOK
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
