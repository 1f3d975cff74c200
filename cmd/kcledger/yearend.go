package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kcledger/kcledger/domain"
	webapi "github.com/kcledger/kcledger/web/api"
)

// The end of the budget year, for every line at once (admins only):
//
//	POST /v1/year-end/succession   kết chuyển: each 2025 line of a merged province to its successor
//	POST /v1/year-end/carry-over   chuyển nguồn: year N's lines to year N+1
//	POST /v1/year-end/close-year   hủy dự toán: lapse what is left on year N's lines, closing them
//
// With "dry_run": true the answer is the plan and nothing is recorded.
// Otherwise the server plans each line on its state as the ledger has it
// now (Ledger.State, not the balances, which may trail), records the
// line's commands one by one, and answers with each item's outcome. The
// idempotency keys are derived from the operation, its decision, the
// line and the project (domain.YearEndKey), so the request carries no
// Idempotency-Key: running it again after a crash records nothing twice
// and finishes the rest. The same routes are NATS service endpoints
// (kcledger.api.v1.year-end-succession, …-carry-over, …-close-year).

// ----------------------------------------------------------------- CLI

// yearEndCLI is what the three commands share.
type yearEndCLI struct {
	name     string
	op       domain.YearEndOp
	server   *clientFlags
	decision *string
	reason   *string
	date     *string
	dryRun   *bool
	asJSON   *bool
}

func newYearEndCLI(name, summary string, op domain.YearEndOp, stderr io.Writer) (*yearEndCLI, *flag.FlagSet) {
	fs := newFlags(name, summary, stderr)
	y := &yearEndCLI{name: name, op: op, server: addClientFlags(fs)}
	y.decision = fs.String("decision", "", "số quyết định: the decision that orders it, e.g. 1234/QĐ-UBND (required)")
	y.reason = fs.String("reason", "", "lý do: why, optional")
	y.dryRun = fs.Bool("dry-run", false, "chạy thử: print the plan (line, project, amount, destination) and record nothing")
	y.asJSON = fs.Bool("json", envBool("KCLEDGER_JSON"), "print the server's JSON answer (KCLEDGER_JSON)")
	return y, fs
}

func runSuccession(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	y, fs := newYearEndCLI("succession", "kết chuyển tỉnh hợp nhất: transfer what is still available on every 2025 line of a province merged on 1 July 2025 to the same line of its successor (02 Hà Giang → 08 Tuyên Quang), per project; admins. Run it with --dry-run first; a rerun after a failure records nothing twice and finishes the rest", domain.OpSuccession, stderr)
	y.date = fs.String("date", "", "ngày hiệu lực: the decision's date YYYY-MM-DD, from 2025-07-01 (required)")
	year := fs.Int("year", domain.SuccessionYear, "năm ngân sách: the fiscal year of the lines moved, 2025, or 2026 for lines allocated in advance under an old code")
	province := fs.String("province", "", "only this old (63-scheme) province code, e.g. 02; default: every merged province")
	source := fs.String("source", "", "only this source: national (KCQG) or local (KCĐP); default: both")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *y.date == "" {
		return y.usage(stderr, "--date is required: the decision's date, from 2025-07-01")
	}
	body := map[string]any{"fiscal_year": *year}
	if *province != "" {
		body["province"] = *province
	}
	if *source != "" {
		src, err := domain.ParseSource(*source)
		if err != nil {
			return y.usage(stderr, "--source: %s", domainMessage(err))
		}
		body["source"] = src
	}
	return y.run(ctx, body, stdout, stderr)
}

