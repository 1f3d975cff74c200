package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// A replay, or the balances of the past, cut at a transfer's
// transferred-out side still show its transferred-in side: the two are
// one write, and the money is never on neither line.
func TestCutAtATransferKeepsBothSides(t *testing.T) {
	p := startServe(t)
	for _, args := range [][]string{
		{"allocate", "--year", "2025", "--province", "01", "--source", "national", "--amount", "3 tỷ", "--decision", "1/QĐ-UBND", "--date", "2025-02-01"},
		{"transfer", "--kind", "carry_over", "--year", "2025", "--province", "01", "--source", "national", "--to-year", "2026", "--to-province", "01",
			"--amount", "1 tỷ", "--decision", "163/QĐ-UBND", "--date", "2026-01-15"},
	} {
		code, _, stderr := cli(t, p.http, args...)
		require.Equal(t, 0, code, stderr)
	}
	keysFile := pinKeys(t, p.http)
	auditor := natsAuditor(t, p)

	// Seq 1 is the allocation, 2 the transfer's out side, 3 its in side.
	type lines struct {
		Lines []struct {
			Line struct {
				FiscalYear int `json:"fiscal_year"`
			} `json:"line"`
			Totals struct {
				Balance struct {
					Available string `json:"available"`
				} `json:"balance"`
			} `json:"totals"`
		} `json:"lines"`
	}
	available := func(js string) map[int]string {
		var l lines
		require.NoError(t, json.Unmarshal([]byte(js), &l), js)
		out := map[int]string{}
		for _, x := range l.Lines {
			out[x.Line.FiscalYear] = x.Totals.Balance.Available
		}
		return out
	}
	code, out, stderr := cliEnv(t, p.http, auditor, "replay", "--keys", keysFile, "--until-seq", "2", "--json")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, map[int]string{2025: "2000000000", 2026: "1000000000"}, available(out), out)
	code, out, stderr = cliEnv(t, p.http, auditor, "replay", "--keys", keysFile, "--until-seq", "1", "--json")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, map[int]string{2025: "3000000000"}, available(out), "a cut before the transfer has none of it")
	code, out, stderr = cli(t, p.http, "balances", "--until-seq", "2", "--json")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, map[int]string{2025: "2000000000", 2026: "1000000000"}, available(out), out)
}
