package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kcledger/kcledger/domain"
	webapi "github.com/kcledger/kcledger/web/api"
)

// A transfer between budget lines (a succession of a merged province's
// line to its successor, or a carry-over, chuyển nguồn, to next year) is
// one command with two events, appended together: POST /v1/transfers.
// Lapses (hủy dự toán) are single movements on one line, recorded like
// the others by the record handler: POST /v1/lapses.

// runTransfer is `kcledger transfer`: one transfer between two lines.
func runTransfer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "transfer"
	fs := newFlags(name, "record a transfer of money still available on one budget line to another, through the ledger's API:\n"+
		"a succession (a merged province's 2025 line to its successor's, dated from 2025-07-01) or a carry-over\n"+
		"(chuyển nguồn: year N's line to year N+1's, dated within year N's settlement period)", stderr)
	server := addClientFlags(fs)
	kind := fs.String("kind", "", "the transfer's kind: succession or carry_over")
	year := fs.Int("year", 0, "the source line's fiscal year, 2000–2100")
	province := fs.String("province", "", "the source line's province code, e.g. 02 (Hà Giang); see \"kcledger provinces\"")
	source := fs.String("source", "", "fund source: national (KCQG) or local (KCĐP)")
	toYear := fs.Int("to-year", 0, "the destination line's fiscal year: the same for a succession, the next for a carry-over")
	toProvince := fs.String("to-province", "", "the destination line's province code: the successor, e.g. 08 (Tuyên Quang), or for a carry-over the same province (its successor once merged)")
	toSource := fs.String("to-source", "", "the destination line's source (default: --source; a transfer never changes its source)")
	amount := fs.String("amount", "", "amount in đồng: 1500000000, 1.500.000.000, 250 triệu, 1,5 tỷ")
	decision := fs.String("decision", "", "the decision cited, e.g. 1234/QĐ-UBND")
	project := fs.String("project", "", "project (đề án) code: it moves that project's money and keeps its code on both lines; optional")
	category := fs.String("category", "", "content category, optional: "+categoryList())
	reason := fs.String("reason", "", "why, optional")
	rf := addRecordFlags(fs, "of the decision")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	usageErr := usageErrorOf(name, stderr)
	c, err := server.client()
	if err != nil {
		return usageErr("%v", err)
	}
	for _, f := range []struct {
		flag  string
		unset bool
	}{{"--kind", *kind == ""}, {"--year", *year == 0}, {"--to-year", *toYear == 0}, {"--amount", *amount == ""}} {
		if f.unset {
			return usageErr("%s is required", f.flag)
		}
	}
	amt, err := domain.ParseHumanAmount(*amount)
	if err != nil {
		return usageErr("--amount: %v", err)
	}
	src, err := sourceFlag("--source", *source)
	if err != nil {
		return usageErr("%v", err)
	}
	dst, err := sourceFlag("--to-source", *toSource)
	if err != nil {
		return usageErr("%v", err)
	}
	if dst == "" {
		dst = src
	}
	d, err := rf.effectiveDate()
	if err != nil {
		return usageErr("%v", err)
	}
	cmd := domain.Command{Kind: domain.Transfer, FiscalYear: *year, Province: *province, Source: src, Project: *project,
		Category: domain.Category(*category), Amount: amt, Decision: *decision, Reason: *reason, EffectiveDate: d,
		TransferKind: domain.TransferKind(*kind), To: domain.LineKey{FiscalYear: *toYear, Province: *toProvince, Source: dst}}
	if err := inputError(cmd, *rf.id); err != nil {
		return usageErr("%s", err)
	}
	key := rf.key(stderr)
	body := map[string]any{
		"transfer_kind": *kind, "fiscal_year": *year, "province": *province, "source": src,
		"to_fiscal_year": *toYear, "to_province": *toProvince, "to_source": dst,
		"amount": amt.String(), "decision": *decision, "effective_date": d.String(),
	}
	for field, v := range map[string]string{"project": *project, "category": *category, "reason": *reason} {
		if v != "" {
			body[field] = v
		}
	}
	return recordAndPrint(ctx, c, "/v1/transfers", key, body, *server.server, *rf.asJSON, stdout, stderr, printTransfer)
}

// printTransfer prints a transfer's two events and both lines' balances.
func printTransfer(w io.Writer, res webapi.TransferResponse) {
	verb := "Recorded"
	if res.Replayed {
		verb = "Already recorded (same idempotency key, same transfer); nothing new was appended:"
	}
	printEvent(w, verb, res.Out.Event, res.Out.Seq)
	printEvent(w, verb, res.In.Event, res.In.Seq)
	for _, s := range []struct {
		what string
		side webapi.TransferSide
	}{{"Source", res.Out}, {"Destination", res.In}} {
		fmt.Fprintf(w, "%s line %s: %s\n", s.what, lineLabel(s.side.Line.Line), balanceText(s.side.Line.Balance))
		if p := s.side.Project; p != nil {
			fmt.Fprintf(w, "  project %s: %s\n", p.Project, balanceText(p.Balance))
		}
	}
}
