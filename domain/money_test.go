package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireAmount fails the test unless got is the amount want, written in the
// machine form ("1500000000", "-250000000"). It compares with Cmp because
// equal decimals need not be equal structs, and it checks the exponent-0
// invariant that keeps every Amount a plain count of đồng.
func requireAmount(t *testing.T, want string, got Amount) {
	t.Helper()
	w, err := ParseAmount(want)
	require.NoError(t, err, "requireAmount: want %q is not in the machine form", want)
	require.Zerof(t, got.Decimal().Exponent(), "amount %s has exponent %d: amounts must be whole đồng at exponent 0", got, got.Decimal().Exponent())
	require.Truef(t, w.Cmp(got) == 0, "amount: want %s, got %s", want, got)
}

// requireAmountError checks that err is an invalid-amount *Error without a
// field (parsers leave the field to their callers) whose message contains
// every one of wants.
func requireAmountError(t *testing.T, err error, wants ...string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrInvalidAmount)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Empty(t, e.Field, "parsers leave the field to their callers")
	for _, w := range wants {
		assert.Contains(t, e.Message, w)
	}
}

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"0", "0"},
		{"1", "1"},
		{"-1", "-1"},
		{"1500000000", "1500000000"},
		{"-250000000", "-250000000"},
		{"1000000000000000", "1000000000000000"},
		{"9999999999999999999", "9999999999999999999"},
		{"-9999999999999999999", "-9999999999999999999"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAmount(tc.in)
			require.NoError(t, err)
			requireAmount(t, tc.want, got)
			assert.Equal(t, tc.in, got.String(), "the machine form has one spelling per amount")
		})
	}
}

func TestParseAmountRejects(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // part of the message besides the quoted input
	}{
		{"", "empty"},
		{" ", "malformed"},
		{"-", "malformed"},
		{"--1", "malformed"},
		{"+5", "'+' sign"},
		{"+", "'+' sign"},
		{"007", "leading zeros"},
		{"00", "leading zeros"},
		{"-007", "leading zeros"},
		{"-0", "not canonical"},
		{"1.5", "malformed"},
		{"1,5", "malformed"},
		{"1.500.000", "malformed"},
		{"1 500", "malformed"},
		{" 1", "malformed"},
		{"1 ", "malformed"},
		{"1\n", "malformed"},
		{"1_000", "malformed"},
		{"1e9", "malformed"},
		{"0x10", "malformed"},
		{"١٢٣", "malformed"},
		{"１２３", "malformed"},
		{"1500000000 VND", "malformed"},
		{"250 triệu", "malformed"},
		{"1,5 tỷ", "malformed"},
		{"10000000000000000000", "at most 19 digits"},
		{"-10000000000000000000", "at most 19 digits"},
		{"\xff", "malformed"},
		{"5\x00", "malformed"},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := ParseAmount(tc.in)
			requireAmountError(t, err, fmt.Sprintf("amount %q", tc.in), tc.want)
			assert.True(t, got.IsZero(), "a failed parse returns the zero amount")
		})
	}
}

func TestParseAmountHugeInput(t *testing.T) {
	huge := strings.Repeat("9", 1<<20)
	_, err := ParseAmount(huge)
	requireAmountError(t, err, "at most 19 digits", "(1048576 bytes)")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Less(t, len(e.Message), 200, "the message must not repeat a huge input")
}

