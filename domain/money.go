package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Amount is a whole number of đồng. It may be negative, because adjustment
// deltas and differences between totals are signed; whether a sign is allowed
// is a rule of the command that carries the amount, not of the type.
//
// The zero value is zero đồng. Compare amounts with Cmp or Equal, never with
// == or reflect.DeepEqual: the wrapped decimal holds a pointer.
type Amount struct {
	// d always has exponent 0: the coefficient is the number of đồng, so
	// formatting never has to reason about a scale.
	d decimal.Decimal
}

// Limits on amounts that come from outside. They bound the work a parser does
// and keep every parsed amount printable in the machine form.
const (
	// maxAmountDigits bounds the machine form: every int64 fits, and so do
	// sums of thousands of maximal movements (MaxMovement has 16 digits).
	maxAmountDigits = 19
	// maxTotalDigits bounds the machine form of totals (ParseTotal), which
	// sum many movements and many lines: every line of every year at
	// MaxLineTotal sums to 23 digits, and views by effective date, which
	// may leave out a line's negative adjustments, stay far inside 30.
	maxTotalDigits = 30
	// maxHumanDigits bounds the digits people may type, fraction included,
	// before a unit scales them.
	maxHumanDigits = 30
	// maxHumanBytes bounds the whole human input (digits, dots, units,
	// currency and spaces in UTF-8), so that no parser scans a megabyte.
	maxHumanBytes = 100
	// maxAmountJSONBytes bounds a JSON amount before it is decoded: the
	// machine form with quotes, even with every character \u-escaped.
	maxAmountJSONBytes = 2 + 6*(1+maxAmountDigits)
	// maxTotalJSONBytes is the same bound for a JSON total.
	maxTotalJSONBytes = 2 + 6*(1+maxTotalDigits)
	// maxQuotedBytes bounds how much of a bad input an error message repeats.
	maxQuotedBytes = 40
)

var (
	// MaxMovement is the upper bound of one movement's amount: 10^15 đồng,
	// a million tỷ. A year's khuyến công funds are counted in hundreds of
	// tỷ, so anything larger is a typo (a unit too many), and the bound
	// keeps sums of many movements inside the 19-digit machine form.
	MaxMovement = Amount{d: decimal.NewFromInt(1_000_000_000_000_000)}
	// MaxLineTotal is the upper bound of every total of a budget line and
	// of a project within it (allocated, disbursed and refunded): 10^18
	// đồng, a thousand movements of MaxMovement. Decide refuses a movement
	// that would pass it, so that a line total always has a machine form
	// of at most 19 digits, and the sum of every line the ledger can hold
	// (101 fiscal years × 100 province codes × 2 sources) stays inside
	// the digits ParseTotal reads.
	MaxLineTotal = Amount{d: decimal.NewFromInt(1_000_000_000_000_000_000)}
	// ZeroAmount is zero đồng, for readability at call sites; Amount{} is
	// the same value.
	ZeroAmount = Amount{d: decimal.NewFromInt(0)}
)

// AmountFromInt64 makes an amount of n đồng. It exists for constants and
// tests; amounts from outside arrive as strings through ParseAmount or
// ParseHumanAmount.
func AmountFromInt64(n int64) Amount {
	return Amount{d: decimal.NewFromInt(n)}
}

// ParseAmount parses the strict machine form used by the API and JSON: an
// optional leading '-', then 1 to 19 ASCII digits without leading zeros. No
// spaces, grouping, '+', decimals or exponents: the machine form has exactly
// one spelling per amount, so "-0" is refused too, and String is its
// inverse. Errors are *Error with CodeInvalidAmount and no field; callers
// set the field they parsed.
func ParseAmount(s string) (Amount, error) { return parseMachine(s, maxAmountDigits) }

// ParseTotal parses the machine form of a total: the same spelling as
// ParseAmount, with up to 30 digits instead of 19, because a total over
// many lines or years may pass 19 digits even when every line stays within
// MaxLineTotal. Readers of totals (balances, reports, checkpoints) use it;
// amounts of movements keep the stricter ParseAmount.
func ParseTotal(s string) (Amount, error) { return parseMachine(s, maxTotalDigits) }

