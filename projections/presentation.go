package projections

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/kcledger/kcledger/domain"
)

// Unit is the unit amounts are shown in. Values are persisted in reports
// and API parameters: append-only.
type Unit string

// The units of the ministry's tables.
const (
	UnitDong  Unit = "dong"
	UnitTrieu Unit = "trieu" // triệu đồng, 10⁶
	UnitTy    Unit = "ty"    // tỷ đồng, 10⁹
)

// Rounding is how a figure is cut to its decimals when it is rendered.
type Rounding string

// The rounding rules published reports use.
const (
	// RoundHalfUp rounds half away from zero: 98,27 → 98,3.
	RoundHalfUp Rounding = "half_up"
	// RoundTruncate drops the digits past the last decimal: 77,2798 → 77,27.
	RoundTruncate Rounding = "truncate"
)

// Denominator is what a percentage of plan is taken of.
type Denominator string

// The denominators of a percentage of plan.
const (
	// OfOwnPlan takes a row's execution as a share of its own plan.
	OfOwnPlan Denominator = "own"
	// OfTotalPlan takes it as a share of the scope's total plan.
	OfTotalPlan Denominator = "total"
)

// Limits of the presentation rules.
const (
	MaxDecimals        = 4
	MaxPercentDecimals = 4
)

// Presentation is how a report renders its exact figures for people. Every
// output carries it, because published reports differ on each point.
// Rounding happens once, here, at rendering: the figures themselves stay
// exact whole đồng.
type Presentation struct {
	Unit Unit `json:"unit"`
	// Decimals of amounts in Unit, 0 to MaxDecimals; amounts are rounded
	// half up (AmountRounding).
	Decimals int `json:"decimals"`
	// AmountRounding is always RoundHalfUp: it is stated, not chosen.
	AmountRounding Rounding `json:"amount_rounding"`
	// PercentDecimals of percentages, 0 to MaxPercentDecimals.
	PercentDecimals int `json:"percent_decimals"`
	// PercentRounding is how percentages are cut to PercentDecimals.
	PercentRounding Rounding `json:"percent_rounding"`
	// ShareOf is the denominator of a row's percentage of plan.
	ShareOf Denominator `json:"share_of"`
}

// DefaultPresentation is the ministry tables' usual form: triệu đồng
// without decimals, percentages with two decimals rounded half up, each
// row against its own plan.
func DefaultPresentation() Presentation {
	return Presentation{Unit: UnitTrieu, Decimals: 0, AmountRounding: RoundHalfUp, PercentDecimals: 2, PercentRounding: RoundHalfUp, ShareOf: OfOwnPlan}
}

// ParseUnit reads "dong", "trieu" or "ty" (also "đồng", "triệu", "tỷ").
func ParseUnit(s string) (Unit, error) {
	switch s {
	case "dong", "đồng":
		return UnitDong, nil
	case "trieu", "triệu":
		return UnitTrieu, nil
	case "ty", "tỷ":
		return UnitTy, nil
	}
	return "", domain.Errorf(domain.CodeInvalidField, "unit", "unit %q is not valid: use dong, trieu (triệu đồng) or ty (tỷ đồng)", bounded(s))
}

// ParseRounding reads "round" (or "half_up") and "truncate".
func ParseRounding(s string) (Rounding, error) {
	switch s {
	case "round", string(RoundHalfUp):
		return RoundHalfUp, nil
	case string(RoundTruncate):
		return RoundTruncate, nil
	}
	return "", domain.Errorf(domain.CodeInvalidField, "percent", "percent rounding %q is not valid: use round (half up) or truncate", bounded(s))
}

// ParseDenominator reads "own" and "total".
func ParseDenominator(s string) (Denominator, error) {
	switch Denominator(s) {
	case OfOwnPlan, OfTotalPlan:
		return Denominator(s), nil
	}
	return "", domain.Errorf(domain.CodeInvalidField, "share_of", "share_of %q is not valid: use own (each row's own plan) or total (the scope's total plan)", bounded(s))
}

