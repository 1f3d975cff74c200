package domain

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// amountSeeds are inputs from the examples and the edge cases of the parsers,
// to start the fuzzers near the interesting boundaries.
var amountSeeds = []string{
	"", " ", "-", "0", "-0", "1", "-1", "+5", "007", "00", "1e9", "0x10", "١٢٣",
	"1500000000", "-250000000", "9999999999999999999", "10000000000000000000",
	"9223372036854775807", "-9223372036854775808",
	"1.500.000.000", "1.500.000.000 đồng", "1.500.000.000 ₫", "1.500.000.000đ",
	"1500000000 VND", "1.500.000.000 VNĐ", "250 triệu", "1,5 tỷ", "64.710 triệu đồng",
	"170,4 tỷ", "5 nghìn", "5 ngàn", "-250 triệu", "2 tỉ", "2 TỶ", "250 trie\u0323\u0302u",
	"1.5", "1.50.000", "1,500", "1,5", "60,840 tỷ", "0,5 triệu", "0,5 tỷ", "1,0",
	"1,2345678901 tỷ", "1,234567891 tỷ", "1 500 000", "1,500,000", "1,5.000 tỷ",
	"\u00a01.500.000\u00a0₫", "1,5 tỷđồng", "9.999.999.999.999.999.999", "10.000.000.000 tỷ",
	"999.999.999.999.999.999.999.999.999.999", "1,00000000000000000000000000000 tỷ",
	"+100 triệu", "++5", "+-5", "1 tỷ 500 triệu", "2 tỷ 50 triệu 300 nghìn đồng", "1 triệu 500 đồng",
	"1 triệu 2 tỷ", "1 tỷ 2 tỉ", "1,5 tỷ 200 triệu", "1 tỷ 500", "1 tỷ 1.500 triệu", "1tỷ 500triệu",
	"-1.000 tỷ 999 triệu 999 nghìn 999 ₫",
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range amountSeeds {
		f.Add(s)
	}
	f.Add("999999999999999999999999999999")
	f.Add("-1000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		// ParseTotal reads the same spelling, only longer.
		total, terr := ParseTotal(s)
		switch {
		case err == nil && (terr != nil || !total.Equal(a)):
			t.Fatalf("ParseAmount(%q) = %s, but ParseTotal gives %v, %v", s, a, total, terr)
		case terr != nil:
			requireInvalidAmount(t, s, terr)
		case total.String() != s:
			t.Fatalf("ParseTotal(%q).String() = %q, want the input back", s, total.String())
		case err != nil && len(total.Decimal().Abs().BigInt().String()) <= maxAmountDigits:
			t.Fatalf("ParseTotal(%q) = %s, but ParseAmount refuses it: %v", s, total, err)
		}
		if err != nil {
			requireInvalidAmount(t, s, err)
			return
		}
		requireWholeDong(t, s, a)
		// One spelling per amount: the machine form is its own String.
		if got := a.String(); got != s {
			t.Fatalf("ParseAmount(%q).String() = %q, want the input back", s, got)
		}
		back, err := ParseAmount(a.String())
		if err != nil || !back.Equal(a) {
			t.Fatalf("ParseAmount(%q) = %s, but its String does not parse back equal: %v, %v", s, a, back, err)
		}
		// People may type anything the machine form accepts.
		h, err := ParseHumanAmount(s)
		if err != nil || !h.Equal(a) {
			t.Fatalf("ParseAmount(%q) = %s, but ParseHumanAmount gives %v, %v", s, a, h, err)
		}
		// The methods, not encoding/json: its type caches make coverage
		// differ between runs, which stalls the fuzzer's minimisation.
		b, err := a.MarshalJSON()
		if err != nil {
			t.Fatalf("marshal %s: %v", a, err)
		}
		var j Amount
		if err := j.UnmarshalJSON(b); err != nil || !j.Equal(a) {
			t.Fatalf("JSON %s of %s does not read back equal: %v, %v", b, a, j, err)
		}
	})
}

func FuzzParseHumanAmount(f *testing.F) {
	for _, s := range amountSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseHumanAmount(s)
		if err != nil {
			requireInvalidAmount(t, s, err)
			return
		}
		requireWholeDong(t, s, a)
		for _, form := range []struct {
			name  string
			text  string
			parse func(string) (Amount, error)
		}{
			{"String", a.String(), ParseAmount},
			{"VND", a.VND(), ParseHumanAmount},
			{"Grouped", a.Grouped(), ParseHumanAmount},
		} {
			back, err := form.parse(form.text)
			if err != nil || !back.Equal(a) {
				t.Fatalf("ParseHumanAmount(%q) = %s, but its %s %q does not parse back equal: %v, %v", s, a, form.name, form.text, back, err)
			}
		}
		// Short is rounded to at most two decimals of tỷ, 5 triệu at worst.
		// Near the 19-digit limit rounding up could leave the machine form.
		if a.Decimal().Abs().LessThan(AmountFromInt64(1e18).Decimal()) {
			sh, err := ParseHumanAmount(a.Short())
			if err != nil {
				t.Fatalf("ParseHumanAmount(%q) = %s, but its Short %q does not parse: %v", s, a, a.Short(), err)
			}
			if sh.Sub(a).Decimal().Abs().GreaterThan(AmountFromInt64(5_000_000).Decimal()) {
				t.Fatalf("ParseHumanAmount(%q) = %s, but its Short %q reads back as %s", s, a, a.Short(), sh)
			}
		}
	})
}

