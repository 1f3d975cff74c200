package projections_test

import (
	"testing"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

// BenchmarkPlansCheckpoint saves and restores the live model of a
// million events (benchEvents: ten years, every province, both sources):
// what serve does now and then, and at start instead of a replay.
// go test -run XXX -bench PlansCheckpoint -benchtime 5x ./projections
func BenchmarkPlansCheckpoint(b *testing.B) {
	recs := benchEvents()
	live := projections.NewLivePlans()
	for _, r := range recs {
		if err := live.Apply(r); err != nil {
			b.Fatal(err)
		}
	}
	data, _ := live.Checkpoint()
	b.Logf("a checkpoint of %d events: %d bytes (%.1f per event)", len(recs), len(data), float64(len(data))/float64(len(recs)))
	b.Run("save", func(b *testing.B) {
		for b.Loop() {
			data, _ = live.Checkpoint()
		}
		b.ReportMetric(float64(len(data)), "checkpoint-bytes")
	})
	b.Run("restore", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := projections.RestorePlans(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "checkpoint-bytes")
	})
	// The first report with an effective-date cut sums each series' days:
	// after a restore as after a replay.
	restored, _, err := projections.RestorePlans(data)
	if err != nil {
		b.Fatal(err)
	}
	q := projections.PlanQuery{FiscalYear: 2024, EffectiveUntil: day(2024, time.September, 30)}
	if err := q.Normalize(domain.Policy{}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := restored.PlanExecution(q); err != nil {
		b.Fatal(err)
	}
	b.Logf("the first cut report after a restore: %s", time.Since(start).Round(time.Millisecond))
}
