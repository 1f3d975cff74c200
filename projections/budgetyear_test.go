package projections_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

func line(year int, province string, src domain.Source) domain.LineKey {
	return domain.LineKey{FiscalYear: year, Province: province, Source: src}
}

// tryTransfer records a transfer of amount from line from (and project)
// to line to, if the rules accept it, as the ledger does: both sides
// decided together, appended one after the other.
func (l *ledger) tryTransfer(kind domain.TransferKind, from, to domain.LineKey, project string, amount int64, d domain.Date) (bool, error) {
	c := domain.Command{
		Kind: domain.Transfer, FiscalYear: from.FiscalYear, Province: from.Province, Source: from.Source, Project: project,
		Amount: domain.AmountFromInt64(amount), EffectiveDate: d, TransferKind: kind, To: to, Decision: "9/QĐ-UBND",
		EventID: fmt.Sprintf("ev-%d", l.seq+1), InEventID: fmt.Sprintf("ev-%d-in", l.seq+1), Actor: "tester", IdempotencyKey: fmt.Sprintf("k-%d", l.seq+1),
		Now: time.Date(2027, 6, 1, 3, 0, 0, 0, time.UTC),
	}
	src, dst := l.state(from), l.state(to)
	out, in, err := domain.DecideTransfer(src, dst, c, domain.Policy{})
	if err != nil {
		return false, err
	}
	l.seq += 2
	ro := domain.Recorded{Event: out, Seq: l.seq}
	l.seq++
	ri := domain.Recorded{Event: in, Seq: l.seq}
	if err := src.Apply(ro); err != nil {
		return false, err
	}
	if err := dst.Apply(ri); err != nil {
		return false, err
	}
	l.recs = append(l.recs, ro, ri)
	return true, nil
}

// tryLapse records the lapse of what is still available on a line, or on
// one of its projects.
func (l *ledger) tryLapse(k domain.LineKey, project string, d domain.Date) (bool, error) {
	st := l.state(k)
	amount := st.Balance.Available()
	if project != "" {
		amount = st.Project(project).Available()
	}
	ok, err := l.tryWith(movement{kind: domain.Lapse, year: k.FiscalYear, province: k.Province, source: k.Source, project: project, date: d}, func(c *domain.Command) {
		c.Amount, c.Voucher, c.Decision = amount, "", "10/QĐ-UBND"
	})
	return ok, err
}

func (l *ledger) state(k domain.LineKey) *domain.LineState {
	st := l.lines[k]
	if st == nil {
		st = domain.NewLineState(k)
		l.lines[k] = st
	}
	return st
}

func (l *ledger) transfer(t *testing.T, kind domain.TransferKind, from, to domain.LineKey, project string, amount int64, d domain.Date) {
	t.Helper()
	ok, err := l.tryTransfer(kind, from, to, project, amount, d)
	require.NoError(t, err)
	require.True(t, ok)
}

func (l *ledger) lapse(t *testing.T, k domain.LineKey, project string, d domain.Date) {
	t.Helper()
	ok, err := l.tryLapse(k, project, d)
	require.NoError(t, err)
	require.True(t, ok)
}

