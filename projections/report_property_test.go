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
// movements the rules accept: allocations, adjustments, disbursements,
// refunds, transfers of both kinds (decided with domain.DecideTransfer)
// and lapses of lines and of projects.
func randomLedger(t *testing.T, rng *rand.Rand, n int) *ledger {
	l := newLedger()
	old := []string{"01", "02", "08", "15", "38", "79", "80", "10"}
	cur := []string{"01", "08", "15", "38", "79", "80"}
	projects := []string{"", "", "DA-1", "DA-2", "DA-3"}
	cats := domain.Categories()
	kinds := []domain.CommandKind{domain.Allocate, domain.Allocate, domain.Adjust, domain.Disburse, domain.Disburse, domain.Refund, domain.Transfer, domain.Lapse}
	for range n {
		year := 2023 + rng.IntN(4)
		kind := kinds[rng.IntN(len(kinds))]
		if kind == domain.Transfer || kind == domain.Lapse {
			l.randomMove(rng, kind, year, old, projects)
			continue
		}
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

// randomMove tries a transfer or a lapse out of a random line of year,
// of part (a transfer) or all (a lapse) of what it or its project has
// available.
func (l *ledger) randomMove(rng *rand.Rand, kind domain.CommandKind, year int, codes, projects []string) {
	succession := kind == domain.Transfer && rng.IntN(2) == 0
	if succession {
		year = 2025 + rng.IntN(2) // the merger's years
	}
	if kind == domain.Lapse && rng.IntN(3) > 0 {
		return // a lapse often closes a line: fewer, so that lines live on
	}
	if succession {
		var merged []string
		for _, c := range codes {
			if s, _ := domain.Successor(c); s.Code != c {
				merged = append(merged, c)
			}
		}
		codes = merged
	}
	from := line(year, codes[rng.IntN(len(codes))], domain.Sources()[rng.IntN(2)])
	project := projects[rng.IntN(len(projects))]
	st := l.state(from)
	avail := st.Balance.Available()
	if project != "" {
		avail = st.Project(project).Available()
	}
	end := domain.Policy{}.SettlementEnd(year)
	if kind == domain.Lapse {
		_, _ = l.tryLapse(from, project, end.AddDays(1+rng.IntN(120)))
		return
	}
	if avail.Sign() <= 0 {
		return
	}
	amount := 1 + rng.Int64N(avail.Decimal().IntPart())
	if rng.IntN(3) == 0 {
		amount = avail.Decimal().IntPart() // all of it
	}
	succ, _ := domain.Successor(from.Province)
	if succession {
		first, _ := domain.Policy{}.TransferWindow(domain.TransferSuccession, year)
		if first.After(end) {
			return
		}
		d := first.AddDays(rng.IntN(daysBetween(first, end) + 1))
		_, _ = l.tryTransfer(domain.TransferSuccession, from, line(year, succ.Code, from.Source), project, amount, d)
		return
	}
	d := day(year+1, time.January, 1).AddDays(rng.IntN(daysBetween(day(year+1, time.January, 1), end) + 1))
	to := line(year+1, from.Province, from.Source)
	if _, err := domain.ProvinceOn(from.Province, d); err != nil {
		to.Province = succ.Code
	}
	_, _ = l.tryTransfer(domain.TransferCarryOver, from, to, project, amount, d)
}

// sums are a report's rows added up.
type sums struct {
	allocated, plan, executed, available, lapsed, carriedIn, carriedOut, moved domain.Amount
	events                                                                     int
}

func sumRows(rows []projections.PlanRow) sums {
	var s sums
	for _, r := range rows {
		s.add(r)
	}
	return s
}

func (s *sums) add(r projections.PlanRow) {
	s.allocated = s.allocated.Add(r.Allocated.Exact())
	s.plan = s.plan.Add(r.Plan.Exact())
	s.executed = s.executed.Add(r.Executed.Exact())
	s.available = s.available.Add(r.Available.Exact())
	s.lapsed = s.lapsed.Add(r.Lapsed.Exact())
	s.carriedIn = s.carriedIn.Add(r.CarriedIn.Exact())
	s.carriedOut = s.carriedOut.Add(r.CarriedOut.Exact())
	s.moved = s.moved.Add(r.TransferredIn.Exact()).Sub(r.TransferredOut.Exact())
	s.events += r.Events
}

// requireSums checks that rows add up to the total: every figure, and
// the successions net (a row may show a succession the total counts as a
// move within the scope).
func requireSums(t *testing.T, rows []projections.PlanRow, total projections.PlanRow, msg ...any) {
	t.Helper()
	got, want := sumRows(rows), sumRows([]projections.PlanRow{total})
	for _, f := range []struct {
		name       string
		got, total domain.Amount
	}{
		{"allocated", got.allocated, want.allocated}, {"plan", got.plan, want.plan}, {"executed", got.executed, want.executed},
		{"available", got.available, want.available}, {"lapsed", got.lapsed, want.lapsed}, {"carried in", got.carriedIn, want.carriedIn},
		{"carried out", got.carriedOut, want.carriedOut}, {"transferred in less out", got.moved, want.moved},
	} {
		requireSame(t, f.total, f.got, append([]any{msg[0].(string) + ": " + f.name}, msg[1:]...)...)
	}
	require.Equal(t, want.events, got.events, msg...)
}

// TestPlanExecutionTotalsAgree: for random histories and random cuts, a
// report's total is the sum of its rows and of its source subtotals, is
// the same whatever the breakdown, equals the balances projection of the
// same cut, and under scheme 34 equals scheme 63's for years before the
// merger.
func TestPlanExecutionTotalsAgree(t *testing.T) {
	moves := map[string]int{}
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 12))
		l := randomLedger(t, rng, 300)
		for _, r := range l.recs {
			if !r.Repudiated {
				moves[string(r.Event.Type)+" "+string(r.Event.TransferKind)]++
			}
		}
		require.NotEmpty(t, l.recs)
		cut := projections.Cut{}
		if rng.IntN(2) == 0 {
			cut.UntilSeq = l.recs[rng.IntN(len(l.recs))].Seq
		}
		p := l.plans(t, cut)
		split := false // the cut falls between a transfer's two sides
		for _, r := range l.recs {
			split = split || r.Seq == cut.UntilSeq && r.Event.Type == domain.TypeTransferredOut
		}
		for year := 2023; year <= 2026; year++ {
			// A model of the year and the one before, as a report from
			// the stream builds, says what the model of every year says.
			some := projections.NewPlans(cut, year, year-1)
			for _, r := range l.recs {
				more, err := some.Add(r, time.Time{})
				require.NoError(t, err)
				if !more {
					break
				}
			}
			for _, by := range []projections.Breakdown{projections.ByCategory, projections.ByProject} {
				q := projections.PlanQuery{FiscalYear: year, By: by, ComparePrevious: true}
				require.Equal(t, report(t, p, q).Table(projections.LangVI), report(t, some, q).Table(projections.LangVI), "seed %d year %d by %s", seed, year, by)
			}
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
			pastReport := past.Report(projections.Filter{FiscalYear: year})
			want := pastReport.Total
			if year < 2025 {
				// Each project's row is the project's balance: lapses of
				// whole lines included (domain.LineState.Apply).
				rows := map[string]projections.PlanRow{}
				for _, r := range report(t, p, projections.PlanQuery{FiscalYear: year, By: projections.ByProject, Scheme: domain.Scheme63, EffectiveUntil: until, Presentation: inDong}).Rows {
					rows[r.Key] = r
				}
				for _, lb := range pastReport.Lines {
					for _, pb := range lb.Projects {
						key := lb.Line.Province + "/" + string(lb.Line.Source) + "/" + pb.Project
						row, ok := rows[key]
						require.True(t, ok, "seed %d year %d: no row %s in %v", seed, year, key, rows)
						requireSame(t, pb.Balance.Lapsed, row.Lapsed.Exact(), "seed %d year %d project %s lapsed", seed, year, key)
						requireSame(t, pb.Balance.Available(), row.Available.Exact(), "seed %d year %d project %s available", seed, year, key)
						requireSame(t, pb.Balance.NetDisbursed(), row.Executed.Exact(), "seed %d year %d project %s executed", seed, year, key)
					}
				}
			}
			schemes := []domain.Scheme{domain.Scheme34}
			if year < 2025 || year == 2025 && !until.IsZero() && until.Before(domain.Scheme34Start) {
				schemes = append(schemes, domain.Scheme63)
			}
			var country *figures // the same under every scheme and breakdown
			for _, scheme := range schemes {
				for _, by := range []projections.Breakdown{projections.ByProvince, projections.BySource, projections.ByCategory, projections.ByProject} {
					rep := report(t, p, projections.PlanQuery{FiscalYear: year, By: by, Scheme: scheme, EffectiveUntil: until, Presentation: inDong})
					msg := []any{"seed %d year %d scheme %s by %s until %s", seed, year, scheme, by, until}
					tot := rep.Total
					requireSame(t, want.Balance.Allocated, tot.Allocated.Exact(), msg...)
					requireSame(t, want.Balance.Plan(), tot.Plan.Exact(), msg...)
					requireSame(t, want.Balance.NetDisbursed(), tot.Executed.Exact(), msg...)
					requireSame(t, want.Balance.Lapsed, tot.Lapsed.Exact(), msg...)
					requireSame(t, want.Balance.Available(), tot.Available.Exact(), msg...)
					requireSame(t, want.Balance.TransferredIn.Sub(want.Balance.TransferredOut),
						tot.TransferredIn.Exact().Add(tot.CarriedIn.Exact()).Sub(tot.TransferredOut.Exact()).Sub(tot.CarriedOut.Exact()), msg...)
					require.Equal(t, want.Events, tot.Events, msg...)
					requireSums(t, rep.Rows, tot, msg...)
					requireSums(t, rep.Sources, tot, msg...)
					if scheme == domain.Scheme34 && !split {
						// Every succession is between a province and its
						// own successor: a move within the country.
						require.Equal(t, "0", tot.TransferredIn.Dong, msg...)
						require.Equal(t, "0", tot.TransferredOut.Dong, msg...)
					}
					f := figuresOf(tot)
					if country == nil {
						country = &f
					}
					require.Equal(t, *country, f, msg...)
				}
			}
			// Regions partition the country, in either scheme.
			for _, scheme := range schemes {
				var regions []projections.PlanRow
				for _, region := range domain.Regions() {
					rep := report(t, p, projections.PlanQuery{FiscalYear: year, Region: region, Scheme: scheme, EffectiveUntil: until, Presentation: inDong})
					regions = append(regions, rep.Total)
				}
				requireSums(t, regions, want34(t, p, year, until), "regions of %d under %s", year, scheme)
			}
		}
	}
	// The histories hold every kind of movement, many times.
	for _, k := range []string{"funds.transferred_out.v1 succession", "funds.transferred_in.v1 succession",
		"funds.transferred_out.v1 carry_over", "funds.transferred_in.v1 carry_over", "funds.lapsed.v1 "} {
		require.Greater(t, moves[k], 20, "%s in %v", k, moves)
	}
}