// requireInvalidAmount checks the error contract of both parsers: an
// invalid-amount *Error, no field, and the input named in the message.
func requireInvalidAmount(t *testing.T, s string, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidAmount || e.Field != "" {
		t.Fatalf("parse %q: error %#v is not an invalid_amount *Error without a field", s, err)
	}
	if len(e.Message) > 400 {
		t.Fatalf("parse %q: message of %d bytes repeats too much of the input", s, len(e.Message))
	}
}

func requireWholeDong(t *testing.T, s string, a Amount) {
	t.Helper()
	if exp := a.Decimal().Exponent(); exp != 0 {
		t.Fatalf("parse %q = %s with exponent %d, want whole đồng at exponent 0", s, a, exp)
	}
	if n := len(a.Decimal().Abs().BigInt().String()); n > maxAmountDigits {
		t.Fatalf("parse %q = %s has %d digits, more than the machine form's %d", s, a, n, maxAmountDigits)
	}
}

// FuzzCompoundAmount writes amounts of up to four parts (tỷ, triệu, nghìn,
// đồng) from fuzzed numbers and checks ParseHumanAmount against the
// arithmetic: accepted exactly when every part is valid for its place, and
// then equal to the sum; the same parts in another order are refused.
func FuzzCompoundAmount(f *testing.F) {
	f.Add(uint32(1), uint16(500), uint16(0), uint16(0), uint8(0b0011), uint8(0))
	f.Add(uint32(2), uint16(50), uint16(300), uint16(0), uint8(0b0111), uint8(1))
	f.Add(uint32(1500), uint16(200), uint16(0), uint16(7), uint8(0b1011), uint8(2))
	f.Add(uint32(0), uint16(1000), uint16(5), uint16(999), uint8(0b1111), uint8(3))
	f.Fuzz(func(t *testing.T, first uint32, b, c, d uint16, present, style uint8) {
		units := []struct {
			word string
			exp  int
		}{{"tỷ", 9}, {"triệu", 6}, {"nghìn", 3}, {"đồng", 0}}
		nums := []uint64{uint64(first), uint64(b), uint64(c), uint64(d)}
		var parts []string
		var used []int
		for i := range units {
			if present&(1<<i) != 0 {
				used = append(used, i)
			}
		}
		if len(used) < 2 {
			return
		}
		want := new(big.Int)
		valid := true
		for j, i := range used {
			n := nums[i]
			if j == 0 {
				n = nums[0] // the first part takes the wide number
			}
			text := strconv.FormatUint(n, 10)
			if j == 0 && style&1 != 0 {
				text = groupDigits(text)
			}
			word := units[i].word
			if style&2 != 0 {
				word = strings.ToUpper(word)
			}
			parts = append(parts, text+" "+word)
			if n == 0 || (j > 0 && n > 999) {
				valid = false
			}
			v := new(big.Int).SetUint64(n)
			v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(units[i].exp)), nil))
			want.Add(want, v)
		}
		in := strings.Join(parts, " ")
		if style&4 != 0 {
			in = "-" + in
			want.Neg(want)
		} else if style&8 != 0 {
			in = "+" + in
		}
		got, err := ParseHumanAmount(in)
		if !valid {
			if err == nil {
				t.Fatalf("ParseHumanAmount(%q) = %s, want a refusal (a part is 0 or a later part is over 999)", in, got)
			}
			requireInvalidAmount(t, in, err)
			return
		}
		if err != nil {
			requireInvalidAmount(t, in, err)
			if len(new(big.Int).Abs(want).String()) <= maxAmountDigits {
				t.Fatalf("ParseHumanAmount(%q): %v, want %s", in, err, want)
			}
			return
		}
		if got.Decimal().BigInt().Cmp(want) != 0 {
			t.Fatalf("ParseHumanAmount(%q) = %s, want %s", in, got, want)
		}
		requireWholeDong(t, in, got)
		// The same parts, last first, are out of order.
		swapped := append([]string{parts[len(parts)-1]}, parts[:len(parts)-1]...)
		if _, err := ParseHumanAmount(strings.Join(swapped, " ")); err == nil {
			t.Fatalf("ParseHumanAmount(%q) accepted parts out of order", strings.Join(swapped, " "))
		}
	})
}
