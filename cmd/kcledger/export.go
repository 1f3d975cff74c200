package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
)

// exporter writes trail entries in one format.
type exporter interface {
	write(e projections.TrailEntry) error
	close() error
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	batchGC()
	fs := newFlags("export", "write the movements, straight from the stream, as CSV (Excel, UTF-8 with BOM), JSON lines or a Beancount journal", stderr)
	nf := addReaderFlags(fs)
	format := fs.String("format", "csv", "csv, jsonl or beancount")
	year := fs.Int("year", 0, "only this fiscal year")
	province := fs.String("province", "", "only this province code")
	source := fs.String("source", "", "only this source: national or local")
	untilSeq := fs.Uint64("until-seq", 0, "only up to this stream sequence")
	asOf := fs.String("as-of", "", "only what the ledger knew at this moment, e.g. 2025-06-30T17:00:00+07:00")
	viNumbers := fs.Bool("vi-numbers", false, "csv: write amounts the Vietnamese way (1.500.000.000) rather than plain digits")
	output := fs.String("output", "", "write to this file instead of standard output")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "kcledger export: "+format+"\n", a...)
		return code
	}
	if err := nf.check(); err != nil {
		return fail(exitUsage, "%v", err)
	}
	var src domain.Source
	if *source != "" {
		s, err := domain.ParseSource(*source)
		if err != nil {
			return fail(exitUsage, "--source: %v", err)
		}
		src = s
	}
	var cut projections.Cut
	if *asOf != "" {
		t, err := time.Parse(time.RFC3339Nano, *asOf)
		if err != nil || t.After(time.Now()) {
			return fail(exitUsage, "--as-of %q: want a past time with its zone, such as 2025-06-30T17:00:00+07:00", *asOf)
		}
		cut.AsOf = t
	}
	cut.UntilSeq = *untilSeq
	if *format != "csv" && *format != "jsonl" && *format != "beancount" {
		return fail(exitUsage, "--format %q: want csv, jsonl or beancount", *format)
	}

	nc, rd, err := nf.open(ctx, "kcledger-export")
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	defer nc.Close()
	state, err := rd.State(ctx)
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	if cut.UntilSeq > state.LastSeq {
		return fail(exitUsage, "--until-seq %d is beyond the stream, which ends at %d", cut.UntilSeq, state.LastSeq)
	}

	out := stdout
	var file *os.File
	if *output != "" {
		if file, err = os.Create(*output); err != nil {
			return fail(exitUsage, "--output: %v", err)
		}
		out = file
	}
	bw := bufio.NewWriter(out)
	var ex exporter
	switch *format {
	case "csv":
		ex, err = newCSVExport(bw, *viNumbers)
	case "jsonl":
		ex = &jsonlExport{enc: json.NewEncoder(bw)}
	default:
		ex = newBeancountExport(bw)
	}
	if err != nil {
		return fail(exitFailure, "%v", err)
	}

	reps, err := readRepudiations(ctx, rd, state.LastSeq, nil, time.Time{})
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	trail := projections.NewTrail(projections.Filter{FiscalYear: *year, Province: *province, Source: src}, "", cut, 0, maxExportEvents)
	pr := &progress{w: terminal(stderr), what: "exporting", total: state.LastSeq, last: time.Now()}
	written := 0
	err = rd.ScanFilter(ctx, eventstore.Filter(*year, *province, src), state.LastSeq, func(se eventstore.StoredEvent) (bool, error) {
		r := se.Recorded
		if reps.Has(se.Seq) && reps.Covers(se.Seq, se.Digest()) {
			// Left out; its repudiation is exported in its place.
			r = domain.Recorded{Seq: se.Seq, Repudiated: true}
		} else if se.Err != nil {
			return false, se.Err
		}
		pr.at(se.Seq)
		more := trail.Add(r, se.Stored)
		for ; written < len(trail.Entries); written++ {
			if err := ex.write(trail.Entries[written]); err != nil {
				return false, err
			}
		}
		// Written entries need not stay in memory.
		trail.Entries, written = trail.Entries[:0], 0
		return more, nil
	})
	if err == nil {
		err = ex.close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		if errors.Is(err, domain.ErrCorrupt) {
			return fail(exitRefused, "the stream is not sound; run kcledger verify: %v", err)
		}
		return fail(exitFailure, "%v", err)
	}
	return exitOK
}

// maxExportEvents bounds one export.
const maxExportEvents = 100_000_000

// terminal returns w when it is a terminal, for progress reports that
// would only clutter a redirected stream.
func terminal(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return w
}

// csvExport writes one row per movement, with a BOM so that Excel reads
// the diacritics as UTF-8.
type csvExport struct {
	w  *csv.Writer
	vi bool
}