func parseMachine(s string, maxDigits int) (Amount, error) {
	if s == "" {
		return Amount{}, amountError("amount \"\" is empty")
	}
	digits := s
	neg := false
	switch s[0] {
	case '-':
		neg, digits = true, s[1:]
	case '+':
		return Amount{}, amountError("amount %s has a '+' sign: positive amounts are written without one", quoteInput(s))
	}
	if len(digits) > maxDigits {
		return Amount{}, amountError("amount %s is too long: at most %d digits", quoteInput(s), maxDigits)
	}
	if digits == "" || !isASCIIDigits(digits) {
		return Amount{}, amountError("amount %s is malformed: the machine form is digits 0-9 with an optional leading '-', without spaces, grouping or decimals", quoteInput(s))
	}
	if len(digits) > 1 && digits[0] == '0' {
		return Amount{}, amountError("amount %s has leading zeros", quoteInput(s))
	}
	if neg && digits == "0" {
		return Amount{}, amountError("amount %s is not canonical: write \"0\"", quoteInput(s))
	}
	return amountFromDigits(neg, digits), nil
}

// Units people scale amounts by, folded (lower case, no tone or vowel marks)
// as foldWord returns them. đ stays distinct from d so that a lone "d" is
// not taken for the đồng sign.
var humanUnits = map[string]int{
	"nghin": 3,
	"ngan":  3,
	"trieu": 6,
	"ty":    9,
	"ti":    9,
}

// Currency words that may follow the number or the unit, folded.
var humanCurrencies = map[string]bool{
	"đong": true, "dong": true, "đ": true, "₫": true,
	// "VNĐ" is how most Vietnamese documents write the ISO code.
	"vnd": true, "vnđ": true,
}

// ParseHumanAmount parses amounts as people write them in vi-VN, for the CLI
// and the web: "1.500.000.000", "1.500.000.000 ₫", "1.500.000.000đ",
// "1500000000 VND", "250 triệu", "1,5 tỷ", "64.710 triệu đồng", "-250 triệu",
// "2 tỉ", "+100 triệu", and compound amounts such as "1 tỷ 500 triệu" or
// "2 tỷ 50 triệu 300 nghìn đồng" (see parseCompound for their rules). It
// accepts everything ParseAmount accepts, and also one leading '+'.
//
// A dot groups thousands and a comma is the decimal mark. Units (nghìn/ngàn
// 10^3, triệu 10^6, tỷ/tỉ 10^9) and the currency (đồng, đ, ₫, VND) are
// matched case-insensitively and with or without diacritics; whitespace,
// including no-break spaces, may separate the parts.
//
// It refuses what could be read two ways rather than guess: a comma followed
// by exactly three digits ("60,840 tỷ" is how an English rendering of 60,84
// tỷ keeps its digits), spaces inside a number ("1 500 000"), grouping
// commas, leading zeros. It refuses fractional đồng and results of more than
// 19 digits, so that every result has a machine form. Errors are *Error with
// CodeInvalidAmount and no field.
func ParseHumanAmount(s string) (Amount, error) {
	if len(s) > maxHumanBytes {
		return Amount{}, amountError("amount %s is too long: at most %d bytes", quoteInput(s), maxHumanBytes)
	}
	t := strings.TrimFunc(s, unicode.IsSpace)
	if t == "" {
		return Amount{}, amountError("amount %s is empty", quoteInput(s))
	}
	neg := false
	if t[0] == '+' || t[0] == '-' {
		neg, t = t[0] == '-', t[1:]
		if t != "" && (t[0] == '+' || t[0] == '-') {
			return Amount{}, amountError("amount %s has more than one sign: write one '-' or '+' before the number", quoteInput(s))
		}
	}
	end := strings.IndexFunc(t, func(r rune) bool { return !isASCIIDigit(r) && r != '.' && r != ',' })
	if end < 0 {
		end = len(t)
	}
	num, rest := t[:end], t[end:]
	if num == "" || !isASCIIDigit(rune(num[0])) {
		return Amount{}, amountError("amount %s is malformed: expected digits 0-9 at its start", quoteInput(s))
	}
	if n := countASCIIDigits(num); n > maxHumanDigits {
		return Amount{}, amountError("amount %s is too long: at most %d digits", quoteInput(s), maxHumanDigits)
	}

	words := strings.Fields(rest)
	switch next := nextNumberWord(words); {
	case next == len(words):
	case next == 0:
		return Amount{}, spaceInsideError(s)
	default:
		return parseCompound(s, neg, t, num, words)
	}
	exp, suffix, ok := parseSuffix(words)
	if !ok {
		return Amount{}, amountError("amount %s is malformed: after the number expected a unit (nghìn, triệu, tỷ) and/or the currency (đồng, đ, ₫, VND), got %s", quoteInput(s), quoteInput(strings.TrimSpace(rest)))
	}

	intText, frac, hasComma := strings.Cut(num, ",")
	if hasComma && strings.Contains(frac, ",") {
		return Amount{}, amountError("amount %s has more than one comma: the comma is the decimal mark and a dot groups thousands, as in \"1.500.000\"", quoteInput(s))
	}
	if hasComma && strings.Contains(frac, ".") {
		return Amount{}, amountError("amount %s has a dot after the decimal comma: a dot groups thousands, before the comma", quoteInput(s))
	}
	intDigits, ok := ungroup(intText)
	if !ok {
		return Amount{}, amountError("amount %s is malformed: a dot groups thousands, so every group after the first has exactly 3 digits (\"1.500.000\"); the decimal mark is a comma (\"1,5 tỷ\")", quoteInput(s))
	}
	if len(intDigits) > 1 && intDigits[0] == '0' {
		return Amount{}, amountError("amount %s has leading zeros", quoteInput(s))
	}
	if hasComma && frac == "" {
		return Amount{}, amountError("amount %s is malformed: expected digits after the decimal comma", quoteInput(s))
	}
	if hasComma && len(frac) == 3 {
		return Amount{}, amountError("amount %s is ambiguous: a comma followed by three digits reads as a thousands separator in English; %s", quoteInput(s), ambiguityHint(neg, intText, intDigits, frac, suffix, exp))
	}
	if hasComma && exp == 0 && strings.Trim(frac, "0") != "" {
		return Amount{}, amountError("amount %s has fractional đồng: amounts are whole đồng; write decimals only with a unit, as in \"1,5 tỷ\"", quoteInput(s))
	}

	// The value is the digits intDigits+frac times 10^(exp-len(frac)); a
	// negative power must only drop zeros, or the result has fractional đồng.
	digits := intDigits + frac
	if shift := exp - len(frac); shift >= 0 {
		digits += strings.Repeat("0", shift)
	} else {
		cut := len(digits) + shift
		if strings.Trim(digits[cut:], "0") != "" {
			return Amount{}, amountError("amount %s is not a whole number of đồng: with this unit at most %d decimals are whole đồng", quoteInput(s), exp)
		}
		digits = digits[:cut]
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return ZeroAmount, nil
	}
	if len(digits) > maxAmountDigits {
		return Amount{}, amountError("amount %s is too large: at most %d digits of đồng", quoteInput(s), maxAmountDigits)
	}
	return amountFromDigits(neg, digits), nil
}

