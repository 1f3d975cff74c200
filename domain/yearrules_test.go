package domain

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The budget year's rules: transfers between lines (succession and
// carry-over), lapses, and refunds against the line of a merged province.

// Lines of the tables: 02 Hà Giang merged into 08 Tuyên Quang on 1 July
// 2025; 01 Hà Nội was not merged.
var (
	haGiang25    = LineKey{FiscalYear: 2025, Province: "02", Source: SourceNational}
	tuyenQuang25 = LineKey{FiscalYear: 2025, Province: "08", Source: SourceNational}
	tuyenQuang26 = LineKey{FiscalYear: 2026, Province: "08", Source: SourceNational}
	haNoi25      = LineKey{FiscalYear: 2025, Province: "01", Source: SourceNational}
	haNoi26      = LineKey{FiscalYear: 2026, Province: "01", Source: SourceNational}
)

// on moves a command of the tables to line k.
func on(k LineKey) func(*Command) {
	return func(c *Command) { c.FiscalYear, c.Province, c.Source = k.FiscalYear, k.Province, k.Source }
}

// transfer returns a transfer of amount from line from to line to.
func transfer(kind TransferKind, from, to LineKey, amount int64, project, date string, opts ...func(*Command)) Command {
	c := rulesCmd(Transfer, amount, project, on(from), dated(date))
	c.TransferKind, c.To, c.Decision = kind, to, "1234/QĐ-UBND"
	c.InEventID = uuid.Must(uuid.NewV7()).String()
	for _, o := range opts {
		o(&c)
	}
	return c
}

func lapse(k LineKey, amount int64, project, date string, opts ...func(*Command)) Command {
	c := rulesCmd(Lapse, amount, project, on(k), dated(date))
	c.Decision = "Luật NSNN 83/2015, Điều 64"
	for _, o := range opts {
		o(&c)
	}
	return c
}

// funded is what the tables give a line first: 10 triệu, 4 of them to
// project DA-01, and 1 triệu paid out of DA-01, dated early in its year.
func fundedOn(k LineKey) []Command {
	d := Date{Year: k.FiscalYear, Month: time.March, Day: 2}.String()
	if k.FiscalYear == 2025 && k.Province == "08" {
		d = "2025-07-02" // 34-province code: from 1 July 2025
	}
	return []Command{
		alloc(6*trieu, "", on(k), dated(d)),
		alloc(4*trieu, "DA-01", on(k), dated(d)),
		disburse(1*trieu, "DA-01", on(k), dated(d)),
	}
}