var csvHeader = []string{
	"seq", "stored_at", "recorded_at", "effective_date", "fiscal_year", "province", "province_name", "source", "project", "category",
	"type", "amount", "decision", "voucher", "beneficiary", "reason", "actor", "idempotency_key", "event_id", "hash", "signed_by",
	"line_allocated_after", "line_net_disbursed_after", "line_available_after", "repudiated_seq",
	// Columns are only ever added, at the end.
	"project_name", "implementing_unit", "counterpart",
	// Transfers between lines (both sides) and the line's totals of
	// them: available = allocated + transferred in - transferred out -
	// net disbursed - lapsed.
	"transfer_kind", "transfer_id", "from_line", "to_line",
	"line_transferred_in_after", "line_transferred_out_after", "line_lapsed_after",
}

func newCSVExport(w io.Writer, vi bool) (*csvExport, error) {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return nil, err
	}
	c := &csvExport{w: csv.NewWriter(w), vi: vi}
	return c, c.w.Write(csvHeader)
}

func (c *csvExport) amount(a domain.Amount) string {
	if c.vi {
		return a.Grouped()
	}
	return a.String()
}

func (c *csvExport) write(e projections.TrailEntry) error {
	ev := e.Event
	name := ""
	if p, err := domain.ProvinceOn(ev.Province, ev.EffectiveDate); err == nil {
		name = p.Name
	} else if p, ok := domain.ProvinceName(ev.Province, ev.FiscalYear); ok && ev.FiscalYear != 0 {
		// A refund, lapse or transfer out of a line whose province
		// merged: the code it had in its fiscal year.
		name = p.Name
	}
	return c.w.Write([]string{
		strconv.FormatUint(e.Seq, 10), e.Stored.UTC().Format(time.RFC3339Nano), ev.RecordedAt.UTC().Format(time.RFC3339Nano),
		ev.EffectiveDate.String(), fiscalYearCell(ev.FiscalYear), ev.Province, name, string(ev.Source), ev.Project, string(ev.Category),
		string(ev.Type), c.amount(ev.Amount), ev.Decision, ev.Voucher, ev.Beneficiary, ev.Reason, ev.Actor, ev.IdempotencyKey,
		ev.ID, ev.Hash, ev.SignedBy,
		c.amount(e.Line.Allocated), c.amount(e.Line.NetDisbursed()), c.amount(e.Line.Available()), repudiatedSeqCell(ev.RepudiatedSeq),
		ev.ProjectName, ev.ImplementingUnit, counterpartCell(c, ev.Counterpart),
		string(ev.TransferKind), ev.TransferID, lineCell(ev.FromLine), lineCell(ev.ToLine),
		c.amount(e.Line.TransferredIn), c.amount(e.Line.TransferredOut), c.amount(e.Line.Lapsed),
	})
}

// lineCell is a transfer's line as fiscal year/province/source
// ("2025/02/national"), empty on other events.
func lineCell(k domain.LineKey) string {
	if k == (domain.LineKey{}) {
		return ""
	}
	return k.String()
}

// counterpartCell is empty when no counterpart money was pledged.
func counterpartCell(c *csvExport, a domain.Amount) string {
	if a.IsZero() {
		return ""
	}
	return c.amount(a)
}

// fiscalYearCell is empty for a repudiation, which is on no line.
func fiscalYearCell(fy int) string {
	if fy == 0 {
		return ""
	}
	return strconv.Itoa(fy)
}

// repudiatedSeqCell is a repudiation's column: empty on movements.
func repudiatedSeqCell(seq uint64) string {
	if seq == 0 {
		return ""
	}
	return strconv.FormatUint(seq, 10)
}

func (c *csvExport) close() error {
	c.w.Flush()
	return c.w.Error()
}

// jsonlExport writes one trail entry per line.
type jsonlExport struct{ enc *json.Encoder }

func (j *jsonlExport) write(e projections.TrailEntry) error { return j.enc.Encode(e) }
func (j *jsonlExport) close() error                         { return nil }

