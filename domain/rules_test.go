package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rules are tested given the commands already recorded on a line, when
// one more command is decided, then either its event or its error.

// rulesNow is the recorded time of every command unless a case moves it:
// late enough that every date of fiscal year 2025 is in the past.
var rulesNow = time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)

// rulesLine is the line of rulesCmd's commands.
var rulesLine = LineKey{FiscalYear: 2025, Province: "01", Source: SourceNational}

// rulesCmd returns a valid command of kind k on line 2025/01/national, dated
// 2025-03-15 and citing what its kind must cite; opts then change it.
func rulesCmd(k CommandKind, amount int64, project string, opts ...func(*Command)) Command {
	c := Command{
		Kind:           k,
		FiscalYear:     2025,
		Province:       "01",
		Source:         SourceNational,
		Project:        project,
		Amount:         AmountFromInt64(amount),
		EffectiveDate:  Date{2025, time.March, 15},
		EventID:        uuid.Must(uuid.NewV7()).String(),
		Actor:          "tester",
		IdempotencyKey: uuid.Must(uuid.NewV7()).String(),
		Now:            rulesNow,
	}
	switch k {
	case Allocate:
		c.Decision = "3536/QĐ-BCT"
	case Adjust:
		c.Decision = "120/QĐ-BCT"
		c.Reason = "điều chỉnh kế hoạch theo đề nghị của tỉnh"
	case Disburse:
		c.Voucher = "KB-2025-000123"
		c.Beneficiary = "Cơ sở mây tre đan Phú Vinh"
	case Refund:
		c.Voucher = "KB-2025-000456"
		c.Reason = "nộp trả ngân sách nhà nước sau kiểm toán"
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func alloc(amount int64, project string, opts ...func(*Command)) Command {
	return rulesCmd(Allocate, amount, project, opts...)
}

func adjust(delta int64, project string, opts ...func(*Command)) Command {
	return rulesCmd(Adjust, delta, project, opts...)
}

func disburse(amount int64, project string, opts ...func(*Command)) Command {
	return rulesCmd(Disburse, amount, project, opts...)
}

func refund(amount int64, project string, opts ...func(*Command)) Command {
	return rulesCmd(Refund, amount, project, opts...)
}

// rulesDate parses a literal date of a test table.
func rulesDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Options of rulesCmd.
func dated(s string) func(*Command) { return func(c *Command) { c.EffectiveDate = rulesDate(s) } }
func fy(y int) func(*Command)       { return func(c *Command) { c.FiscalYear = y } }
func province(p string) func(*Command) {
	return func(c *Command) { c.Province = p }
}
func recordedAt(s string) func(*Command) {
	return func(c *Command) {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		c.Now = t
	}
}
func with(f func(*Command)) func(*Command) { return f }

// ruleCase is one given/when/then row. Then is an event when err is nil:
// its type follows the command's kind and its amount is the command's.
type ruleCase struct {
	name   string
	policy Policy
	given  []Command
	when   Command
	// err is a sentinel (or a bare *Error carrying the code) to match with
	// errors.Is, field the field the error must name.
	err   error
	field string
	// available, when set, is the line's available amount once the event
	// is applied.
	available string
}

// trieu is a million đồng (một triệu), the unit of the tables.
const trieu = 1_000_000

// givenLine applies given to the empty state of line k, as the ledger would:
// Decide, then Apply at increasing sequences.
func givenLine(t *testing.T, k LineKey, p Policy, given []Command) *LineState {
	t.Helper()
	s := NewLineState(k)
	for i, c := range given {
		e, err := Decide(s, c, p)
		require.NoErrorf(t, err, "given[%d] (%s %s) must be accepted", i, c.Kind, c.Amount)
		require.NoErrorf(t, s.Apply(Recorded{Event: e, Seq: uint64(2*i + 1)}), "given[%d]", i)
	}
	return s
}

// requireSameState fails unless got is the same state as want, comparing
// amounts with Cmp.
func requireSameState(t *testing.T, want, got *LineState) {
	t.Helper()
	require.Equal(t, want.Key, got.Key)
	require.Equal(t, want.Events, got.Events)
	require.Equal(t, want.LastSeq, got.LastSeq)
	require.Equal(t, want.LastHash, got.LastHash)
	require.Equal(t, want.Closed, got.Closed)
	requireSameBalance(t, "line", want.Balance, got.Balance)
	require.Len(t, got.Projects, len(want.Projects))
	for code, b := range want.Projects {
		g, ok := got.Projects[code]
		require.Truef(t, ok, "project %s is missing", code)
		requireSameBalance(t, "project "+code, b, g)
	}
}

func requireSameBalance(t *testing.T, what string, want, got Balance) {
	t.Helper()
	require.Truef(t, want.Allocated.Equal(got.Allocated), "%s allocated: want %s, got %s", what, want.Allocated, got.Allocated)
	require.Truef(t, want.Disbursed.Equal(got.Disbursed), "%s disbursed: want %s, got %s", what, want.Disbursed, got.Disbursed)
	require.Truef(t, want.Refunded.Equal(got.Refunded), "%s refunded: want %s, got %s", what, want.Refunded, got.Refunded)
	require.Truef(t, want.TransferredIn.Equal(got.TransferredIn), "%s transferred in: want %s, got %s", what, want.TransferredIn, got.TransferredIn)
	require.Truef(t, want.TransferredOut.Equal(got.TransferredOut), "%s transferred out: want %s, got %s", what, want.TransferredOut, got.TransferredOut)
	require.Truef(t, want.Lapsed.Equal(got.Lapsed), "%s lapsed: want %s, got %s", what, want.Lapsed, got.Lapsed)
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := givenLine(t, tc.when.Line(), tc.policy, tc.given)
			before := s.Clone()

			e, err := Decide(s, tc.when, tc.policy)
			requireSameState(t, before, s) // Decide never changes the state

			if tc.err != nil {
				require.Error(t, err)
				require.ErrorIs(t, err, tc.err)
				var want, got *Error
				require.ErrorAs(t, tc.err, &want)
				require.ErrorAs(t, err, &got)
				assert.Equal(t, want.Code, ErrorCode(err))
				assert.Equal(t, tc.field, got.Field)
				assert.NotEmpty(t, got.Message)
				assert.Zero(t, e, "a refused command yields no event")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.when.Kind.EventType(), e.Type)
			requireAmount(t, tc.when.Amount.String(), e.Amount)
			assert.Equal(t, tc.when.EventID, e.ID)
			assert.Equal(t, tc.when.Project, e.Project)
			assert.Equal(t, tc.when.Line(), e.Line())
			assert.Equal(t, tc.when.EffectiveDate, e.EffectiveDate)
			assert.Equal(t, tc.when.Actor, e.Actor)
			assert.Equal(t, tc.when.IdempotencyKey, e.IdempotencyKey)
			assert.True(t, e.RecordedAt.Equal(tc.when.Now))
			assert.Equal(t, time.UTC, e.RecordedAt.Location())
			if len(tc.given) == 0 {
				assert.Equal(t, GenesisHash, e.PrevHash)
			}
			assert.Equal(t, s.LastHash, e.PrevHash, "prev_hash links to the previous event")
			assert.Equal(t, e.ComputeHash(), e.Hash)
			assert.Len(t, e.Hash, 64)

			require.NoError(t, s.Apply(Recorded{Event: e, Seq: before.LastSeq + 2}), "the decided event applies")
			if tc.available != "" {
				requireAmount(t, tc.available, s.Balance.Available())
			}
		})
	}
}