func TestDecideTransfer(t *testing.T) {
	lapsedHaNoi26 := append(fundedOn(haNoi26), lapse(haNoi26, 9*trieu, "", "2027-02-01", recordedAt("2027-06-01T00:00:00Z")))
	cases := []struct {
		name       string
		givenFrom  []Command
		givenTo    []Command
		when       Command
		policy     Policy
		err        error
		field      string
		fromAvail  string
		toAvail    string
		toProjects map[string]string
	}{
		{name: "succession of the whole line", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferSuccession, haGiang25, tuyenQuang25, 9*trieu, "", "2025-07-01"), fromAvail: "0", toAvail: "9000000"},
		{name: "succession of a project keeps its code", givenFrom: fundedOn(haGiang25), givenTo: fundedOn(tuyenQuang25),
			when:      transfer(TransferSuccession, haGiang25, tuyenQuang25, 3*trieu, "DA-01", "2025-07-01"),
			fromAvail: "6000000", toAvail: "12000000", toProjects: map[string]string{"DA-01": "6000000"}},
		{name: "succession in the settlement period", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferSuccession, haGiang25, tuyenQuang25, trieu, "", "2026-01-31"), fromAvail: "8000000", toAvail: "1000000"},
		{name: "succession after the settlement period", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferSuccession, haGiang25, tuyenQuang25, trieu, "", "2026-02-01"), err: ErrDateOutsideWindow, field: "effective_date"},
		{name: "succession before 1 July 2025", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferSuccession, haGiang25, tuyenQuang25, trieu, "", "2025-06-30"), err: ErrDateOutsideWindow, field: "effective_date"},
		{name: "succession to a province that is not the successor", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferSuccession, haGiang25, LineKey{2025, "19", SourceNational}, trieu, "", "2025-07-01"), err: invalidCode(CodeInvalidTransfer), field: "to_province"},
		{name: "succession from a province that was not merged", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferSuccession, haNoi25, LineKey{2025, "08", SourceNational}, trieu, "", "2025-07-01"), err: invalidCode(CodeInvalidTransfer), field: "province"},
		{name: "succession from the province that absorbed the others", givenFrom: fundedOn(tuyenQuang25),
			when: transfer(TransferSuccession, tuyenQuang25, LineKey{2025, "19", SourceNational}, trieu, "", "2025-07-03"), err: invalidCode(CodeInvalidTransfer), field: "province"},
		{name: "succession into another year", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferSuccession, haGiang25, tuyenQuang26, trieu, "", "2025-07-01"), err: invalidCode(CodeInvalidTransfer), field: "to_fiscal_year"},
		{name: "succession between sources", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferSuccession, haGiang25, LineKey{2025, "08", SourceLocal}, trieu, "", "2025-07-01"), err: invalidCode(CodeInvalidTransfer), field: "to_source"},
		{name: "succession of more than the line has", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferSuccession, haGiang25, tuyenQuang25, 9*trieu+1, "", "2025-07-01"), err: ErrInsufficientFunds, field: "amount"},
		{name: "succession of more than the project has", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferSuccession, haGiang25, tuyenQuang25, 3*trieu+1, "DA-01", "2025-07-01"), err: ErrInsufficientFunds, field: "amount"},
		{name: "carry-over to next year, same province", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, haNoi26, 5*trieu, "", "2026-01-20"), fromAvail: "4000000", toAvail: "5000000"},
		{name: "carry-over of a merged province goes to its successor", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferCarryOver, haGiang25, tuyenQuang26, 9*trieu, "", "2026-01-20"), fromAvail: "0", toAvail: "9000000"},
		{name: "carry-over of a merged province under its old code", givenFrom: fundedOn(haGiang25),
			when: transfer(TransferCarryOver, haGiang25, LineKey{2026, "02", SourceNational}, trieu, "", "2026-01-20"), err: invalidCode(CodeInvalidTransfer), field: "to_province"},
		{name: "carry-over to another province", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, tuyenQuang26, trieu, "", "2026-01-20"), err: invalidCode(CodeInvalidTransfer), field: "to_province"},
		{name: "carry-over two years on", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, LineKey{2027, "01", SourceNational}, trieu, "", "2026-01-20"), err: invalidCode(CodeInvalidTransfer), field: "to_fiscal_year"},
		{name: "carry-over within the same year", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, haNoi25, trieu, "", "2026-01-20"), err: invalidCode(CodeInvalidTransfer), field: "to_fiscal_year"},
		{name: "carry-over before the settlement period", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, haNoi26, trieu, "", "2025-12-31"), err: ErrDateOutsideWindow, field: "effective_date"},
		{name: "carry-over after the settlement period", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, haNoi26, trieu, "", "2026-02-01"), err: ErrDateOutsideWindow, field: "effective_date"},
		{name: "carry-over within a configured longer settlement period", givenFrom: fundedOn(haNoi26),
			policy:    Policy{SettlementEndFrom2026: MonthDay{time.March, 31}},
			when:      transfer(TransferCarryOver, haNoi26, LineKey{2027, "01", SourceNational}, trieu, "", "2027-03-31", recordedAt("2027-06-01T00:00:00Z")),
			fromAvail: "8000000", toAvail: "1000000"},
		{name: "carry-over into a lapsed line", givenFrom: fundedOn(haNoi25), givenTo: lapsedHaNoi26,
			when: transfer(TransferCarryOver, haNoi25, haNoi26, trieu, "", "2026-01-20", recordedAt("2027-06-01T00:00:00Z")), err: ErrLineLapsed, field: "to_province"},
		{name: "carry-over in the future", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, haNoi26, trieu, "", "2026-01-20", recordedAt("2026-01-10T00:00:00Z")), err: ErrDateOutsideWindow, field: "effective_date"},
		{name: "transfer without a kind", givenFrom: fundedOn(haNoi25),
			when: transfer("", haNoi25, haNoi26, trieu, "", "2026-01-20"), err: invalidCode(CodeMissingField), field: "transfer_kind"},
		{name: "transfer of an unknown kind", givenFrom: fundedOn(haNoi25),
			when: transfer("merger", haNoi25, haNoi26, trieu, "", "2026-01-20"), err: invalidCode(CodeInvalidField), field: "transfer_kind"},
		{name: "transfer without a decision", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, haNoi26, trieu, "", "2026-01-20", with(func(c *Command) { c.Decision = "" })), err: invalidCode(CodeMissingField), field: "decision"},
		{name: "transfer with a voucher", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, haNoi26, trieu, "", "2026-01-20", with(func(c *Command) { c.Voucher = "KB-1" })), err: invalidCode(CodeInvalidField), field: "voucher"},
		{name: "transfer with a reason", givenFrom: fundedOn(haNoi25),
			when:      transfer(TransferCarryOver, haNoi25, haNoi26, trieu, "", "2026-01-20", with(func(c *Command) { c.Reason = "chuyển nguồn theo Nghị định 163/2016" })),
			fromAvail: "8000000", toAvail: "1000000"},
		{name: "transfer of nothing", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, haNoi26, 0, "", "2026-01-20"), err: invalidCode(CodeInvalidAmount), field: "amount"},
		{name: "transfer without a destination source", givenFrom: fundedOn(haNoi25),
			when: transfer(TransferCarryOver, haNoi25, LineKey{2026, "01", ""}, trieu, "", "2026-01-20"), err: invalidCode(CodeMissingField), field: "to_source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from := givenLine(t, tc.when.Line(), tc.policy, tc.givenFrom)
			to := givenLine(t, tc.when.To, tc.policy, tc.givenTo)
			fromBefore, toBefore := from.Clone(), to.Clone()
			out, in, err := DecideTransfer(from, to, tc.when, tc.policy)
			requireSameState(t, fromBefore, from)
			requireSameState(t, toBefore, to)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				var got *Error
				require.ErrorAs(t, err, &got)
				assert.Equal(t, tc.field, got.Field, "%v", err)
				assert.Zero(t, out)
				assert.Zero(t, in)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, TypeTransferredOut, out.Type)
			assert.Equal(t, TypeTransferredIn, in.Type)
			assert.Equal(t, tc.when.EventID, out.ID)
			assert.Equal(t, tc.when.InEventID, in.ID)
			for _, e := range []Event{out, in} {
				assert.Equal(t, out.ID, e.TransferID)
				assert.Equal(t, tc.when.TransferKind, e.TransferKind)
				assert.Equal(t, tc.when.Line(), e.FromLine)
				assert.Equal(t, tc.when.To, e.ToLine)
				assert.Equal(t, tc.when.Project, e.Project)
				assert.Equal(t, tc.when.IdempotencyKey, e.IdempotencyKey)
				assert.True(t, e.Amount.Equal(tc.when.Amount))
				assert.Equal(t, e.ComputeHash(), e.Hash)
			}
			assert.Equal(t, tc.when.Line(), out.Line())
			assert.Equal(t, tc.when.To, in.Line())
			assert.Equal(t, from.LastHash, out.PrevHash)
			assert.Equal(t, to.LastHash, in.PrevHash)
			require.NoError(t, from.Apply(Recorded{Event: out, Seq: 1000}))
			require.NoError(t, to.Apply(Recorded{Event: in, Seq: 1001}))
			requireAmount(t, tc.fromAvail, from.Balance.Available())
			requireAmount(t, tc.toAvail, to.Balance.Available())
			for p, want := range tc.toProjects {
				requireAmount(t, want, to.Project(p).Available())
			}
			// Money is conserved: what left one line entered the other.
			assert.True(t, fromBefore.Balance.Available().Add(toBefore.Balance.Available()).Equal(from.Balance.Available().Add(to.Balance.Available())))
		})
	}
}