func spaceInsideError(s string) *Error {
	return amountError("amount %s has a space inside the number, which could group thousands or separate two numbers: group thousands with dots, as in \"1.500.000\"", quoteInput(s))
}

// nextNumberWord returns the index of the first word that starts with a
// digit, or len(words).
func nextNumberWord(words []string) int {
	for i, w := range words {
		if r, _ := utf8.DecodeRuneInString(w); isASCIIDigit(r) {
			return i
		}
	}
	return len(words)
}

// unitNames names the units by power of ten, for hints.
var unitNames = map[int]string{9: "tỷ", 6: "triệu", 3: "nghìn", 0: "đồng"}

// parseCompound reads an amount of several parts, as people write
// "1 tỷ 500 triệu" or "2 tỷ 50 triệu 300 nghìn đồng": each part a number
// and a unit, the units in strictly decreasing order (tỷ, triệu,
// nghìn/ngàn, then đồng for the last part only), and the currency at most
// once, at the end. t is the input after its sign, num and words the first
// number and the words after it.
//
// To stay unambiguous it takes whole numbers only: the first part may
// group thousands ("1.500 tỷ 200 triệu") but has no decimal comma, since
// "1,5 tỷ 300 triệu" could be a slip for either spelling; every later part
// is 1 to 999, so that it fits below the unit before it ("1 tỷ 1.500
// triệu" is refused); and every part has a unit, since "1 tỷ 500" is said
// for 1 tỷ 500 triệu but would read as 500 đồng.
func parseCompound(s string, neg bool, t, num string, words []string) (Amount, error) {
	if countASCIIDigits(t) > maxHumanDigits {
		return Amount{}, amountError("amount %s is too long: at most %d digits", quoteInput(s), maxHumanDigits)
	}
	malformed := func() (Amount, error) {
		return Amount{}, amountError("amount %s is malformed: a compound amount is numbers each followed by its unit, in decreasing order (tỷ, triệu, nghìn, đồng), with the currency at most once at the end, as in \"1 tỷ 500 triệu\" or \"2 tỷ 50 triệu 300 nghìn đồng\"", quoteInput(s))
	}
	decimalComma := func() (Amount, error) {
		return Amount{}, amountError("amount %s has a decimal comma in a compound amount: write either a decimal or parts, as in \"1,5 tỷ\" or \"1 tỷ 500 triệu\", not both", quoteInput(s))
	}
	total := ZeroAmount
	prevExp := -1
	for first := true; ; first = false {
		next := nextNumberWord(words)
		unitWords, rest := words[:next], words[next:]
		if len(unitWords) == 0 {
			if len(rest) > 0 {
				return Amount{}, spaceInsideError(s)
			}
			typed := strings.Join(strings.Fields(strings.TrimFunc(s, unicode.IsSpace)), " ")
			hint := fmt.Sprintf("%q", typed+" đồng")
			if lower := prevExp - 3; lower > 0 {
				hint = fmt.Sprintf("%q or %q", typed+" "+unitNames[lower], typed+" đồng")
			}
			return Amount{}, amountError("amount %s has no unit after its last number, which could be read as %s: write the unit", quoteInput(s), hint)
		}
		folded, ok := foldSuffix(unitWords)
		if !ok || len(folded) > 2 {
			return malformed()
		}
		exp, unit := humanUnits[folded[0]]
		switch {
		case unit && len(folded) == 2 && humanCurrencies[folded[1]] && len(rest) == 0:
		case unit && len(folded) == 1:
		case !unit && len(folded) == 1 && humanCurrencies[folded[0]] && len(rest) == 0:
			exp = 0 // "1 triệu 500 đồng": the currency is the last part's unit
		default:
			return malformed()
		}
		if !first && exp >= prevExp {
			return Amount{}, amountError("amount %s does not have its units in decreasing order: write each unit once, the largest first, as in \"1 tỷ 500 triệu\"", quoteInput(s))
		}

		var digits string
		switch {
		case strings.Contains(num, ","):
			return decimalComma()
		case first:
			d, ok := ungroup(num)
			if !ok {
				return Amount{}, amountError("amount %s is malformed: a dot groups thousands, so every group after the first has exactly 3 digits (\"1.500.000\")", quoteInput(s))
			}
			if d[0] == '0' {
				return Amount{}, amountError("amount %s has leading zeros: a compound amount starts with its largest unit that is not zero", quoteInput(s))
			}
			digits = d
		default:
			if len(num) > 3 || !isASCIIDigits(num) || num[0] == '0' {
				return Amount{}, amountError("amount %s has a part %s %s: every part after the first is a whole number from 1 to 999 of its unit, without leading zeros", quoteInput(s), quoteInput(num), unitNames[exp])
			}
			digits = num
		}
		total = total.Add(amountFromDigits(false, digits+strings.Repeat("0", exp)))
		prevExp = exp
		if len(rest) == 0 {
			break
		}
		// The next part: its number, and what of its word follows the
		// number ("500triệu").
		w := rest[0]
		end := strings.IndexFunc(w, func(r rune) bool { return !isASCIIDigit(r) && r != '.' && r != ',' })
		if end < 0 {
			end = len(w)
		}
		num, words = w[:end], rest[1:]
		if end < len(w) {
			words = append([]string{w[end:]}, words...)
		}
	}
	if n := len(total.String()); n > maxAmountDigits {
		return Amount{}, amountError("amount %s is too large: at most %d digits of đồng", quoteInput(s), maxAmountDigits)
	}
	if neg {
		total = total.Neg()
	}
	return total, nil
}