// invalidCode is the bare error of a code that has no exported sentinel.
func invalidCode(c Code) error { return &Error{Code: c} }

func TestDecideAllocationAndAdjustment(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "allocation on an empty line", when: alloc(10*trieu, ""), available: "10000000"},
		{name: "allocation to a project", when: alloc(10*trieu, "DA-01"), available: "10000000"},
		{name: "second allocation adds up", given: []Command{alloc(10*trieu, "")}, when: alloc(5*trieu, ""), available: "15000000"},
		{name: "allocation of MaxMovement", when: alloc(1_000_000_000_000_000, ""), available: "1000000000000000"},
		{name: "adjustment up", given: []Command{alloc(10*trieu, "")}, when: adjust(3*trieu, ""), available: "13000000"},
		{name: "adjustment down", given: []Command{alloc(10*trieu, "")}, when: adjust(-3*trieu, ""), available: "7000000"},
		{name: "adjustment down to exactly zero", given: []Command{alloc(10*trieu, "")}, when: adjust(-10*trieu, ""), available: "0"},
		{
			name:  "adjustment below zero",
			given: []Command{alloc(10*trieu, "")}, when: adjust(-10*trieu-1, ""),
			err: ErrAllocationBelowDisbursed, field: "delta",
		},
		{
			name: "adjustment down on an empty line", when: adjust(-1, ""),
			err: ErrAllocationBelowDisbursed, field: "delta",
		},
		{
			name:  "adjustment down to exactly net disbursed",
			given: []Command{alloc(10*trieu, ""), disburse(6*trieu, "")}, when: adjust(-4*trieu, ""), available: "0",
		},
		{
			name:  "adjustment below net disbursed of the line",
			given: []Command{alloc(10*trieu, ""), disburse(6*trieu, "")}, when: adjust(-4*trieu-1, ""),
			err: ErrAllocationBelowDisbursed, field: "delta",
		},
		{
			name:  "adjustment counts refunds: below net disbursed after a refund",
			given: []Command{alloc(10*trieu, ""), disburse(6*trieu, ""), refund(2*trieu, "")}, when: adjust(-6*trieu-1, ""),
			err: ErrAllocationBelowDisbursed, field: "delta",
		},
		{
			name:  "adjustment down to net disbursed after a refund",
			given: []Command{alloc(10*trieu, ""), disburse(6*trieu, ""), refund(2*trieu, "")}, when: adjust(-6*trieu, ""), available: "0",
		},
		{
			name:  "adjustment below net disbursed of a project while the line has room",
			given: []Command{alloc(10*trieu, "DA-01"), alloc(10*trieu, ""), disburse(8*trieu, "DA-01")}, when: adjust(-3*trieu, "DA-01"),
			err: ErrAllocationBelowDisbursed, field: "delta",
		},
		{
			name:  "adjustment of a project down to its net disbursed",
			given: []Command{alloc(10*trieu, "DA-01"), alloc(10*trieu, ""), disburse(8*trieu, "DA-01")}, when: adjust(-2*trieu, "DA-01"), available: "10000000",
		},
		{
			name:  "adjustment of a project with no allocation",
			given: []Command{alloc(10*trieu, "DA-01")}, when: adjust(-1, "DA-02"),
			err: ErrAllocationBelowDisbursed, field: "delta",
		},
		{
			name:  "adjustment without project below the line's net disbursed",
			given: []Command{alloc(10*trieu, "DA-01"), disburse(8*trieu, "DA-01")}, when: adjust(-3*trieu, ""),
			err: ErrAllocationBelowDisbursed, field: "delta",
		},
	})
}