// budgetYear is the year: 2 tỷ to 02 Hà Giang in March 2025, part
// paid in May, the rest passed to its successor 08 Tuyên Quang on 1 July
// and partly spent there, the rest of 08's 2025 line carried to 2026 in
// January 2026; 01 Hà Nội's 2024 line carried over in part, the rest
// lapsed, and refunded after the lapse; a refund against 02 in November
// 2026.
func budgetYear(t *testing.T) *ledger {
	nat := domain.SourceNational
	l := newLedger()
	l.add(t,
		movement{kind: domain.Allocate, year: 2024, province: "01", source: nat, amount: 1000, date: day(2024, time.February, 1)},
		movement{kind: domain.Disburse, year: 2024, province: "01", source: nat, amount: 300, date: day(2024, time.June, 1)},
	)
	l.transfer(t, domain.TransferCarryOver, line(2024, "01", nat), line(2025, "01", nat), "", 200, day(2025, time.January, 15))
	l.lapse(t, line(2024, "01", nat), "", day(2025, time.February, 1))
	l.add(t,
		movement{kind: domain.Refund, year: 2024, province: "01", source: nat, amount: 50, date: day(2025, time.March, 1)},
		movement{kind: domain.Allocate, year: 2025, province: "02", source: nat, project: "DA-01", category: domain.CategoryTraining, amount: 2000, date: day(2025, time.March, 1)},
		movement{kind: domain.Disburse, year: 2025, province: "02", source: nat, project: "DA-01", amount: 500, date: day(2025, time.May, 10)},
		movement{kind: domain.Allocate, year: 2025, province: "08", source: nat, amount: 300, date: day(2025, time.March, 2)},
	)
	l.transfer(t, domain.TransferSuccession, line(2025, "02", nat), line(2025, "08", nat), "DA-01", 1500, day(2025, time.July, 1))
	l.add(t,
		movement{kind: domain.Disburse, year: 2025, province: "08", source: nat, project: "DA-01", amount: 1000, date: day(2025, time.August, 15)},
	)
	l.transfer(t, domain.TransferCarryOver, line(2025, "08", nat), line(2026, "08", nat), "DA-01", 400, day(2026, time.January, 20))
	l.add(t,
		movement{kind: domain.Refund, year: 2025, province: "02", source: nat, project: "DA-01", amount: 100, date: day(2026, time.November, 20)},
	)
	return l
}

func balancesOf(t *testing.T, recs []domain.Recorded) *projections.Balances {
	t.Helper()
	b := projections.NewBalances()
	for _, r := range recs {
		require.NoError(t, b.Apply(r))
	}
	return b
}

func lineOf(t *testing.T, r projections.Report, k domain.LineKey) projections.LineBalance {
	t.Helper()
	for _, l := range r.Lines {
		if l.Line == k {
			return l
		}
	}
	require.Failf(t, "no line", "%s", k)
	return projections.LineBalance{}
}

// TestBalancesOfTransfersAndLapses: both sides of a transfer and a lapse
// land in the balances, with their own figures, and a line closed by a
// lapse says so.
func TestBalancesOfTransfersAndLapses(t *testing.T) {
	nat := domain.SourceNational
	b := balancesOf(t, budgetYear(t).recs)
	r := b.Report(projections.Filter{})
	for _, tc := range []struct {
		line                                  domain.LineKey
		allocated, in, out, lapsed, available int64
		closed                                bool
	}{
		{line(2024, "01", nat), 1000, 0, 200, 500, 50, true},
		{line(2025, "01", nat), 0, 200, 0, 0, 200, false},
		{line(2025, "02", nat), 2000, 0, 1500, 0, 100, false},
		{line(2025, "08", nat), 300, 1500, 400, 0, 400, false},
		{line(2026, "08", nat), 0, 400, 0, 0, 400, false},
	} {
		l := lineOf(t, r, tc.line)
		bal := l.Totals.Balance
		requireAmount(t, tc.allocated, bal.Allocated, tc.line.String()+" allocated")
		requireAmount(t, tc.in, bal.TransferredIn, tc.line.String()+" transferred in")
		requireAmount(t, tc.out, bal.TransferredOut, tc.line.String()+" transferred out")
		requireAmount(t, tc.lapsed, bal.Lapsed, tc.line.String()+" lapsed")
		requireAmount(t, tc.available, bal.Available(), tc.line.String()+" available")
		assert.Equal(t, tc.closed, l.Closed, tc.line.String())
	}
	tq := lineOf(t, r, line(2025, "08", nat))
	require.Len(t, tq.Projects, 1)
	requireAmount(t, 1500, tq.Projects[0].Balance.TransferredIn, "the project keeps its code on the destination")
	// A transfer within the ledger creates no money: the country's plan
	// over the years is what was allocated, less what lapsed.
	requireAmount(t, 3300, r.Total.Balance.Plan(), "plan over every year")
	requireAmount(t, 2100, r.Total.Balance.TransferredIn, "both kinds")
	requireAmount(t, 2100, r.Total.Balance.TransferredOut, "both kinds")

	data, err := json.Marshal(lineOf(t, r, line(2024, "01", nat)))
	require.NoError(t, err)
	assert.Contains(t, string(data), `"closed":true`)
	assert.Contains(t, string(data), `"lapsed":"500"`)
	data, err = json.Marshal(lineOf(t, r, line(2025, "01", nat)))
	require.NoError(t, err)
	assert.NotContains(t, string(data), `"closed"`, "an open line says nothing")
}