// parseSuffix reads what follows the number: nothing, a unit, a currency,
// or a unit then a currency. A word may join a unit and a currency
// ("tỷđồng"), since "1.500.000.000đ" joins the number and the currency.
// It returns the power of ten of the unit and the words of the suffix
// as typed, for error hints.
func parseSuffix(words []string) (exp int, typed string, ok bool) {
	folded, ok := foldSuffix(words)
	if !ok {
		return 0, "", false
	}
	typed = strings.Join(words, " ")
	switch len(folded) {
	case 0:
		return 0, typed, true
	case 1:
		if e, unit := humanUnits[folded[0]]; unit {
			return e, typed, true
		}
		return 0, typed, humanCurrencies[folded[0]]
	case 2:
		e, unit := humanUnits[folded[0]]
		return e, typed, unit && humanCurrencies[folded[1]]
	}
	return 0, "", false
}

// foldSuffix folds the words of a suffix into units and currencies,
// splitting a word that joins a unit and a currency ("tỷđồng"); ok is
// false if a word is neither.
func foldSuffix(words []string) (folded []string, ok bool) {
	for _, w := range words {
		f := foldWord(w)
		if _, unit := humanUnits[f]; unit || humanCurrencies[f] {
			folded = append(folded, f)
			continue
		}
		split := false
		for i := range f {
			if _, unit := humanUnits[f[:i]]; unit && humanCurrencies[f[i:]] {
				folded = append(folded, f[:i], f[i:])
				split = true
				break
			}
		}
		if !split {
			return nil, false
		}
	}
	return folded, true
}