func TestDecideTransferRefusesDecide(t *testing.T) {
	_, err := Decide(NewLineState(haGiang25), transfer(TransferSuccession, haGiang25, tuyenQuang25, trieu, "", "2025-07-01"), Policy{})
	assert.Equal(t, CodeInternal, ErrorCode(err), "a transfer is decided with both lines, never one")
}

func TestDecideLapse(t *testing.T) {
	lapsed := append(fundedOn(haNoi25), lapse(haNoi25, 9*trieu, "", "2026-02-01"))
	runRuleCases(t, []ruleCase{
		{name: "lapse of everything available", given: fundedOn(haNoi25), when: lapse(haNoi25, 9*trieu, "", "2026-02-01"), available: "0"},
		{name: "lapse years later", given: fundedOn(haNoi25), when: lapse(haNoi25, 9*trieu, "", "2026-05-20"), available: "0"},
		{name: "lapse of an empty line", when: lapse(haNoi25, 0, "", "2026-02-01"), available: "0"},
		{name: "lapse of one project", given: fundedOn(haNoi25), when: lapse(haNoi25, 3*trieu, "DA-01", "2026-02-01"), available: "6000000"},
		{name: "lapse of part of a project", given: fundedOn(haNoi25), when: lapse(haNoi25, 2*trieu, "DA-01", "2026-02-01"), available: "7000000"},
		{name: "lapse in the settlement period", given: fundedOn(haNoi25), when: lapse(haNoi25, 9*trieu, "", "2026-01-31"),
			err: ErrDateOutsideWindow, field: "effective_date"},
		{name: "lapse before a configured settlement end", policy: Policy{SettlementEndFrom2026: MonthDay{time.March, 31}},
			given: fundedOn(haNoi26), when: lapse(haNoi26, 9*trieu, "", "2027-03-31", recordedAt("2027-06-01T00:00:00Z")),
			err: ErrDateOutsideWindow, field: "effective_date"},
		{name: "lapse after a configured settlement end", policy: Policy{SettlementEndFrom2026: MonthDay{time.March, 31}},
			given: fundedOn(haNoi26), when: lapse(haNoi26, 9*trieu, "", "2027-04-01", recordedAt("2027-06-01T00:00:00Z")), available: "0"},
		{name: "lapse of less than the line has, without a project", given: fundedOn(haNoi25), when: lapse(haNoi25, 8*trieu, "", "2026-02-01"),
			err: invalidCode(CodeInvalidAmount), field: "amount"},
		{name: "lapse of more than the line has", given: fundedOn(haNoi25), when: lapse(haNoi25, 9*trieu+1, "", "2026-02-01"),
			err: ErrInsufficientFunds, field: "amount"},
		{name: "lapse of more than the project has", given: fundedOn(haNoi25), when: lapse(haNoi25, 3*trieu+1, "DA-01", "2026-02-01"),
			err: ErrInsufficientFunds, field: "amount"},
		{name: "negative lapse", given: fundedOn(haNoi25), when: lapse(haNoi25, -1, "", "2026-02-01"),
			err: invalidCode(CodeInvalidAmount), field: "amount"},
		{name: "lapse without a decision", given: fundedOn(haNoi25), when: lapse(haNoi25, 9*trieu, "", "2026-02-01", with(func(c *Command) { c.Decision = "" })),
			err: invalidCode(CodeMissingField), field: "decision"},
		{name: "lapse of a merged province's line", given: fundedOn(haGiang25), when: lapse(haGiang25, 9*trieu, "", "2026-02-01"), available: "0"},
		{name: "a lapsed line takes a refund", given: lapsed, when: refund(trieu, "DA-01", on(haNoi25), dated("2026-03-01")), available: "1000000"},
		{name: "a lapsed line takes no allocation", given: lapsed, when: alloc(trieu, "", on(haNoi25), dated("2025-12-01")),
			err: ErrLineLapsed, field: "province"},
		{name: "a lapsed line takes no adjustment", given: lapsed, when: adjust(trieu, "", on(haNoi25), dated("2025-12-01")),
			err: ErrLineLapsed, field: "province"},
		{name: "a lapsed line takes no disbursement", given: lapsed, when: disburse(1, "", on(haNoi25), dated("2025-12-01")),
			err: ErrLineLapsed, field: "province"},
		{name: "a lapsed line takes no second lapse", given: lapsed, when: lapse(haNoi25, 0, "", "2026-03-01"),
			err: ErrLineLapsed, field: "province"},
		{name: "a project's lapse leaves the line open", given: append(fundedOn(haNoi25), lapse(haNoi25, 3*trieu, "DA-01", "2026-02-01")),
			when: lapse(haNoi25, 6*trieu, "", "2026-02-01"), available: "0"},
		{name: "a refund after a lapse cannot exceed net disbursed", given: lapsed, when: refund(trieu+1, "", on(haNoi25), dated("2026-03-01")),
			err: ErrRefundExceedsDisbursed, field: "amount"},
	})
}

