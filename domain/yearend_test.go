package domain_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

func key(fy int, province string, s domain.Source) domain.LineKey {
	return domain.LineKey{FiscalYear: fy, Province: province, Source: s}
}

// lineWith is a line's state with the given allocation and net
// disbursement, and projects with theirs ({allocated, disbursed} each).
func lineWith(k domain.LineKey, allocated, disbursed int64, projects map[string][2]int64) *domain.LineState {
	s := domain.NewLineState(k)
	s.Events = 1
	s.Balance = domain.Balance{Allocated: domain.AmountFromInt64(allocated), Disbursed: domain.AmountFromInt64(disbursed)}
	for code, p := range projects {
		s.Projects[code] = domain.Balance{Allocated: domain.AmountFromInt64(p[0]), Disbursed: domain.AmountFromInt64(p[1])}
	}
	return s
}

func date(t *testing.T, s string) domain.Date {
	t.Helper()
	d, err := domain.ParseDate(s)
	require.NoError(t, err)
	return d
}

// planned is what a test expects of one planned command.
type planned struct {
	kind    domain.CommandKind
	line    string // LineKey.String()
	project string
	amount  int64
	to      string // "" for a lapse
}

func TestPlanYearEnd(t *testing.T) {
	nat, loc := domain.SourceNational, domain.SourceLocal
	succession := domain.YearEnd{Op: domain.OpSuccession, FiscalYear: 2025, EffectiveDate: date(t, "2025-07-01"), Decision: "1234/QĐ-UBND"}
	carry := domain.YearEnd{Op: domain.OpCarryOver, FiscalYear: 2025, EffectiveDate: date(t, "2026-01-15"), Decision: "55/QĐ-UBND"}
	closing := domain.YearEnd{Op: domain.OpCloseYear, FiscalYear: 2025, EffectiveDate: date(t, "2026-02-01"), Decision: "77/QĐ-BTC"}
	with := func(y domain.YearEnd, f func(*domain.YearEnd)) domain.YearEnd { f(&y); return y }
	closed := lineWith(key(2025, "01", loc), 10, 10, nil)
	closed.Closed = true
	tests := []struct {
		name  string
		op    domain.YearEnd
		lines []*domain.LineState
		want  []planned
		err   domain.Code
		field string
	}{
		{
			name: "succession moves what is available on merged provinces' lines, to their successors",
			op:   succession,
			lines: []*domain.LineState{
				lineWith(key(2025, "02", nat), 2_000, 500, nil),
				lineWith(key(2025, "01", nat), 900, 0, nil), // Hà Nội was not merged
				lineWith(key(2025, "15", nat), 900, 0, nil), // Yên Bái's code is its successor's: nothing to move
				lineWith(key(2025, "10", loc), 300, 0, nil), // Lào Cai (63) → 15
				lineWith(key(2025, "06", nat), 100, 100, nil),
			},
			want: []planned{
				{domain.Transfer, "2025/02/national", "", 1_500, "2025/08/national"},
				{domain.Transfer, "2025/10/local", "", 300, "2025/15/local"},
			},
		},
		{
			name: "a line with projects: one transfer per project with money, then the rest without",
			op:   succession,
			lines: []*domain.LineState{
				// 1 000 allocated: DA-1 400 (100 paid), DA-2 300 (all
				// paid), DA-3 200, and 100 without a project.
				lineWith(key(2025, "02", nat), 1_000, 400, map[string][2]int64{"DA-1": {400, 100}, "DA-2": {300, 300}, "DA-3": {200, 0}}),
			},
			want: []planned{
				{domain.Transfer, "2025/02/national", "DA-1", 300, "2025/08/national"},
				{domain.Transfer, "2025/02/national", "DA-3", 200, "2025/08/national"},
				{domain.Transfer, "2025/02/national", "", 100, "2025/08/national"},
			},
		},
		{
			name: "projects take no more than remains of the line",
			op:   succession,
			lines: []*domain.LineState{
				// DA-1 has 500 left but 300 paid without a project leave
				// the line 200.
				lineWith(key(2025, "02", nat), 500, 300, map[string][2]int64{"DA-1": {500, 0}, "DA-2": {0, 0}}),
			},
			want: []planned{{domain.Transfer, "2025/02/national", "DA-1", 200, "2025/08/national"}},
		},
		{
			name:  "succession of one old province",
			op:    with(succession, func(y *domain.YearEnd) { y.Province = "10" }),
			lines: []*domain.LineState{lineWith(key(2025, "02", nat), 10, 0, nil), lineWith(key(2025, "10", nat), 20, 0, nil)},
			want:  []planned{{domain.Transfer, "2025/10/national", "", 20, "2025/15/national"}},
		},
		{
			name: "carry-over of every line: the same province, or the successor of a code no longer in force",
			op:   carry,
			lines: []*domain.LineState{
				lineWith(key(2025, "01", nat), 100, 40, map[string][2]int64{"DA-1": {100, 40}}),
				lineWith(key(2025, "02", loc), 30, 0, nil),
				lineWith(key(2025, "08", nat), 0, 0, nil),
				lineWith(key(2024, "01", nat), 50, 0, nil), // another year
				closed,
			},
			want: []planned{
				{domain.Transfer, "2025/01/national", "DA-1", 60, "2026/01/national"},
				{domain.Transfer, "2025/02/local", "", 30, "2026/08/local"},
			},
		},
		{
			name:  "carry-over of one line",
			op:    with(carry, func(y *domain.YearEnd) { y.Province, y.Source = "01", loc }),
			lines: []*domain.LineState{lineWith(key(2025, "01", nat), 100, 0, nil), lineWith(key(2025, "01", loc), 7, 0, nil)},
			want:  []planned{{domain.Transfer, "2025/01/local", "", 7, "2026/01/local"}},
		},
		{
			name: "close-year lapses projects, then the rest, and closes a line with nothing left",
			op:   closing,
			lines: []*domain.LineState{
				lineWith(key(2025, "01", nat), 100, 30, map[string][2]int64{"DA-1": {60, 30}}),
				lineWith(key(2025, "02", nat), 50, 50, nil),
				domain.NewLineState(key(2025, "04", nat)), // no events: no line to close
				closed,
			},
			want: []planned{
				{domain.Lapse, "2025/01/national", "DA-1", 30, ""},
				{domain.Lapse, "2025/01/national", "", 40, ""},
				{domain.Lapse, "2025/02/national", "", 0, ""},
			},
		},
		{name: "close-year before the settlement period ends", op: with(closing, func(y *domain.YearEnd) { y.EffectiveDate = date(t, "2026-01-31") }),
			err: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "close-year under a later settlement end", op: with(closing, func(y *domain.YearEnd) { y.FiscalYear, y.EffectiveDate = 2026, date(t, "2027-02-01") }),
			err: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "succession before 1 July 2025", op: with(succession, func(y *domain.YearEnd) { y.EffectiveDate = date(t, "2025-06-30") }),
			err: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "succession of another year", op: with(succession, func(y *domain.YearEnd) { y.FiscalYear = 2027 }),
			err: domain.CodeInvalidTransfer, field: "fiscal_year"},
		{name: "succession of a province not merged", op: with(succession, func(y *domain.YearEnd) { y.Province = "01" }),
			err: domain.CodeInvalidTransfer, field: "province"},
		{name: "succession of a code whose successor has it", op: with(succession, func(y *domain.YearEnd) { y.Province = "15" }),
			err: domain.CodeInvalidTransfer, field: "province"},
		{name: "unknown province", op: with(carry, func(y *domain.YearEnd) { y.Province = "99" }),
			err: domain.CodeUnknownProvince, field: "province"},
		{name: "a province code not in force during the year", op: with(carry, func(y *domain.YearEnd) { y.FiscalYear, y.EffectiveDate, y.Province = 2027, date(t, "2028-01-10"), "02" }),
			err: domain.CodeProvinceNotInForce, field: "province"},
		{name: "unknown source", op: with(carry, func(y *domain.YearEnd) { y.Source = "federal" }),
			err: domain.CodeUnknownSource, field: "source"},
		{name: "carry-over outside the settlement period", op: with(carry, func(y *domain.YearEnd) { y.EffectiveDate = date(t, "2025-12-31") }),
			err: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "no decision", op: with(closing, func(y *domain.YearEnd) { y.Decision = " " }),
			err: domain.CodeMissingField, field: "decision"},
		{name: "no date", op: with(closing, func(y *domain.YearEnd) { y.EffectiveDate = domain.Date{} }),
			err: domain.CodeMissingField, field: "effective_date"},
		{name: "unknown operation", op: with(closing, func(y *domain.YearEnd) { y.Op = "reopen" }),
			err: domain.CodeInvalidField, field: "op"},
		{name: "a line given twice", op: closing, lines: []*domain.LineState{lineWith(key(2025, "01", nat), 1, 0, nil), lineWith(key(2025, "01", nat), 1, 0, nil)},
			err: domain.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, err := domain.PlanYearEnd(tt.op, tt.lines, domain.Policy{SettlementEndFrom2026: domain.MonthDay{Month: time.March, Day: 31}})
			if tt.err != "" {
				require.Error(t, err)
				assert.Equal(t, tt.err, domain.ErrorCode(err), "%v", err)
				var de *domain.Error
				require.ErrorAs(t, err, &de)
				assert.Equal(t, tt.field, de.Field)
				return
			}
			require.NoError(t, err)
			var got []planned
			for _, c := range cmds {
				p := planned{kind: c.Kind, line: c.Line().String(), project: c.Project, amount: c.Amount.Decimal().IntPart()}
				if c.Kind == domain.Transfer {
					p.to = c.To.String()
					assert.Equal(t, map[domain.YearEndOp]domain.TransferKind{domain.OpSuccession: domain.TransferSuccession, domain.OpCarryOver: domain.TransferCarryOver}[tt.op.Op], c.TransferKind)
				}
				got = append(got, p)
				assert.Equal(t, tt.op.Decision, c.Decision)
				assert.Equal(t, tt.op.EffectiveDate, c.EffectiveDate)
				assert.Equal(t, domain.YearEndKey(tt.op.Op, tt.op.Decision, c.Line(), c.Project), c.IdempotencyKey)
				// What the edge adds makes each a valid command.
				c.EventID, c.InEventID, c.Actor, c.Now = uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String(), "admin", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
				assert.NoError(t, c.Validate(domain.Policy{}), "%s", c.IdempotencyKey)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestYearEndKey(t *testing.T) {
	k := key(2025, "02", domain.SourceNational)
	base := domain.YearEndKey(domain.OpSuccession, "1234/QĐ-UBND", k, "DA-1")
	require.NoError(t, domain.ValidateIdempotencyKey(base))
	assert.True(t, strings.HasPrefix(base, "ye1-succession-"), base)
	assert.Equal(t, base, domain.YearEndKey(domain.OpSuccession, "1234/QĐ-UBND", k, "DA-1"), "deterministic")
	others := []string{
		domain.YearEndKey(domain.OpCarryOver, "1234/QĐ-UBND", k, "DA-1"),
		domain.YearEndKey(domain.OpSuccession, "1235/QĐ-UBND", k, "DA-1"),
		domain.YearEndKey(domain.OpSuccession, "1234/QĐ-UBND", key(2025, "02", domain.SourceLocal), "DA-1"),
		domain.YearEndKey(domain.OpSuccession, "1234/QĐ-UBND", key(2025, "06", domain.SourceNational), "DA-1"),
		domain.YearEndKey(domain.OpSuccession, "1234/QĐ-UBND", k, "DA-2"),
		domain.YearEndKey(domain.OpSuccession, "1234/QĐ-UBND", k, ""),
		// Netstrings: moving a character between fields changes the key.
		domain.YearEndKey(domain.OpSuccession, "1234/QĐ-UBND", k, "DA-"),
	}
	seen := map[string]bool{base: true}
	for _, o := range others {
		assert.False(t, seen[o], "key %s repeats", o)
		seen[o] = true
	}
}

func TestYearEndLines(t *testing.T) {
	succ := domain.YearEnd{Op: domain.OpSuccession, FiscalYear: 2025}.Lines()
	assert.Len(t, succ, 29*2, "the 29 codes of the 63 scheme merged under another code, both sources")
	assert.Contains(t, succ, key(2025, "02", domain.SourceLocal))
	assert.NotContains(t, succ, key(2025, "15", domain.SourceNational))
	one := domain.YearEnd{Op: domain.OpSuccession, FiscalYear: 2025, Province: "02", Source: domain.SourceNational}.Lines()
	assert.Equal(t, []domain.LineKey{key(2025, "02", domain.SourceNational)}, one)
	all2025 := domain.YearEnd{Op: domain.OpCloseYear, FiscalYear: 2025}.Lines()
	assert.Contains(t, all2025, key(2025, "02", domain.SourceNational))
	assert.Contains(t, all2025, key(2025, "08", domain.SourceNational))
	// 2026's lines may hold money allocated in the first half of 2025,
	// under the 63 codes: every code of either scheme, 63 in all.
	all2026 := domain.YearEnd{Op: domain.OpCloseYear, FiscalYear: 2026}.Lines()
	assert.Len(t, all2026, 63*2)
	assert.Contains(t, all2026, key(2026, "02", domain.SourceNational))
	all2027 := domain.YearEnd{Op: domain.OpCloseYear, FiscalYear: 2027}.Lines()
	assert.Len(t, all2027, 34*2)
	assert.NotContains(t, all2027, key(2027, "02", domain.SourceNational))
	succ2026 := domain.YearEnd{Op: domain.OpSuccession, FiscalYear: 2026}.Lines()
	assert.Len(t, succ2026, 29*2, "a succession of 2026's lines allocated in advance")
}

// A bulk succession interrupted after some of its transfers, planned
// again on the lines as they are and run to the end, moves every line's
// money exactly once and leaves the country's total available unchanged;
// the first plan replayed as a whole records nothing more.
func TestYearEndRerunAfterCrash(t *testing.T) {
	ctx := context.Background()
	log := eventstore.NewMemory()
	l := domain.NewLedger(log, domain.Policy{})
	now := time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)
	op := domain.YearEnd{Op: domain.OpSuccession, FiscalYear: 2025, EffectiveDate: date(t, "2025-07-01"), Decision: "1234/QĐ-UBND"}
	record := func(c domain.Command) {
		t.Helper()
		c.Now = now
		_, err := l.Record(ctx, c)
		require.NoError(t, err)
	}
	for i, p := range []string{"02", "06", "10", "17", "26", "27", "30", "34"} {
		k := key(2025, p, domain.SourceNational)
		alloc := newCommand(domain.Allocate, k, int64(100+i)*million, "DA-1")
		alloc.EffectiveDate = date(t, "2025-03-01")
		record(alloc)
		rest := newCommand(domain.Allocate, k, 10*million, "")
		rest.EffectiveDate = date(t, "2025-03-01")
		record(rest)
	}
	states := func() []*domain.LineState {
		var out []*domain.LineState
		for _, k := range op.Lines() {
			s, err := l.State(ctx, k)
			require.NoError(t, err)
			out = append(out, s)
		}
		for _, p := range []string{"08", "19", "15", "25", "24", "31", "33"} {
			s, err := l.State(ctx, key(2025, p, domain.SourceNational))
			require.NoError(t, err)
			out = append(out, s)
		}
		return out
	}
	total := func() domain.Amount {
		sum := domain.ZeroAmount
		seen := map[domain.LineKey]bool{}
		for _, s := range states() {
			if !seen[s.Key] {
				seen[s.Key] = true
				sum = sum.Add(s.Balance.Available())
			}
		}
		return sum
	}
	before := total()
	run := func(c domain.Command) domain.TransferResult {
		t.Helper()
		c.EventID, c.InEventID, c.Actor, c.Now = uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String(), "admin", now
		r, err := l.Transfer(ctx, c)
		require.NoError(t, err)
		return r
	}
	plan := func() []domain.Command {
		var lines []*domain.LineState
		for _, k := range op.Lines() {
			s, err := l.State(ctx, k)
			require.NoError(t, err)
			lines = append(lines, s)
		}
		cmds, err := domain.PlanYearEnd(op, lines, domain.Policy{})
		require.NoError(t, err)
		return cmds
	}
	first := plan()
	require.Len(t, first, 16, "8 lines, each a project and a rest")
	for _, c := range first[:7] { // the "crash": only 7 landed
		run(c)
	}
	rest := plan()
	require.Len(t, rest, 9)
	assert.Equal(t, summary(first[7:]), summary(rest), "the rest, with the same keys")
	for _, c := range rest {
		assert.False(t, run(c).Replayed)
	}
	assert.Empty(t, plan(), "nothing left to move")
	n := len(log.Events())
	for _, c := range first {
		assert.True(t, run(c).Replayed, "%s", c.IdempotencyKey)
	}
	assert.Len(t, log.Events(), n, "a rerun of the whole first plan appends nothing")

	out := map[string]int{}
	for _, r := range log.Events() {
		if r.Event.Type == domain.TypeTransferredOut {
			out[r.Event.Line().String()+" "+r.Event.Project]++
		}
	}
	assert.Len(t, out, 16)
	for k, n := range out {
		assert.Equal(t, 1, n, "%s transferred %d times", k, n)
	}
	requireEqualAmount(t, before, total())
}

// summary is each command's key, project and amount.
func summary(cmds []domain.Command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.IdempotencyKey+" "+c.Project+" "+c.Amount.String())
	}
	return out
}

func requireEqualAmount(t *testing.T, want, got domain.Amount) {
	t.Helper()
	if !want.Equal(got) {
		t.Fatalf("want %s đồng, got %s", want, got)
	}
}