// bounded cuts outside input before it goes into a message.
func bounded(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// Validate checks every rule; the error names the parameter.
func (p Presentation) Validate() error {
	if _, err := ParseUnit(string(p.Unit)); err != nil {
		return err
	}
	if p.Decimals < 0 || p.Decimals > MaxDecimals {
		return domain.Errorf(domain.CodeInvalidField, "decimals", "decimals %d: amounts take 0 to %d decimals", p.Decimals, MaxDecimals)
	}
	if p.PercentDecimals < 0 || p.PercentDecimals > MaxPercentDecimals {
		return domain.Errorf(domain.CodeInvalidField, "percent_decimals", "percent_decimals %d: percentages take 0 to %d decimals", p.PercentDecimals, MaxPercentDecimals)
	}
	if p.AmountRounding != RoundHalfUp {
		return domain.Errorf(domain.CodeInvalidField, "amount_rounding", "amounts are rounded half up")
	}
	if _, err := ParseRounding(string(p.PercentRounding)); err != nil {
		return err
	}
	if _, err := ParseDenominator(string(p.ShareOf)); err != nil {
		return err
	}
	return nil
}

// exponent is the power of ten of the unit.
func (u Unit) exponent() int32 {
	switch u {
	case UnitTrieu:
		return 6
	case UnitTy:
		return 9
	}
	return 0
}

// Label is the unit as a table header names it: "triệu đồng".
func (u Unit) Label() string {
	switch u {
	case UnitTrieu:
		return "triệu đồng"
	case UnitTy:
		return "tỷ đồng"
	}
	return "đồng"
}

// Short is the unit as prose follows a number with it: "tỷ".
func (u Unit) Short() string {
	switch u {
	case UnitTrieu:
		return "triệu"
	case UnitTy:
		return "tỷ"
	}
	return "đồng"
}

// Number renders a in the unit, to Decimals rounded half up, in vi-VN
// style: 170_400_000_000 in tỷ with one decimal is "170,4"; 64_710_000_000
// in triệu is "64.710".
func (p Presentation) Number(a domain.Amount) string {
	return viNumber(a.Decimal().Shift(-p.Unit.exponent()).StringFixed(int32(p.Decimals)))
}

// Machine is Number in machine form, for spreadsheets that store numbers
// ("170.4", "64710").
func (p Presentation) Machine(a domain.Amount) string {
	return a.Decimal().Shift(-p.Unit.exponent()).StringFixed(int32(p.Decimals))
}

// Text is Number followed by the unit: "170,4 tỷ".
func (p Presentation) Text(a domain.Amount) string { return p.Number(a) + " " + p.Unit.Short() }

// Money is an exact figure with its rendering.
type Money struct {
	// Dong is the exact whole-đồng machine form ("170400000000").
	Dong string `json:"dong"`
	// Text is the figure as a person reads it, in the report's unit
	// ("170,4").
	Text  string        `json:"text"`
	exact domain.Amount // never rendered: the figure itself
}

// Exact returns the figure in whole đồng.
func (m Money) Exact() domain.Amount { return m.exact }

// UnmarshalJSON reads a figure back from the API's JSON, the exact
// figure from Dong: a report read back (by the console, or kcledger
// report through a server) still knows which of its figures are zero,
// which decides its movements' columns (Moves).
func (m *Money) UnmarshalJSON(b []byte) error {
	var w struct {
		Dong string `json:"dong"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	a, err := domain.ParseTotal(w.Dong)
	if err != nil {
		return fmt.Errorf("projections: a report's figure: %w", err)
	}
	*m = Money{Dong: w.Dong, Text: w.Text, exact: a}
	return nil
}

func (p Presentation) money(a domain.Amount) Money {
	return Money{Dong: a.String(), Text: p.Number(a), exact: a}
}

// Percent is a percentage with everything needed to recompute it.
type Percent struct {
	// Numerator and Denominator in whole đồng.
	Numerator   string `json:"numerator"`
	Denominator string `json:"denominator"`
	// Of names the denominator: "own_plan", "total_plan",
	// "scope_executed", "previous_year".
	Of       string   `json:"of"`
	Rounding Rounding `json:"rounding"`
	Decimals int      `json:"decimals"`
	// Comparable is false when the denominator is zero: there is no
	// percentage, and Value is empty.
	Comparable bool `json:"comparable"`
	// Value is the rendered percentage in machine form ("98.3").
	Value string `json:"value,omitempty"`
	// Text is as a person reads it: "98,3%", or "—" when not comparable.
	Text string `json:"text"`
}

// NotComparable is the text of a percentage over zero.
const NotComparable = "—"

// Percent renders num/den×100 by the presentation's percentage rules; a
// zero denominator is not comparable, never a division.
func (p Presentation) Percent(num, den domain.Amount, of string) Percent {
	pc := Percent{Numerator: num.String(), Denominator: den.String(), Of: of, Rounding: p.PercentRounding, Decimals: p.PercentDecimals}
	if den.IsZero() {
		pc.Text = NotComparable
		return pc
	}
	pc.Comparable = true
	pc.Value = ratio(num.Decimal(), den.Decimal(), p.PercentDecimals, p.PercentRounding)
	pc.Text = viNumber(pc.Value) + "%"
	return pc
}

// ratio computes num×100/den exactly in integers and cuts it to places
// decimals by rule, returning the machine form ("-12.50").
func ratio(num, den decimal.Decimal, places int, rule Rounding) string {
	n := num.Shift(int32(2 + places)).BigInt() // whole đồng: exact
	d := den.BigInt()
	neg := n.Sign()*d.Sign() < 0
	n.Abs(n)
	d.Abs(d)
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if rule == RoundHalfUp && r.Lsh(r, 1).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	s := q.String()
	if places > 0 {
		if len(s) <= places {
			s = strings.Repeat("0", places-len(s)+1) + s
		}
		s = s[:len(s)-places] + "." + s[len(s)-places:]
	}
	if neg && strings.Trim(s, "0.") != "" {
		s = "-" + s
	}
	return s
}

// viNumber turns a machine decimal ("-64710.5") into vi-VN style
// ("-64.710,5").
func viNumber(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	out := domain.GroupDigits(intPart)
	if hasFrac {
		out += "," + frac
	}
	if sign != "" && strings.Trim(out, "0,.") == "" {
		return out // no "-0"
	}
	return sign + out
}