func TestDecideDisbursementAndRefund(t *testing.T) {
	funded := []Command{alloc(10*trieu, "")}
	runRuleCases(t, []ruleCase{
		{name: "disbursement within available", given: funded, when: disburse(4*trieu, ""), available: "6000000"},
		{name: "disbursement of exactly available", given: funded, when: disburse(10*trieu, ""), available: "0"},
		{
			name: "disbursement one đồng over available", given: funded, when: disburse(10*trieu+1, ""),
			err: ErrInsufficientFunds, field: "amount",
		},
		{
			name: "disbursement on an empty line", when: disburse(1, ""),
			err: ErrInsufficientFunds, field: "amount",
		},
		{
			name:  "disbursement one đồng over what is left",
			given: []Command{alloc(10*trieu, ""), disburse(4*trieu, "")}, when: disburse(6*trieu+1, ""),
			err: ErrInsufficientFunds, field: "amount",
		},
		{
			name:  "disbursement within the project",
			given: []Command{alloc(10*trieu, "DA-01"), alloc(5*trieu, "")}, when: disburse(10*trieu, "DA-01"), available: "5000000",
		},
		{
			name:  "disbursement over the project while the line has enough",
			given: []Command{alloc(10*trieu, "DA-01"), alloc(5*trieu, "")}, when: disburse(10*trieu+1, "DA-01"),
			err: ErrInsufficientFunds, field: "amount",
		},
		{
			name:  "disbursement from a project with no allocation",
			given: []Command{alloc(10*trieu, "DA-01")}, when: disburse(1, "DA-02"),
			err: ErrInsufficientFunds, field: "amount",
		},
		{
			name:  "disbursement over the line while the project has enough",
			given: []Command{alloc(10*trieu, "DA-01"), adjust(-5*trieu, "")}, when: disburse(5*trieu+1, "DA-01"),
			err: ErrInsufficientFunds, field: "amount",
		},
		{
			name:  "disbursement after an adjustment up",
			given: []Command{alloc(10*trieu, ""), disburse(10*trieu, ""), adjust(2*trieu, "")}, when: disburse(2*trieu, ""), available: "0",
		},
		{
			name:  "refund of part of the net disbursed",
			given: []Command{alloc(10*trieu, ""), disburse(4*trieu, "")}, when: refund(trieu, ""), available: "7000000",
		},
		{
			name:  "refund of exactly the net disbursed",
			given: []Command{alloc(10*trieu, ""), disburse(4*trieu, ""), refund(trieu, "")}, when: refund(3*trieu, ""), available: "10000000",
		},
		{
			name:  "refund one đồng over the net disbursed",
			given: []Command{alloc(10*trieu, ""), disburse(4*trieu, ""), refund(trieu, "")}, when: refund(3*trieu+1, ""),
			err: ErrRefundExceedsDisbursed, field: "amount",
		},
		{
			name: "refund with nothing disbursed", given: funded, when: refund(1, ""),
			err: ErrRefundExceedsDisbursed, field: "amount",
		},
		{
			name: "refund on an empty line", when: refund(1, ""),
			err: ErrRefundExceedsDisbursed, field: "amount",
		},
		{
			name:  "refund over the project while the line has disbursed enough",
			given: []Command{alloc(10*trieu, "DA-01"), alloc(10*trieu, "DA-02"), disburse(5*trieu, "DA-01"), disburse(5*trieu, "DA-02")}, when: refund(5*trieu+1, "DA-01"),
			err: ErrRefundExceedsDisbursed, field: "amount",
		},
		{
			name:  "refund of the project's whole net disbursed",
			given: []Command{alloc(10*trieu, "DA-01"), alloc(10*trieu, "DA-02"), disburse(5*trieu, "DA-01"), disburse(5*trieu, "DA-02")}, when: refund(5*trieu, "DA-01"), available: "15000000",
		},
		{
			name:  "refunded money may be disbursed again",
			given: []Command{alloc(10*trieu, ""), disburse(10*trieu, ""), refund(3*trieu, "")}, when: disburse(3*trieu, ""), available: "0",
		},
		{
			name:  "re-disbursement is bounded by what was refunded",
			given: []Command{alloc(10*trieu, ""), disburse(10*trieu, ""), refund(3*trieu, "")}, when: disburse(3*trieu+1, ""),
			err: ErrInsufficientFunds, field: "amount",
		},
		{
			name:  "refund after re-disbursement counts the net",
			given: []Command{alloc(10*trieu, ""), disburse(10*trieu, ""), refund(3*trieu, ""), disburse(3*trieu, "")}, when: refund(10*trieu, ""), available: "10000000",
		},
		{
			name:  "refund after re-disbursement is bounded by the net",
			given: []Command{alloc(10*trieu, ""), disburse(10*trieu, ""), refund(3*trieu, ""), disburse(3*trieu, "")}, when: refund(10*trieu+1, ""),
			err: ErrRefundExceedsDisbursed, field: "amount",
		},
	})
}