// beancountExport writes a Beancount journal: per budget line, the
// equity that allocations draw from the state budget, the available
// funds, the expenses paid to each beneficiary, less refunds, and the
// appropriations that lapsed. Its balances are kcledger's:
//
//	Assets:<fund>:Y<year>:P<province>:Available           = available
//	Expenses:<fund>:Y<year>:P<province>:…                 = net disbursed
//	Equity:<fund>:Y<year>:P<province>:Allocated           = − allocated
//	Equity:<fund>:Y<year>:P<province>:Lapsed              = lapsed
//
// A transfer between lines is one transaction, out of the source line's
// Available into the destination's, balancing to zero, written when its
// transferred-in side follows its transferred-out side. A side whose
// other side the export leaves out (a filter on year or province) posts
// against Equity:<fund>:Transfers, money in transit as far as the
// journal knows; both sides carry the link ^transfer-<transfer_id>.
//
// Accounts are opened before the first transaction, so the journal is
// written once every account is known.
type beancountExport struct {
	w        io.Writer
	accounts map[string]bool
	// payees maps each beneficiary account to the name it was made from,
	// so that two names sharing an account fail the export instead of
	// merging their postings.
	payees map[string]string
	txns   []string
	first  domain.Date
	// pending is a transferred-out side waiting for its transferred-in
	// side, the next entry when the export has both.
	pending *projections.TrailEntry
}

func newBeancountExport(w io.Writer) *beancountExport {
	return &beancountExport{w: w, accounts: map[string]bool{}, payees: map[string]string{}}
}

func fundName(s domain.Source) string {
	if s == domain.SourceNational {
		return "KCQG"
	}
	return "KCDP"
}

func (b *beancountExport) account(parts ...string) string {
	a := strings.Join(parts, ":")
	b.accounts[a] = true
	return a
}

func (b *beancountExport) write(e projections.TrailEntry) error {
	ev := e.Event
	if out := b.pending; out != nil {
		b.pending = nil
		if ev.Type == domain.TypeTransferredIn && ev.TransferID == out.Event.ID {
			b.transfer(out, &e)
			return nil
		}
		b.transfer(out, nil)
	}
	switch ev.Type {
	case domain.TypeTransferredOut:
		b.pending = &e
		return nil
	case domain.TypeTransferredIn:
		b.transfer(nil, &e)
		return nil
	}
	if ev.Type == domain.TypeRepudiated {
		// No money moves: a comment in its place, no postings.
		b.txns = append(b.txns, fmt.Sprintf("; %s %s: seq %d repudiates the message at seq %d, which counts for nothing (by %s, %s): %s; event_id %s, hash %s\n",
			ev.EffectiveDate, ev.Type, e.Seq, ev.RepudiatedSeq, ev.Actor, ev.Decision, oneLine(ev.Reason), ev.ID, ev.Hash))
		return nil
	}
	base := fmt.Sprintf("%s:Y%d:P%s", fundName(ev.Source), ev.FiscalYear, ev.Province)
	available := b.account("Assets", base, "Available")
	var from, to string
	amount := ev.Amount
	switch ev.Type {
	case domain.TypeAllocated, domain.TypeAdjusted:
		from, to = b.account("Equity", base, "Allocated"), available
	case domain.TypeDisbursed:
		part := accountPart(ev.Beneficiary)
		name := norm.NFC.String(ev.Beneficiary)
		if prev, ok := b.payees[part]; ok && prev != name {
			return fmt.Errorf("beneficiaries %q and %q (event %s at seq %d) map to one account %s", prev, ev.Beneficiary, ev.ID, e.Seq, part)
		}
		b.payees[part] = name
		from, to = available, b.account("Expenses", base, "Beneficiary", part)
	case domain.TypeRefunded:
		from, to = b.account("Expenses", base, "Refunds"), available
	case domain.TypeLapsed:
		from, to = available, b.account("Equity", base, "Lapsed")
	default:
		return fmt.Errorf("%w: event %s at seq %d has type %q", domain.ErrCorrupt, ev.ID, e.Seq, ev.Type)
	}
	b.txn(ev.EffectiveDate, ev.Beneficiary, string(ev.Type)+" "+ev.Decision+ev.Voucher, "", b.meta(e), to, from, amount)
	return nil
}

// meta is an entry's metadata, in the journal's order.
func (b *beancountExport) meta(e projections.TrailEntry) [][2]string {
	ev := e.Event
	return [][2]string{
		{"seq", strconv.FormatUint(e.Seq, 10)}, {"event_id", ev.ID}, {"recorded_at", ev.RecordedAt.UTC().Format(time.RFC3339Nano)},
		{"actor", ev.Actor}, {"decision", ev.Decision}, {"voucher", ev.Voucher}, {"reason", ev.Reason},
		{"project", ev.Project}, {"category", string(ev.Category)}, {"hash", ev.Hash},
	}
}