func runCarryOver(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	y, fs := newYearEndCLI("carry-over", "chuyển nguồn: carry what is still available on a line of fiscal year N (or on every line) over to the same line of year N+1, or of the successor province when the code is no longer in force, per project; within year N's settlement period; admins", domain.OpCarryOver, stderr)
	fromYear := fs.Int("from-year", 0, "năm ngân sách: the fiscal year N carried from (required)")
	line := fs.String("line", "", "one line, as PROVINCE/SOURCE: 01/national, 08/KCĐP")
	all := fs.Bool("all", false, "every line of year N")
	y.date = fs.String("date", "", "ngày hiệu lực: the decision's date YYYY-MM-DD, within year N's settlement period (default: today in Vietnam)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *fromYear == 0 {
		return y.usage(stderr, "--from-year is required: the fiscal year carried from, e.g. 2025")
	}
	body := map[string]any{"fiscal_year": *fromYear}
	switch {
	case *all && *line != "":
		return y.usage(stderr, "give --line or --all, not both")
	case *all:
		body["all"] = true
	case *line == "":
		return y.usage(stderr, "give --line PROVINCE/SOURCE (e.g. 01/national) or --all")
	default:
		province, source, ok := strings.Cut(*line, "/")
		if !ok || province == "" {
			return y.usage(stderr, "--line %q: want PROVINCE/SOURCE, e.g. 01/national or 08/KCĐP", *line)
		}
		src, err := domain.ParseSource(source)
		if err != nil {
			return y.usage(stderr, "--line %q: %s", *line, domainMessage(err))
		}
		body["province"], body["source"] = province, src
	}
	return y.run(ctx, body, stdout, stderr)
}

func runCloseYear(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var year string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		year, args = args[0], args[1:]
	}
	y, fs := newYearEndCLI("close-year", "hủy dự toán: kcledger close-year N lapses what is still available on every line of fiscal year N (per project, then the rest) and closes each line, which then takes refunds only; refused until year N's settlement period is over; admins", domain.OpCloseYear, stderr)
	y.date = fs.String("date", "", "ngày hiệu lực: the decision's date YYYY-MM-DD, after the settlement period (default: today in Vietnam)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if year == "" {
		return y.usage(stderr, "the fiscal year to close is required: kcledger close-year 2025 --decision …")
	}
	n, err := strconv.Atoi(year)
	if err != nil || n < domain.MinFiscalYear || n > domain.MaxFiscalYear {
		return y.usage(stderr, "%q is not a fiscal year from %d to %d", year, domain.MinFiscalYear, domain.MaxFiscalYear)
	}
	return y.run(ctx, map[string]any{"fiscal_year": n}, stdout, stderr)
}

func (y *yearEndCLI) usage(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "kcledger %s: %s\n", y.name, fmt.Sprintf(format, a...))
	return exitUsage
}

