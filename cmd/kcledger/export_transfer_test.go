package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/projections/export"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// goldenTrail is the audit trail of the golden events as export writes
// it, of the lines f selects.
func goldenTrail(t *testing.T, f projections.Filter) []projections.TrailEntry {
	t.Helper()
	trail := projections.NewTrail(f, "", projections.Cut{}, 0, 100)
	for i, ev := range goldenEvents(t) {
		require.True(t, trail.Add(domain.Recorded{Event: ev, Seq: goldenSeqs[i]}, ev.RecordedAt))
	}
	return trail.Entries
}

// The CSV names each transfer's kind, id and lines, and its running
// totals stay those of the line: what moved in, out, and lapsed, and
// what is left available.
func TestCSVExportOfTransfersAndLapses(t *testing.T) {
	var buf bytes.Buffer
	exp, err := export.NewCSV(&buf, false)
	require.NoError(t, err)
	for _, e := range goldenTrail(t, projections.Filter{}) {
		require.NoError(t, exp.Write(e))
	}
	require.NoError(t, exp.Close())
	rows, err := csv.NewReader(bytes.NewReader(buf.Bytes()[3:])).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+len(domain.EventTypes))
	header := rows[0]
	require.Equal(t, []string{"transfer_kind", "transfer_id", "from_line", "to_line", "line_transferred_in_after", "line_transferred_out_after", "line_lapsed_after"},
		header[len(header)-7:], "the new columns, at the end")
	cell := func(row []string, name string) string {
		i := slices.Index(header, name)
		require.GreaterOrEqual(t, i, 0, name)
		return row[i]
	}
	byType := map[string][]string{}
	for _, r := range rows[1:] {
		require.Len(t, r, len(header))
		byType[cell(r, "type")] = r
	}
	out, in, lapse := byType["funds.transferred_out.v1"], byType["funds.transferred_in.v1"], byType["funds.lapsed.v1"]
	for _, r := range [][]string{out, in} {
		assert.Equal(t, "carry_over", cell(r, "transfer_kind"))
		assert.Equal(t, "01970a6e-8000-7000-8000-000000000007", cell(r, "transfer_id"))
		assert.Equal(t, "2025/01/national", cell(r, "from_line"))
		assert.Equal(t, "2026/01/national", cell(r, "to_line"))
		assert.Equal(t, "1000000000", cell(r, "amount"))
		assert.Equal(t, "KC-2025-01", cell(r, "project"))
	}
	assert.Equal(t, []string{"11", "2025", "1400000000", "200000000", "200000000", "0", "1000000000", "0"},
		[]string{cell(out, "seq"), cell(out, "fiscal_year"), cell(out, "line_allocated_after"), cell(out, "line_net_disbursed_after"),
			cell(out, "line_available_after"), cell(out, "line_transferred_in_after"), cell(out, "line_transferred_out_after"), cell(out, "line_lapsed_after")})
	assert.Equal(t, []string{"12", "2026", "0", "0", "1000000000", "1000000000", "0", "0"},
		[]string{cell(in, "seq"), cell(in, "fiscal_year"), cell(in, "line_allocated_after"), cell(in, "line_net_disbursed_after"),
			cell(in, "line_available_after"), cell(in, "line_transferred_in_after"), cell(in, "line_transferred_out_after"), cell(in, "line_lapsed_after")})
	assert.Equal(t, []string{"13", "200000000", "0", "", "", "", "", "0", "1000000000", "200000000"},
		[]string{cell(lapse, "seq"), cell(lapse, "amount"), cell(lapse, "line_available_after"), cell(lapse, "transfer_kind"), cell(lapse, "transfer_id"),
			cell(lapse, "from_line"), cell(lapse, "to_line"), cell(lapse, "line_transferred_in_after"), cell(lapse, "line_transferred_out_after"), cell(lapse, "line_lapsed_after")})
	for _, typ := range []string{"funds.allocated.v1", "funds.disbursed.v1"} {
		assert.Empty(t, cell(byType[typ], "transfer_kind"), typ)
		assert.Equal(t, "0", cell(byType[typ], "line_transferred_out_after"), typ)
	}

	// A succession out of a merged province, dated after the merger,
	// still names its province (its code is not in force that day).
	var one bytes.Buffer
	exp, err = export.NewCSV(&one, true)
	require.NoError(t, err)
	ev := byTypeEvent(t, domain.TypeTransferredOut)
	ev.Province, ev.TransferKind, ev.EffectiveDate = "02", domain.TransferSuccession, domain.Date{Year: 2025, Month: time.July, Day: 1}
	require.NoError(t, exp.Write(projections.TrailEntry{Seq: 1, Event: ev}))
	require.NoError(t, exp.Close())
	rows, err = csv.NewReader(bytes.NewReader(one.Bytes()[3:])).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, "Hà Giang", cell(rows[1], "province_name"))
	assert.Equal(t, "1.000.000.000", cell(rows[1], "amount"))
}

func byTypeEvent(t *testing.T, typ domain.EventType) domain.Event {
	t.Helper()
	for _, ev := range goldenEvents(t) {
		if ev.Type == typ {
			return ev
		}
	}
	t.Fatalf("no golden %s", typ)
	return domain.Event{}
}

