package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	webapi "github.com/kcledger/kcledger/web/api"
)

// importPaths are the API routes that record each kind of movement
// (the kinds an import file may name).
var importPaths = map[domain.CommandKind]string{
	domain.Allocate: "/v1/allocations", domain.Adjust: "/v1/adjustments",
	domain.Disburse: "/v1/disbursements", domain.Refund: "/v1/refunds",
	domain.Lapse: "/v1/lapses",
}

// importStop, when set (by tests), is asked after each batch recorded
// whether the import should stop there, as if it were killed.
var importStop func(recorded int) bool

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("import", "nhập số liệu các năm trước: record the movements of a CSV file (as export --format csv\n"+
		"writes it, or with a subset of its columns) or of JSON lines (as export --format jsonl writes them) through the ledger's API, in atomic batches, each row exactly\n"+
		"once, after checking every row against the rules in order; admins only (usage: kcledger import FILE [--dry-run] [--as ACTOR])", stderr)
	server := addClientFlags(fs)
	nf := addReaderFlags(fs)
	dryRun := fs.Bool("dry-run", false, "only check the file against the ledger; record nothing")
	as := fs.String("as", "", "record the movements as by this account (who they were by in the years imported), with yours as imported_by; admins only")
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		// The flags come after the file; --help is a flag too.
		if code, ok := parseFlags(fs, args); !ok {
			return code
		}
		fmt.Fprintf(stderr, "kcledger import: the file to import is required: kcledger import FILE [flags]\n")
		return exitUsage
	}
	file := args[0]
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "kcledger import: "+format+"\n", a...)
		return code
	}
	if err := nf.check(); err != nil {
		return fail(exitUsage, "%v (to read the lines' states the rows are checked against)", err)
	}
	c, err := server.client()
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	parse := parseImport
	if isJSONLines(data) {
		parse = parseImportJSONL
	}
	rows, bad := parse(data)
	if len(bad) > 0 {
		for _, e := range bad {
			fmt.Fprintf(stderr, "kcledger import: %s: %s\n", file, e)
		}
		return fail(exitUsage, "%s: %d bad rows; nothing was recorded", file, len(bad))
	}

	nc, rd, err := nf.open(ctx, "kcledger-import")
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	defer nc.Close()
	led, err := loadImportLedger(ctx, rd)
	if err != nil {
		if errors.Is(err, domain.ErrCorrupt) {
			return fail(exitRefused, "the stream is not sound; run kcledger verify: %v", err)
		}
		return fail(exitFailure, "%v", err)
	}
	todo, bad := led.check(rows, domain.Policy{})
	if len(bad) > 0 {
		code := exitRefused
		for _, e := range bad {
			if !e.Rule {
				code = exitUsage
			}
			fmt.Fprintf(stderr, "kcledger import: %s: %s\n", file, e)
		}
		return fail(code, "%s: %d bad rows; nothing was recorded", file, len(bad))
	}
	done := len(rows) - len(todo)
	if *dryRun {
		fmt.Fprintf(stdout, "%s: %d rows sound: %d to record, %d already recorded; nothing recorded (--dry-run)\n", file, len(rows), len(todo), done)
		return exitOK
	}
	pr := &progress{w: terminal(stderr), what: "importing", total: uint64(len(todo)), last: time.Now()}
	replayed, sent := 0, 0
	for _, batch := range importBatches(todo) {
		req := webapi.ImportRequest{As: *as, Movements: make([]webapi.ImportMovement, len(batch))}
		for i, row := range batch {
			req.Movements[i] = row.movement
		}
		var res webapi.ImportResponse
		_, err := c.do(ctx, http.MethodPost, webapi.PathImports, nil, req, &res)
		if err != nil {
			first, last := batch[0].Row, batch[len(batch)-1].Row
			fmt.Fprintf(stderr, "kcledger import: %s: the batch of rows %d to %d:\n", file, first, last)
			var ae *apiError
			if errors.As(err, &ae) {
				if row, field, ok := batchField(ae.Field, batch); ok {
					fmt.Fprintf(stderr, "kcledger import: %s: row %d, %s: %s\n", file, row, field, ae.Detail)
				}
			}
			code := exitFor(err, stderr, *server.server)
			fmt.Fprintf(stderr, "kcledger import: %d of %d rows recorded before it; run the same import again to go on: rows recorded are not recorded twice\n", done+sent, len(rows))
			return code
		}
		if len(res.Results) != len(batch) {
			return fail(exitFailure, "the ledger answered %d results for a batch of %d", len(res.Results), len(batch))
		}
		for _, r := range res.Results {
			if r.Replayed {
				replayed++
			}
		}
		sent += len(batch)
		pr.at(uint64(sent))
		if importStop != nil && importStop(sent) {
			return fail(exitFailure, "stopped after %d rows", sent)
		}
	}
	fmt.Fprintf(stdout, "%s: %d rows: %d recorded, %d already recorded\n", file, len(rows), len(todo)-replayed, done+replayed)
	return exitOK
}