// TestCheckpointKeepsClosedLines: a line closed by a lapse is still closed
// after a restart from the checkpoint: it takes a refund, and refuses
// anything else as corrupt, as the model it was taken from does.
func TestCheckpointKeepsClosedLines(t *testing.T) {
	nat := domain.SourceNational
	l := newLedger()
	l.add(t, movement{kind: domain.Allocate, year: 2024, province: "01", source: nat, amount: 1000, date: day(2024, time.February, 1)},
		movement{kind: domain.Disburse, year: 2024, province: "01", source: nat, amount: 300, date: day(2024, time.June, 1)})
	// What the line would have taken had it stayed open, decided before
	// the lapse: after it, only a corrupt log holds it.
	open := l.lines[line(2024, "01", nat)].Clone()
	l.lapse(t, line(2024, "01", nat), "", day(2025, time.February, 1))
	b := balancesOf(t, l.recs)
	data, seq := b.Checkpoint()
	restored, cp, err := projections.RestoreBalances(data)
	require.NoError(t, err)
	assert.Equal(t, 2, cp.Version)
	assert.Equal(t, l.seq, seq)
	assert.True(t, lineOf(t, restored.Report(projections.Filter{}), line(2024, "01", nat)).Closed)
	assert.Equal(t, b.Report(projections.Filter{}), restored.Report(projections.Filter{}))

	c := domain.Command{Kind: domain.Allocate, FiscalYear: 2024, Province: "01", Source: nat, Amount: domain.AmountFromInt64(10),
		EffectiveDate: day(2024, time.December, 10), Decision: "2/QĐ-BCT", EventID: "ev-late", Actor: "tester", IdempotencyKey: "k-late",
		Now: time.Date(2027, 6, 1, 3, 0, 0, 0, time.UTC)}
	ev, err := domain.Decide(open, c, domain.Policy{})
	require.NoError(t, err)
	ev.PrevHash = l.recs[len(l.recs)-1].Event.Hash // linked after the lapse
	ev.Hash = ev.ComputeHash()
	late := domain.Recorded{Event: ev, Seq: l.seq + 1}
	require.ErrorIs(t, b.Apply(late), domain.ErrCorrupt, "the live model refuses an allocation on a lapsed line")
	require.ErrorIs(t, restored.Apply(late), domain.ErrCorrupt, "and so does the model restored from its checkpoint")

	ok, err := l.try(movement{kind: domain.Refund, year: 2024, province: "01", source: nat, amount: 20, date: day(2025, time.March, 1)})
	require.NoError(t, err)
	require.True(t, ok)
	refund := l.recs[len(l.recs)-1]
	require.NoError(t, b.Apply(refund))
	require.NoError(t, restored.Apply(refund))
	assert.Equal(t, b.Report(projections.Filter{}), restored.Report(projections.Filter{}))
}

// TestCheckpointRefusesImpossibleClosedLines: a closed line holds no more
// than its refunds since the lapse, and a checkpoint of the version
// before closed lines were kept is not read.
func TestCheckpointRefusesImpossibleClosedLines(t *testing.T) {
	b := balancesOf(t, budgetYear(t).recs)
	data, _ := b.Checkpoint()
	edit := func(fn func(c *projections.Checkpoint)) []byte {
		var c projections.Checkpoint
		require.NoError(t, json.Unmarshal(data, &c))
		fn(&c)
		out, err := json.Marshal(&c)
		require.NoError(t, err)
		return out
	}
	_, _, err := projections.RestoreBalances(data)
	require.NoError(t, err)
	for name, bad := range map[string][]byte{
		"version 1, which did not keep closed lines": edit(func(c *projections.Checkpoint) { c.Version = 1 }),
		"closed with more available than refunded": edit(func(c *projections.Checkpoint) {
			for i := range c.Lines {
				if c.Lines[i].Key.Province == "08" && c.Lines[i].Key.FiscalYear == 2025 {
					c.Lines[i].Closed = true // 400 available, nothing refunded
				}
			}
		}),
		"negative transferred in": edit(func(c *projections.Checkpoint) {
			c.Lines[1].Balance.TransferredIn = domain.AmountFromInt64(-1)
		}),
	} {
		_, _, err := projections.RestoreBalances(bad)
		assert.Error(t, err, name)
	}
}
