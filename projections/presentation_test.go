package projections_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

func amount(t *testing.T, s string) domain.Amount {
	t.Helper()
	a, err := domain.ParseAmount(s)
	require.NoError(t, err)
	return a
}

func presentation(unit projections.Unit, decimals, percentDecimals int, rule projections.Rounding) projections.Presentation {
	return projections.Presentation{Unit: unit, Decimals: decimals, AmountRounding: projections.RoundHalfUp,
		PercentDecimals: percentDecimals, PercentRounding: rule, ShareOf: projections.OfOwnPlan}
}

func TestPercentRoundingAgainstTruncation(t *testing.T) {
	for _, tc := range []struct {
		num, den string
		decimals int
		rule     projections.Rounding
		want     string
	}{
		// 2/3 = 66,6666…% at every decimal count, both rules.
		{"2", "3", 0, projections.RoundHalfUp, "67%"},
		{"2", "3", 1, projections.RoundHalfUp, "66,7%"},
		{"2", "3", 2, projections.RoundHalfUp, "66,67%"},
		{"2", "3", 3, projections.RoundHalfUp, "66,667%"},
		{"2", "3", 4, projections.RoundHalfUp, "66,6667%"},
		{"2", "3", 0, projections.RoundTruncate, "66%"},
		{"2", "3", 1, projections.RoundTruncate, "66,6%"},
		{"2", "3", 2, projections.RoundTruncate, "66,66%"},
		{"2", "3", 3, projections.RoundTruncate, "66,666%"},
		{"2", "3", 4, projections.RoundTruncate, "66,6666%"},
		// An exact half: 1/8 = 12,5%.
		{"1", "8", 0, projections.RoundHalfUp, "13%"},
		{"1", "8", 0, projections.RoundTruncate, "12%"},
		{"1", "8", 1, projections.RoundTruncate, "12,5%"},
		{"1", "8", 3, projections.RoundHalfUp, "12,500%"},
		// Negative growth rounds half away from zero, truncates toward it.
		{"-2", "3", 2, projections.RoundHalfUp, "-66,67%"},
		{"-2", "3", 2, projections.RoundTruncate, "-66,66%"},
		{"-1", "1000000", 2, projections.RoundTruncate, "0,00%"},
		{"-1", "1000000", 2, projections.RoundHalfUp, "0,00%"},
		// Over 100% and above a thousand.
		{"152", "100", 0, projections.RoundHalfUp, "152%"},
		{"123456", "10", 1, projections.RoundHalfUp, "1.234.560,0%"},
		// The published figures: KCQG 79,5 tỷ of 80,9 tỷ.
		{"79500000000", "80900000000", 1, projections.RoundHalfUp, "98,3%"},
		{"170400000000", "179000000000", 1, projections.RoundHalfUp, "95,2%"},
		{"79500000000", "170400000000", 1, projections.RoundHalfUp, "46,7%"},
		{"90900000000", "170400000000", 1, projections.RoundHalfUp, "53,3%"},
		{"90900000000", "98200000000", 1, projections.RoundHalfUp, "92,6%"},
		// 77,2798…% truncated is 77,27%, rounded 77,28%.
		{"772798", "1000000", 2, projections.RoundTruncate, "77,27%"},
		{"772798", "1000000", 2, projections.RoundHalfUp, "77,28%"},
		// 64.710 triệu against 59.917 triệu: 8% above.
		{"4793000000", "59917000000", 0, projections.RoundHalfUp, "8%"},
	} {
		p := presentation(projections.UnitTrieu, 0, tc.decimals, tc.rule)
		got := p.Percent(amount(t, tc.num), amount(t, tc.den), "own_plan")
		assert.Equal(t, tc.want, got.Text, "%s/%s at %d decimals, %s", tc.num, tc.den, tc.decimals, tc.rule)
		assert.True(t, got.Comparable)
		assert.Equal(t, tc.num, got.Numerator)
		assert.Equal(t, tc.den, got.Denominator)
		assert.Equal(t, tc.rule, got.Rounding)
		assert.Equal(t, tc.decimals, got.Decimals)
	}
}

func TestPercentOverZeroIsNotComparable(t *testing.T) {
	for _, rule := range []projections.Rounding{projections.RoundHalfUp, projections.RoundTruncate} {
		for d := 0; d <= projections.MaxPercentDecimals; d++ {
			got := presentation(projections.UnitTy, 1, d, rule).Percent(amount(t, "5000000"), amount(t, "0"), "previous_year")
			assert.False(t, got.Comparable)
			assert.Equal(t, projections.NotComparable, got.Text)
			assert.Empty(t, got.Value)
			assert.Equal(t, "0", got.Denominator)
			assert.Equal(t, "previous_year", got.Of)
		}
	}
}

