package projections_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

// benchEvents is a million events, built once: ten fiscal years
// (2015-2024), every one of the 63 provinces, both sources, an allocation
// per line then disbursements of projects in several categories, dated
// across the year.
var benchEvents = sync.OnceValue(func() []domain.Recorded {
	const perLine = 1_000_000 / (10 * 63 * 2)
	var recs []domain.Recorded
	seq := uint64(0)
	now := time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)
	cats := domain.Categories()
	for year := 2015; year <= 2024; year++ {
		for _, p := range domain.Provinces(domain.Scheme63) {
			for _, src := range domain.Sources() {
				st := domain.NewLineState(domain.LineKey{FiscalYear: year, Province: p.Code, Source: src})
				for i := range perLine {
					c := domain.Command{
						Kind: domain.Disburse, FiscalYear: year, Province: p.Code, Source: src,
						Project: fmt.Sprintf("DA-%d", i%20), Amount: domain.AmountFromInt64(1_000_000),
						Voucher: "KB-1", Beneficiary: "HTX", EffectiveDate: domain.Date{Year: year, Month: time.January, Day: 1}.AddDays(i % 365),
						EventID: fmt.Sprintf("e%d", seq+1), Actor: "bench", IdempotencyKey: fmt.Sprintf("k%d", seq+1), Now: now,
					}
					if i < 20 {
						c.Kind, c.Voucher, c.Beneficiary, c.Decision = domain.Allocate, "", "", "1/QĐ-BCT"
						c.Category, c.Amount, c.EffectiveDate = cats[i%len(cats)], domain.AmountFromInt64(10_000_000_000), domain.Date{Year: year, Month: time.January, Day: 2}
					}
					ev, err := domain.Decide(st, c, domain.Policy{})
					if err != nil {
						panic(err)
					}
					seq++
					r := domain.Recorded{Event: ev, Seq: seq, HashChecked: true}
					if err := st.Apply(r); err != nil {
						panic(err)
					}
					recs = append(recs, r)
				}
			}
		}
	}
	return recs
})

// BenchmarkPlanExecution measures one report of the live model over a
// million events, once the model is built: the answer a server gives
// from memory. go test -run XXX -bench PlanExecution ./projections
func BenchmarkPlanExecution(b *testing.B) {
	recs := benchEvents()
	live := projections.NewLivePlans()
	start := time.Now()
	for _, r := range recs {
		if err := live.Apply(r); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built the model of %d events in %s", len(recs), time.Since(start).Round(time.Millisecond))
	for _, q := range []projections.PlanQuery{
		{FiscalYear: 2024, Region: domain.RegionNorth},
		{FiscalYear: 2024, ComparePrevious: true},
		{FiscalYear: 2024, By: projections.ByCategory, Scheme: domain.Scheme34},
		{FiscalYear: 2024, By: projections.ByProject, Province: "01"},
		{FiscalYear: 2024, Region: domain.RegionNorth, EffectiveUntil: domain.Date{Year: 2024, Month: time.September, Day: 30}, ComparePrevious: true},
	} {
		if err := q.Normalize(domain.Policy{}); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s-%s-%s-compare=%v-until=%s", q.By, q.Region, q.Province, q.ComparePrevious, q.EffectiveUntil), func(b *testing.B) {
			for b.Loop() {
				if _, err := live.PlanExecution(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