// foldWord lower-cases w and strips Vietnamese tone and vowel marks, whether
// precomposed (NFC, as most keyboards type them) or combining (NFD, as macOS
// and some web forms send them), so that "Triệu", "TRIỆU" and "trieu" match.
// The standard library has no Unicode normalisation, hence the table.
func foldWord(w string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(w) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if base, ok := vowelBase[r]; ok {
			r = base
		}
		b.WriteRune(r)
	}
	return b.String()
}

// vowelBase maps every lower-case Vietnamese vowel with marks to its base.
var vowelBase = func() map[rune]rune {
	m := map[rune]rune{}
	for base, marked := range map[rune]string{
		'a': "àáảãạăằắẳẵặâầấẩẫậ",
		'e': "èéẻẽẹêềếểễệ",
		'i': "ìíỉĩị",
		'o': "òóỏõọôồốổỗộơờớởỡợ",
		'u': "ùúủũụưừứửữự",
		'y': "ỳýỷỹỵ",
	} {
		for _, r := range marked {
			m[r] = base
		}
	}
	return m
}()

// ungroup checks vi-VN thousands grouping and returns the bare digits. A
// number without dots may have any length (people paste "1500000000").
func ungroup(s string) (string, bool) {
	groups := strings.Split(s, ".")
	if len(groups[0]) == 0 || (len(groups) > 1 && len(groups[0]) > 3) {
		return "", false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return "", false
		}
	}
	return strings.Join(groups, ""), true
}

// ambiguityHint tells the user how to write each reading of an amount like
// "60,840 tỷ" unambiguously. Without a unit only the thousands reading is a
// whole number of đồng. When the decimal reading needs all three digits
// ("60,845 tỷ"), any comma form stays ambiguous, so it is spelled in đồng.
func ambiguityHint(neg bool, intText, intDigits, frac, suffix string, exp int) string {
	sign := ""
	if neg {
		sign = "-"
	}
	spell := func(n, suffix string) string {
		if suffix == "" {
			return fmt.Sprintf("%q", sign+n)
		}
		return fmt.Sprintf("%q", sign+n+" "+suffix)
	}
	bare := func(digits string) string {
		if digits = strings.TrimLeft(digits, "0"); digits == "" {
			return "0"
		}
		return groupDigits(digits)
	}
	thousands := spell(bare(intDigits+frac), suffix)
	if exp == 0 {
		return "write " + thousands + " if you mean thousands"
	}
	var decimalReading string
	switch f := strings.TrimRight(frac, "0"); len(f) {
	case 0:
		decimalReading = spell(intText, suffix)
	case 3:
		decimalReading = spell(bare(intDigits+frac+strings.Repeat("0", exp-3)), "₫")
	default:
		decimalReading = spell(intText+","+f, suffix)
	}
	return "write " + decimalReading + " for the decimal or " + thousands + " for thousands"
}

// Add returns a+b.
func (a Amount) Add(b Amount) Amount { return Amount{d: a.d.Add(b.d)} }

// Sub returns a-b.
func (a Amount) Sub(b Amount) Amount { return Amount{d: a.d.Sub(b.d)} }

// Neg returns -a.
func (a Amount) Neg() Amount { return Amount{d: a.d.Neg()} }

