package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections/export"
	webapi "github.com/kcledger/kcledger/web/api"
)

// importRow is one movement of an import file, ready to be decided.
type importRow struct {
	// Row is the row's number in the file, the header being row 1, as
	// a spreadsheet numbers them.
	Row int
	Cmd domain.Command
}

// rowError is what is wrong with one row of an import file.
type rowError struct {
	Row    int
	Field  string
	Reason string
	// Rule is set when the row is well formed but the ledger's rules
	// refuse it (an overspending, say), rather than its input.
	Rule bool
}

func (e rowError) String() string {
	if e.Field == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Reason)
	}
	return fmt.Sprintf("row %d, %s: %s", e.Row, e.Field, e.Reason)
}

// importRequired are the columns an import file must have.
var importRequired = []string{"type", "fiscal_year", "province", "source", "amount", "effective_date"}

// importKinds are the event types an import can record, one command
// each. Transfers (two rows, one atomic write) and repudiations (which
// name a sequence of the stream they came from) are not imported.
var importKinds = map[domain.EventType]domain.CommandKind{
	domain.TypeAllocated: domain.Allocate, domain.TypeAdjusted: domain.Adjust,
	domain.TypeDisbursed: domain.Disburse, domain.TypeRefunded: domain.Refund,
	domain.TypeLapsed: domain.Lapse,
}

// maxImportErrors bounds the bad rows reported, so that a file of the
// wrong kind does not flood the terminal.
const maxImportErrors = 1000

// parseImport reads an import file: the CSV that `kcledger export
// --format csv` writes (UTF-8, with or without its BOM), or any CSV with
// a subset of its columns that holds the required ones. It returns the
// rows it could read and every fault it found, row by row. A row with no
// idempotency_key gets one derived from the file's SHA-256 and its row
// number, so that the same file imported twice names its rows the same.
func parseImport(data []byte) ([]importRow, []rowError) {
	var errs []rowError
	bad := func(row int, field, format string, a ...any) {
		errs = append(errs, rowError{Row: row, Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	sum := sha256.Sum256(data)
	fileID := hex.EncodeToString(sum[:8])
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			bad(1, "", "the file is empty: want the header of kcledger export --format csv")
		} else {
			bad(1, "", "not a CSV header: %v", err)
		}
		return nil, errs
	}
	col := map[string]int{}
	for i, name := range header {
		switch {
		case !utf8.ValidString(name):
			bad(1, fmt.Sprintf("column %d", i+1), "not UTF-8: save the file as CSV UTF-8")
		case !slices.Contains(export.CSVHeader, name):
			bad(1, fmt.Sprintf("column %d", i+1), "unknown column %q: want the columns of kcledger export --format csv", name)
		case col[name] != 0:
			bad(1, name, "column %q is given twice", name)
		default:
			col[name] = i + 1
		}
	}
	for _, name := range importRequired {
		if col[name] == 0 && utf8.ValidString(strings.Join(header, "")) {
			bad(1, name, "the header has no column %q", name)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	r.FieldsPerRecord = len(header)
	var rows []importRow
	for n := 2; len(errs) < maxImportErrors; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				bad(n, "", "%d cells, the header has %d", len(rec), len(header))
				continue
			}
			// A broken quote: the rows after it cannot be told apart.
			bad(n, "", "not CSV: %v", err)
			break
		}
		row, rerrs := parseImportRow(n, rec, col, fileID, true)
		if len(rerrs) > 0 {
			errs = append(errs, rerrs...)
			continue
		}
		rows = append(rows, row)
	}
	return rows, errs
}