func TestDecideValidation(t *testing.T) {
	funded := []Command{alloc(10*trieu, "")}
	paid := []Command{alloc(10*trieu, ""), disburse(5*trieu, "")}
	long := func(n int) string { return strings.Repeat("Đ", n) } // 2 bytes a rune: limits count runes
	runRuleCases(t, []ruleCase{
		// Kind, year, source, province.
		{name: "unknown kind", when: rulesCmd("move", trieu, ""), err: invalidCode(CodeInvalidField), field: "kind"},
		{name: "fiscal year 1999", when: alloc(trieu, "", fy(1999), dated("1999-03-01")), err: invalidCode(CodeInvalidYear), field: "fiscal_year"},
		{name: "fiscal year 2101", when: alloc(trieu, "", fy(2101)), err: invalidCode(CodeInvalidYear), field: "fiscal_year"},
		{name: "fiscal year 2000", when: alloc(trieu, "", fy(2000), dated("2000-03-01"))},
		{name: "missing source", when: alloc(trieu, "", with(func(c *Command) { c.Source = "" })), err: invalidCode(CodeMissingField), field: "source"},
		{name: "unknown source", when: alloc(trieu, "", with(func(c *Command) { c.Source = "provincial" })), err: invalidCode(CodeUnknownSource), field: "source"},
		{name: "alias is not a source", when: alloc(trieu, "", with(func(c *Command) { c.Source = "kcqg" })), err: invalidCode(CodeUnknownSource), field: "source"},
		{name: "local source", when: alloc(trieu, "", with(func(c *Command) { c.Source = SourceLocal }))},
		{name: "missing province", when: alloc(trieu, "", province("")), err: invalidCode(CodeMissingField), field: "province"},
		{name: "province 99", when: alloc(trieu, "", province("99")), err: invalidCode(CodeUnknownProvince), field: "province"},
		{name: "province not two digits", when: alloc(trieu, "", province("1")), err: invalidCode(CodeUnknownProvince), field: "province"},
		{name: "old Lào Cai before the merger", when: alloc(trieu, "", province("10"), dated("2025-06-30"))},
		{name: "old Lào Cai after the merger", when: alloc(trieu, "", province("10"), dated("2025-08-01")), err: invalidCode(CodeProvinceNotInForce), field: "province"},
		{name: "new Lào Cai after the merger", when: alloc(trieu, "", province("15"), dated("2025-08-01"))},
		{name: "TP. Hồ Chí Minh after the merger", when: alloc(trieu, "", province("79"), dated("2025-08-01"))},
		{name: "missing effective date", when: alloc(trieu, "", with(func(c *Command) { c.EffectiveDate = Date{} })), err: invalidCode(CodeMissingField), field: "effective_date"},

		// Date windows.
		{name: "allocation for FY2026 dated late December 2025", when: alloc(trieu, "", fy(2026), dated("2025-12-20"))},
		{name: "allocation for FY2026 dated from 1 January 2025", when: alloc(trieu, "", fy(2026), dated("2025-01-01"))},
		{name: "allocation for FY2026 dated 2024-12-31", when: alloc(trieu, "", fy(2026), dated("2024-12-31")), err: invalidCode(CodeDateOutsideWindow), field: "effective_date"},
		{name: "allocation dated after its fiscal year", when: alloc(trieu, "", dated("2026-01-01")), err: invalidCode(CodeDateOutsideWindow), field: "effective_date"},
		{name: "adjustment on the last day of its year", given: funded, when: adjust(trieu, "", dated("2025-12-31"))},
		{name: "adjustment dated the year before", given: funded, when: adjust(trieu, "", dated("2024-12-31")), err: invalidCode(CodeDateOutsideWindow), field: "effective_date"},
		{name: "adjustment dated the year after", given: funded, when: adjust(trieu, "", dated("2026-01-01")), err: invalidCode(CodeDateOutsideWindow), field: "effective_date"},
		{
			name:  "FY2024 disbursement on the last day of settlement",
			given: []Command{alloc(10*trieu, "", fy(2024), dated("2024-01-10"))}, when: disburse(trieu, "", fy(2024), dated("2025-01-31")),
		},
		{
			name:  "FY2024 disbursement after settlement",
			given: []Command{alloc(10*trieu, "", fy(2024), dated("2024-01-10"))}, when: disburse(trieu, "", fy(2024), dated("2025-02-01")),
			err: invalidCode(CodeDateOutsideWindow), field: "effective_date",
		},
		{
			name:  "FY2024 disbursement before its year",
			given: []Command{alloc(10*trieu, "", fy(2024), dated("2023-12-20"))}, when: disburse(trieu, "", fy(2024), dated("2023-12-31")),
			err: invalidCode(CodeDateOutsideWindow), field: "effective_date",
		},
		{
			name:   "FY2026 disbursement until 31 March under Law 89/2025",
			policy: Policy{SettlementEndFrom2026: MonthDay{time.March, 31}},
			given:  []Command{alloc(10*trieu, "", fy(2026), dated("2026-01-05"))},
			when:   disburse(trieu, "", fy(2026), dated("2027-03-31"), recordedAt("2027-04-01T00:00:00Z")),
		},
		{
			name:   "FY2026 disbursement after 31 March under Law 89/2025",
			policy: Policy{SettlementEndFrom2026: MonthDay{time.March, 31}},
			given:  []Command{alloc(10*trieu, "", fy(2026), dated("2026-01-05"))},
			when:   disburse(trieu, "", fy(2026), dated("2027-04-01"), recordedAt("2027-05-01T00:00:00Z")),
			err:    invalidCode(CodeDateOutsideWindow), field: "effective_date",
		},
		{
			name:   "FY2025 keeps 31 January whatever the policy from 2026",
			policy: Policy{SettlementEndFrom2026: MonthDay{time.March, 31}},
			given:  funded,
			when:   disburse(trieu, "", dated("2026-02-01")),
			err:    invalidCode(CodeDateOutsideWindow), field: "effective_date",
		},
		{
			name:  "FY2026 disbursement after 31 January under the default policy",
			given: []Command{alloc(10*trieu, "", fy(2026), dated("2026-01-05"))},
			when:  disburse(trieu, "", fy(2026), dated("2027-02-01"), recordedAt("2027-05-01T00:00:00Z")),
			err:   invalidCode(CodeDateOutsideWindow), field: "effective_date",
		},
		{
			name:   "29 February settlement end in a common year is 28 February",
			policy: Policy{SettlementEndFrom2026: MonthDay{time.February, 29}},
			given:  []Command{alloc(10*trieu, "", fy(2026), dated("2026-01-05"))},
			when:   disburse(trieu, "", fy(2026), dated("2027-03-01"), recordedAt("2027-05-01T00:00:00Z")),
			err:    invalidCode(CodeDateOutsideWindow), field: "effective_date",
		},
		{
			name:   "29 February settlement end in a leap year",
			policy: Policy{SettlementEndFrom2026: MonthDay{time.February, 29}},
			given:  []Command{alloc(10*trieu, "", fy(2027), dated("2027-01-05"), recordedAt("2028-05-01T00:00:00Z"))},
			when:   disburse(trieu, "", fy(2027), dated("2028-02-29"), recordedAt("2028-05-01T00:00:00Z")),
		},
		{
			name:  "refund years later",
			given: []Command{alloc(10*trieu, "", fy(2020), dated("2020-01-10")), disburse(5*trieu, "", fy(2020), dated("2020-03-01"))},
			when:  refund(trieu, "", fy(2020), dated("2026-05-01")),
		},
		{
			name: "refund before its fiscal year", given: paid, when: refund(trieu, "", dated("2024-12-31")),
			err: invalidCode(CodeDateOutsideWindow), field: "effective_date",
		},
		{name: "disbursement dated today in Vietnam", given: []Command{alloc(10*trieu, "", fy(2026), dated("2026-01-05"))}, when: disburse(trieu, "", fy(2026), dated("2026-06-01"))},
		{
			name:  "disbursement dated tomorrow in Vietnam",
			given: []Command{alloc(10*trieu, "", fy(2026), dated("2026-01-05"))}, when: disburse(trieu, "", fy(2026), dated("2026-06-02")),
			err: invalidCode(CodeDateOutsideWindow), field: "effective_date",
		},
		{
			name:  "today is judged in Vietnam, seven hours ahead of UTC",
			given: []Command{alloc(10*trieu, "", fy(2026), dated("2026-01-05"))},
			when:  disburse(trieu, "", fy(2026), dated("2026-06-01"), recordedAt("2026-05-31T17:00:00Z")),
		},
		{
			name:  "still yesterday in Vietnam",
			given: []Command{alloc(10*trieu, "", fy(2026), dated("2026-01-05"))},
			when:  disburse(trieu, "", fy(2026), dated("2026-06-01"), recordedAt("2026-05-31T16:59:59Z")),
			err:   invalidCode(CodeDateOutsideWindow), field: "effective_date",
		},
		{name: "allocation dated in the future", when: alloc(trieu, "", fy(2026), dated("2026-06-02")), err: invalidCode(CodeDateOutsideWindow), field: "effective_date"},

		// Amounts.
		{name: "zero allocation", when: alloc(0, ""), err: ErrInvalidAmount, field: "amount"},
		{name: "negative allocation", when: alloc(-trieu, ""), err: ErrInvalidAmount, field: "amount"},
		{name: "allocation over MaxMovement", when: alloc(1_000_000_000_000_001, ""), err: ErrInvalidAmount, field: "amount"},
		{name: "zero disbursement", given: funded, when: disburse(0, ""), err: ErrInvalidAmount, field: "amount"},
		{name: "negative disbursement", given: funded, when: disburse(-1, ""), err: ErrInvalidAmount, field: "amount"},
		{name: "disbursement over MaxMovement", given: funded, when: disburse(1_000_000_000_000_001, ""), err: ErrInvalidAmount, field: "amount"},
		{name: "zero refund", given: paid, when: refund(0, ""), err: ErrInvalidAmount, field: "amount"},
		{name: "negative refund", given: paid, when: refund(-1, ""), err: ErrInvalidAmount, field: "amount"},
		{name: "zero delta", given: funded, when: adjust(0, ""), err: ErrInvalidAmount, field: "delta"},
		{name: "negative delta", given: funded, when: adjust(-1, ""), available: "9999999"},
		{name: "delta over MaxMovement", given: funded, when: adjust(1_000_000_000_000_001, ""), err: ErrInvalidAmount, field: "delta"},
		{name: "negative delta over MaxMovement", given: funded, when: adjust(-1_000_000_000_000_001, ""), err: ErrInvalidAmount, field: "delta"},
		{name: "delta of -MaxMovement is an amount, refused by the balance", given: funded, when: adjust(-1_000_000_000_000_000, ""), err: ErrAllocationBelowDisbursed, field: "delta"},

		// References each kind must cite, and may not carry.
		{name: "allocation without decision", when: alloc(trieu, "", with(func(c *Command) { c.Decision = "" })), err: invalidCode(CodeMissingField), field: "decision"},
		{name: "adjustment without decision", given: funded, when: adjust(trieu, "", with(func(c *Command) { c.Decision = "" })), err: invalidCode(CodeMissingField), field: "decision"},
		{name: "adjustment without reason", given: funded, when: adjust(trieu, "", with(func(c *Command) { c.Reason = "" })), err: invalidCode(CodeMissingField), field: "reason"},
		{name: "disbursement without voucher", given: funded, when: disburse(trieu, "", with(func(c *Command) { c.Voucher = "" })), err: invalidCode(CodeMissingField), field: "voucher"},
		{name: "disbursement without beneficiary", given: funded, when: disburse(trieu, "", with(func(c *Command) { c.Beneficiary = "" })), err: invalidCode(CodeMissingField), field: "beneficiary"},
		{name: "refund without voucher", given: paid, when: refund(trieu, "", with(func(c *Command) { c.Voucher = "" })), err: invalidCode(CodeMissingField), field: "voucher"},
		{name: "refund without reason", given: paid, when: refund(trieu, "", with(func(c *Command) { c.Reason = "" })), err: invalidCode(CodeMissingField), field: "reason"},
		{name: "beneficiary on an allocation", when: alloc(trieu, "", with(func(c *Command) { c.Beneficiary = "Cơ sở A" })), err: invalidCode(CodeInvalidField), field: "beneficiary"},
		{name: "voucher on an allocation", when: alloc(trieu, "", with(func(c *Command) { c.Voucher = "KB-1" })), err: invalidCode(CodeInvalidField), field: "voucher"},
		{name: "reason on an allocation", when: alloc(trieu, "", with(func(c *Command) { c.Reason = "vì" })), err: invalidCode(CodeInvalidField), field: "reason"},
		{name: "decision on a disbursement", given: funded, when: disburse(trieu, "", with(func(c *Command) { c.Decision = "1/QĐ" })), err: invalidCode(CodeInvalidField), field: "decision"},
		{name: "beneficiary on a refund", given: paid, when: refund(trieu, "", with(func(c *Command) { c.Beneficiary = "Cơ sở A" })), err: invalidCode(CodeInvalidField), field: "beneficiary"},

		// Texts.
		{name: "decision with a newline", when: alloc(trieu, "", with(func(c *Command) { c.Decision = "3536/QĐ\n-BCT" })), err: invalidCode(CodeInvalidField), field: "decision"},
		{name: "beneficiary with a NUL", given: funded, when: disburse(trieu, "", with(func(c *Command) { c.Beneficiary = "Cơ sở\x00A" })), err: invalidCode(CodeInvalidField), field: "beneficiary"},
		{name: "reason with a C1 control", given: funded, when: adjust(trieu, "", with(func(c *Command) { c.Reason = "lý do\u0085" })), err: invalidCode(CodeInvalidField), field: "reason"},
		{name: "voucher not UTF-8", given: funded, when: disburse(trieu, "", with(func(c *Command) { c.Voucher = "KB-\xff" })), err: invalidCode(CodeInvalidField), field: "voucher"},
		{name: "decision with surrounding spaces", when: alloc(trieu, "", with(func(c *Command) { c.Decision = " 3536/QĐ-BCT" })), err: invalidCode(CodeInvalidField), field: "decision"},
		{name: "blank reason", given: paid, when: refund(trieu, "", with(func(c *Command) { c.Reason = "   " })), err: invalidCode(CodeInvalidField), field: "reason"},
		{name: "decision of 100 characters", when: alloc(trieu, "", with(func(c *Command) { c.Decision = long(MaxReferenceLen) }))},
		{name: "decision of 101 characters", when: alloc(trieu, "", with(func(c *Command) { c.Decision = long(MaxReferenceLen + 1) })), err: invalidCode(CodeInvalidField), field: "decision"},
		{name: "voucher of 101 characters", given: funded, when: disburse(trieu, "", with(func(c *Command) { c.Voucher = long(MaxReferenceLen + 1) })), err: invalidCode(CodeInvalidField), field: "voucher"},
		{name: "beneficiary of 200 characters", given: funded, when: disburse(trieu, "", with(func(c *Command) { c.Beneficiary = long(MaxBeneficiaryLen) }))},
		{name: "beneficiary of 201 characters", given: funded, when: disburse(trieu, "", with(func(c *Command) { c.Beneficiary = long(MaxBeneficiaryLen + 1) })), err: invalidCode(CodeInvalidField), field: "beneficiary"},
		{name: "reason of 1000 characters", given: paid, when: refund(trieu, "", with(func(c *Command) { c.Reason = long(MaxReasonLen) }))},
		{name: "reason of 1001 characters", given: paid, when: refund(trieu, "", with(func(c *Command) { c.Reason = long(MaxReasonLen + 1) })), err: invalidCode(CodeInvalidField), field: "reason"},

		// Project and category.
		{name: "project with a space", when: alloc(trieu, "DA 01"), err: invalidCode(CodeInvalidField), field: "project"},
		{name: "project with a non-ASCII letter", when: alloc(trieu, "ĐA-01"), err: invalidCode(CodeInvalidField), field: "project"},
		{name: "project of 64 bytes", when: alloc(trieu, strings.Repeat("p", MaxProjectLen))},
		{name: "project of 65 bytes", when: alloc(trieu, strings.Repeat("p", MaxProjectLen+1)), err: invalidCode(CodeInvalidField), field: "project"},
		{name: "project with every allowed punctuation", when: alloc(trieu, "KCQG-2025/DA_01.a")},
		{name: "known category", when: alloc(trieu, "", with(func(c *Command) { c.Category = CategoryDigitalGreenTransformation }))},
		{name: "unknown category", when: alloc(trieu, "", with(func(c *Command) { c.Category = "tourism" })), err: invalidCode(CodeUnknownCategory), field: "category"},

		// Idempotency key.
		{name: "empty idempotency key", when: alloc(trieu, "", with(func(c *Command) { c.IdempotencyKey = "" })), err: invalidCode(CodeInvalidIdempotencyKey), field: "idempotency_key"},
		{name: "idempotency key with a space", when: alloc(trieu, "", with(func(c *Command) { c.IdempotencyKey = "a b" })), err: invalidCode(CodeInvalidIdempotencyKey), field: "idempotency_key"},
		{name: "idempotency key not ASCII", when: alloc(trieu, "", with(func(c *Command) { c.IdempotencyKey = "khóa" })), err: invalidCode(CodeInvalidIdempotencyKey), field: "idempotency_key"},
		{name: "idempotency key of 128 characters", when: alloc(trieu, "", with(func(c *Command) { c.IdempotencyKey = strings.Repeat("k", 128) }))},
		{name: "idempotency key of 129 characters", when: alloc(trieu, "", with(func(c *Command) { c.IdempotencyKey = strings.Repeat("k", 129) })), err: invalidCode(CodeInvalidIdempotencyKey), field: "idempotency_key"},
	})
}