// Cmp returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a Amount) Cmp(b Amount) int { return a.d.Cmp(b.d) }

// Equal reports whether a and b are the same number of đồng; use it instead
// of ==, which compares the decimal's internal pointer.
func (a Amount) Equal(b Amount) bool { return a.d.Equal(b.d) }

// Sign returns -1, 0 or +1 as a is negative, zero or positive.
func (a Amount) Sign() int { return a.d.Sign() }

// IsZero reports whether a is zero đồng.
func (a Amount) IsZero() bool { return a.d.IsZero() }

// Decimal returns a as a decimal number of đồng, for arithmetic the Amount
// type does not offer, such as percentages in reports.
func (a Amount) Decimal() decimal.Decimal { return a.d }

// String returns the canonical machine form that ParseAmount reads back:
// plain digits with an optional '-', no grouping ("1500000000",
// "-250000000", "0"). It reads the coefficient directly rather than calling
// decimal's String, whose output depends on package-level settings.
func (a Amount) String() string {
	// Whole đồng below 10^18 in size, as every movement and any real
	// total is, print from an int64 without building a big.Int (this is
	// on every event's hash and JSON).
	if a.d.Exponent() == 0 && a.d.Cmp(int64Max) < 0 && a.d.Cmp(int64Min) > 0 {
		return strconv.FormatInt(a.d.CoefficientInt64(), 10)
	}
	return a.d.BigInt().String()
}

// ±10^18, with exponent 0 so that comparing with them rescales nothing.
var int64Max, int64Min = decimal.NewFromInt(1e18), decimal.NewFromInt(-1e18)

// VND renders a for people in vi-VN style with the đồng sign:
// "1.500.000.000 ₫", "-250.000.000 ₫", "0 ₫". It is exact, and
// ParseHumanAmount reads it back.
func (a Amount) VND() string { return a.Grouped() + " ₫" }

// Grouped renders the digits of a in vi-VN style without a unit:
// "1.500.000.000".
func (a Amount) Grouped() string {
	s := a.String()
	if s[0] == '-' {
		return "-" + groupDigits(s[1:])
	}
	return groupDigits(s)
}

// Short renders a in the largest unit people use for it, as in speech and
// report prose: "170,4 tỷ", "64,71 tỷ", "250 triệu", "1.500 tỷ", "-2,5 tỷ".
// Amounts of at least 10^9 đồng are in tỷ, of at least 10^6 in triệu, with up
// to two decimals rounded half away from zero and trailing zeros trimmed;
// smaller amounts are rendered exactly by VND. It is lossy: for exact
// figures use VND. A value that rounds up to 1.000 triệu is shown as "1 tỷ".
func (a Amount) Short() string {
	abs := a.d.Abs()
	switch {
	case abs.Cmp(decimal.New(1, 9)) >= 0:
		return formatScaled(a.d, 9, 2) + " tỷ"
	case abs.Cmp(decimal.New(1, 6)) >= 0:
		if r := a.d.Shift(-6).Round(2).Abs(); r.Cmp(decimal.NewFromInt(1000)) >= 0 {
			return formatScaled(a.d, 9, 2) + " tỷ"
		}
		return formatScaled(a.d, 6, 2) + " triệu"
	}
	return a.VND()
}

// Millions renders a in triệu đồng for report tables, whose header names the
// unit: vi-VN grouping and up to three decimals, rounded half away from zero
// and trimmed: 64_710_000_000 is "64.710", 1_234_567 is "1,235". Three
// decimals are what such tables print, so the result is not meant to be read
// back by ParseHumanAmount, which finds "1,235 triệu" ambiguous.
func (a Amount) Millions() string { return formatScaled(a.d, 6, 3) }

// formatScaled renders d/10^exp in vi-VN style, rounded half away from zero
// to at most places decimals, trailing zeros trimmed. Shift is exact, unlike
// Div, which depends on decimal's package-level DivisionPrecision.
func formatScaled(d decimal.Decimal, exp int32, places int32) string {
	s := d.Shift(-exp).StringFixed(places)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	frac = strings.TrimRight(frac, "0")
	out := sign + groupDigits(intPart)
	if frac != "" {
		out += "," + frac
	}
	if out == "-0" {
		return "0"
	}
	return out
}

// GroupDigits puts a dot before every group of three digits from the
// right, as vi-VN writes numbers: "1500000" is "1.500.000".
func GroupDigits(digits string) string { return groupDigits(digits) }