// parseImportRow reads row n, whose cells are rec, by the header's
// columns col (1-based, 0 when absent); guarded says the texts were
// written with export's guard against formulas (CSV).
func parseImportRow(n int, rec []string, col map[string]int, fileID string, guarded bool) (importRow, []rowError) {
	var errs []rowError
	bad := func(field, format string, a ...any) {
		errs = append(errs, rowError{Row: n, Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	cell := func(name string) string {
		if col[name] == 0 {
			return ""
		}
		if !guarded {
			return rec[col[name]-1]
		}
		return untext(rec[col[name]-1])
	}
	for name, i := range col {
		if !utf8.ValidString(rec[i-1]) {
			bad(name, "not UTF-8: save the file as CSV UTF-8")
		}
	}
	if len(errs) > 0 {
		return importRow{}, errs
	}
	typ := cell("type")
	kind, ok := importKinds[domain.EventType(typ)]
	if k := domain.CommandKind(typ); importPaths[k] != "" {
		// A hand-written file may name the command instead.
		kind, ok = k, true
	}
	if !ok {
		bad("type", "%q cannot be imported: want an event type the export writes (%s, …) or allocate, adjust, disburse, refund or lapse; transfers and repudiations are recorded with their own commands", typ, domain.TypeAllocated)
		return importRow{}, errs
	}
	c := domain.Command{Kind: kind, Province: cell("province"), Project: cell("project"), Category: domain.Category(cell("category")),
		Decision: cell("decision"), Voucher: cell("voucher"), Beneficiary: cell("beneficiary"), Reason: cell("reason"),
		ProjectName: cell("project_name"), ImplementingUnit: cell("implementing_unit"), IdempotencyKey: cell("idempotency_key")}
	if y, err := strconv.Atoi(cell("fiscal_year")); err != nil {
		bad("fiscal_year", "%q is not a year", cell("fiscal_year"))
	} else {
		c.FiscalYear = y
	}
	if s, err := domain.ParseSource(cell("source")); err != nil {
		bad("source", "%v", err)
	} else {
		c.Source = s
	}
	if a, err := domain.ParseHumanAmount(cell("amount")); err != nil {
		bad("amount", "%v", err)
	} else {
		c.Amount = a
	}
	if v := cell("counterpart"); v != "" {
		if a, err := domain.ParseHumanAmount(v); err != nil {
			bad("counterpart", "%v", err)
		} else {
			c.Counterpart = a
		}
	}
	if d, err := domain.ParseDate(cell("effective_date")); err != nil {
		bad("effective_date", "%v", err)
	} else {
		c.EffectiveDate = d
	}
	if len(errs) > 0 {
		return importRow{}, errs
	}
	if c.IdempotencyKey == "" {
		c.IdempotencyKey = fmt.Sprintf("import-%s-%d", fileID, n)
	}
	// What the API would refuse as bad input, found here.
	probe := c
	probe.EventID, probe.Actor, probe.Now = "-", "-", time.Now()
	var de *domain.Error
	if err := probe.Validate(domain.Policy{}); errors.As(err, &de) && webapi.StatusOf[de.Code] == http.StatusBadRequest {
		field := de.Field
		if field == "delta" {
			field = "amount"
		}
		bad(field, "%s", de.Message)
		return importRow{}, errs
	}
	return importRow{Row: n, Cmd: c}, nil
}

// untext undoes export's guard against formulas: a cell of text that
// starts with =, +, -, @, a tab or a carriage return was written with a
// ' before it.
func untext(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}

// importEventFields are the fields of an event in JSON (domain.Event),
// as `export --format jsonl` writes each line's "event".
var importEventFields = []string{
	"id", "type", "fiscal_year", "province", "source", "project", "category", "amount", "repudiated_seq", "repudiated_digest",
	"decision", "voucher", "beneficiary", "reason", "project_name", "implementing_unit", "counterpart",
	"transfer_kind", "transfer_id", "from_line", "to_line", "effective_date", "recorded_at", "actor", "idempotency_key",
	"prev_hash", "hash", "signed_by", "signature",
}

// importEntryFields are the fields of a line of `export --format jsonl`
// (projections.TrailEntry).
var importEntryFields = []string{"seq", "stored_at", "event", "line_after", "project_after"}

// isJSONLines tells a file of JSON lines from a CSV by its first byte.
func isJSONLines(data []byte) bool {
	data = bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\uFEFF")), " \t\r\n")
	return len(data) > 0 && data[0] == '{'
}

// parseImportJSONL reads an import file of JSON lines, as `kcledger
// export --format jsonl` writes them: one audit-trail entry per line,
// whose "event" holds the movement. Row n is the file's line n. Its
// faults are reported as a CSV's are, the field being the event's.
func parseImportJSONL(data []byte) ([]importRow, []rowError) {
	var errs []rowError
	sum := sha256.Sum256(data)
	fileID := hex.EncodeToString(sum[:8])
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	col := map[string]int{}
	for i, name := range importEventFields {
		col[name] = i + 1
	}
	var rows []importRow
	for n, line := range bytes.Split(data, []byte("\n")) {
		row := n + 1
		if len(errs) >= maxImportErrors {
			break
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		bad := func(field, format string, a ...any) {
			errs = append(errs, rowError{Row: row, Field: field, Reason: fmt.Sprintf(format, a...)})
		}
		if !utf8.Valid(line) {
			bad("", "not UTF-8: save the file as UTF-8")
			continue
		}
		var entry map[string]json.RawMessage
		if err := json.Unmarshal(line, &entry); err != nil {
			bad("", "not a JSON object: %v", err)
			continue
		}
		before := len(errs)
		var event map[string]json.RawMessage
		for k, v := range entry {
			if !slices.Contains(importEntryFields, k) {
				bad(k, "unknown field %q: want the lines of kcledger export --format jsonl", k)
			}
			if k == "event" {
				if err := json.Unmarshal(v, &event); err != nil {
					bad("event", "not a JSON object: %v", err)
				}
			}
		}
		if event == nil && len(errs) == before {
			bad("event", "the line has no event")
		}
		rec := make([]string, len(importEventFields))
		for k, v := range event {
			i := col[k]
			if i == 0 {
				bad(k, "unknown field %q of an event", k)
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err == nil {
				rec[i-1] = s
			} else {
				// A number (fiscal_year), an object (a transfer's
				// lines, refused by its type) or a literal, as written.
				rec[i-1] = string(v)
			}
		}
		if len(errs) > before {
			continue
		}
		r, rerrs := parseImportRow(row, rec, col, fileID, false)
		if len(rerrs) > 0 {
			errs = append(errs, rerrs...)
			continue
		}
		rows = append(rows, r)
	}
	return rows, errs
}