func TestParseHumanAmount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		// The machine form.
		{"0", "0"},
		{"1500000000", "1500000000"},
		{"-250000000", "-250000000"},
		{"9999999999999999999", "9999999999999999999"},
		// Grouping and currency.
		{"1.500.000.000", "1500000000"},
		{"1.500.000.000 đồng", "1500000000"},
		{"1.500.000.000 ₫", "1500000000"},
		{"1.500.000.000đ", "1500000000"},
		{"1.500.000.000₫", "1500000000"},
		{"1.500.000.000 đ", "1500000000"},
		{"1500000000 VND", "1500000000"},
		{"1500000000 vnd", "1500000000"},
		{"1.500.000.000 VNĐ", "1500000000"},
		{"1.500.000.000 dong", "1500000000"},
		{"1.500.000.000 ĐỒNG", "1500000000"},
		{"950.000 ₫", "950000"},
		{"1.000", "1000"},
		{"100", "100"},
		{"9.999.999.999.999.999.999", "9999999999999999999"},
		{"-250.000.000 ₫", "-250000000"},
		// Units.
		{"250 triệu", "250000000"},
		{"250 trieu", "250000000"},
		{"250 TRIỆU", "250000000"},
		{"250 Triệu Đồng", "250000000"},
		{"250triệu", "250000000"},
		{"1,5 tỷ", "1500000000"},
		{"1,5tỷ", "1500000000"},
		{"1,5 tỷ đồng", "1500000000"},
		{"1,5 tỷđồng", "1500000000"},
		{"1,5 tỷ₫", "1500000000"},
		{"1,5 tỷ VND", "1500000000"},
		{"1,50 tỷ", "1500000000"},
		{"1,5000 tỷ", "1500000000"},
		{"64.710 triệu đồng", "64710000000"},
		{"170,4 tỷ", "170400000000"},
		{"170,4 tỷ đồng", "170400000000"},
		{"1.500 tỷ", "1500000000000"},
		{"5 nghìn", "5000"},
		{"5 ngàn", "5000"},
		{"5 nghin", "5000"},
		{"5 ngan", "5000"},
		{"5 Nghìn đồng", "5000"},
		{"-250 triệu", "-250000000"},
		{"-0,5 tỷ", "-500000000"},
		{"2 tỉ", "2000000000"},
		{"2 ti", "2000000000"},
		{"2 ty", "2000000000"},
		{"2 TỶ", "2000000000"},
		{"2 Tỷ", "2000000000"},
		{"2 TY", "2000000000"},
		{"0,5 triệu", "500000"},
		{"0,5 tỷ", "500000000"},
		{"0 triệu", "0"},
		{"-0", "0"},
		{"1,2345678 tỷ", "1234567800"},
		{"1,234567891 tỷ", "1234567891"},
		{"1,2345678910 tỷ", "1234567891"},
		{"1.234,5 triệu", "1234500000"},
		{"94,3 tỷ", "94300000000"},
		// A comma with only zero decimals is still whole đồng.
		{"1,0", "1"},
		{"1,00 đồng", "1"},
		// Decomposed (NFD) and half-composed diacritics, as some systems send them.
		{"250 trie\u0323\u0302u", "250000000"},
		{"250 triê\u0323u", "250000000"},
		{"2 ty\u0309", "2000000000"},
		{"5 nghi\u0300n đo\u0302\u0300ng", "5000"},
		// Whitespace around and between parts, including no-break spaces.
		{"  250  triệu  đồng  ", "250000000"},
		{"1.500.000\u00a0₫", "1500000"},
		{"\u00a01.500.000\u00a0₫\u00a0", "1500000"},
		{"250\ttriệu", "250000000"},
		{"64.710\u202ftriệu", "64710000000"},
		// An explicit plus sign, as on a delta.
		{"+100 triệu", "100000000"},
		{"+5", "5"},
		{"+1.500.000.000 ₫", "1500000000"},
		{"+0,5 tỷ", "500000000"},
		// Compound amounts: units in decreasing order, each later part 1-999.
		{"1 tỷ 500 triệu", "1500000000"},
		{"2 tỷ 50 triệu 300 nghìn", "2050300000"},
		{"2 tỷ 50 triệu 300 nghìn đồng", "2050300000"},
		{"2 tỷ 50 triệu 300 nghìn ₫", "2050300000"},
		{"1 triệu 500 đồng", "1000500"},
		{"1 tỷ 1 đồng", "1000000001"},
		{"1 tỷ 999 triệu 999 nghìn 999 đồng", "1999999999"},
		{"1.500 tỷ 200 triệu", "1500200000000"},
		{"-1 tỷ 500 triệu", "-1500000000"},
		{"+1 tỷ 500 triệu", "1500000000"},
		{"1 Tỷ 500 TRIỆU", "1500000000"},
		{"1 ty 500 trieu", "1500000000"},
		{"1tỷ 500triệu", "1500000000"},
		{"1 tỷ 500 triệu đồng", "1500000000"},
		{"1 tỷ 500 triệuđồng", "1500000000"},
		{"3 tỉ 5 ngàn", "3000005000"},
		{" 1\u00a0tỷ\u00a0500\u00a0triệu ", "1500000000"},
		{"1.000.000.000 tỷ 1 triệu", "1000000000001000000"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseHumanAmount(tc.in)
			require.NoError(t, err)
			requireAmount(t, tc.want, got)
		})
	}
}