// A refund of money paid under a 63-province code before the merger goes
// to the line it was paid from, years later; every other movement needs
// a code in force on its date.
func TestMergedProvinceLineTakesRefundsOnly(t *testing.T) {
	paid := []Command{alloc(10*trieu, "", on(haGiang25), dated("2025-03-01")), disburse(4*trieu, "", on(haGiang25), dated("2025-05-10"))}
	runRuleCases(t, []ruleCase{
		{name: "refund in November 2026", given: paid, when: refund(trieu, "", on(haGiang25), dated("2026-11-20"), recordedAt("2026-12-01T00:00:00Z")), available: "7000000"},
		{name: "disbursement after the merger", given: paid, when: disburse(trieu, "", on(haGiang25), dated("2025-08-01")),
			err: ErrProvinceNotInForce, field: "province"},
		{name: "allocation after the merger", given: paid, when: alloc(trieu, "", on(haGiang25), dated("2025-08-01")),
			err: ErrProvinceNotInForce, field: "province"},
		{name: "refund on a line of a year the code was never in force", when: refund(trieu, "", on(LineKey{2027, "02", SourceNational}), dated("2027-11-20"), recordedAt("2027-12-01T00:00:00Z")),
			err: ErrProvinceNotInForce, field: "province"},
		{name: "refund larger than paid", given: paid, when: refund(4*trieu+1, "", on(haGiang25), dated("2026-11-20"), recordedAt("2026-12-01T00:00:00Z")),
			err: ErrRefundExceedsDisbursed, field: "amount"},
	})
}

