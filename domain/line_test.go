package domain

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxLines is how many budget lines the ledger can hold: every fiscal year,
// every two-digit province code, both sources.
const maxLines = (MaxFiscalYear - MinFiscalYear + 1) * 100 * 2

// TestTotalBoundFitsEveryReader checks the arithmetic behind MaxLineTotal:
// a line total at the bound has a machine form that even the strict
// parser of input amounts reads, and the sum of every line at the bound
// fits the digits ParseTotal reads, with room for views by effective date.
func TestTotalBoundFitsEveryReader(t *testing.T) {
	line, err := ParseAmount(MaxLineTotal.String())
	require.NoError(t, err)
	requireAmount(t, MaxLineTotal.String(), line)
	assert.Positive(t, MaxLineTotal.Cmp(MaxMovement), "a line holds more than one movement")

	all := new(big.Int).Mul(MaxLineTotal.Decimal().BigInt(), big.NewInt(maxLines))
	assert.Less(t, len(all.String()), maxTotalDigits, "every line at the bound, summed, has fewer than %d digits", maxTotalDigits)
	_, err = ParseTotal("-" + all.String())
	require.NoError(t, err)
}

func TestParseTotal(t *testing.T) {
	widest := strings.Repeat("9", maxTotalDigits)
	for _, in := range []string{"0", "1", "-1", "1000000000000000000", "10000000000000000000", widest, "-" + widest} {
		got, err := ParseTotal(in)
		require.NoError(t, err, in)
		assert.Equal(t, in, got.String())
	}
	for _, tc := range []struct{ in, want string }{
		{"1" + strings.Repeat("0", maxTotalDigits), "at most 30 digits"},
		{"", "empty"},
		{"+1", "'+' sign"},
		{"-0", "not canonical"},
		{"01", "leading zeros"},
		{"1.5", "malformed"},
		{"1e30", "malformed"},
	} {
		_, err := ParseTotal(tc.in)
		requireAmountError(t, err, tc.want)
	}
}

// TestBalanceJSONAtTheBound checks that totals far past the 19 digits of
// input amounts survive Balance's JSON, which every reader of totals
// (checkpoint, report, CLI, verify --compare) decodes through.
func TestBalanceJSONAtTheBound(t *testing.T) {
	all := MaxLineTotal
	for i := 1; i < maxLines; i++ {
		all = all.Add(MaxLineTotal)
	}
	for _, b := range []Balance{
		{Allocated: MaxLineTotal, Disbursed: MaxLineTotal, Refunded: MaxLineTotal.Sub(AmountFromInt64(1))},
		{Allocated: all, Disbursed: all, Refunded: AmountFromInt64(7)},
	} {
		data, err := json.Marshal(b)
		require.NoError(t, err)
		var back Balance
		require.NoError(t, json.Unmarshal(data, &back), "%s", data)
		for _, p := range [][2]Amount{{b.Allocated, back.Allocated}, {b.Disbursed, back.Disbursed}, {b.Refunded, back.Refunded}} {
			require.Truef(t, p[0].Equal(p[1]), "%s came back as %s", p[0], p[1])
			require.Zero(t, p[1].Decimal().Exponent())
		}
	}

	// Totals still refuse what no total can be.
	for _, in := range []string{
		`{"allocated":"1` + strings.Repeat("0", maxTotalDigits) + `","disbursed":"0","refunded":"0"}`,
		`{"allocated":1,"disbursed":"0","refunded":"0"}`,
		`{"allocated":"1.5","disbursed":"0","refunded":"0"}`,
	} {
		var b Balance
		require.ErrorIs(t, json.Unmarshal([]byte(in), &b), ErrInvalidAmount, in)
	}
}