func TestParseHumanAmountRejects(t *testing.T) {
	for _, tc := range []struct {
		in    string
		wants []string // parts of the message besides the quoted input
	}{
		{"", []string{"empty"}},
		{" ", []string{"empty"}},
		{"\u00a0", []string{"empty"}},
		{"-", []string{"malformed"}},
		{"--5", []string{"more than one sign"}},
		{"- 5", []string{"malformed"}},
		{"5-", []string{"malformed"}},
		{"++5", []string{"more than one sign"}},
		{"+-5", []string{"more than one sign"}},
		{"-+5", []string{"more than one sign"}},
		{"+", []string{"malformed"}},
		{"+ 5", []string{"malformed"}},
		{"triệu", []string{"malformed"}},
		{"₫500", []string{"malformed"}},
		{"VND 500", []string{"malformed"}},

		// Grouping.
		{"1.5", []string{"exactly 3 digits", "comma"}},
		{"1.50.000", []string{"exactly 3 digits"}},
		{"1.5000", []string{"exactly 3 digits"}},
		{"1234.567", []string{"exactly 3 digits"}},
		{"1.", []string{"exactly 3 digits"}},
		{"1..500", []string{"exactly 3 digits"}},
		{".5", []string{"malformed"}},
		{"1_000", []string{"malformed"}},
		{"1 500 000", []string{"space inside the number", `"1.500.000"`}},

		// Compound amounts.
		{"1,5 tỷ 300 triệu", []string{"decimal comma", `"1 tỷ 500 triệu"`}},
		{"1 tỷ 0,5 triệu", []string{"decimal comma"}},
		{"1 triệu 2 tỷ", []string{"decreasing order"}},
		{"1 tỷ 2 tỉ", []string{"decreasing order"}},
		{"1 triệu 2 triệu", []string{"decreasing order"}},
		{"1 nghìn 2 ngàn", []string{"decreasing order"}},
		{"1 tỷ 500", []string{"no unit", `"1 tỷ 500 triệu"`}},
		{"1 tỷ 500 triệu 300", []string{"no unit"}},
		{"1 tỷ triệu", []string{"malformed"}},
		{"1 tỷ 500 triệu nghìn", []string{"malformed"}},
		{"1 tỷ 1.500 triệu", []string{"1 to 999"}},
		{"1 tỷ 1000 triệu", []string{"1 to 999"}},
		{"1 tỷ 0 triệu", []string{"1 to 999"}},
		{"1 tỷ 050 triệu", []string{"1 to 999"}},
		{"0 tỷ 500 triệu", []string{"leading zeros"}},
		{"1 tỷ đồng 500 triệu", []string{"malformed"}},
		{"1 đồng 500 triệu", []string{"malformed"}},
		{"1 tỷ -500 triệu", []string{"malformed"}},
		{"1 tỷ +500 triệu", []string{"malformed"}},
		{"1 tỷ 500 triệu 200", []string{"no unit"}},
		{"1 tỷ 5 00 triệu", []string{"space inside the number"}},
		{"10.000.000.000 tỷ 1 triệu", []string{"too large", "19 digits"}},

		// Leading zeros.
		{"007", []string{"leading zeros"}},
		{"00", []string{"leading zeros"}},
		{"0.500", []string{"leading zeros"}},
		{"00,5 tỷ", []string{"leading zeros"}},
		{"-007", []string{"leading zeros"}},

		// Commas.
		{"1,500", []string{"ambiguous", `"1.500"`}},
		{"-1,500", []string{"ambiguous", `"-1.500"`}},
		{"60,840 tỷ", []string{"ambiguous", `"60,84 tỷ"`, `"60.840 tỷ"`}},
		{"60,840 tỷ đồng", []string{"ambiguous", `"60,84 tỷ đồng"`, `"60.840 tỷ đồng"`}},
		{"1,000 tỷ", []string{"ambiguous", `"1 tỷ"`, `"1.000 tỷ"`}},
		{"0,500 triệu", []string{"ambiguous", `"0,5 triệu"`, `"500 triệu"`}},
		{"1.234,567 tỷ", []string{"ambiguous", `"1.234.567.000.000 ₫"`, `"1.234.567 tỷ"`}},
		{"-60,845 tỷ đồng", []string{"ambiguous", `"-60.845.000.000 ₫"`, `"-60.845 tỷ đồng"`}},
		{"1,234 nghìn", []string{"ambiguous", `"1.234 ₫"`, `"1.234 nghìn"`}},
		{"1,500 đồng", []string{"ambiguous", `"1.500 đồng"`}},
		{"1,500,000", []string{"more than one comma"}},
		{"1,5,5 tỷ", []string{"more than one comma"}},
		{"1,5.000 tỷ", []string{"dot after the decimal comma"}},
		{"1,500.5", []string{"dot after the decimal comma"}},
		{"1,", []string{"digits after the decimal comma"}},
		{"1, tỷ", []string{"digits after the decimal comma"}},
		{",5 tỷ", []string{"malformed"}},

		// Fractional đồng.
		{"1,5", []string{"fractional đồng", `"1,5 tỷ"`}},
		{"1,5 đồng", []string{"fractional đồng"}},
		{"1,05", []string{"fractional đồng"}},
		{"1,2345678901 tỷ", []string{"not a whole number of đồng"}},
		{"0,0001 nghìn", []string{"not a whole number of đồng"}},

		// Not amounts.
		{"1e9", []string{"malformed", `"e9"`}},
		{"1E9", []string{"malformed"}},
		{"0x10", []string{"malformed"}},
		{"١٢٣", []string{"malformed", "digits 0-9"}},
		{"１２３", []string{"malformed", "digits 0-9"}},
		{"NaN", []string{"malformed"}},
		{"Inf", []string{"malformed"}},
		{"5 k", []string{"malformed"}},
		{"5 tr", []string{"malformed"}},
		{"5 d", []string{"malformed"}},
		{"5 USD", []string{"malformed"}},
		{"250 triệu triệu", []string{"malformed"}},
		{"250 tỷ triệu", []string{"malformed"}},
		{"250 đồng triệu", []string{"malformed"}},
		{"250 đồng đồng", []string{"malformed"}},
		{"250 triệu đồng x", []string{"malformed"}},
		{"5−", []string{"malformed"}},
		{"−5", []string{"malformed"}},
		{"\xff", []string{"malformed"}},
		{"5 \xff", []string{"malformed"}},

		// Limits.
		{strings.Repeat("1", 31), []string{"at most 30 digits"}},
		{"1," + strings.Repeat("0", 30) + " tỷ", []string{"at most 30 digits"}},
		{"10.000.000.000.000.000.000", []string{"too large", "19 digits"}},
		{"10.000.000.000 tỷ", []string{"too large", "19 digits"}},
		{strings.Repeat("9", 30), []string{"too large"}},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := ParseHumanAmount(tc.in)
			requireAmountError(t, err, append([]string{fmt.Sprintf("amount %q", tc.in)}, tc.wants...)...)
			assert.True(t, got.IsZero(), "a failed parse returns the zero amount")
		})
	}
}