func TestApplyRefusesWhatALapsedLineCannotHold(t *testing.T) {
	s := givenLine(t, haNoi25, Policy{}, append(fundedOn(haNoi25), lapse(haNoi25, 9*trieu, "", "2026-02-01")))
	require.True(t, s.Closed)
	// An allocation decided on the line before it lapsed.
	open := givenLine(t, haNoi25, Policy{}, fundedOn(haNoi25))
	e, err := Decide(open, alloc(trieu, "", on(haNoi25), dated("2025-12-01")), Policy{})
	require.NoError(t, err)
	e.PrevHash = s.LastHash
	e.Hash = e.ComputeHash()
	require.ErrorIs(t, s.Apply(Recorded{Event: e, Seq: 100}), ErrCorrupt)
}

func TestApplyRefusesATransferSideOnTheWrongLine(t *testing.T) {
	from := givenLine(t, haGiang25, Policy{}, fundedOn(haGiang25))
	to := NewLineState(tuyenQuang25)
	out, in, err := DecideTransfer(from, to, transfer(TransferSuccession, haGiang25, tuyenQuang25, trieu, "", "2025-07-01"), Policy{})
	require.NoError(t, err)
	// The in side's chain moved onto the source line.
	in.PrevHash = from.LastHash
	in.FiscalYear, in.Province = haGiang25.FiscalYear, haGiang25.Province
	in.Hash = in.ComputeHash()
	require.ErrorIs(t, from.Clone().Apply(Recorded{Event: in, Seq: 100}), ErrCorrupt)
	// A side stripped of its transfer kind.
	out.TransferKind = ""
	out.Hash = out.ComputeHash()
	require.ErrorIs(t, from.Clone().Apply(Recorded{Event: out, Seq: 100}), ErrCorrupt)
}

func TestTransferHashCoversBothLines(t *testing.T) {
	from := givenLine(t, haGiang25, Policy{}, fundedOn(haGiang25))
	cmd := transfer(TransferSuccession, haGiang25, tuyenQuang25, trieu, "", "2025-07-01")
	out, _, err := DecideTransfer(from, NewLineState(tuyenQuang25), cmd, Policy{})
	require.NoError(t, err)
	for name, alter := range map[string]func(*Event){
		"kind":      func(e *Event) { e.TransferKind = TransferCarryOver },
		"id":        func(e *Event) { e.TransferID = uuid.Must(uuid.NewV7()).String() },
		"to line":   func(e *Event) { e.ToLine.Province = "19" },
		"from line": func(e *Event) { e.FromLine.FiscalYear = 2024 },
	} {
		e := out
		alter(&e)
		assert.NotEqual(t, out.Hash, e.ComputeHash(), name)
	}
	// A retry's transfer id differs (a new event id); its fingerprint
	// does not, so the retry is recognised.
	retry := cmd
	retry.EventID, retry.InEventID = uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	assert.Equal(t, cmd.Fingerprint(), retry.Fingerprint())
	other := cmd
	other.To = LineKey{2025, "19", SourceNational}
	assert.NotEqual(t, cmd.Fingerprint(), other.Fingerprint())
}

