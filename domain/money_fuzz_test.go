package domain

import (
	"errors"
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