// txn appends a transaction of amount from one account to another, dated
// d, with a link when link is not empty and the metadata that is set.
func (b *beancountExport) txn(d domain.Date, payee, narration, link string, meta [][2]string, to, from string, amount domain.Amount) {
	if b.first.IsZero() || d.Before(b.first) {
		b.first = d
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s * %s %s", d, quote(payee), quote(narration))
	if link != "" {
		fmt.Fprintf(&sb, " ^%s", link)
	}
	sb.WriteByte('\n')
	for _, m := range meta {
		if m[1] != "" {
			fmt.Fprintf(&sb, "  %s: %s\n", m[0], quote(m[1]))
		}
	}
	fmt.Fprintf(&sb, "  %s  %s VND\n  %s  %s VND\n", to, amount.String(), from, amount.Neg().String())
	b.txns = append(b.txns, sb.String())
}

// transfer appends a transfer: out and in are its two sides, either nil
// when the export does not have it, in which case the fund's transfers
// in transit stand for the other line.
func (b *beancountExport) transfer(out, in *projections.TrailEntry) {
	side := out
	if side == nil {
		side = in
	}
	ev := side.Event
	var from, to string
	if out == nil || in == nil {
		transit := b.account("Equity", fundName(ev.Source), "Transfers")
		from, to = transit, transit
	}
	var meta [][2]string
	if out != nil {
		from = b.account("Assets", fmt.Sprintf("%s:Y%d:P%s", fundName(ev.Source), ev.FiscalYear, ev.Province), "Available")
		meta = b.meta(*out)
	}
	if in != nil {
		k := in.Event
		to = b.account("Assets", fmt.Sprintf("%s:Y%d:P%s", fundName(k.Source), k.FiscalYear, k.Province), "Available")
		if out == nil {
			meta = b.meta(*in)
		} else {
			meta = append(meta, [2]string{"seq_in", strconv.FormatUint(in.Seq, 10)}, [2]string{"event_id_in", k.ID}, [2]string{"hash_in", k.Hash})
		}
	}
	meta = append(meta, [2]string{"transfer_kind", string(ev.TransferKind)}, [2]string{"transfer_id", ev.TransferID},
		[2]string{"from_line", lineCell(ev.FromLine)}, [2]string{"to_line", lineCell(ev.ToLine)})
	narration := "transfer " + string(ev.TransferKind) + " " + lineCell(ev.FromLine) + " → " + lineCell(ev.ToLine) + " " + ev.Decision
	b.txn(ev.EffectiveDate, "", narration, "transfer-"+ev.TransferID, meta, to, from, ev.Amount)
}

func (b *beancountExport) close() error {
	if b.pending != nil {
		b.transfer(b.pending, nil)
		b.pending = nil
	}
	if _, err := fmt.Fprintf(b.w, "; kcledger export: khuyến công movements as a Beancount journal\noption \"title\" \"kcledger\"\noption \"operating_currency\" \"VND\"\n\n"); err != nil {
		return err
	}
	open := b.first
	if open.IsZero() {
		open = domain.Date{Year: 2000, Month: time.January, Day: 1}
	}
	names := make([]string, 0, len(b.accounts))
	for a := range b.accounts {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		if _, err := fmt.Fprintf(b.w, "%s open %s VND\n", open, a); err != nil {
			return err
		}
	}
	for _, t := range b.txns {
		if _, err := fmt.Fprintf(b.w, "\n%s", t); err != nil {
			return err
		}
	}
	return nil
}

// oneLine keeps a text on a comment's line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// quote writes a Beancount string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// accountPart turns a name into a Beancount account component: ASCII
// letters and digits joined by hyphens, starting with a capital letter,
// then, unless the name is exactly that slug, a hyphen and the first 12
// hex digits of the SHA-256 of the name in NFC: "HTX Gốm Bát Tràng" →
// "HTX-Gom-Bat-Trang-1a2b3c4d5e6f". Stripping diacritics alone would post
// "Công ty Mỹ", "Công ty My" and "Cong ty My" to one account. The hash
// is of the NFC form, so the precomposed and decomposed spellings of one
// name, which display the same, share an account. A slug used without a
// hash has no hyphen, so it never looks like a hashed one.
func accountPart(name string) string {
	slug := accountSlug(name)
	if slug == name && !strings.Contains(name, "-") {
		return slug
	}
	sum := sha256.Sum256([]byte(norm.NFC.String(name)))
	return slug + "-" + hex.EncodeToString(sum[:6])
}

// accountSlug is the readable part of accountPart: the name's letters and
// digits without diacritics, joined by hyphens.
func accountSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFD.String(strings.ReplaceAll(strings.ReplaceAll(name, "đ", "d"), "Đ", "D")) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r):
			// a combining mark: dropped with its diacritic
		default:
			dash = true
		}
	}
	s := b.String()
	if s == "" {
		return "Unnamed"
	}
	if c := s[0]; c >= 'a' && c <= 'z' {
		s = string(c-'a'+'A') + s[1:]
	} else if c >= '0' && c <= '9' {
		s = "B" + s
	}
	return s
}