func TestParseHumanAmountLongInputs(t *testing.T) {
	for _, in := range []string{
		strings.Repeat(" ", 101) + "5",
		"5" + strings.Repeat("\u00a0", 60),
		strings.Repeat("9", 1<<20),
		"5 " + strings.Repeat("triệu ", 1<<16),
	} {
		_, err := ParseHumanAmount(in)
		requireAmountError(t, err, "too long", "at most 100 bytes")
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Less(t, len(e.Message), 200, "the message must not repeat a huge input")
	}
}

// Everything the machine form accepts, people may type too.
func TestParseHumanAmountAcceptsMachineForm(t *testing.T) {
	for _, in := range []string{"0", "1", "-1", "1500000000", "-9999999999999999999", "1000"} {
		m, err := ParseAmount(in)
		require.NoError(t, err)
		h, err := ParseHumanAmount(in)
		require.NoError(t, err)
		requireAmount(t, m.String(), h)
	}
}

func TestAmountFormats(t *testing.T) {
	for _, tc := range []struct {
		n        int64
		str      string
		grouped  string
		vnd      string
		short    string
		millions string
	}{
		{0, "0", "0", "0 ₫", "0 ₫", "0"},
		{1, "1", "1", "1 ₫", "1 ₫", "0"},
		{-1, "-1", "-1", "-1 ₫", "-1 ₫", "0"},
		{400, "400", "400", "400 ₫", "400 ₫", "0"},
		{-400, "-400", "-400", "-400 ₫", "-400 ₫", "0"},
		{500, "500", "500", "500 ₫", "500 ₫", "0,001"},
		{-500, "-500", "-500", "-500 ₫", "-500 ₫", "-0,001"},
		{1000, "1000", "1.000", "1.000 ₫", "1.000 ₫", "0,001"},
		{950_000, "950000", "950.000", "950.000 ₫", "950.000 ₫", "0,95"},
		{999_999, "999999", "999.999", "999.999 ₫", "999.999 ₫", "1"},
		{1_000_000, "1000000", "1.000.000", "1.000.000 ₫", "1 triệu", "1"},
		{-1_000_000, "-1000000", "-1.000.000", "-1.000.000 ₫", "-1 triệu", "-1"},
		{1_005_000, "1005000", "1.005.000", "1.005.000 ₫", "1,01 triệu", "1,005"},
		{1_234_567, "1234567", "1.234.567", "1.234.567 ₫", "1,23 triệu", "1,235"},
		{1_234_499, "1234499", "1.234.499", "1.234.499 ₫", "1,23 triệu", "1,234"},
		{-1_234_567, "-1234567", "-1.234.567", "-1.234.567 ₫", "-1,23 triệu", "-1,235"},
		{250_000_000, "250000000", "250.000.000", "250.000.000 ₫", "250 triệu", "250"},
		{-250_000_000, "-250000000", "-250.000.000", "-250.000.000 ₫", "-250 triệu", "-250"},
		{999_994_999, "999994999", "999.994.999", "999.994.999 ₫", "999,99 triệu", "999,995"},
		// Rounds up to 1.000 triệu, which people say as 1 tỷ.
		{999_995_000, "999995000", "999.995.000", "999.995.000 ₫", "1 tỷ", "999,995"},
		{-999_995_000, "-999995000", "-999.995.000", "-999.995.000 ₫", "-1 tỷ", "-999,995"},
		{1_500_000_000, "1500000000", "1.500.000.000", "1.500.000.000 ₫", "1,5 tỷ", "1.500"},
		{-2_500_000_000, "-2500000000", "-2.500.000.000", "-2.500.000.000 ₫", "-2,5 tỷ", "-2.500"},
		{1_234_567_890, "1234567890", "1.234.567.890", "1.234.567.890 ₫", "1,23 tỷ", "1.234,568"},
		{1_235_000_000, "1235000000", "1.235.000.000", "1.235.000.000 ₫", "1,24 tỷ", "1.235"},
		{-1_235_000_000, "-1235000000", "-1.235.000.000", "-1.235.000.000 ₫", "-1,24 tỷ", "-1.235"},
		{64_710_000_000, "64710000000", "64.710.000.000", "64.710.000.000 ₫", "64,71 tỷ", "64.710"},
		{170_400_000_000, "170400000000", "170.400.000.000", "170.400.000.000 ₫", "170,4 tỷ", "170.400"},
		{1_500_000_000_000, "1500000000000", "1.500.000.000.000", "1.500.000.000.000 ₫", "1.500 tỷ", "1.500.000"},
		{math.MaxInt64, "9223372036854775807", "9.223.372.036.854.775.807", "9.223.372.036.854.775.807 ₫", "9.223.372.036,85 tỷ", "9.223.372.036.854,776"},
		{math.MinInt64, "-9223372036854775808", "-9.223.372.036.854.775.808", "-9.223.372.036.854.775.808 ₫", "-9.223.372.036,85 tỷ", "-9.223.372.036.854,776"},
	} {
		t.Run(tc.str, func(t *testing.T) {
			a := AmountFromInt64(tc.n)
			assert.Equal(t, tc.str, a.String())
			assert.Equal(t, tc.grouped, a.Grouped())
			assert.Equal(t, tc.vnd, a.VND())
			assert.Equal(t, tc.short, a.Short())
			assert.Equal(t, tc.millions, a.Millions())
			assert.Equal(t, tc.str, fmt.Sprint(a), "fmt uses String")
		})
	}
}