// TestValidateAgreesWithDecide checks that Validate, which the ledger calls
// before touching the log, refuses what Decide refuses for reasons that do
// not depend on the line, with the same code and field.
func TestValidateAgreesWithDecide(t *testing.T) {
	for _, tc := range []struct {
		cmd   Command
		code  Code
		field string
	}{
		{alloc(trieu, "", fy(1999)), CodeInvalidYear, "fiscal_year"},
		{alloc(trieu, "", province("99")), CodeUnknownProvince, "province"},
		{alloc(trieu, "", province("10"), dated("2025-08-01")), CodeProvinceNotInForce, "province"},
		{disburse(trieu, "", fy(2024), dated("2025-02-01")), CodeDateOutsideWindow, "effective_date"},
		{adjust(0, ""), CodeInvalidAmount, "delta"},
		{disburse(trieu, "", with(func(c *Command) { c.Beneficiary = "" })), CodeMissingField, "beneficiary"},
		{alloc(trieu, "", with(func(c *Command) { c.IdempotencyKey = "" })), CodeInvalidIdempotencyKey, "idempotency_key"},
	} {
		err := tc.cmd.Validate(Policy{})
		require.Error(t, err)
		assert.Equal(t, tc.code, ErrorCode(err))
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, tc.field, e.Field)

		_, derr := Decide(NewLineState(tc.cmd.Line()), tc.cmd, Policy{})
		assert.Equal(t, tc.code, ErrorCode(derr))
	}
	ok := disburse(trieu, "")
	require.NoError(t, ok.Validate(Policy{}), "Validate does not look at balances")
}