func daysBetween(a, b domain.Date) int {
	ta := time.Date(a.Year, a.Month, a.Day, 0, 0, 0, 0, time.UTC)
	tb := time.Date(b.Year, b.Month, b.Day, 0, 0, 0, 0, time.UTC)
	return int(tb.Sub(ta).Hours() / 24)
}

// want34 is the country's total of a year under the 34-province scheme.
func want34(t *testing.T, p *projections.Plans, year int, until domain.Date) projections.PlanRow {
	return report(t, p, projections.PlanQuery{FiscalYear: year, Scheme: domain.Scheme34, EffectiveUntil: until, Presentation: inDong}).Total
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

// The monthly series of a report is, month by month, what the reports cut
// at each month's end add: the executed until the month's last day less
// the executed until the month before's, and it adds up to the year's.
func TestPlanExecutionMonthly(t *testing.T) {
	busy := map[int]bool{} // the months with something executed, in any run
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 13))
		l := randomLedger(t, rng, 300)
		p := l.plans(t, projections.Cut{})
		for year := 2024; year <= 2026; year++ {
			q := projections.PlanQuery{FiscalYear: year, By: projections.ByProvince, Monthly: true, Presentation: inDong}
			switch rng.IntN(3) {
			case 0:
				q.Region = domain.RegionNorth
			case 1:
				q.Source = domain.SourceLocal
			}
			rep := report(t, p, q)
			require.Len(t, rep.Monthly, projections.MonthsOfYear)
			var sum, before domain.Amount
			for m := range 12 {
				last := day(year, time.December, 31)
				if m < 11 {
					last = day(year, time.Month(m+2), 1).AddDays(-1)
				}
				cq := q
				cq.Monthly, cq.EffectiveUntil = false, last
				cum := report(t, p, cq).Total.Executed.Exact()
				require.True(t, rep.Monthly[m].Exact().Equal(cum.Sub(before)), "seed %d year %d month %d: %s, want %s", seed, year, m+1, rep.Monthly[m].Exact(), cum.Sub(before))
				before = cum
				sum = sum.Add(rep.Monthly[m].Exact())
				if !rep.Monthly[m].Exact().IsZero() {
					busy[m] = true
				}
			}
			sum = sum.Add(rep.Monthly[12].Exact())
			require.True(t, sum.Equal(rep.Total.Executed.Exact()), "seed %d year %d: the months add up to %s, the year is %s", seed, year, sum, rep.Total.Executed.Exact())
			cq := q
			cq.Monthly = false
			require.Nil(t, report(t, p, cq).Monthly, "only when asked for")
		}
	}
	require.Greater(t, len(busy), 6, "the histories execute in most months: %v", busy)
}
