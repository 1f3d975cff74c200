package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections/export"
)

// importSample records a few movements of every importable kind on two
// lines, with the texts an export guards against formulas.
func importSample(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{
		{"allocate", "--year", "2026", "--province", "01", "--source", "national", "--amount", "2 tỷ", "--decision", "1/QĐ-BCT", "--date", "2026-03-02",
			"--project", "CCN-1", "--category", "industrial_cluster", "--project-name", "Cụm công nghiệp Phú Nghĩa", "--implementing-unit", "UBND huyện Chương Mỹ", "--counterpart", "9,5 tỷ"},
		{"allocate", "--year", "2026", "--province", "79", "--source", "local", "--amount", "800 triệu", "--decision", "2/QĐ-UBND", "--date", "2026-03-03"},
		{"disburse", "--year", "2026", "--province", "01", "--source", "national", "--amount", "150.000.000", "--voucher", "KB-01", "--beneficiary", "=HTX Gốm Bát Tràng", "--date", "2026-03-10", "--project", "CCN-1"},
		{"adjust", "--year", "2026", "--province", "79", "--source", "local", "--delta", "-100 triệu", "--decision", "3/QĐ-UBND", "--reason", "điều chỉnh giảm", "--date", "2026-04-01"},
		{"refund", "--year", "2026", "--province", "01", "--source", "national", "--amount", "50 triệu", "--voucher", "KB-02", "--reason", "+ nộp trả", "--date", "2026-04-02", "--project", "CCN-1"},
		{"disburse", "--year", "2026", "--province", "79", "--source", "local", "--amount", "700 triệu", "--voucher", "KB-79", "--beneficiary", "Công ty Mỹ", "--date", "2026-04-03"},
	} {
		code, _, stderr := runIn(args...)
		require.Equal(t, exitOK, code, "%v: %s", args, stderr)
	}
}

// exportCSV exports the ledger the CLI points at.
func exportCSV(t *testing.T) [][]string {
	t.Helper()
	code, out, stderr := runIn("export", "--format", "csv")
	require.Equal(t, exitOK, code, stderr)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "\uFEFF"))).ReadAll()
	require.NoError(t, err)
	return rows
}

// trailOf is an export's rows without what a new ledger writes anew:
// sequences, times, ids, hashes, signers and the account.
func trailOf(rows [][]string) [][]string {
	drop := map[string]bool{"seq": true, "stored_at": true, "recorded_at": true, "event_id": true, "hash": true, "signed_by": true, "actor": true}
	var out [][]string
	for _, r := range rows {
		var kept []string
		for i, name := range export.CSVHeader {
			if !drop[name] {
				kept = append(kept, r[i])
			}
		}
		out = append(out, kept)
	}
	return out
}

func writeFile(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "import.csv")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
	return path
}

func lastSeq(t *testing.T, ta *testAPI) uint64 {
	t.Helper()
	seq, err := ta.store.LastEventSeq(context.Background())
	require.NoError(t, err)
	return seq
}

// TestImportRoundTrip checks that an export imported into an empty
// ledger gives the same balances and the same audit trail (amounts,
// kinds, lines, references, keys, the totals after each), and that
// importing it again records nothing.
func TestImportRoundTrip(t *testing.T) {
	from := newTestAPI(t)
	cliAgainst(t, from)
	t.Setenv("KCLEDGER_NATS_URL", from.natsURL)
	importSample(t)
	want := exportCSV(t)
	require.Len(t, want, 7)
	code, wantBalances, stderr := runIn("balances", "--year", "2026")
	require.Equal(t, exitOK, code, stderr)
	code, out, stderr := runIn("export", "--format", "csv")
	require.Equal(t, exitOK, code, stderr)
	file := writeFile(t, out)
	code, out, stderr = runIn("export", "--format", "csv", "--vi-numbers")
	require.Equal(t, exitOK, code, stderr)
	viFile := writeFile(t, out)
	code, out, stderr = runIn("export", "--format", "jsonl")
	require.Equal(t, exitOK, code, stderr)
	jsonlFile := writeFile(t, out)

	to := newTestAPI(t)
	cliAgainst(t, to)
	t.Setenv("KCLEDGER_NATS_URL", to.natsURL)
	code, out, stderr = runIn("import", file, "--dry-run")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "6 rows sound: 6 to record, 0 already recorded")
	require.Zero(t, lastSeq(t, to), "--dry-run records nothing")

	code, out, stderr = runIn("import", file)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "6 rows: 6 recorded, 0 already recorded")
	got := exportCSV(t)
	assert.Equal(t, trailOf(want), trailOf(got))
	code, gotBalances, stderr := runIn("balances", "--year", "2026")
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, wantBalances, gotBalances)

	seq := lastSeq(t, to)
	code, out, stderr = runIn("import", file)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "6 rows: 0 recorded, 6 already recorded")
	assert.Equal(t, seq, lastSeq(t, to), "a second import records nothing")
	code, out, stderr = runIn("import", viFile)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "6 rows: 0 recorded, 6 already recorded", "amounts written the Vietnamese way are the same movements")
	assert.Equal(t, seq, lastSeq(t, to))

	// JSON lines, as export --format jsonl writes them, into another
	// empty ledger: the same trail.
	toJSONL := newTestAPI(t)
	cliAgainst(t, toJSONL)
	t.Setenv("KCLEDGER_NATS_URL", toJSONL.natsURL)
	code, out, stderr = runIn("import", jsonlFile)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "6 rows: 6 recorded, 0 already recorded")
	assert.Equal(t, trailOf(want), trailOf(exportCSV(t)))
}

