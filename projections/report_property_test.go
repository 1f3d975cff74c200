package projections_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

// randomLedger records a random history over 2023–2026 in a few provinces
// of both schemes (some merged, one that changed region), keeping the
// movements the rules accept.
func randomLedger(t *testing.T, rng *rand.Rand, n int) *ledger {
	l := newLedger()
	old := []string{"01", "02", "08", "15", "38", "79", "80", "10"}
	cur := []string{"01", "08", "15", "38", "79", "80"}
	projects := []string{"", "", "DA-1", "DA-2", "DA-3"}
	cats := domain.Categories()
	kinds := []domain.CommandKind{domain.Allocate, domain.Allocate, domain.Adjust, domain.Disburse, domain.Disburse, domain.Refund}
	for range n {
		year := 2023 + rng.IntN(4)
		kind := kinds[rng.IntN(len(kinds))]
		from := day(year, time.January, 1)
		span := 365
		switch kind {
		case domain.Allocate:
			from, span = day(year-1, time.January, 1), 730
		case domain.Disburse:
			span = 396
		case domain.Refund:
			span = 600
		}
		d := from.AddDays(rng.IntN(span))
		if d.After(day(2027, time.May, 31)) {
			continue
		}
		codes := cur
		if domain.SchemeOn(d) == domain.Scheme63 {
			codes = old
		}
		m := movement{kind: kind, year: year, province: codes[rng.IntN(len(codes))], source: domain.Sources()[rng.IntN(2)],
			project: projects[rng.IntN(len(projects))], amount: 1 + rng.Int64N(1_000_000_000_000), date: d}
		if rng.IntN(2) == 0 {
			m.category = cats[rng.IntN(len(cats))]
		}
		if kind == domain.Adjust && rng.IntN(2) == 0 {
			m.amount = -rng.Int64N(1_000_000_000_000)
			if m.amount == 0 {
				m.amount = -1
			}
		}
		switch kind {
		case domain.Disburse:
			m.amount = 1 + rng.Int64N(300_000_000_000)
		case domain.Refund:
			m.amount = 1 + rng.Int64N(20_000_000_000)
		}
		if ok, _ := l.try(m); ok && rng.IntN(10) == 0 { // the rules refuse many: that is the point
			// A repudiated message, passed over: its money must count
			// nowhere.
			bad := l.recs[len(l.recs)-1]
			bad.Seq, bad.Repudiated = l.seq+1, true
			bad.Event.Amount = domain.AmountFromInt64(999_999_999_999)
			l.recs = append(l.recs, bad)
			l.seq++
		}
	}
	return l
}

func sumRows(rows []projections.PlanRow) (plan, executed domain.Amount, events int) {
	for _, r := range rows {
		plan = plan.Add(r.Plan.Exact())
		executed = executed.Add(r.Executed.Exact())
		events += r.Events
	}
	return plan, executed, events
}

// TestPlanExecutionTotalsAgree: for random histories and random cuts, a
// report's total is the sum of its rows and of its source subtotals, is
// the same whatever the breakdown, equals the balances projection of the
// same cut, and under scheme 34 equals scheme 63's for years before the
// merger.
func TestPlanExecutionTotalsAgree(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 12))
		l := randomLedger(t, rng, 300)
		require.NotEmpty(t, l.recs)
		cut := projections.Cut{}
		if rng.IntN(2) == 0 {
			cut.UntilSeq = l.recs[rng.IntN(len(l.recs))].Seq
		}
		p := l.plans(t, cut)
		for year := 2023; year <= 2026; year++ {
			var until domain.Date
			if rng.IntN(2) == 0 {
				until = day(year, time.January, 1).AddDays(rng.IntN(396))
			}
			past := projections.NewPast(projections.Cut{UntilSeq: cut.UntilSeq, EffectiveUntil: until})
			for _, r := range l.recs {
				more, err := past.Add(r, time.Time{})
				require.NoError(t, err)
				if !more {
					break
				}
			}
			want := past.Report(projections.Filter{FiscalYear: year}).Total
			schemes := []domain.Scheme{domain.Scheme34}
			if year < 2025 {
				schemes = append(schemes, domain.Scheme63)
			}
			for _, scheme := range schemes {
				for _, by := range []projections.Breakdown{projections.ByProvince, projections.BySource, projections.ByCategory, projections.ByProject} {
					rep := report(t, p, projections.PlanQuery{FiscalYear: year, By: by, Scheme: scheme, EffectiveUntil: until})
					msg := []any{"seed %d year %d scheme %s by %s until %s", seed, year, scheme, by, until}
					requireSame(t, want.Balance.Allocated, rep.Total.Plan.Exact(), msg...)
					requireSame(t, want.Balance.NetDisbursed(), rep.Total.Executed.Exact(), msg...)
					requireSame(t, want.Balance.Available(), rep.Total.Available.Exact(), msg...)
					require.Equal(t, want.Events, rep.Total.Events, msg...)
					plan, executed, events := sumRows(rep.Rows)
					requireSame(t, plan, rep.Total.Plan.Exact(), msg...)
					requireSame(t, executed, rep.Total.Executed.Exact(), msg...)
					require.Equal(t, events, rep.Total.Events, msg...)
					plan, executed, events = sumRows(rep.Sources)
					requireSame(t, plan, rep.Total.Plan.Exact(), msg...)
					requireSame(t, executed, rep.Total.Executed.Exact(), msg...)
					require.Equal(t, events, rep.Total.Events, msg...)
				}
			}
			// Regions partition the country, in either scheme.
			for _, scheme := range schemes {
				var plan, executed domain.Amount
				for _, region := range domain.Regions() {
					rep := report(t, p, projections.PlanQuery{FiscalYear: year, Region: region, Scheme: scheme, EffectiveUntil: until})
					plan, executed = plan.Add(rep.Total.Plan.Exact()), executed.Add(rep.Total.Executed.Exact())
				}
				requireSame(t, want.Balance.Allocated, plan, "regions of %d under %s", year, scheme)
				requireSame(t, want.Balance.NetDisbursed(), executed, "regions of %d under %s", year, scheme)
			}
		}
	}
}

