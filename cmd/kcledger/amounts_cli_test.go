package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// TestCLICompoundAmountsAndPlus records with the amounts people write:
// a compound amount and a delta with an explicit plus sign.
func TestCLICompoundAmountsAndPlus(t *testing.T) {
	p := startServe(t)
	for _, args := range [][]string{
		{"allocate", "--amount", "1 tỷ 500 triệu", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10"},
		{"adjust", "--delta", "+100 triệu", "--decision", "9/QĐ-BCT", "--reason", "bổ sung", "--date", "2025-02-01"},
		{"disburse", "--amount", "2 tỷ 50 triệu 300 nghìn đồng", "--voucher", "KB-1", "--beneficiary", "HTX", "--date", "2025-03-01"},
	} {
		code, _, stderr := cli(t, p.http, append(args, "--province", "01", "--source", "national", "--year", "2025")...)
		if args[0] == "disburse" {
			require.Equal(t, 1, code, "more than is available: refused by the ledger: %s", stderr)
			require.Contains(t, stderr, "insufficient_funds")
			continue
		}
		require.Equal(t, 0, code, "%v: %s", args, stderr)
	}
	code, _, stderr := cli(t, p.http, "allocate", "--amount", "1 triệu 2 tỷ", "--decision", "1/QĐ", "--date", "2025-01-10", "--province", "01", "--source", "national", "--year", "2025")
	require.Equal(t, 2, code, "an ambiguous amount is a usage error: %s", stderr)
	require.Contains(t, stderr, "decreasing order")

	code, out, stderr := cli(t, p.http, "balances", "--json")
	require.Equal(t, 0, code, stderr)
	var rep projections.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	apitest.RequireAmount(t, "1600000000", rep.Total.Balance.Allocated)
}