// TestImportResumesAfterAStop checks that an import stopped after some
// rows, as if killed, and run again records each row exactly once: a
// hand-written file with no idempotency keys, whose keys are derived
// from the file and the row.
func TestImportResumesAfterAStop(t *testing.T) {
	ta := newTestAPI(t)
	cliAgainst(t, ta)
	t.Setenv("KCLEDGER_NATS_URL", ta.natsURL)
	var b strings.Builder
	b.WriteString("type,fiscal_year,province,source,amount,decision,voucher,beneficiary,effective_date\n")
	b.WriteString("allocate,2026,01,national,1000000000,1/QĐ-BCT,,,2026-03-02\n")
	b.WriteString("allocate,2026,79,local,1000000000,2/QĐ-UBND,,,2026-03-02\n")
	// Batches of two rows, one atomic write each.
	saved := importBatchRows
	importBatchRows = 2
	t.Cleanup(func() { importBatchRows = saved })
	for i := range 8 {
		line := []string{"01,national", "79,local"}[i%2]
		b.WriteString("disburse,2026," + line + ",1.000.000,,KB-" + string(rune('1'+i)) + ",HTX Bát Tràng,2026-03-10\n")
	}
	file := writeFile(t, b.String())

	var batches []int
	importStop = func(n int) bool { batches = append(batches, n); return n >= 4 }
	t.Cleanup(func() { importStop = nil })
	code, _, stderr := runIn("import", file)
	require.Equal(t, exitFailure, code, stderr)
	require.Equal(t, uint64(4), lastSeq(t, ta))
	assert.Equal(t, []int{2, 4}, batches, "rows recorded after each batch")
	importStop = nil

	code, out, stderr := runIn("import", file)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "10 rows: 6 recorded, 4 already recorded")
	rows := exportCSV(t)
	require.Len(t, rows, 11, "each row once")
	key := slices.Index(export.CSVHeader, "idempotency_key")
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		assert.False(t, seen[r[key]], "key %s twice", r[key])
		seen[r[key]] = true
		assert.True(t, strings.HasPrefix(r[key], "import-"), r[key])
	}
	assert.Equal(t, uint64(10), lastSeq(t, ta))
}

// TestImportRefusesABadFile checks that a file with any bad row records
// nothing, and that every bad row is named with its row number and
// field.
func TestImportRefusesABadFile(t *testing.T) {
	ta := newTestAPI(t)
	cliAgainst(t, ta)
	t.Setenv("KCLEDGER_NATS_URL", ta.natsURL)
	const header = "type,fiscal_year,province,source,amount,decision,voucher,beneficiary,effective_date,idempotency_key\n"
	const alloc = "allocate,2026,01,national,1000000,1/QĐ-BCT,,,2026-03-02,k1\n"
	for _, tc := range []struct {
		name string
		file string
		code int
		want []string
	}{
		{"wrong header", "\uFEFFtype,fiscal_year,province,source,amount\n" + alloc, exitUsage, []string{"row 1, effective_date: the header has no column"}},
		{"unknown column", strings.Replace(header, "voucher", "chung_tu", 1) + alloc, exitUsage, []string{`row 1, column 7: unknown column "chung_tu"`}},
		{"not UTF-8", header + alloc + "disburse,2026,01,national,1000,,KB-1,C\xf4ng ty,2026-03-10,k2\n", exitUsage, []string{"row 3, beneficiary: not UTF-8"}},
		{"duplicated key, other content", header + alloc + "allocate,2026,01,national,2000000,1/QĐ-BCT,,,2026-03-02,k1\n", exitUsage, []string{`row 3, idempotency_key: key "k1" is also row 2's`}},
		{"bad amount", header + alloc + "disburse,2026,01,national,1.5e6,,KB-1,HTX,2026-03-10,k2\n" + "disburse,2026,01,national,-5,,KB-1,HTX,2026-03-10,k3\n", exitUsage,
			[]string{"row 3, amount:", "row 4, amount:"}},
		{"overspent by the rows before", header + alloc + "disburse,2026,01,national,600000,,KB-1,HTX,2026-03-10,k2\n" + "disburse,2026,01,national,600000,,KB-2,HTX,2026-03-11,k3\n", exitRefused,
			[]string{"row 4, amount:"}},
		{"missing field", header + "disburse,2026,01,national,1000,,,HTX,2026-03-10,k2\n", exitUsage, []string{"row 2, voucher:"}},
		{"not importable", header + "repudiate,2026,01,national,0,,,,2026-03-10,k2\n", exitUsage, []string{"row 2, type:"}},
		{"cells missing", header + "allocate,2026,01\n", exitUsage, []string{"row 2: 3 cells, the header has 10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, tc.file)
			for _, args := range [][]string{{"import", file, "--dry-run"}, {"import", file}} {
				code, _, stderr := runIn(args...)
				assert.Equal(t, tc.code, code, stderr)
				for _, w := range tc.want {
					assert.Contains(t, stderr, w)
				}
				assert.Contains(t, stderr, "nothing was recorded")
				assert.Zero(t, lastSeq(t, ta), "nothing appended")
			}
		})
	}
}

