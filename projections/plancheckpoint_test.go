package projections_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

// livePlans feeds recs to a new live model.
func livePlans(t *testing.T, recs []domain.Recorded) *projections.Plans {
	t.Helper()
	p := projections.NewLivePlans()
	for _, r := range recs {
		require.NoError(t, p.Apply(r))
	}
	return p
}

// randomQueries are the reports asked of both models: every year, scheme
// and breakdown, cut or not, and at random compared or not, over the
// country, a region or a province, one source or both.
func randomQueries(rng *rand.Rand) []projections.PlanQuery {
	provinces := []string{"01", "02", "08", "15", "38", "79", "80", "10"}
	var qs []projections.PlanQuery
	for year := 2023; year <= 2026; year++ {
		for _, scheme := range []domain.Scheme{"", domain.Scheme63, domain.Scheme34} {
			for _, by := range []projections.Breakdown{projections.ByProvince, projections.BySource, projections.ByCategory, projections.ByProject} {
				for _, until := range []domain.Date{{}, day(year, time.January, 1).AddDays(rng.IntN(396))} {
					q := projections.PlanQuery{FiscalYear: year, Scheme: scheme, By: by, EffectiveUntil: until, ComparePrevious: rng.IntN(2) == 0}
					switch rng.IntN(3) {
					case 1:
						q.Region = domain.Regions()[rng.IntN(len(domain.Regions()))]
					case 2:
						q.Province = provinces[rng.IntN(len(provinces))]
					}
					if rng.IntN(3) == 0 {
						q.Source = domain.Sources()[rng.IntN(2)]
					}
					if q.Normalize(domain.Policy{}) == nil {
						qs = append(qs, q)
					}
				}
			}
		}
	}
	return qs
}

// requireSameReports asks both models every query and wants the same
// JSON (exact amounts as strings) or the same error.
func requireSameReports(t *testing.T, want, got *projections.Plans, qs []projections.PlanQuery, msg string) {
	t.Helper()
	for _, q := range qs {
		w, werr := want.PlanExecution(q)
		g, gerr := got.PlanExecution(q)
		if werr != nil {
			require.EqualError(t, gerr, werr.Error(), "%s: %+v", msg, q)
			continue
		}
		require.NoError(t, gerr, "%s: %+v", msg, q)
		wj, err := json.Marshal(w)
		require.NoError(t, err)
		gj, err := json.Marshal(g)
		require.NoError(t, err)
		require.JSONEq(t, string(wj), string(gj), "%s: %+v", msg, q)
	}
}

// TestPlansCheckpointAnswersAsRebuilt: over random histories (with
// repudiated messages, named projects and counterpart money), a model
// restored from a checkpoint taken at a random point answers every
// report exactly as a model built from the stream up to there, goes on
// from there to answer as a model built from the whole stream, and
// encodes to the same checkpoint.
func TestPlansCheckpointAnswersAsRebuilt(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 34))
		l := randomLedger(t, rng, 300)
		for i := range 5 {
			year := 2023 + rng.IntN(4)
			m := movement{kind: domain.Allocate, year: year, province: "01", source: domain.SourceNational,
				project: fmt.Sprint("DA-", 1+rng.IntN(4)), amount: 1 + rng.Int64N(1_000_000_000), date: day(year, time.March, 1+i)}
			_, err := l.tryWith(m, func(c *domain.Command) {
				c.ProjectName, c.Counterpart = fmt.Sprintf("Đề án %d-%d", seed, i), domain.AmountFromInt64(rng.Int64N(1_000_000))
			})
			if !errors.Is(err, domain.Errorf(domain.CodeLineLapsed, "", "")) { // a random history may have closed the line
				require.NoError(t, err)
			}
		}
		// Put off the cut by a few events, so the checkpoint may fall
		// anywhere, also before the first.
		at := rng.IntN(len(l.recs) + 1)
		msg := fmt.Sprintf("seed %d, checkpoint after %d of %d messages", seed, at, len(l.recs))
		p := livePlans(t, l.recs[:at])
		data, seq := p.Checkpoint()
		require.Equal(t, p.Applied(), seq, msg)

		restored, cp, err := projections.RestorePlans(data)
		require.NoError(t, err, msg)
		require.Equal(t, seq, cp.AppliedSeq, msg)
		require.Equal(t, seq, restored.Applied(), msg)
		qs := randomQueries(rng)
		requireSameReports(t, p, restored, qs, msg)
		again, _ := restored.Checkpoint()
		require.True(t, bytes.Equal(data, again), "%s: the restored model encodes to another checkpoint", msg)

		for _, r := range l.recs[at:] {
			require.NoError(t, restored.Apply(r), msg)
			require.Equal(t, r.Repudiated, restored.PassedOver(r.Seq), msg)
		}
		full := livePlans(t, l.recs)
		requireSameReports(t, full, restored, qs, msg+", then the rest")
		fullData, _ := full.Checkpoint()
		restoredData, _ := restored.Checkpoint()
		require.True(t, bytes.Equal(fullData, restoredData), "%s, then the rest: another checkpoint", msg)
		// Every repudiated message is still passed over.
		for _, r := range l.recs {
			require.Equal(t, r.Repudiated, restored.PassedOver(r.Seq), msg)
		}
	}
}

// TestPlansCheckpointRefusesDamage: a checkpoint that is not one, of
// another version, cut short, with bytes after its end, or whose atoms do
// not add up to their lines' balances is refused, saying why.
func TestPlansCheckpointRefusesDamage(t *testing.T) {
	l := randomLedger(t, rand.New(rand.NewPCG(7, 34)), 300)
	data, _ := livePlans(t, l.recs).Checkpoint()
	edit := func(fn func(b []byte) []byte) []byte { return fn(bytes.Clone(data)) }
	magic := len("kcledger-plans-checkpoint\n")
	balances, _ := projections.NewBalances().Checkpoint()
	for name, tc := range map[string]struct {
		data []byte
		says string
	}{
		"empty":               {nil, "it is not one"},
		"a balances' one":     {balances, "it is not one"},
		"another version":     {edit(func(b []byte) []byte { b[magic] = 3; return b }), "version 3, want 2"},
		"cut short":           {data[:len(data)-1], "does not decode"},
		"cut after the lines": {data[:magic+40], "does not decode"},
		"bytes after the end": {append(bytes.Clone(data), 0), "after its end"},
		// The last byte is the last atom's count of events.
		"an atom's events": {edit(func(b []byte) []byte { b[len(b)-1]++; return b }), "do not add up"},
	} {
		t.Run(name, func(t *testing.T) {
			p, _, err := projections.RestorePlans(tc.data)
			require.Nil(t, p)
			require.ErrorContains(t, err, tc.says)
		})
	}
}