func TestDecideRefusesCommandForAnotherLine(t *testing.T) {
	s := NewLineState(LineKey{FiscalYear: 2025, Province: "79", Source: SourceLocal})
	_, err := Decide(s, alloc(trieu, ""), Policy{})
	require.Error(t, err)
	assert.Equal(t, CodeInternal, ErrorCode(err))
}

// TestDecideNeverChangesState decides accepted and refused commands of
// every kind, on the line and on projects, and compares the state with a
// clone taken before.
func TestDecideNeverChangesState(t *testing.T) {
	s := givenLine(t, rulesLine, Policy{}, []Command{
		alloc(10*trieu, "DA-01"), alloc(10*trieu, ""), disburse(4*trieu, "DA-01"), refund(trieu, "DA-01"), adjust(-2*trieu, ""),
	})
	before := s.Clone()
	for _, c := range []Command{
		alloc(trieu, ""), alloc(trieu, "DA-01"), alloc(trieu, "DA-02"),
		adjust(trieu, "DA-01"), adjust(-trieu, "DA-01"), adjust(-10*trieu, "DA-01"), adjust(-1, "DA-02"),
		disburse(trieu, "DA-01"), disburse(10*trieu, "DA-01"), disburse(trieu, "DA-02"), disburse(trieu, ""),
		refund(trieu, "DA-01"), refund(10*trieu, "DA-01"), refund(trieu, "DA-02"),
		alloc(0, ""), disburse(trieu, "", province("99")),
	} {
		_, _ = Decide(s, c, Policy{})
		requireSameState(t, before, s)
	}
}

func TestCloneIsDeep(t *testing.T) {
	s := givenLine(t, rulesLine, Policy{}, []Command{alloc(10*trieu, "DA-01")})
	c := s.Clone()
	e, err := Decide(c, disburse(trieu, "DA-01"), Policy{})
	require.NoError(t, err)
	require.NoError(t, c.Apply(Recorded{Event: e, Seq: 100}))
	requireAmount(t, "0", s.Project("DA-01").Disbursed)
	requireAmount(t, "1000000", c.Project("DA-01").Disbursed)
	assert.Equal(t, 1, s.Events)
}

// chain decides and records cmds on a fresh line, returning the recorded
// events at sequences 1, 3, 5...
func chain(t *testing.T, cmds ...Command) []Recorded {
	t.Helper()
	s := NewLineState(cmds[0].Line())
	var out []Recorded
	for i, c := range cmds {
		e, err := Decide(s, c, Policy{})
		require.NoError(t, err)
		r := Recorded{Event: e, Seq: uint64(2*i + 1)}
		require.NoError(t, s.Apply(r))
		out = append(out, r)
	}
	return out
}

func replayLine(recs []Recorded) (*LineState, error) {
	s := NewLineState(recs[0].Event.Line())
	for _, r := range recs {
		if err := s.Apply(r); err != nil {
			return s, err
		}
	}
	return s, nil
}

func TestApplyVerifiesHashChain(t *testing.T) {
	good := chain(t,
		alloc(10*trieu, "DA-01", with(func(c *Command) { c.Category = CategoryTraining })),
		disburse(4*trieu, "DA-01"),
		refund(trieu, "DA-01"),
		adjust(-trieu, ""),
	)
	s, err := replayLine(good)
	require.NoError(t, err)
	requireAmount(t, "9000000", s.Balance.Allocated)
	requireAmount(t, "3000000", s.Balance.NetDisbursed())
	requireAmount(t, "7000000", s.Project("DA-01").Available())
	assert.Equal(t, good[3].Event.Hash, s.LastHash)
	assert.Equal(t, good[3].Seq, s.LastSeq)
	assert.Equal(t, 4, s.Events)
	assert.Equal(t, GenesisHash, good[0].Event.PrevHash)
	for i := 1; i < len(good); i++ {
		assert.Equal(t, good[i-1].Event.Hash, good[i].Event.PrevHash, "event %d links to event %d", i, i-1)
	}

	tamper := map[string]func(e *Event){
		"id": func(e *Event) { e.ID = uuid.Must(uuid.NewV7()).String() },
		"type": func(e *Event) {
			if e.Type == TypeAllocated {
				e.Type = TypeAdjusted
			} else {
				e.Type = TypeAllocated
			}
		},
		"fiscal_year":     func(e *Event) { e.FiscalYear = 2024 },
		"province":        func(e *Event) { e.Province = "79" },
		"source":          func(e *Event) { e.Source = SourceLocal },
		"project":         func(e *Event) { e.Project = "DA-02" },
		"category":        func(e *Event) { e.Category = CategoryConsulting },
		"amount":          func(e *Event) { e.Amount = e.Amount.Sub(AmountFromInt64(1)) },
		"decision":        func(e *Event) { e.Decision = "1/QĐ-UBND" },
		"voucher":         func(e *Event) { e.Voucher = "KB-forged" },
		"beneficiary":     func(e *Event) { e.Beneficiary = "Công ty khác" },
		"reason":          func(e *Event) { e.Reason = "lý do khác" },
		"effective_date":  func(e *Event) { e.EffectiveDate = e.EffectiveDate.AddDays(1) },
		"recorded_at":     func(e *Event) { e.RecordedAt = e.RecordedAt.Add(time.Nanosecond) },
		"actor":           func(e *Event) { e.Actor = "mallory" },
		"idempotency_key": func(e *Event) { e.IdempotencyKey = "other-key" },
		"prev_hash":       func(e *Event) { e.PrevHash = strings.Repeat("1", 64) },
		"hash":            func(e *Event) { e.Hash = strings.Repeat("f", 64) },
	}
	for field, change := range tamper {
		for i := range good {
			t.Run(fmt.Sprintf("%s of event %d", field, i), func(t *testing.T) {
				recs := append([]Recorded(nil), good...)
				changed := recs[i].Event
				change(&changed)
				recs[i].Event = changed

				s := NewLineState(good[0].Event.Line())
				for j := 0; j < i; j++ {
					require.NoError(t, s.Apply(recs[j]))
				}
				before := s.Clone()
				err := s.Apply(recs[i])
				require.ErrorIsf(t, err, ErrCorrupt, "altered %s of event %d must break the chain", field, i)
				requireSameState(t, before, s) // a refused event leaves the state unchanged
			})
		}
	}
}