func TestAmountsInUnits(t *testing.T) {
	for _, tc := range []struct {
		dong     string
		unit     projections.Unit
		decimals int
		want     string
	}{
		{"170400000000", projections.UnitTy, 1, "170,4"},
		{"64710000000", projections.UnitTrieu, 0, "64.710"},
		{"19398000000", projections.UnitTy, 3, "19,398"},
		{"1234567891", projections.UnitTy, 0, "1"},
		{"1234567891", projections.UnitTy, 1, "1,2"},
		{"1234567891", projections.UnitTy, 2, "1,23"},
		{"1234567891", projections.UnitTy, 3, "1,235"},
		{"1234567891", projections.UnitTy, 4, "1,2346"},
		{"1234567891", projections.UnitTrieu, 0, "1.235"},
		{"1234567891", projections.UnitTrieu, 1, "1.234,6"},
		{"1234567891", projections.UnitTrieu, 4, "1.234,5679"},
		{"1234567891", projections.UnitDong, 0, "1.234.567.891"},
		{"2500000", projections.UnitTrieu, 0, "3"},
		{"-2500000", projections.UnitTrieu, 0, "-3"},
		{"-400000", projections.UnitTrieu, 0, "0"},
		{"0", projections.UnitTy, 2, "0,00"},
		{"179000000000", projections.UnitTy, 1, "179,0"},
	} {
		p := presentation(tc.unit, tc.decimals, 2, projections.RoundTruncate)
		assert.Equal(t, tc.want, p.Number(amount(t, tc.dong)), "%s in %s to %d", tc.dong, tc.unit, tc.decimals)
	}
	p := presentation(projections.UnitTy, 1, 1, projections.RoundHalfUp)
	assert.Equal(t, "170,4 tỷ", p.Text(amount(t, "170400000000")))
	assert.Equal(t, "64.710 triệu", presentation(projections.UnitTrieu, 0, 1, projections.RoundHalfUp).Text(amount(t, "64710000000")))
	assert.Equal(t, "triệu đồng", projections.UnitTrieu.Label())
	assert.Equal(t, "tỷ đồng", projections.UnitTy.Label())
	assert.Equal(t, "đồng", projections.UnitDong.Label())
}

func TestPresentationRefusesBadRules(t *testing.T) {
	ok := projections.DefaultPresentation()
	require.NoError(t, ok.Validate())
	for _, tc := range []struct {
		field  string
		change func(*projections.Presentation)
	}{
		{"unit", func(p *projections.Presentation) { p.Unit = "usd" }},
		{"decimals", func(p *projections.Presentation) { p.Decimals = 5 }},
		{"decimals", func(p *projections.Presentation) { p.Decimals = -1 }},
		{"percent_decimals", func(p *projections.Presentation) { p.PercentDecimals = 5 }},
		{"percent", func(p *projections.Presentation) { p.PercentRounding = "banker" }},
		{"share_of", func(p *projections.Presentation) { p.ShareOf = "region" }},
	} {
		p := ok
		tc.change(&p)
		var de *domain.Error
		require.ErrorAs(t, p.Validate(), &de, tc.field)
		assert.Equal(t, tc.field, de.Field)
	}
}

// TestShareOfOwnOrTotalPlan: KCQG executed 79,5 of its 80,9 tỷ, KCĐP 90,9
// of 98,2, in a region planning 179,1 tỷ in all. The published 95,2% is
// 170,4 over the rounded 179 tỷ; over the exact 179,1 it is 95,1%.
func TestShareOfOwnOrTotalPlan(t *testing.T) {
	l := newLedger()
	l.add(t,
		movement{kind: domain.Allocate, year: 2022, province: "01", source: domain.SourceNational, amount: 80_900_000_000},
		movement{kind: domain.Disburse, year: 2022, province: "01", source: domain.SourceNational, amount: 79_500_000_000},
		movement{kind: domain.Allocate, year: 2022, province: "01", source: domain.SourceLocal, amount: 98_200_000_000},
		movement{kind: domain.Disburse, year: 2022, province: "01", source: domain.SourceLocal, amount: 90_900_000_000},
	)
	p := l.plans(t, projections.Cut{})
	for _, tc := range []struct {
		shareOf          projections.Denominator
		of               string
		national, local  string
		nationalDen      string
		total            string
		nationalOfRegion string
	}{
		{projections.OfOwnPlan, "own_plan", "98,3%", "92,6%", "80900000000", "95,1%", "46,7%"},
		{projections.OfTotalPlan, "total_plan", "44,4%", "50,8%", "179100000000", "95,1%", "46,7%"},
	} {
		pr := presentation(projections.UnitTy, 1, 1, projections.RoundHalfUp)
		pr.ShareOf = tc.shareOf
		rep := report(t, p, projections.PlanQuery{FiscalYear: 2022, Region: domain.RegionNorth, By: projections.BySource, Presentation: pr})
		require.Len(t, rep.Rows, 2)
		assert.Equal(t, tc.national, rep.Rows[0].PercentOfPlan.Text)
		assert.Equal(t, tc.of, rep.Rows[0].PercentOfPlan.Of)
		assert.Equal(t, tc.nationalDen, rep.Rows[0].PercentOfPlan.Denominator)
		assert.Equal(t, tc.local, rep.Rows[1].PercentOfPlan.Text)
		assert.Equal(t, tc.total, rep.Total.PercentOfPlan.Text)
		assert.Equal(t, tc.nationalOfRegion, rep.Rows[0].Share.Text)
		assert.Equal(t, "79,5", rep.Rows[0].Executed.Text)
		assert.Equal(t, "170,4", rep.Total.Executed.Text)
	}
}

func TestMachineForm(t *testing.T) {
	assert.Equal(t, "170.4", presentation(projections.UnitTy, 1, 2, projections.RoundHalfUp).Machine(amount(t, "170440000000")))
	assert.Equal(t, "64710", presentation(projections.UnitTrieu, 0, 2, projections.RoundHalfUp).Machine(amount(t, "64710000000")))
	assert.Equal(t, "-0.003", presentation(projections.UnitTy, 3, 2, projections.RoundHalfUp).Machine(amount(t, "-2500000")))
}

func TestDecimalsLabel(t *testing.T) {
	rep := projections.PlanReport{Presentation: presentation(projections.UnitTy, 1, 2, projections.RoundHalfUp)}
	assert.Contains(t, rep.Rules(projections.LangEN), "billion đồng (tỷ), 1 decimal, rounded half up; percentages: 2 decimals")
	assert.Contains(t, rep.Rules(projections.LangVI), "tỷ đồng, 1 chữ số thập phân")
}
