package projections_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

var inDong = projections.Presentation{Unit: projections.UnitDong, AmountRounding: projections.RoundHalfUp, PercentDecimals: 1,
	PercentRounding: projections.RoundHalfUp, ShareOf: projections.OfOwnPlan}

// figures is a report row's money in whole đồng, for table tests.
type figures struct {
	allocated, in, out, carriedIn, carriedOut, plan, executed, lapsed, available string
}

func figuresOf(r projections.PlanRow) figures {
	return figures{r.Allocated.Dong, r.TransferredIn.Dong, r.TransferredOut.Dong, r.CarriedIn.Dong, r.CarriedOut.Dong,
		r.Plan.Dong, r.Executed.Dong, r.Lapsed.Dong, r.Available.Dong}
}

func rowsOf(rep projections.PlanReport) map[string]figures {
	out := map[string]figures{}
	for _, r := range rep.Rows {
		out[r.Key] = figuresOf(r)
	}
	out["total"] = figuresOf(rep.Total)
	return out
}

// TestReportsOfTheBudgetYear: the plan follows allocations, transfers
// and carry-overs, the available follows lapses; under the 34-province
// scheme a succession between a province and its successor is a move
// within its row (and within the country), but between two projects' rows
// it is what left one and came into the other.
func TestReportsOfTheBudgetYear(t *testing.T) {
	p := budgetYear(t).plans(t, projections.Cut{})
	for _, tc := range []struct {
		name string
		q    projections.PlanQuery
		want map[string]figures
	}{
		{"2024, carried over and lapsed", projections.PlanQuery{FiscalYear: 2024}, map[string]figures{
			"01":    {"1000", "0", "0", "0", "200", "800", "250", "500", "50"},
			"total": {"1000", "0", "0", "0", "200", "800", "250", "500", "50"},
		}},
		{"2024 under 34", projections.PlanQuery{FiscalYear: 2024, Scheme: domain.Scheme34}, map[string]figures{
			"01":    {"1000", "0", "0", "0", "200", "800", "250", "500", "50"},
			"total": {"1000", "0", "0", "0", "200", "800", "250", "500", "50"},
		}},
		{"2025 by province: 02 and 08 are one", projections.PlanQuery{FiscalYear: 2025}, map[string]figures{
			"01":    {"0", "0", "0", "200", "0", "200", "0", "0", "200"},
			"08":    {"2300", "0", "0", "0", "400", "1900", "1400", "0", "500"},
			"total": {"2300", "0", "0", "200", "400", "2100", "1400", "0", "700"},
		}},
		{"2025 by project: the project's two lines", projections.PlanQuery{FiscalYear: 2025, By: projections.ByProject}, map[string]figures{
			"01/national/":      {"0", "0", "0", "200", "0", "200", "0", "0", "200"},
			"02/national/DA-01": {"2000", "0", "1500", "0", "0", "500", "400", "0", "100"},
			"08/national/":      {"300", "0", "0", "0", "0", "300", "0", "0", "300"},
			"08/national/DA-01": {"0", "1500", "0", "0", "400", "1100", "1000", "0", "100"},
			"total":             {"2300", "0", "0", "200", "400", "2100", "1400", "0", "700"},
		}},
		{"2025 by category: the project keeps its category", projections.PlanQuery{FiscalYear: 2025, By: projections.ByCategory}, map[string]figures{
			string(domain.CategoryTraining): {"2000", "0", "0", "0", "400", "1600", "1400", "0", "200"},
			"":                              {"300", "0", "0", "200", "0", "500", "0", "0", "500"},
			"total":                         {"2300", "0", "0", "200", "400", "2100", "1400", "0", "700"},
		}},
		{"2025 in 02's successor only", projections.PlanQuery{FiscalYear: 2025, Province: "08"}, map[string]figures{
			"08":    {"2300", "0", "0", "0", "400", "1900", "1400", "0", "500"},
			"total": {"2300", "0", "0", "0", "400", "1900", "1400", "0", "500"},
		}},
		{"2025 seen by an officer of 08's line only", projections.PlanQuery{FiscalYear: 2025, Allow: func(k domain.LineKey) bool { return k.Province == "08" }}, map[string]figures{
			"08":    {"300", "1500", "0", "0", "400", "1400", "1000", "0", "400"},
			"total": {"300", "1500", "0", "0", "400", "1400", "1000", "0", "400"},
		}},
		{"2025 until June, under 63", projections.PlanQuery{FiscalYear: 2025, Scheme: domain.Scheme63, EffectiveUntil: day(2025, time.June, 30)}, map[string]figures{
			"01":    {"0", "0", "0", "200", "0", "200", "0", "0", "200"},
			"02":    {"2000", "0", "0", "0", "0", "2000", "500", "0", "1500"},
			"08":    {"300", "0", "0", "0", "0", "300", "0", "0", "300"},
			"total": {"2300", "0", "0", "200", "0", "2500", "500", "0", "2000"},
		}},
		{"2025 until June, under 34", projections.PlanQuery{FiscalYear: 2025, Scheme: domain.Scheme34, EffectiveUntil: day(2025, time.June, 30)}, map[string]figures{
			"01":    {"0", "0", "0", "200", "0", "200", "0", "0", "200"},
			"08":    {"2300", "0", "0", "0", "0", "2300", "500", "0", "1800"},
			"total": {"2300", "0", "0", "200", "0", "2500", "500", "0", "2000"},
		}},
		{"2025 until the succession's day", projections.PlanQuery{FiscalYear: 2025, By: projections.ByProject, EffectiveUntil: day(2025, time.July, 1)}, map[string]figures{
			"01/national/":      {"0", "0", "0", "200", "0", "200", "0", "0", "200"},
			"02/national/DA-01": {"2000", "0", "1500", "0", "0", "500", "500", "0", "0"},
			"08/national/":      {"300", "0", "0", "0", "0", "300", "0", "0", "300"},
			"08/national/DA-01": {"0", "1500", "0", "0", "0", "1500", "0", "0", "1500"},
			"total":             {"2300", "0", "0", "200", "0", "2500", "500", "0", "2000"},
		}},
		{"2026, carried in", projections.PlanQuery{FiscalYear: 2026}, map[string]figures{
			"08":    {"0", "0", "0", "400", "0", "400", "0", "0", "400"},
			"total": {"0", "0", "0", "400", "0", "400", "0", "0", "400"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Presentation = inDong
			rep := report(t, p, tc.q)
			assert.Equal(t, tc.want, rowsOf(rep))
			assert.True(t, rep.Moves())
		})
	}
}

// TestBudgetYearTable: the table shows the movements' columns, and the
// rules say how a plan is made of them, only when there are some.
func TestBudgetYearTable(t *testing.T) {
	p := budgetYear(t).plans(t, projections.Cut{})
	rep := report(t, p, projections.PlanQuery{FiscalYear: 2025, ComparePrevious: true, Presentation: inDong})
	table := rep.Table(projections.LangVI)
	assert.Equal(t, []string{"Mã", "Tỉnh, thành phố", "Kế hoạch", "Thực hiện", "Còn lại", "Tỷ lệ so với kế hoạch", "Tỷ trọng", "Số đề án", "Vốn đối ứng",
		"Dự toán giao", "Nhận chuyển giao", "Chuyển giao", "Năm trước chuyển sang", "Chuyển sang năm sau", "Hủy dự toán",
		"Kế hoạch 2024", "Thực hiện 2024", "Tăng kế hoạch", "Tăng thực hiện"}, table[0])
	assert.Equal(t, []string{"08", "Tuyên Quang", "1.900", "1.400", "500", "73,7%", "100,0%", "1", "0",
		"2.300", "0", "0", "0", "400", "0", "0", "0", "—", "—"}, table[2], "DA-01, carried on from 02 to 08, is one project")
	total := table[len(table)-1]
	assert.Equal(t, []string{"", "Tổng cộng", "2.100", "1.400", "700"}, total[:5])
	assert.Equal(t, []string{"2.300", "0", "0", "200", "400", "0", "800", "250"}, total[9:17], "2024's plan is what it kept")
	assert.Contains(t, rep.Rules(projections.LangVI), "kinh phí chuyển nguồn tính vào kế hoạch năm nhận")
	assert.Contains(t, rep.Rules(projections.LangEN), "a carry-over counts in the plan of the year it goes to")
	assert.Contains(t, rep.Rules(projections.LangEN), "a succession between a former province and its successor within one row is a move inside it")
	en := rep.Table(projections.LangEN)[0]
	assert.Equal(t, []string{"Allocated", "Transferred in", "Transferred out", "Carried in", "Carried over", "Lapsed"}, en[9:15])

	byProject := report(t, p, projections.PlanQuery{FiscalYear: 2025, By: projections.ByProject})
	projects := map[string]int{"total": byProject.Total.Projects}
	for _, r := range byProject.Rows {
		projects[r.Key] = r.Projects
	}
	assert.Equal(t, map[string]int{"01/national/": 0, "02/national/DA-01": 1, "08/national/": 0, "08/national/DA-01": 1, "total": 1}, projects)

	plain := report(t, northern2022(t).plans(t, projections.Cut{}), projections.PlanQuery{FiscalYear: 2022})
	assert.False(t, plain.Moves())
	assert.Len(t, plain.Table(projections.LangVI)[0], 9, "a year without movements between lines keeps its columns")
	assert.NotContains(t, plain.Rules(projections.LangVI), "chuyển nguồn")
}

// TestLineLapseReportsByProject: a lapse of the whole line lapses what
// each project still had (domain.LineState.Apply), so a report by project
// shows nothing available on a closed line's projects, and its rows still
// add up to the line; the figures agree with the balances' projects.
func TestLineLapseReportsByProject(t *testing.T) {
	nat := domain.SourceNational
	k := line(2024, "01", nat)
	l := newLedger()
	l.add(t,
		movement{kind: domain.Allocate, year: 2024, province: "01", source: nat, project: "DA-1", category: domain.CategoryTraining, amount: 400, date: day(2024, time.February, 1)},
		movement{kind: domain.Allocate, year: 2024, province: "01", source: nat, amount: 600, date: day(2024, time.February, 1)},
		movement{kind: domain.Disburse, year: 2024, province: "01", source: nat, project: "DA-1", amount: 100, date: day(2024, time.May, 1)},
	)
	l.lapse(t, k, "", day(2025, time.February, 1))
	want := map[string]figures{
		"01/national/DA-1": {"400", "0", "0", "0", "0", "400", "100", "300", "0"},
		"01/national/":     {"600", "0", "0", "0", "0", "600", "0", "600", "0"},
		"total":            {"1000", "0", "0", "0", "0", "1000", "100", "900", "0"},
	}
	p := l.plans(t, projections.Cut{})
	rep := report(t, p, projections.PlanQuery{FiscalYear: 2024, By: projections.ByProject, Presentation: inDong})
	assert.Equal(t, want, rowsOf(rep))
	pb := l.state(k).Project("DA-1")
	assert.Equal(t, want["01/national/DA-1"].lapsed, pb.Lapsed.String(), "the report's project agrees with the line's state")
	// Cut at the end of the settlement period, before the lapse.
	until := report(t, p, projections.PlanQuery{FiscalYear: 2024, By: projections.ByProject, EffectiveUntil: day(2025, time.January, 31), Presentation: inDong})
	assert.Equal(t, map[string]figures{
		"01/national/DA-1": {"400", "0", "0", "0", "0", "400", "100", "0", "300"},
		"01/national/":     {"600", "0", "0", "0", "0", "600", "0", "0", "600"},
		"total":            {"1000", "0", "0", "0", "0", "1000", "100", "0", "900"},
	}, rowsOf(until))
}

// TestPastByDateLapsesProjects: a view by effective date sums the events
// without the rules' checks, but a lapse of the whole line still lapses
// what its projects had, as the rules do (domain.LineState.Sum).
func TestPastByDateLapsesProjects(t *testing.T) {
	nat := domain.SourceNational
	k := line(2024, "01", nat)
	l := newLedger()
	l.add(t,
		movement{kind: domain.Allocate, year: 2024, province: "01", source: nat, project: "DA-1", amount: 400, date: day(2024, time.February, 1)},
		movement{kind: domain.Allocate, year: 2024, province: "01", source: nat, amount: 600, date: day(2024, time.February, 1)},
	)
	l.lapse(t, k, "", day(2025, time.February, 1))
	for _, until := range []domain.Date{{}, day(2025, time.March, 1)} {
		past := projections.NewPast(projections.Cut{EffectiveUntil: until})
		trail := projections.NewTrail(projections.Filter{FiscalYear: 2024}, "", projections.Cut{EffectiveUntil: until}, 0, 100)
		for _, r := range l.recs {
			more, err := past.Add(r, time.Time{})
			require.NoError(t, err)
			require.True(t, more)
			trail.Add(r, time.Time{})
		}
		lb := lineOf(t, past.Report(projections.Filter{FiscalYear: 2024}), k)
		require.Len(t, lb.Projects, 1)
		assert.Equal(t, "0", lb.Projects[0].Balance.Available().String(), "until %s", until)
		assert.Equal(t, "400", lb.Projects[0].Balance.Lapsed.String(), "until %s", until)
		last := trail.Entries[len(trail.Entries)-1]
		assert.Equal(t, domain.TypeLapsed, last.Event.Type)
		assert.Equal(t, "0", last.Line.Available().String())
	}
}

// TestCutNeverEndsInsideATransfer: a transfer's two sides are one write,
// so a cut at its transferred-out side's sequence (or at a moment between
// the two sides' stored times) keeps the transferred-in side too.
func TestCutNeverEndsInsideATransfer(t *testing.T) {
	nat := domain.SourceNational
	l := newLedger()
	l.add(t, movement{kind: domain.Allocate, year: 2025, province: "02", source: nat, amount: 1000, date: day(2025, time.March, 1)})
	l.transfer(t, domain.TransferSuccession, line(2025, "02", nat), line(2025, "08", nat), "", 1000, day(2025, time.July, 1))
	l.add(t, movement{kind: domain.Allocate, year: 2025, province: "08", source: nat, amount: 5, date: day(2025, time.July, 2)})
	out := l.recs[len(l.recs)-3]
	require.Equal(t, domain.TypeTransferredOut, out.Event.Type)
	base := time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)
	stored := func(r domain.Recorded) time.Time { return base.Add(time.Duration(r.Seq) * time.Millisecond) }
	for _, cut := range []projections.Cut{
		{UntilSeq: out.Seq},
		{AsOf: stored(out).Add(time.Microsecond)},
	} {
		past := projections.NewPast(cut)
		plans := projections.NewPlans(cut)
		trail := projections.NewTrail(projections.Filter{FiscalYear: 2025}, "", cut, 0, 100)
		for _, r := range l.recs {
			more, err := past.Add(r, stored(r))
			require.NoError(t, err)
			pmore, err := plans.Add(r, stored(r))
			require.NoError(t, err)
			tmore := trail.Add(r, stored(r))
			if !more || !pmore || !tmore {
				assert.Greater(t, r.Seq, out.Seq+1, "the cut ends after the in side, at the next write (%+v)", cut)
				break
			}
		}
		rep := past.Report(projections.Filter{FiscalYear: 2025})
		assert.Equal(t, "1000", rep.Total.Balance.Available().String(), "the money is on one line or the other, never on neither (%+v)", cut)
		assert.Equal(t, "1000", lineOf(t, rep, line(2025, "08", nat)).Totals.Balance.Available().String())
		assert.Len(t, trail.Entries, 3)
		pr := report(t, plans, projections.PlanQuery{FiscalYear: 2025, Scheme: domain.Scheme34, Presentation: inDong})
		assert.Equal(t, "1000", pr.Total.Available.Dong)
	}
}

// TestBudgetYearTableFromJSON: a report read back from the API's JSON
// (as the console and kcledger report through a server get it) still
// knows its movements: its table keeps their columns and its rules say
// how a plan is made of them.
func TestBudgetYearTableFromJSON(t *testing.T) {
	p := budgetYear(t).plans(t, projections.Cut{})
	rep := report(t, p, projections.PlanQuery{FiscalYear: 2025, ComparePrevious: true, Presentation: inDong})
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var back projections.PlanReport
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, back.Moves())
	assert.Equal(t, rep.Table(projections.LangVI), back.Table(projections.LangVI))
	assert.Equal(t, rep.Rules(projections.LangEN), back.Rules(projections.LangEN))
	assert.True(t, back.Total.Plan.Exact().Equal(rep.Total.Plan.Exact()))

	var bad projections.Money
	assert.Error(t, json.Unmarshal([]byte(`{"dong":"1.5","text":"1,5"}`), &bad), "a figure that is not whole đồng")
}