func groupDigits(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	first := len(digits) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(digits[:first])
	for i := first; i < len(digits); i += 3 {
		b.WriteByte('.')
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// MarshalJSON writes a as a JSON string in the machine form ("1500000000"),
// because JSON numbers are floats to many decoders and lose đồng above 2^53.
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(`"` + a.String() + `"`), nil
}

// UnmarshalJSON reads only a JSON string holding the machine form. A JSON
// number is refused even when it is exact, so that no client learns to send
// a form that some decoder on the way silently rounds; null is refused
// because a missing amount is the caller's error, not zero đồng.
func (a *Amount) UnmarshalJSON(b []byte) error {
	v, err := unmarshalMachine(b, maxAmountJSONBytes, ParseAmount)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// unmarshalTotal reads a JSON total as UnmarshalJSON reads an amount, with
// ParseTotal's wider bound.
func unmarshalTotal(b []byte) (Amount, error) {
	return unmarshalMachine(b, maxTotalJSONBytes, ParseTotal)
}

func unmarshalMachine(b []byte, maxBytes int, parse func(string) (Amount, error)) (Amount, error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return Amount{}, amountError("amount is empty: amounts are JSON strings, such as \"1500000000\"")
	case len(b) > maxBytes:
		return Amount{}, amountError("amount %s is too long: at most %d bytes of JSON", rawJSONInput(b), maxBytes)
	case string(b) == "null":
		return Amount{}, amountError("amount is null: amounts are JSON strings, such as \"1500000000\"")
	case b[0] == '-' || isASCIIDigit(rune(b[0])):
		return Amount{}, amountError("amount %s is a JSON number: amounts are JSON strings, not numbers, such as \"1500000000\"", rawJSONInput(b))
	case b[0] != '"':
		return Amount{}, amountError("amount %s is not a JSON string: amounts are JSON strings, such as \"1500000000\"", rawJSONInput(b))
	}
	// Amounts as this package writes them have no escapes; only others
	// need the JSON decoder.
	var s string
	if inner := b[1:]; len(inner) > 0 && inner[len(inner)-1] == '"' && bytes.IndexAny(inner[:len(inner)-1], `\"`) < 0 {
		s = string(inner[:len(inner)-1])
	} else if err := json.Unmarshal(b, &s); err != nil {
		return Amount{}, amountError("amount %s is not a valid JSON string", rawJSONInput(b))
	}
	return parse(s)
}

// amountFromDigits builds an amount from validated ASCII digits without
// leading zeros. NewFromBigInt with exponent 0 keeps the representation
// canonical.
func amountFromDigits(neg bool, digits string) Amount {
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		panic(fmt.Sprintf("domain: digits %q were validated but do not parse", digits))
	}
	if neg {
		n.Neg(n)
	}
	return Amount{d: decimal.NewFromBigInt(n, 0)}
}

func amountError(format string, args ...any) *Error {
	return Errorf(CodeInvalidAmount, "", format, args...)
}

// quoteInput quotes bad input for an error message, cut short so that a huge
// input does not become a huge message. %q also makes invisible characters,
// such as a no-break space, visible; the cut counts the escaped length, since
// one invalid byte takes four.
func quoteInput(s string) string {
	if len(s) <= maxQuotedBytes {
		if q := fmt.Sprintf("%q", s); len(q) <= maxQuotedBytes+2 {
			return q
		}
	}
	cut := min(len(s), maxQuotedBytes)
	for {
		for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if q := fmt.Sprintf("%q", s[:cut]); len(q) <= maxQuotedBytes+2 || cut == 0 {
			return fmt.Sprintf("%s… (%d bytes)", q, len(s))
		}
		cut--
	}
}

// rawJSONInput shows a JSON token as it was sent, so that a number does not
// look like a string in the message; anything unusual is quoted.
func rawJSONInput(b []byte) string {
	if len(b) > maxQuotedBytes {
		return quoteInput(string(b))
	}
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return quoteInput(string(b))
		}
	}
	return string(b)
}

func isASCIIDigit(r rune) bool { return '0' <= r && r <= '9' }

func isASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isASCIIDigit(rune(s[i])) {
			return false
		}
	}
	return true
}

func countASCIIDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isASCIIDigit(rune(s[i])) {
			n++
		}
	}
	return n
}