// A lapse of the whole line leaves nothing available on its projects
// either, even where unprojected spending had dipped into their money.
func TestLineLapseLapsesItsProjects(t *testing.T) {
	for _, tc := range []struct {
		name              string
		given             []Command
		lapse             int64
		lapsedDA1, lapsed string
	}{
		{name: "projects within the line", given: fundedOn(haNoi25), lapse: 9 * trieu, lapsedDA1: "3000000", lapsed: "9000000"},
		{name: "a project lapsed first", given: append(fundedOn(haNoi25), lapse(haNoi25, 2*trieu, "DA-01", "2026-02-01")),
			lapse: 7 * trieu, lapsedDA1: "3000000", lapsed: "9000000"},
		{name: "unprojected spending took the project's money", given: append(fundedOn(haNoi25), disburse(8*trieu, "", on(haNoi25), dated("2025-06-01"))),
			lapse: trieu, lapsedDA1: "3000000", lapsed: "1000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := givenLine(t, haNoi25, Policy{}, append(tc.given, lapse(haNoi25, tc.lapse, "", "2026-02-01")))
			require.True(t, s.Closed)
			requireAmount(t, "0", s.Balance.Available())
			requireAmount(t, tc.lapsed, s.Balance.Lapsed)
			requireAmount(t, "0", s.Project("DA-01").Available())
			requireAmount(t, tc.lapsedDA1, s.Project("DA-01").Lapsed)
			// A refund after the lapse is available again (to nothing but
			// the books), on the line and the project.
			e, err := Decide(s, refund(trieu/2, "DA-01", on(haNoi25), dated("2026-03-01")), Policy{})
			require.NoError(t, err)
			require.NoError(t, s.Apply(Recorded{Event: e, Seq: 500}))
			requireAmount(t, "500000", s.Project("DA-01").Available())
		})
	}
}

// A 2026 line allocated in the first half of 2025 under a 63-province
// code that merged on 1 July 2025 (06 Bắc Kạn, into 19 Thái Nguyên) is
// not stuck: its money passes to the successor, or lapses.
func TestLineAllocatedInAdvanceUnderAnOldCode(t *testing.T) {
	bacKan26 := LineKey{FiscalYear: 2026, Province: "06", Source: SourceNational}
	thaiNguyen26 := LineKey{FiscalYear: 2026, Province: "19", Source: SourceNational}
	// Nothing of a 2026 line is paid before 2026, when its code is no
	// longer in force: it can only pass on or lapse.
	advance := []Command{alloc(5*trieu, "", on(bacKan26), dated("2025-03-01"))}
	runRuleCases(t, []ruleCase{
		{name: "lapse after the settlement period", given: advance, when: lapse(bacKan26, 5*trieu, "", "2027-02-01", recordedAt("2027-06-01T00:00:00Z")), available: "0"},
		{name: "no disbursement after the merger", given: advance, when: disburse(trieu, "", on(bacKan26), dated("2026-03-01")),
			err: ErrProvinceNotInForce, field: "province"},
		{name: "no line of 2027 under the old code", when: refund(trieu, "", on(LineKey{2027, "06", SourceNational}), dated("2027-05-01"), recordedAt("2027-06-01T00:00:00Z")),
			err: ErrProvinceNotInForce, field: "province"},
	})
	from := givenLine(t, bacKan26, Policy{}, advance)
	for _, d := range []string{"2025-07-01", "2026-03-01", "2027-01-31"} {
		out, in, err := DecideTransfer(from, NewLineState(thaiNguyen26), transfer(TransferSuccession, bacKan26, thaiNguyen26, 5*trieu, "", d, recordedAt("2027-06-01T00:00:00Z")), Policy{})
		require.NoError(t, err, d)
		assert.Equal(t, thaiNguyen26, in.Line())
		assert.Equal(t, bacKan26, out.Line())
	}
	_, _, err := DecideTransfer(from, NewLineState(thaiNguyen26), transfer(TransferSuccession, bacKan26, thaiNguyen26, 5*trieu, "", "2025-06-30"), Policy{})
	assert.ErrorIs(t, err, ErrDateOutsideWindow)
}