// batchRow is a row to send, as the import route takes it.
type batchRow struct {
	importRow
	movement webapi.ImportMovement
}

// maxImportBatchBytes bounds a batch's JSON well under the route's
// limit.
const maxImportBatchBytes = 4 << 20

// importBatchRows is how many rows a batch takes at most: the route's
// limit (tests make it smaller).
var importBatchRows = webapi.MaxImportBatch

// importBatches cuts rows, in order, into the batches the import route
// takes: at most importBatchRows rows and maxImportBatchBytes of JSON.
// Rows of one line may share a batch: the ledger decides them in order.
func importBatches(rows []importRow) [][]batchRow {
	var out [][]batchRow
	var cur []batchRow
	size := 0
	for _, row := range rows {
		body, _ := json.Marshal(importBody(row.Cmd))
		m := webapi.ImportMovement{Kind: row.Cmd.Kind, IdempotencyKey: row.Cmd.IdempotencyKey, Body: body}
		if len(cur) == importBatchRows || size+len(body) > maxImportBatchBytes {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, batchRow{importRow: row, movement: m})
		size += len(body) + len(m.IdempotencyKey) + 64
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// batchField turns the route's field, movements[3].amount, into the row
// and the column of the file.
func batchField(field string, batch []batchRow) (int, string, bool) {
	var i int
	var rest string
	if n, _ := fmt.Sscanf(field, "movements[%d]", &i); n != 1 || i < 0 || i >= len(batch) {
		return 0, "", false
	}
	if j := strings.Index(field, "]."); j >= 0 {
		rest = field[j+2:]
	}
	if rest == "delta" {
		rest = "amount"
	}
	return batch[i].Row, rest, true
}

// importBody is the API's request body for cmd, as the movement
// commands send it: a struct, which encoding/json writes several times
// faster than a map (it was a tenth of an import's time).
func importBody(cmd domain.Command) movementBody {
	b := movementBody{
		FiscalYear: cmd.FiscalYear, Province: cmd.Province, Source: cmd.Source, EffectiveDate: cmd.EffectiveDate.String(),
		Project: cmd.Project, Category: cmd.Category, Decision: cmd.Decision, Voucher: cmd.Voucher,
		Beneficiary: cmd.Beneficiary, Reason: cmd.Reason, ProjectName: cmd.ProjectName, ImplementingUnit: cmd.ImplementingUnit,
	}
	if cmd.Kind == domain.Adjust {
		b.Delta = cmd.Amount.String()
	} else {
		b.Amount = cmd.Amount.String()
	}
	if !cmd.Counterpart.IsZero() {
		b.Counterpart = cmd.Counterpart.String()
	}
	return b
}

// movementBody is the JSON of a recording route's body.
type movementBody struct {
	FiscalYear       int             `json:"fiscal_year"`
	Province         string          `json:"province"`
	Source           domain.Source   `json:"source"`
	EffectiveDate    string          `json:"effective_date"`
	Amount           string          `json:"amount,omitempty"`
	Delta            string          `json:"delta,omitempty"`
	Project          string          `json:"project,omitempty"`
	Category         domain.Category `json:"category,omitempty"`
	Decision         string          `json:"decision,omitempty"`
	Voucher          string          `json:"voucher,omitempty"`
	Beneficiary      string          `json:"beneficiary,omitempty"`
	Reason           string          `json:"reason,omitempty"`
	ProjectName      string          `json:"project_name,omitempty"`
	ImplementingUnit string          `json:"implementing_unit,omitempty"`
	Counterpart      string          `json:"counterpart,omitempty"`
}

// importLedger is the ledger as an import checks its rows against: every
// line's state, and the events of every idempotency key, from the stream.
type importLedger struct {
	lines   map[domain.LineKey]*domain.LineState
	keys    map[string]domain.Event
	lastSeq uint64
}

// loadImportLedger reads the whole stream.
func loadImportLedger(ctx context.Context, rd *eventstore.Reader) (*importLedger, error) {
	state, err := rd.State(ctx)
	if err != nil {
		return nil, err
	}
	reps, err := readRepudiations(ctx, rd, state.LastSeq, nil, time.Time{})
	if err != nil {
		return nil, err
	}
	l := &importLedger{lines: map[domain.LineKey]*domain.LineState{}, keys: map[string]domain.Event{}, lastSeq: state.LastSeq}
	err = rd.ScanFilter(ctx, eventstore.Filter(0, "", ""), state.LastSeq, func(se eventstore.StoredEvent) (bool, error) {
		if reps.Has(se.Seq) && reps.Covers(se.Seq, se.Digest()) {
			// Its line is in its subject, which the event cannot be
			// trusted for: its key and its place are the line's own
			// affair, which the ledger judges when the row comes.
			return true, nil
		}
		if se.Err != nil {
			return false, se.Err
		}
		ev := se.Recorded.Event
		if ev.Type == domain.TypeRepudiated {
			return true, nil
		}
		if err := l.line(ev.Line()).Apply(se.Recorded); err != nil {
			return false, err
		}
		l.keys[ev.IdempotencyKey] = ev
		return true, nil
	})
	return l, err
}

func (l *importLedger) line(k domain.LineKey) *domain.LineState {
	st := l.lines[k]
	if st == nil {
		st = domain.NewLineState(k)
		l.lines[k] = st
	}
	return st
}

// check decides rows in order, as if each were recorded after the ones
// before it, and returns those still to record (a row whose key the
// ledger holds for the same movement is recorded already), or every row
// that is refused, with why.
func (l *importLedger) check(rows []importRow, p domain.Policy) (todo []importRow, bad []rowError) {
	inFile := map[string]importRow{}
	now := time.Now()
	seq := l.lastSeq
	for _, row := range rows {
		if len(bad) >= maxImportErrors {
			break
		}
		cmd := row.Cmd
		key := cmd.IdempotencyKey
		if prev, ok := inFile[key]; ok {
			a, b := prev.Cmd, cmd
			a.Actor, b.Actor = "", ""
			if a.Fingerprint() != b.Fingerprint() {
				bad = append(bad, rowError{Row: row.Row, Field: "idempotency_key", Reason: fmt.Sprintf("key %q is also row %d's, a different movement", key, prev.Row)})
			}
			continue
		}
		inFile[key] = row
		if ev, ok := l.keys[key]; ok {
			// The same movement as the one recorded, by whoever
			// recorded it (the server answers for the account).
			cmd.Actor, cmd.ImportedBy, cmd.EventID, cmd.Now = ev.Actor, ev.ImportedBy, ev.ID, ev.RecordedAt
			if cmd.Fingerprint() != ev.Fingerprint() {
				bad = append(bad, rowError{Row: row.Row, Field: "idempotency_key", Reason: fmt.Sprintf("key %q is already recorded on the ledger for a different movement (event %s on line %s)", key, ev.ID, ev.Line())})
			}
			continue
		}
		cmd.EventID, cmd.Actor, cmd.Now = uuid.Must(uuid.NewV7()).String(), "import", now
		st := l.line(cmd.Line())
		ev, err := domain.Decide(st, cmd, p)
		if err != nil {
			re := rowError{Row: row.Row, Reason: err.Error(), Rule: true}
			var de *domain.Error
			if errors.As(err, &de) {
				re.Field, re.Reason = de.Field, de.Message
				re.Rule = webapi.StatusOf[de.Code] != http.StatusBadRequest
			}
			if re.Field == "delta" {
				re.Field = "amount"
			}
			bad = append(bad, re)
			continue
		}
		seq++
		if err := st.Apply(domain.Recorded{Event: ev, Seq: seq, HashChecked: true}); err != nil {
			bad = append(bad, rowError{Row: row.Row, Reason: err.Error(), Rule: true})
			continue
		}
		l.keys[key] = ev
		todo = append(todo, row)
	}
	return todo, bad
}