// run asks the server for the plan and, unless --dry-run, has it record
// the plan line by line, printing each item as it is recorded.
func (y *yearEndCLI) run(ctx context.Context, body map[string]any, stdout, stderr io.Writer) int {
	if strings.TrimSpace(*y.decision) == "" {
		return y.usage(stderr, "--decision is required: the decision that orders it")
	}
	body["decision"] = *y.decision
	if *y.reason != "" {
		body["reason"] = *y.reason
	}
	d := domain.DateOf(time.Now().In(vietnam))
	if *y.date != "" {
		var err error
		if d, err = domain.ParseDate(*y.date); err != nil {
			return y.usage(stderr, "--date: %s", domainMessage(err))
		}
	}
	body["effective_date"] = d.String()
	c, err := y.server.client()
	if err != nil {
		return y.usage(stderr, "%v", err)
	}
	path := webapi.YearEndPaths[y.op]
	call := func(body map[string]any) (webapi.YearEndResponse, json.RawMessage, error) {
		var raw json.RawMessage
		var res webapi.YearEndResponse
		if _, err := c.do(ctx, http.MethodPost, path, nil, body, &raw); err != nil {
			return res, nil, err
		}
		return res, raw, json.Unmarshal(raw, &res)
	}
	body["dry_run"] = true
	plan, raw, err := call(body)
	if err != nil {
		return exitFor(err, stderr, *y.server.server)
	}
	if *y.dryRun {
		if *y.asJSON {
			printAnswer(stdout, raw)
			return exitOK
		}
		printYearEndPlan(stdout, plan)
		fmt.Fprintf(stdout, "Chạy thử (dry run): nothing was recorded. %s, %s in all.\n", itemCount(plan.Summary.Items), plan.Summary.Amount.VND())
		return exitOK
	}
	m := len(plan.Items)
	done := webapi.YearEndResponse{Op: plan.Op, FiscalYear: plan.FiscalYear, EffectiveDate: plan.EffectiveDate, Decision: plan.Decision, Items: []webapi.YearEndItem{}}
	if m == 0 {
		if *y.asJSON {
			return printJSON(stdout, done)
		}
		fmt.Fprintln(stdout, "Nothing to do: no line has anything to "+map[domain.YearEndOp]string{domain.OpSuccession: "transfer", domain.OpCarryOver: "carry over", domain.OpCloseYear: "close"}[y.op]+".")
		return exitOK
	}
	if !*y.asJSON {
		fmt.Fprintf(stdout, "%s to record (%s).\n", itemCount(m), plan.Summary.Amount.VND())
	}
	// One request per line, in the plan's order: the server plans the
	// line again on its state now and records its items.
	body["dry_run"] = false
	delete(body, "all")
	n := 0
	total := domain.ZeroAmount
	for i := 0; i < len(plan.Items); {
		k := plan.Items[i].Line
		for i < len(plan.Items) && plan.Items[i].Line == k {
			i++
		}
		body["fiscal_year"], body["province"], body["source"] = k.FiscalYear, k.Province, k.Source
		res, _, err := call(body)
		if err != nil {
			code := exitFor(err, stderr, *y.server.server)
			fmt.Fprintf(stderr, "kcledger %s: stopped after %d of %d items; run the same command again to finish: what was recorded is not recorded again\n", y.name, n, m)
			return code
		}
		for _, it := range res.Items {
			n++
			done.Items = append(done.Items, it)
			switch it.Status {
			case "recorded":
				done.Summary.Recorded++
			case "replayed":
				done.Summary.Replayed++
			case "refused":
				done.Summary.Refused++
			}
			if it.Status != "refused" {
				total = total.Add(it.Amount)
			}
			if !*y.asJSON {
				fmt.Fprintf(stdout, "[%d of %d] %s\n", n, max(m, n), itemLine(it))
			}
		}
	}
	done.Summary.Items, done.Summary.Amount = len(done.Items), total
	code := exitOK
	if done.Summary.Refused > 0 {
		code = exitRefused
	}
	if *y.asJSON {
		printJSON(stdout, done)
		return code
	}
	fmt.Fprintf(stdout, "Done: %d recorded, %d already recorded, %d refused, of %s; %s in all.\n",
		done.Summary.Recorded, done.Summary.Replayed, done.Summary.Refused, itemCount(done.Summary.Items), total.VND())
	if done.Summary.Refused > 0 {
		fmt.Fprintf(stderr, "kcledger %s: refused: %s (see above); the others are recorded\n", y.name, itemCount(done.Summary.Refused))
	}
	return code
}

func itemCount(n int) string {
	if n == 1 {
		return "1 item"
	}
	return strconv.Itoa(n) + " items"
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return exitOK
}

// itemLine is one item as the progress prints it.
func itemLine(it webapi.YearEndItem) string {
	what := map[domain.CommandKind]string{domain.Transfer: "transfer", domain.Lapse: "lapse"}[it.Kind]
	s := fmt.Sprintf("%s %s %s", what, lineLabel(it.Line), projectLabel(it.Project))
	s += " " + it.Amount.VND()
	if it.To != nil {
		s += " → " + lineLabel(*it.To)
	}
	switch it.Status {
	case "recorded":
		s = "recorded " + s + fmt.Sprintf(" (seq %d", it.Seq)
		if it.ToSeq != 0 {
			s += fmt.Sprintf(", %d", it.ToSeq)
		}
		s += ")"
	case "replayed":
		s = "already recorded " + s + fmt.Sprintf(" (seq %d)", it.Seq)
	case "refused":
		s = "refused " + s
		if it.Error != nil {
			s += fmt.Sprintf(": %s (%s)", it.Error.Detail, it.Error.Code)
		}
	}
	return s
}

func projectLabel(p string) string {
	if p == "" {
		return "(không theo đề án)"
	}
	return "đề án " + p
}

func printYearEndPlan(w io.Writer, r webapi.YearEndResponse) {
	if len(r.Items) == 0 {
		fmt.Fprintln(w, "Nothing to do: no line has anything to move or close.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tLine\tProject\tAmount\tDestination\t")
	for i, it := range r.Items {
		dest := "lapse (hủy dự toán)"
		if it.To != nil {
			dest = lineLabel(*it.To)
		}
		proj := it.Project
		if proj == "" {
			proj = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t\n", i+1, lineLabel(it.Line), proj, it.Amount.VND(), dest)
	}
	_ = tw.Flush()
}