// FuzzImportParse feeds the row parser outside input: it never panics,
// and what it returns is numbered within the file.
func FuzzImportParse(f *testing.F) {
	f.Add([]byte("\uFEFF" + strings.Join(export.CSVHeader, ",") + "\n"))
	f.Add([]byte("type,fiscal_year,province,source,amount,effective_date\nallocate,2026,01,national,1.000,2026-03-02\n"))
	f.Add([]byte("type,fiscal_year,province,source,amount,effective_date,reason\ndisburse,2026,01,local,'-5,2026-13-01,\"x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, errs := parseImport(data)
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, r := range rows {
			require.GreaterOrEqual(t, r.Row, 2)
			require.LessOrEqual(t, r.Row, lines)
			require.NotEmpty(t, r.Cmd.IdempotencyKey)
		}
		for _, e := range errs {
			require.GreaterOrEqual(t, e.Row, 1)
			require.NotEmpty(t, e.Reason)
		}
		if len(errs) > 0 && len(errs) < maxImportErrors {
			return
		}
	})
}

// TestImportRefusalsOfTheLedger checks that what only the ledger refuses
// is named by row and field, that its batch is refused whole while the
// batches before it stay recorded, and that only an admin imports.
func TestImportRefusalsOfTheLedger(t *testing.T) {
	ta := newTestAPI(t)
	cliAgainst(t, ta)
	t.Setenv("KCLEDGER_NATS_URL", ta.natsURL)
	saved := importBatchRows
	importBatchRows = 2
	t.Cleanup(func() { importBatchRows = saved })
	file := writeFile(t, "type,fiscal_year,province,source,amount,decision,effective_date\n"+
		"allocate,2026,01,national,1000000,1/QĐ-BCT,2026-03-02\n"+
		"allocate,2026,01,national,1000000,2/QĐ-BCT,2026-03-03\n"+
		"allocate,2026,79,local,1000000,3/QĐ-UBND,2026-03-04\n"+
		// In the past here, in the future on the ledger's clock (testNow).
		"allocate,2026,79,national,1000000,4/QĐ-BCT,2026-07-01\n")

	officer := ta.AddAccount(t, "can-bo-ha-noi", domain.RoleOfficer, []string{"01"}, []string{"national"})
	code, _, stderr := runAs(t, officer, "import", file)
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "only an admin imports")
	assert.Zero(t, lastSeq(t, ta))

	code, _, stderr = runIn("import", file)
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "row 5, effective_date:")
	// Rows 4 and 5 are one batch, refused whole.
	assert.Contains(t, stderr, "the batch of rows 4 to 5")
	assert.Contains(t, stderr, "2 of 4 rows recorded before it")
	assert.Equal(t, uint64(2), lastSeq(t, ta), "the batch before the refused one stays recorded, none of the refused one")
}