// TestApplyRehashedEventBreaksNextLink alters an event and recomputes its
// hash: the event is then consistent with itself, but the next event no
// longer links to it.
func TestApplyRehashedEventBreaksNextLink(t *testing.T) {
	recs := chain(t, alloc(10*trieu, ""), disburse(4*trieu, ""), disburse(trieu, ""))
	e := recs[1].Event
	e.Amount = AmountFromInt64(trieu)
	e.Hash = e.ComputeHash()
	recs[1].Event = e

	_, err := replayLine(recs)
	require.ErrorIs(t, err, ErrCorrupt)
	s, _ := replayLine(recs[:2])
	assert.Equal(t, 2, s.Events, "the rehashed event alone applies")
}

func TestApplyOutOfOrder(t *testing.T) {
	recs := chain(t, alloc(10*trieu, ""), disburse(4*trieu, ""), refund(trieu, ""))

	s := NewLineState(recs[0].Event.Line())
	require.ErrorIs(t, s.Apply(recs[1]), ErrCorrupt, "the second event cannot come first")
	assert.Equal(t, 0, s.Events)

	require.NoError(t, s.Apply(recs[0]))
	require.ErrorIs(t, s.Apply(recs[2]), ErrCorrupt, "skipping an event breaks the chain")

	swapped := []Recorded{recs[0], {Event: recs[2].Event, Seq: recs[1].Seq}, {Event: recs[1].Event, Seq: recs[2].Seq}}
	_, err := replayLine(swapped)
	require.ErrorIs(t, err, ErrCorrupt, "swapped events break the chain")
}

func TestApplyIgnoresSeenSequences(t *testing.T) {
	recs := chain(t, alloc(10*trieu, ""), disburse(4*trieu, ""))
	s, err := replayLine(recs)
	require.NoError(t, err)
	before := s.Clone()

	for _, r := range recs {
		require.NoError(t, s.Apply(r), "an event seen before is a no-op")
	}
	garbage := recs[1]
	garbage.Event.Amount = AmountFromInt64(1000 * trieu)
	garbage.Event.Hash = "not a hash"
	require.NoError(t, s.Apply(garbage), "at or below LastSeq nothing is checked nor applied")
	garbage.Seq = 2
	require.NoError(t, s.Apply(garbage))
	requireSameState(t, before, s)
}

func TestApplyRefusesEventOfAnotherLine(t *testing.T) {
	recs := chain(t, alloc(10*trieu, ""))
	s := NewLineState(LineKey{FiscalYear: 2025, Province: "79", Source: SourceNational})
	require.ErrorIs(t, s.Apply(recs[0]), ErrCorrupt)
	assert.Equal(t, 0, s.Events)
}

// TestApplyChecksInvariants feeds events that are well chained and hashed
// but that Decide would have refused, as a writer bypassing the rules
// would: replay must refuse them loudly and leave the state unchanged.
func TestApplyChecksInvariants(t *testing.T) {
	forge := func(s *LineState, c Command) Recorded {
		e := c.event()
		e.PrevHash = s.LastHash
		e.Hash = e.ComputeHash()
		return Recorded{Event: e, Seq: s.LastSeq + 2}
	}
	for _, tc := range []struct {
		name  string
		given []Command
		bad   Command
	}{
		{"overspent line", []Command{alloc(10*trieu, "")}, disburse(10*trieu+1, "")},
		{"overspent project", []Command{alloc(10*trieu, "DA-01"), alloc(10*trieu, "")}, disburse(10*trieu+1, "DA-01")},
		{"refund over disbursed", []Command{alloc(10*trieu, ""), disburse(trieu, "")}, refund(trieu+1, "")},
		{"refund over a project's disbursed", []Command{alloc(10*trieu, "DA-01"), alloc(10*trieu, "DA-02"), disburse(trieu, "DA-01"), disburse(trieu, "DA-02")}, refund(trieu+1, "DA-01")},
		{"allocation below zero", []Command{alloc(10*trieu, "")}, adjust(-10*trieu-1, "")},
		{"allocation below net disbursed", []Command{alloc(10*trieu, ""), disburse(6*trieu, "")}, adjust(-5*trieu, "")},
		{"allocation of a project below net disbursed", []Command{alloc(10*trieu, "DA-01"), alloc(10*trieu, ""), disburse(6*trieu, "DA-01")}, adjust(-5*trieu, "DA-01")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := givenLine(t, tc.bad.Line(), Policy{}, tc.given)
			before := s.Clone()
			_, derr := Decide(s, tc.bad, Policy{})
			require.Error(t, derr, "Decide refuses it")
			require.ErrorIs(t, s.Apply(forge(s, tc.bad)), ErrCorrupt)
			requireSameState(t, before, s)
		})
	}
}