func requireSame(t *testing.T, want, got domain.Amount, msg ...any) {
	t.Helper()
	require.True(t, want.Equal(got), "want %s, got %s: %s", want, got, fmt.Sprintf(msg[0].(string), msg[1:]...))
}

// TestSchemeRollsUpToSuccessors: under 34, Hà Giang's and Tuyên Quang's
// 2024 money is new Tuyên Quang's, and Thanh Hóa counts in the centre.
func TestSchemeRollsUpToSuccessors(t *testing.T) {
	l := newLedger()
	l.add(t,
		movement{kind: domain.Allocate, year: 2024, province: "02", source: domain.SourceLocal, amount: 300},
		movement{kind: domain.Allocate, year: 2024, province: "08", source: domain.SourceLocal, amount: 200},
		movement{kind: domain.Allocate, year: 2024, province: "38", source: domain.SourceLocal, amount: 100},
		movement{kind: domain.Allocate, year: 2025, province: "08", source: domain.SourceLocal, amount: 700, date: day(2025, time.August, 1)},
		movement{kind: domain.Allocate, year: 2025, province: "02", source: domain.SourceLocal, amount: 50, date: day(2025, time.February, 1)},
	)
	p := l.plans(t, projections.Cut{})
	old := report(t, p, projections.PlanQuery{FiscalYear: 2024, Region: domain.RegionNorth, Scheme: domain.Scheme63})
	require.Len(t, old.Provinces, 28)
	require.Equal(t, []string{"02", "08", "38"}, keys(old.Rows))
	rolled := report(t, p, projections.PlanQuery{FiscalYear: 2024, Region: domain.RegionNorth, Scheme: domain.Scheme34, ComparePrevious: true})
	require.Len(t, rolled.Provinces, 15)
	require.Equal(t, []string{"08"}, keys(rolled.Rows))
	require.Equal(t, "500", rolled.Rows[0].Plan.Dong)
	centre := report(t, p, projections.PlanQuery{FiscalYear: 2024, Region: domain.RegionCentralHighlands, Scheme: domain.Scheme34})
	require.Equal(t, []string{"38"}, keys(centre.Rows))
	y2025 := report(t, p, projections.PlanQuery{FiscalYear: 2025, Province: "08", ComparePrevious: true})
	require.Equal(t, domain.Scheme34, y2025.Scheme)
	require.Equal(t, "750", y2025.Total.Plan.Dong)
	require.Equal(t, "500", y2025.Total.Previous.Plan.Dong)
	require.Equal(t, "50,00%", y2025.Total.Previous.PlanGrowth.Text)

	q := projections.PlanQuery{FiscalYear: 2025, Scheme: domain.Scheme63}
	var de *domain.Error
	require.ErrorAs(t, q.Normalize(domain.Policy{}), &de)
	require.Equal(t, "scheme", de.Field)
	q = projections.PlanQuery{FiscalYear: 2025, Scheme: domain.Scheme63, EffectiveUntil: day(2025, time.June, 30)}
	require.NoError(t, q.Normalize(domain.Policy{}))
	first := report(t, p, q)
	require.Equal(t, "50", first.Total.Plan.Dong)
}

func keys(rows []projections.PlanRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Key)
	}
	return out
}

func TestPlanQueryRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		field string
		q     projections.PlanQuery
	}{
		{"year", projections.PlanQuery{FiscalYear: 1999}},
		{"year", projections.PlanQuery{FiscalYear: 2101}},
		{"region", projections.PlanQuery{FiscalYear: 2024, Region: "east"}},
		{"province", projections.PlanQuery{FiscalYear: 2024, Province: "99"}},
		{"province", projections.PlanQuery{FiscalYear: 2026, Province: "02"}},
		{"province", projections.PlanQuery{FiscalYear: 2024, Province: "01", Region: domain.RegionNorth}},
		{"scheme", projections.PlanQuery{FiscalYear: 2026, Scheme: domain.Scheme63}},
		{"scheme", projections.PlanQuery{FiscalYear: 2024, Scheme: "64"}},
		{"by", projections.PlanQuery{FiscalYear: 2024, By: "district"}},
		{"source", projections.PlanQuery{FiscalYear: 2024, Source: "foreign"}},
		{"effective_until", projections.PlanQuery{FiscalYear: 2024, EffectiveUntil: day(2025, time.February, 1)}},
		{"effective_until", projections.PlanQuery{FiscalYear: 2024, EffectiveUntil: day(2022, time.December, 31)}},
		{"decimals", projections.PlanQuery{FiscalYear: 2024, Presentation: projections.Presentation{Unit: projections.UnitTy, Decimals: 7,
			AmountRounding: projections.RoundHalfUp, PercentRounding: projections.RoundHalfUp, ShareOf: projections.OfOwnPlan}}},
	} {
		var de *domain.Error
		require.ErrorAs(t, tc.q.Normalize(domain.Policy{}), &de, "%+v", tc.q)
		require.Equal(t, tc.field, de.Field, "%+v", tc.q)
	}
	ok := projections.PlanQuery{FiscalYear: 2024, EffectiveUntil: day(2025, time.January, 31)}
	require.NoError(t, ok.Normalize(domain.Policy{}))
}