// TestImportRefusesBadJSONLines checks the faults of a file of JSON
// lines, named by line and field, and that nothing is appended.
func TestImportRefusesBadJSONLines(t *testing.T) {
	ta := newTestAPI(t)
	cliAgainst(t, ta)
	t.Setenv("KCLEDGER_NATS_URL", ta.natsURL)
	const good = `{"seq":1,"event":{"type":"funds.allocated.v1","fiscal_year":2026,"province":"01","source":"national","amount":"1000000","decision":"1/QĐ-BCT","effective_date":"2026-03-02","idempotency_key":"k1"}}` + "\n"
	file := writeFile(t, good+
		`{"seq":2,"event":{"type":"funds.disbursed.v1","fiscal_year":2026,"province":"01","source":"national","amount":"1,5e6","voucher":"KB-1","beneficiary":"HTX","effective_date":"2026-03-10","idempotency_key":"k2"}}`+"\n"+
		`{"seq":3,"colour":"red","event":{}}`+"\n"+
		`{"seq":4,"event":{"type":"funds.allocated.v1","province":"01"}}`+"\n"+
		"{\"seq\":5,\"event\":{\"beneficiary\":\"C\xf4ng\"}}\n"+
		`{"seq":6,"event":{"type":"funds.disbursed.v1","fiscal_year":2026,"province":"01","source":"national","amount":"2000000","voucher":"KB-1","beneficiary":"HTX","effective_date":"2026-03-10","idempotency_key":"k6"}}`+"\n")
	code, _, stderr := runIn("import", file)
	assert.Equal(t, exitUsage, code, stderr)
	for _, w := range []string{"row 2, amount:", `row 3, colour: unknown field "colour"`, "row 4, fiscal_year:", "row 5: not UTF-8"} {
		assert.Contains(t, stderr, w)
	}
	assert.Zero(t, lastSeq(t, ta))

	// Well formed, but the last overspends given the first.
	file = writeFile(t, good+`{"seq":6,"event":{"type":"funds.disbursed.v1","fiscal_year":2026,"province":"01","source":"national","amount":"2000000","voucher":"KB-1","beneficiary":"HTX","effective_date":"2026-03-10","idempotency_key":"k6"}}`+"\n")
	code, _, stderr = runIn("import", file)
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "row 2, amount:")
	assert.Zero(t, lastSeq(t, ta))
}

// FuzzImportJSONLines is FuzzImportParse for JSON lines.
func FuzzImportJSONLines(f *testing.F) {
	f.Add([]byte(`{"seq":1,"event":{"type":"funds.allocated.v1","fiscal_year":2026,"province":"01","source":"national","amount":"1000000","decision":"1/QĐ","effective_date":"2026-03-02"}}`))
	f.Add([]byte("{\"event\":{\"from_line\":{},\"amount\":5}}\n{}\n\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, errs := parseImportJSONL(data)
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, r := range rows {
			require.GreaterOrEqual(t, r.Row, 1)
			require.LessOrEqual(t, r.Row, lines)
			require.NotEmpty(t, r.Cmd.IdempotencyKey)
		}
		for _, e := range errs {
			require.GreaterOrEqual(t, e.Row, 1)
			require.NotEmpty(t, e.Reason)
		}
	})
}

// TestImportAs checks that an admin imports rows as the account they
// were by (--as): the events name it as actor and the admin as
// imported_by, a second run records nothing, and an officer's --as is
// refused naming the rule, with nothing recorded.
func TestImportAs(t *testing.T) {
	ta := newTestAPI(t)
	cliAgainst(t, ta)
	t.Setenv("KCLEDGER_NATS_URL", ta.natsURL)
	file := writeFile(t, "type,fiscal_year,province,source,amount,decision,voucher,beneficiary,effective_date\n"+
		"allocate,2026,01,national,1000000000,1/QĐ-BCT,,,2026-03-02\n"+
		"disburse,2026,01,national,1.000.000,,KB-1,HTX Bát Tràng,2026-03-10\n")

	officer := ta.AddAccount(t, "can-bo-ha-noi", domain.RoleOfficer, []string{"01"}, []string{"national"})
	code, _, stderr := runAs(t, officer, "import", file, "--as", "so-cong-thuong-ha-noi")
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "only an admin imports movements on behalf of another account (as)")
	assert.Zero(t, lastSeq(t, ta))

	code, out, stderr := runIn("import", file, "--as", "so-cong-thuong-ha-noi")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "2 rows: 2 recorded")
	rows := exportCSV(t)
	require.Len(t, rows, 3)
	actor := slices.Index(export.CSVHeader, "actor")
	for _, r := range rows[1:] {
		assert.Equal(t, "so-cong-thuong-ha-noi", r[actor])
	}
	recs, err := ta.store.Load(context.Background(), domain.LineKey{FiscalYear: 2026, Province: "01", Source: domain.SourceNational}, 0)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	for _, r := range recs {
		assert.Equal(t, "so-cong-thuong-ha-noi", r.Event.Actor)
		assert.Equal(t, "admin", r.Event.ImportedBy)
	}

	code, out, stderr = runIn("import", file, "--as", "so-cong-thuong-ha-noi")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "2 rows: 0 recorded, 2 already recorded")
	assert.Equal(t, uint64(2), lastSeq(t, ta))
}