// beancountSums checks a journal with the real bean-check and returns
// each account's balance by the real bean-query.
func beancountSums(t *testing.T, journal []byte) map[string]domain.Amount {
	t.Helper()
	beanCheck := lookTool(t, "bean-check", "apt-get install beancount; scripts/test does it")
	beanQuery := lookTool(t, "bean-query", "apt-get install beancount; scripts/test does it")
	file := filepath.Join(t.TempDir(), "k.beancount")
	require.NoError(t, os.WriteFile(file, journal, 0o600))
	out, err := exec.Command(beanCheck, file).CombinedOutput()
	require.NoError(t, err, "bean-check: %s\n%s", out, journal)
	q, err := exec.Command(beanQuery, "-f", "csv", file, "SELECT account, sum(number) AS total GROUP BY account").Output()
	require.NoError(t, err)
	rows, err := csv.NewReader(bytes.NewReader(q)).ReadAll()
	require.NoError(t, err)
	sums := map[string]domain.Amount{}
	for _, r := range rows[1:] {
		a, err := domain.ParseAmount(strings.TrimSpace(r[1]))
		require.NoError(t, err, "%q", r[1])
		sums[strings.TrimSpace(r[0])] = a
	}
	return sums
}

// In the Beancount journal a transfer is one transaction that balances to
// zero, out of the source line's available funds into the destination's,
// and a lapse moves what was left to the line's lapsed appropriations;
// bean-check accepts it and bean-query's balances are the ledger's.
func TestBeancountExportOfTransfersAndLapses(t *testing.T) {
	var buf bytes.Buffer
	exp := export.NewBeancount(&buf)
	entries := goldenTrail(t, projections.Filter{})
	for _, e := range entries {
		require.NoError(t, exp.Write(e))
	}
	require.NoError(t, exp.Close())
	journal := buf.String()
	assert.Contains(t, journal, "  Assets:KCQG:Y2026:P01:Available  1000000000 VND\n  Assets:KCQG:Y2025:P01:Available  -1000000000 VND\n",
		"one transaction, out of the source's account into the destination's")
	assert.Contains(t, journal, `transfer_id: "01970a6e-8000-7000-8000-000000000007"`)
	assert.Contains(t, journal, "^transfer-01970a6e-8000-7000-8000-000000000007")
	assert.NotContains(t, journal, "Transfers", "both sides are in the journal: nothing in transit")

	sums := beancountSums(t, buf.Bytes())
	lines := map[domain.LineKey]domain.Balance{}
	for _, e := range entries {
		if e.Event.Type != domain.TypeRepudiated {
			lines[e.Event.Line()] = e.Line
		}
	}
	require.Len(t, lines, 2)
	for k, b := range lines {
		base := "KCQG:Y" + k.String()[:4] + ":P" + k.Province
		apitest.RequireAmount(t, b.Available().String(), sums["Assets:"+base+":Available"], base+" available")
		apitest.RequireAmount(t, b.Allocated.Neg().String(), sums["Equity:"+base+":Allocated"], base+" allocated")
		apitest.RequireAmount(t, b.Lapsed.String(), sums["Equity:"+base+":Lapsed"], base+" lapsed")
	}
	apitest.RequireAmount(t, "200000000", sums["Equity:KCQG:Y2025:P01:Lapsed"])

	// An export of 2025 alone has the out side without its in side: it
	// goes to the fund's transfers in transit, and the journal still
	// balances.
	buf.Reset()
	exp = export.NewBeancount(&buf)
	for _, e := range goldenTrail(t, projections.Filter{FiscalYear: 2025}) {
		require.NoError(t, exp.Write(e))
	}
	require.NoError(t, exp.Close())
	sums = beancountSums(t, buf.Bytes())
	apitest.RequireAmount(t, "1000000000", sums["Equity:KCQG:Transfers"], "the out side, in transit")
	apitest.RequireAmount(t, "0", sums["Assets:KCQG:Y2025:P01:Available"])

	buf.Reset()
	exp = export.NewBeancount(&buf)
	for _, e := range goldenTrail(t, projections.Filter{FiscalYear: 2026}) {
		require.NoError(t, exp.Write(e))
	}
	require.NoError(t, exp.Close())
	sums = beancountSums(t, buf.Bytes())
	apitest.RequireAmount(t, "-1000000000", sums["Equity:KCQG:Transfers"], "the in side, from transit")
	apitest.RequireAmount(t, "1000000000", sums["Assets:KCQG:Y2026:P01:Available"])

	// A lapse of nothing (a project with nothing left) is accepted too.
	buf.Reset()
	exp = export.NewBeancount(&buf)
	zero := byTypeEvent(t, domain.TypeLapsed)
	zero.Amount, zero.Project = domain.Amount{}, "KC-2025-01"
	require.NoError(t, exp.Write(projections.TrailEntry{Seq: 1, Event: zero}))
	require.NoError(t, exp.Close())
	beancountSums(t, buf.Bytes())
}