func TestAmountRoundTrips(t *testing.T) {
	amounts := []string{
		"0", "1", "-1", "999", "1000", "-1000", "950000", "1000000", "1234567",
		"250000000", "-250000000", "1500000000", "64710000000", "170400000000",
		"1000000000000000", "9223372036854775807", "-9223372036854775808",
		"9999999999999999999", "-9999999999999999999",
	}
	for _, s := range amounts {
		t.Run(s, func(t *testing.T) {
			a, err := ParseAmount(s)
			require.NoError(t, err)

			m, err := ParseAmount(a.String())
			require.NoError(t, err, "String → ParseAmount")
			requireAmount(t, s, m)

			v, err := ParseHumanAmount(a.VND())
			require.NoError(t, err, "VND → ParseHumanAmount")
			requireAmount(t, s, v)

			g, err := ParseHumanAmount(a.Grouped())
			require.NoError(t, err, "Grouped → ParseHumanAmount")
			requireAmount(t, s, g)

			// Short rounds to 2 decimals of tỷ at worst: within 5 triệu.
			if a.Decimal().Abs().LessThan(AmountFromInt64(1e18).Decimal()) {
				sh, err := ParseHumanAmount(a.Short())
				require.NoError(t, err, "Short → ParseHumanAmount")
				assert.True(t, sh.Sub(a).Decimal().Abs().LessThanOrEqual(AmountFromInt64(5_000_000).Decimal()),
					"Short %q of %s reads back as %s", a.Short(), a, sh)
			}

			b, err := json.Marshal(a)
			require.NoError(t, err)
			var j Amount
			require.NoError(t, json.Unmarshal(b, &j), "JSON")
			requireAmount(t, s, j)
		})
	}
}

