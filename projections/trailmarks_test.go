package projections_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

// trailOf is the whole trail of line k (of one project when given) after
// seq after, read from the start of recs, or from the line's mark before
// after+1 when marks are given (as the API reads it).
func trailOf(recs []domain.Recorded, k domain.LineKey, project string, after uint64, marks *projections.TrailMarks) []projections.TrailEntry {
	f := projections.Filter{FiscalYear: k.FiscalYear, Province: k.Province, Source: k.Source}
	tr := projections.NewTrail(f, project, projections.Cut{}, after, len(recs)+1).WithMarks(marks)
	from := uint64(1)
	if seq, st := marks.Before(k, after+1); st != nil {
		tr.Resume(st)
		from = seq + 1
	}
	for _, r := range recs {
		if r.Seq < from {
			continue
		}
		if !tr.Add(r, time.Time{}) {
			break
		}
	}
	return tr.Entries
}

// A trail resumed from a mark is, entry for entry, the trail read from
// the stream's start: the same movements with the same running totals of
// their line and project.
func TestTrailFromMarks(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 14))
		l := randomLedger(t, rng, 400)
		marks := projections.NewTrailMarks(1+rng.IntN(4), 10_000)
		lines := map[domain.LineKey]bool{}
		for _, r := range l.recs {
			if !r.Repudiated {
				lines[r.Event.Line()] = true
			}
		}
		// The first reads, from the start, note the marks.
		for k := range lines {
			trailOf(l.recs, k, "", 0, marks)
		}
		require.Positive(t, marks.Len(), "seed %d", seed)
		for k := range lines {
			want := trailOf(l.recs, k, "", 0, nil)
			for range 5 {
				i := rng.IntN(len(want))
				after := want[i].Seq - 1
				for _, project := range []string{"", "DA-1"} {
					got := trailOf(l.recs, k, project, after, marks)
					var exp []projections.TrailEntry
					for _, e := range want[i:] {
						if project == "" || e.Event.Project == project {
							exp = append(exp, e)
						}
					}
					require.Equal(t, len(exp), len(got), "seed %d line %s after %d project %q", seed, k, after, project)
					for j := range exp {
						require.Equal(t, exp[j].Seq, got[j].Seq)
						require.Equal(t, exp[j].Line, got[j].Line, "seed %d line %s: the totals after seq %d", seed, k, exp[j].Seq)
						require.Equal(t, exp[j].Project, got[j].Project, "seed %d line %s: the project's totals after seq %d", seed, k, exp[j].Seq)
					}
				}
			}
		}
	}
}

func TestTrailMarksBounds(t *testing.T) {
	k := domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}
	m := projections.NewTrailMarks(2, 3)
	seq, st := m.Before(k, 100)
	require.Zero(t, seq)
	require.Nil(t, st)
	l := newLedger()
	for i := range 20 {
		l.add(t, movement{kind: domain.Allocate, year: 2025, province: "01", source: domain.SourceNational, amount: int64(i + 1)})
	}
	trailOf(l.recs, k, "", 0, m)
	require.Equal(t, 3, m.Len(), "at most max marks")
	// The test ledger's movements are at every other sequence: the 2nd,
	// 4th and 6th at 4, 8 and 12.
	seq, st = m.Before(k, 9)
	require.Equal(t, uint64(8), seq, "the latest mark below 9: after the 4th movement")
	require.Equal(t, 4, st.Events)
	apitestAmount(t, "10", st.Balance.Allocated) // 1+2+3+4
	st.Balance = domain.Balance{}                // a copy: the mark is unchanged
	_, again := m.Before(k, 9)
	apitestAmount(t, "10", again.Balance.Allocated)
	seq, _ = m.Before(k, 8)
	require.Equal(t, uint64(4), seq, "strictly below")
	seq, _ = m.Before(k, 1000)
	require.Equal(t, uint64(12), seq, "no mark past the third")
	var none *projections.TrailMarks
	seq, st = none.Before(k, 5)
	require.Zero(t, seq)
	require.Nil(t, st)
}

func apitestAmount(t *testing.T, want string, got domain.Amount) {
	t.Helper()
	w, err := domain.ParseAmount(want)
	require.NoError(t, err)
	require.True(t, w.Equal(got), "want %s, got %s", w, got)
}
