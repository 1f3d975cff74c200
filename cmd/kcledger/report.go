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
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/workbook"
)

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
	pq, cutoff, err := webapi.ParsePlanQuery(q, time.Now(), policy)
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
		for _, b := range workbook.Breakdowns {
			if b != pq.By {
				bys = append(bys, b)
			}
		}
	}
	var views []webapi.PlanReportView
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
			views = append(views, webapi.ViewOfPlan(rep, cutoff, *lang))
		}
	} else {
		c, err := server.client()
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		for _, b := range bys {
			q.Set("by", string(b))
			var view webapi.PlanReportView
			if _, err := c.do(ctx, http.MethodGet, webapi.PathPlanExecution+"?"+q.Encode(), nil, nil, &view); err != nil {
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
		write = func() error { return workbook.Write(out, views, *lang) }
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
func writePlanReport(w io.Writer, v webapi.PlanReportView, format, lang string) error {
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