func TestAmountArithmetic(t *testing.T) {
	a := AmountFromInt64(1_500_000_000)
	b := AmountFromInt64(250_000_000)

	requireAmount(t, "1750000000", a.Add(b))
	requireAmount(t, "1250000000", a.Sub(b))
	requireAmount(t, "-1250000000", b.Sub(a))
	requireAmount(t, "-1500000000", a.Neg())
	requireAmount(t, "1500000000", a.Neg().Neg())
	requireAmount(t, "0", a.Sub(a))

	assert.Equal(t, 1, a.Cmp(b))
	assert.Equal(t, -1, b.Cmp(a))
	assert.Equal(t, 0, a.Cmp(AmountFromInt64(1_500_000_000)))
	assert.True(t, a.Equal(AmountFromInt64(1_500_000_000)))
	assert.False(t, a.Equal(b))

	assert.Equal(t, 1, a.Sign())
	assert.Equal(t, -1, a.Neg().Sign())
	assert.Equal(t, 0, ZeroAmount.Sign())
	assert.True(t, ZeroAmount.IsZero())
	assert.True(t, a.Sub(a).IsZero())
	assert.False(t, a.IsZero())

	assert.True(t, a.Decimal().Equal(decimal.New(15, 8)), "Decimal is the number of đồng")
}