// TestValidateRefusesFormatControls checks that every text field refuses
// Unicode format characters (category Cf), as it refuses control
// characters: a right-to-left override makes "Công ty A" display as
// something else, and zero-width characters make two names that look the
// same differ. ZWNJ and ZWJ are Cf too, and Vietnamese never needs them.
func TestValidateRefusesFormatControls(t *testing.T) {
	controls := []struct {
		name string
		r    rune
	}{
		{"soft hyphen", '\u00AD'},
		{"arabic letter mark", '\u061C'},
		{"zero width space", '\u200B'},
		{"zero width non-joiner", '\u200C'},
		{"zero width joiner", '\u200D'},
		{"left-to-right mark", '\u200E'},
		{"right-to-left mark", '\u200F'},
		{"left-to-right embedding", '\u202A'},
		{"right-to-left embedding", '\u202B'},
		{"pop directional formatting", '\u202C'},
		{"left-to-right override", '\u202D'},
		{"right-to-left override", '\u202E'},
		{"word joiner", '\u2060'},
		{"left-to-right isolate", '\u2066'},
		{"right-to-left isolate", '\u2067'},
		{"first strong isolate", '\u2068'},
		{"pop directional isolate", '\u2069'},
		{"byte order mark", '\uFEFF'},
		{"interlinear annotation anchor", '\uFFF9'},
		{"tag space", '\U000E0020'},
	}
	fields := []struct {
		field string
		cmd   func(v string) Command
	}{
		{"decision", func(v string) Command { return alloc(trieu, "", with(func(c *Command) { c.Decision = v })) }},
		{"voucher", func(v string) Command { return disburse(trieu, "", with(func(c *Command) { c.Voucher = v })) }},
		{"beneficiary", func(v string) Command { return disburse(trieu, "", with(func(c *Command) { c.Beneficiary = v })) }},
		{"reason", func(v string) Command { return refund(trieu, "", with(func(c *Command) { c.Reason = v })) }},
		{"actor", func(v string) Command { return alloc(trieu, "", with(func(c *Command) { c.Actor = v })) }},
	}
	for _, cc := range controls {
		require.True(t, unicode.Is(unicode.Cf, cc.r), "%U is a format character", cc.r)
		for _, f := range fields {
			t.Run(cc.name+"/"+f.field, func(t *testing.T) {
				cmd := f.cmd("Công ty " + string(cc.r) + "Mỹ")
				err := cmd.Validate(Policy{})
				require.Error(t, err)
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, CodeInvalidField, e.Code)
				assert.Equal(t, f.field, e.Field)
				assert.Contains(t, e.Message, f.field)
				assert.Contains(t, e.Message, fmt.Sprintf("%U", cc.r))
			})
		}
	}
	// What Vietnamese text does need stays accepted: combining marks (NFD
	// input), the đ letters, no-break spaces inside, typographic quotes
	// and dashes.
	for _, v := range []string{
		"Công ty Mỹ", "Co\u0302ng ty My\u0303", "Đ đ", "HTX\u00A0Gốm", "“Gốm” – Bát Tràng", "Công ty 1/QĐ-BCT",
	} {
		cmd := disburse(trieu, "", with(func(c *Command) { c.Beneficiary = v }))
		assert.NoError(t, cmd.Validate(Policy{}), "beneficiary %q", v)
	}
}

// FuzzValidateText checks that whatever a text field accepts is valid UTF-8
// without control or format characters, surrounding spaces or excess
// length, and that a refusal is a domain error naming the field.
func FuzzValidateText(f *testing.F) {
	for _, s := range []string{
		"Công ty Mỹ", "Cong ty My", "", " a", "a\tb", "a\u202Eb", "a\u200Db", "\uFEFFa", "a\u00ADb",
		"\xff", "Co\u0302ng", "a\u2028b", "\U000E0041",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := validateText("beneficiary", s, MaxBeneficiaryLen)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidField || e.Field != "beneficiary" {
				t.Fatalf("validateText(%q) = %v, want an invalid_field error on beneficiary", s, err)
			}
			return
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxBeneficiaryLen || strings.TrimSpace(s) != s {
			t.Fatalf("validateText accepted %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("validateText accepted %q with %U", s, r)
			}
		}
	})
}

// TestDecideRefusesTotalsPastTheBound checks the bound on line and project
// totals: a movement that brings a total exactly to MaxLineTotal is
// recorded, one that would pass it by one đồng is refused, for each of the
// three totals and at both levels.
func TestDecideRefusesTotalsPastTheBound(t *testing.T) {
	bound := MaxLineTotal
	minus := func(n int64) Amount { return bound.Sub(AmountFromInt64(n)) }
	for _, tc := range []struct {
		name    string
		line    Balance
		project Balance // of project "DA-01"
		when    Command
		field   string // empty when accepted
	}{
		{name: "allocation to the bound", line: Balance{Allocated: minus(trieu)}, when: alloc(trieu, "")},
		{name: "allocation one past the bound", line: Balance{Allocated: minus(trieu)}, when: alloc(trieu+1, ""), field: "amount"},
		{name: "allocation of MaxMovement on a full line", line: Balance{Allocated: bound}, when: alloc(1_000_000_000_000_000, ""), field: "amount"},
		{name: "adjustment to the bound", line: Balance{Allocated: minus(trieu)}, when: adjust(trieu, "")},
		{name: "adjustment one past the bound", line: Balance{Allocated: minus(trieu)}, when: adjust(trieu+1, ""), field: "delta"},
		{name: "negative adjustment on a full line", line: Balance{Allocated: bound}, when: adjust(-1, "")},
		{
			// Disbursed grows with every disbursement, even when refunds
			// keep net disbursed small.
			name: "disbursement to the bound", line: Balance{Allocated: AmountFromInt64(10 * trieu), Disbursed: minus(trieu), Refunded: minus(trieu)},
			when: disburse(trieu, ""),
		},
		{
			name: "disbursement one past the bound", line: Balance{Allocated: AmountFromInt64(10 * trieu), Disbursed: minus(trieu), Refunded: minus(trieu)},
			when: disburse(trieu+1, ""), field: "amount",
		},
		{name: "refund on a full line", line: Balance{Allocated: bound, Disbursed: bound}, when: refund(trieu, "")},
		{
			// A project's allocation can exceed its line's, when the line
			// was cut by an adjustment outside the project.
			name: "project allocation to the bound", line: Balance{Allocated: minus(10 * trieu)}, project: Balance{Allocated: minus(trieu)},
			when: alloc(trieu, "DA-01"),
		},
		{
			name: "project allocation one past the bound", line: Balance{Allocated: minus(10 * trieu)}, project: Balance{Allocated: minus(trieu)},
			when: alloc(trieu+1, "DA-01"), field: "amount",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewLineState(rulesLine)
			s.Balance = tc.line
			if tc.project != (Balance{}) {
				s.Projects["DA-01"] = tc.project
			}
			e, err := Decide(s, tc.when, Policy{})
			if tc.field == "" {
				require.NoError(t, err)
				after := s.Balance.apply(&e)
				for _, total := range []Amount{after.Allocated, after.Disbursed, after.Refunded} {
					assert.LessOrEqual(t, total.Cmp(bound), 0)
				}
				return
			}
			require.ErrorIs(t, err, ErrTotalLimitExceeded)
			var de *Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, CodeTotalLimitExceeded, de.Code)
			assert.Equal(t, tc.field, de.Field)
			assert.Contains(t, de.Message, MaxLineTotal.VND())
			assert.Zero(t, e, "a refused command yields no event")
		})
	}
}
