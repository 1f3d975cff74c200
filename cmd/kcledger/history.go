package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"text/tabwriter"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// runAudit is `kcledger audit`: the audit trail, a page at a time.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit", "list movements in stream order with who recorded them, when, under which decision or voucher, and the line's totals after each", stderr)
	server := addClientFlags(fs)
	year := fs.Int("year", 0, "only this fiscal year")
	province := fs.String("province", "", "only this province code")
	source := fs.String("source", "", "only this source: national (KCQG) or local (KCĐP)")
	project := fs.String("project", "", "only this project (đề án)")
	past := addPastFlags(fs)
	after := fs.Uint64("after-seq", 0, "start after this sequence (the next page)")
	limit := fs.Int("limit", webapi.DefaultAuditPage, fmt.Sprintf("entries per page, at most %d", webapi.MaxAuditPage))
	all := fs.Bool("all", false, "follow every page to the end")
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print JSON, one page per line (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger audit: %v\n", err)
		return exitUsage
	}
	q, err := lineQuery(*year, *province, *source)
	if err != nil {
		fmt.Fprintf(stderr, "kcledger audit: %v\n", err)
		return exitUsage
	}
	if err := past.set(q); err != nil {
		fmt.Fprintf(stderr, "kcledger audit: %v\n", err)
		return exitUsage
	}
	if *project != "" {
		q.Set("project", *project)
	}
	q.Set("limit", strconv.Itoa(*limit))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, auditHeader)
	}
	for {
		q.Set("after_seq", strconv.FormatUint(*after, 10))
		var res webapi.AuditResponse
		if _, err := c.do(ctx, http.MethodGet, "/v1/audit?"+q.Encode(), nil, nil, &res); err != nil {
			_ = tw.Flush()
			return exitFor(err, stderr, *server.server)
		}
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(res)
		}
		for _, e := range res.Entries {
			if *asJSON {
				break
			}
			printAuditEntry(tw, e)
		}
		if res.NextAfterSeq == 0 || !*all {
			_ = tw.Flush()
			if res.NextAfterSeq != 0 && !*asJSON {
				fmt.Fprintf(stdout, "More: kcledger audit … --after-seq %d (or --all)\n", res.NextAfterSeq)
			}
			return exitOK
		}
		*after = res.NextAfterSeq
	}
}

// auditHeader heads the audit table: the line's totals after each
// movement close it, the transfers' and lapses' among them.
const auditHeader = "Seq\tRecorded\tBy\tLine\tProject\tMovement\tAmount\tEffective\tReference\tAvailable after\tTransferred in after\tTransferred out after\tLapsed after"

// printAuditEntry writes one row of the audit table.
func printAuditEntry(tw io.Writer, e projections.TrailEntry) {
	ev := e.Event
	ref := ev.Decision + ev.Voucher
	if ev.Beneficiary != "" {
		ref += " → " + ev.Beneficiary
	}
	if ev.Reason != "" {
		ref += " (" + ev.Reason + ")"
	}
	if ev.Type == domain.TypeRepudiated {
		// On no line, moving no money: what it passes over.
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t\t%s\t\t%s\tseq %d repudiated: %s\t\t\t\t\n", e.Seq, humanTime(ev.RecordedAt), ev.Actor,
			"ledger", ev.Type.Kind(), ev.EffectiveDate, ev.RepudiatedSeq, ref)
		return
	}
	b := e.Line
	fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, humanTime(ev.RecordedAt), ev.Actor,
		lineLabel(ev.Line()), ev.Project, movementLabel(&ev), ev.Amount.VND(), ev.EffectiveDate, ref,
		b.Available().VND(), b.TransferredIn.VND(), b.TransferredOut.VND(), b.Lapsed.VND())
}

// movementLabel is a movement's kind as the audit table shows it: a
// transfer's side with its kind and the other line, a lapse saying
// whether it closed the line.
func movementLabel(ev *domain.Event) string {
	switch ev.Type {
	case domain.TypeTransferredOut:
		return fmt.Sprintf("%s (%s) → %s", ev.Type.Kind(), ev.TransferKind, lineLabel(ev.ToLine))
	case domain.TypeTransferredIn:
		return fmt.Sprintf("%s (%s) ← %s", ev.Type.Kind(), ev.TransferKind, lineLabel(ev.FromLine))
	case domain.TypeLapsed:
		if ev.Project == "" {
			return ev.Type.Kind() + " (line closed: refunds only)"
		}
		return ev.Type.Kind() + " (project)"
	}
	return ev.Type.Kind()
}