func TestAmountZeroValue(t *testing.T) {
	var z Amount
	assert.True(t, z.IsZero())
	assert.True(t, z.Equal(ZeroAmount))
	assert.Equal(t, 0, z.Cmp(ZeroAmount))
	assert.Equal(t, "0", z.String())
	assert.Equal(t, "0 ₫", z.VND())
	assert.Equal(t, "0 ₫", z.Short())
	assert.Equal(t, "0", z.Millions())
	requireAmount(t, "5", z.Add(AmountFromInt64(5)))
	requireAmount(t, "0", z.Neg())
	b, err := json.Marshal(z)
	require.NoError(t, err)
	assert.Equal(t, `"0"`, string(b))
}

func TestMaxMovement(t *testing.T) {
	requireAmount(t, "1000000000000000", MaxMovement)
	assert.Equal(t, "1.000.000 tỷ", MaxMovement.Short())
	requireAmount(t, "0", ZeroAmount)
}

// The arithmetic keeps whole đồng at exponent 0, the representation
// requireAmount and String rely on.
func TestAmountKeepsExponentZero(t *testing.T) {
	h, err := ParseHumanAmount("1,5 tỷ")
	require.NoError(t, err)
	for _, a := range []Amount{
		h, h.Add(h), h.Sub(AmountFromInt64(7)), h.Neg(), MaxMovement, ZeroAmount,
		AmountFromInt64(-3),
	} {
		assert.Zero(t, a.Decimal().Exponent(), "%s", a)
	}
}

func TestAmountJSON(t *testing.T) {
	type body struct {
		Amount Amount `json:"amount"`
	}
	b, err := json.Marshal(body{Amount: AmountFromInt64(1_500_000_000)})
	require.NoError(t, err)
	assert.Equal(t, `{"amount":"1500000000"}`, string(b))

	b, err = json.Marshal(body{Amount: AmountFromInt64(-250_000_000)})
	require.NoError(t, err)
	assert.Equal(t, `{"amount":"-250000000"}`, string(b))

	for in, want := range map[string]string{
		`{"amount":"1500000000"}`:     "1500000000",
		`{"amount":"-250000000"}`:     "-250000000",
		`{"amount":"0"}`:              "0",
		`{"amount": "5" }`:            "5",
		`{"amount":"\u0031\u0030"}`:   "10", // escapes decode to the machine form
		`{"amount":"99999999999999"}`: "99999999999999",
	} {
		var got body
		require.NoError(t, json.Unmarshal([]byte(in), &got), in)
		requireAmount(t, want, got.Amount)
	}
}

func TestAmountJSONRejects(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`1500000000`, []string{"amount 1500000000 is a JSON number", "amounts are JSON strings, not numbers"}},
		{`1.5e9`, []string{"amounts are JSON strings, not numbers"}},
		{`-250000000`, []string{"amounts are JSON strings, not numbers"}},
		{`0`, []string{"amounts are JSON strings, not numbers"}},
		{`null`, []string{"null"}},
		{`true`, []string{"not a JSON string"}},
		{`{}`, []string{"not a JSON string"}},
		{`[]`, []string{"not a JSON string"}},
		{`"1.500.000.000"`, []string{`amount "1.500.000.000"`, "malformed"}},
		{`"1,5 tỷ"`, []string{`amount "1,5 tỷ"`}},
		{`"+5"`, []string{"'+' sign"}},
		{`" 5"`, []string{"malformed"}},
		{`"007"`, []string{"leading zeros"}},
		{`""`, []string{"empty"}},
		{`"1e9"`, []string{"malformed"}},
		{`"10000000000000000000"`, []string{"at most 19 digits"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var got struct {
				Amount Amount `json:"amount"`
			}
			err := json.Unmarshal([]byte(`{"amount":`+tc.in+`}`), &got)
			requireAmountError(t, err, tc.want...)

			// Called directly, as other decoders do.
			a := AmountFromInt64(42)
			err = a.UnmarshalJSON([]byte(tc.in))
			requireAmountError(t, err, tc.want...)
			requireAmount(t, "42", a) // a failed decode leaves the amount alone
		})
	}
}

func TestAmountErrorsMatchByCode(t *testing.T) {
	_, err := ParseHumanAmount("1,500")
	require.True(t, errors.Is(err, ErrInvalidAmount))
	assert.Equal(t, CodeInvalidAmount, ErrorCode(err))
	assert.Equal(t, `invalid_amount: amount "1,500" is ambiguous: a comma followed by three digits reads as a thousands separator in English; write "1.500" if you mean thousands`, err.Error())

	_, err = ParseHumanAmount("60,840 tỷ")
	assert.Equal(t, `invalid_amount: amount "60,840 tỷ" is ambiguous: a comma followed by three digits reads as a thousands separator in English; write "60,84 tỷ" for the decimal or "60.840 tỷ" for thousands`, err.Error())
}

func TestParseHumanAmountShowsInvisibleCharacters(t *testing.T) {
	_, err := ParseHumanAmount("1\u00a0500\u00a0000")
	requireAmountError(t, err, `"1\u00a0500\u00a0000"`, "space inside the number")
}

func TestQuoteInputIsBounded(t *testing.T) {
	for _, in := range []string{
		"",
		"1,500",
		strings.Repeat("1", maxQuotedBytes),
		strings.Repeat("1", maxQuotedBytes+1),
		strings.Repeat("ệ", 50),
		strings.Repeat("\xa9", 99),
		strings.Repeat("\u00a0", 30),
		"0\"" + strings.Repeat("\xa9", 33),
	} {
		q := quoteInput(in)
		assert.LessOrEqual(t, len(q), maxQuotedBytes+2+len("… (1000 bytes)"), "%s", q)
		assert.True(t, utf8.ValidString(q), "%s", q)
		if full := fmt.Sprintf("%q", in); len(full) <= maxQuotedBytes+2 {
			assert.Equal(t, full, q)
		} else {
			assert.Contains(t, q, fmt.Sprintf("… (%d bytes)", len(in)))
		}
	}
}

func TestAmountJSONBoundsInput(t *testing.T) {
	var a Amount
	requireAmountError(t, a.UnmarshalJSON([]byte(`"`+strings.Repeat("1", 1<<20)+`"`)), "too long", "(1048578 bytes)")

	// The longest legal form, every character escaped, still fits the bound.
	escaped := `"-` + strings.Repeat(`\u0039`, maxAmountDigits) + `"`
	require.NoError(t, a.UnmarshalJSON([]byte(escaped)))
	requireAmount(t, "-9999999999999999999", a)
}

// Other decoders may hand UnmarshalJSON tokens encoding/json would refuse.
func TestAmountUnmarshalJSONMalformedTokens(t *testing.T) {
	for _, in := range []string{`"`, `"5`, `"5"x`, `"\u0031\u0030"x`, `"5\"`, "\"5\x00\"x"} {
		a := AmountFromInt64(42)
		requireAmountError(t, a.UnmarshalJSON([]byte(in)), "not a valid JSON string")
		requireAmount(t, "42", a)
	}
	// A control character: encoding/json refuses it inside a string, and
	// so does ParseAmount.
	a := AmountFromInt64(42)
	requireAmountError(t, a.UnmarshalJSON([]byte("\"5\x00\"")), "malformed")
	requireAmount(t, "42", a)
}

// String's int64 shortcut writes what the coefficient's own big.Int would,
// at its edges and beyond, and for values whose exponent is not zero.
func TestAmountStringShortcut(t *testing.T) {
	var cases []decimal.Decimal
	for _, s := range []string{"0", "1", "-1", "999999999999999999", "-999999999999999999", "1000000000000000000", "-1000000000000000000",
		"9223372036854775807", "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890"} {
		cases = append(cases, decimal.RequireFromString(s))
	}
	cases = append(cases, decimal.New(15, 8), decimal.New(-25, 7), decimal.New(7, 20), decimal.NewFromInt(1e15).Add(decimal.NewFromInt(1)))
	for _, d := range cases {
		assert.Equal(t, d.BigInt().String(), Amount{d: d}.String(), "%s (exponent %d)", d, d.Exponent())
	}
}
