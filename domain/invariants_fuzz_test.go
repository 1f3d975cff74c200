package domain_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// Bounds of FuzzLedgerInvariants.
const (
	fuzzMaxSteps  = 64
	fuzzStepBytes = 4
)

var (
	// fuzzLines are the lines commands are on, then the next year's lines
	// of the same provinces, which only carry-overs reach.
	fuzzLines = []domain.LineKey{lineHaNoi, lineHCM,
		{FiscalYear: 2026, Province: lineHaNoi.Province, Source: lineHaNoi.Source},
		{FiscalYear: 2026, Province: lineHCM.Province, Source: lineHCM.Source}}
	fuzzProjects = []string{"", "DA-01", "DA-02", ""}
)

// fuzzNextYear is the index in fuzzLines of line i's next-year line.
const fuzzNextYear = 2

// fuzzContent is what a fuzzed command asks for: two commands with equal
// content are the same command (the ledger's fingerprint must agree).
type fuzzContent struct {
	kind    domain.CommandKind
	line    int
	project string
	amount  int64 // đồng; the signed delta for adjustments
	day     int   // days after 2025-01-01; -1 is 2024-12-31
}

func (c fuzzContent) command(key string) domain.Command {
	cmd := newCommand(c.kind, fuzzLines[c.line], c.amount, c.project)
	cmd.EffectiveDate = domain.Date{Year: 2025, Month: time.January, Day: 1}.AddDays(c.day)
	switch c.kind {
	case domain.Transfer:
		// A carry-over to next year's line, within the settlement period.
		cmd.TransferKind, cmd.To, cmd.Decision = domain.TransferCarryOver, fuzzLines[c.line+fuzzNextYear], "163/QĐ-UBND"
		cmd.InEventID = uuid.Must(uuid.NewV7()).String()
		cmd.EffectiveDate = domain.Date{Year: 2026, Month: time.January, Day: 1}.AddDays(max(c.day, 0) % 31)
	case domain.Lapse:
		cmd.Decision = "Luật NSNN 83/2015"
		cmd.EffectiveDate = domain.Date{Year: 2026, Month: time.February, Day: 1}.AddDays(max(c.day, 0) % 100)
	}
	cmd.IdempotencyKey = key
	return cmd
}

// decodeStep reads one command from 4 fuzz bytes:
//
//	b0: bits 0-1 kind, bits 2-4 amount in triệu (0 is invalid), bit 5 the
//	    sign of a delta, bit 6 a transfer (bit 0 clear: a carry-over to
//	    next year's line) or a lapse (bit 0 set) instead;
//	b1: bit 0 the line, bits 1-2 the project, bit 7 which of two ledgers;
//	b2: the effective date, 255 meaning the day before the fiscal year;
//	b3: bits 0-2 select a fresh key (2-7), an exact retry of an earlier
//	    command (0) or an earlier key with this new content (1); bits 3-7
//	    pick the earlier command.
func decodeStep(b []byte) (c fuzzContent, ledger int, keyMode int, pick int) {
	c.kind = []domain.CommandKind{domain.Allocate, domain.Adjust, domain.Disburse, domain.Refund}[b[0]&3]
	if b[0]&0x40 != 0 {
		c.kind = []domain.CommandKind{domain.Transfer, domain.Lapse}[b[0]&1]
	}
	c.amount = int64(b[0]>>2&7) * million
	if c.kind == domain.Adjust && b[0]&0x20 != 0 {
		c.amount = -c.amount
	}
	c.line = int(b[1] & 1)
	c.project = fuzzProjects[b[1]>>1&3]
	ledger = int(b[1] >> 7)
	c.day = int(b[2]) % 180
	if b[2] == 255 {
		c.day = -1
	}
	return c, ledger, int(b[3] & 7), int(b[3] >> 3)
}

// modelBalance is the oracle's own arithmetic, in int64 đồng.
type modelBalance struct{ allocated, disbursed, refunded, in, out, lapsed int64 }

func (b modelBalance) net() int64 { return b.disbursed - b.refunded }
func (b modelBalance) available() int64 {
	return b.allocated + b.in - b.out - b.lapsed - b.net()
}

func (b modelBalance) refuses(c fuzzContent) domain.Code {
	switch c.kind {
	case domain.Adjust:
		if b.allocated+c.amount < 0 || -c.amount > b.available() {
			return domain.CodeAllocationBelowDisbursed
		}
	case domain.Disburse, domain.Transfer, domain.Lapse:
		if c.amount > b.available() {
			return domain.CodeInsufficientFunds
		}
	case domain.Refund:
		if c.amount > b.net() {
			return domain.CodeRefundExceedsDisbursed
		}
	}
	return ""
}

func (b modelBalance) apply(c fuzzContent) modelBalance {
	switch c.kind {
	case domain.Allocate, domain.Adjust:
		b.allocated += c.amount
	case domain.Disburse:
		b.disbursed += c.amount
	case domain.Refund:
		b.refunded += c.amount
	case domain.Transfer:
		b.out += c.amount
	case domain.Lapse:
		b.lapsed += c.amount
	}
	return b
}

// received is b after the transferred-in side of c.
func (b modelBalance) received(c fuzzContent) modelBalance {
	b.in += c.amount
	return b
}

type modelClaim struct {
	content fuzzContent
	eventID string
}

// model predicts the ledger's answer to every command from the rules of
// domain.md, without using the code under test.
type model struct {
	lines    [4]modelBalance
	projects [4]map[string]modelBalance
	closed   [4]bool
	claims   map[string]modelClaim
}

// predict returns the code of the expected refusal, or the claim to
// replay, or neither for an accepted command.
func (m *model) predict(c fuzzContent, key string) (domain.Code, *modelClaim) {
	moves := c.kind == domain.Transfer || c.kind == domain.Lapse
	switch { // Validate checks the date before the amount
	case c.day < 0 && c.kind != domain.Allocate && !moves:
		return domain.CodeDateOutsideWindow, nil
	case c.amount == 0 && c.kind != domain.Lapse:
		return domain.CodeInvalidAmount, nil
	}
	if cl, ok := m.claims[key]; ok {
		if cl.content != c {
			return domain.CodeIdempotencyKeyReused, nil
		}
		return "", &cl
	}
	if m.closed[c.line] && c.kind != domain.Refund {
		return domain.CodeLineLapsed, nil
	}
	if code := m.lines[c.line].refuses(c); code != "" {
		return code, nil
	}
	if c.project != "" {
		if code := m.projects[c.line][c.project].refuses(c); code != "" {
			return code, nil
		}
	}
	if c.kind == domain.Lapse && c.project == "" && c.amount != m.lines[c.line].available() {
		return domain.CodeInvalidAmount, nil // a line's lapse takes all it has
	}
	return "", nil
}

func (m *model) accept(c fuzzContent, key, eventID string) {
	m.lines[c.line] = m.lines[c.line].apply(c)
	if c.project != "" {
		m.projects[c.line][c.project] = m.projects[c.line][c.project].apply(c)
	}
	if c.kind == domain.Transfer {
		to := c.line + fuzzNextYear
		m.lines[to] = m.lines[to].received(c)
		if c.project != "" {
			m.projects[to][c.project] = m.projects[to][c.project].received(c)
		}
	}
	if c.kind == domain.Lapse && c.project == "" {
		m.closed[c.line] = true
		// The whole line lapses: so does what each project still had.
		for code, pb := range m.projects[c.line] {
			if a := pb.available(); a > 0 {
				pb.lapsed += a
				m.projects[c.line][code] = pb
			}
		}
	}
	m.claims[key] = modelClaim{content: c, eventID: eventID}
}

// events is how many events an accepted command appends.
func (c fuzzContent) events() int {
	if c.kind == domain.Transfer {
		return 2
	}
	return 1
}

// FuzzLedgerInvariants records random sequences of commands, through two
// ledgers over one log, and checks after each step, on a fresh replay of
// the log, the invariants of domain.md at line and project level, that
// every accepted command is in the log exactly once, and that each answer
// is the one the rules predict.
func FuzzLedgerInvariants(f *testing.F) {
	f.Add([]byte{})
	// Allocate 7 triệu, disburse 7, refund 3, disburse 4 (one over), adjust -1.
	f.Add([]byte{0x1c, 0, 10, 2, 0x1e, 0, 11, 2, 0x0f, 0, 12, 2, 0x12, 0, 13, 2, 0x25, 0, 14, 2})
	// Allocate to a project, overspend it from the other ledger, retry the
	// allocation, reuse its key for a disbursement.
	f.Add([]byte{0x1c, 2, 5, 3, 0x1e, 0x82, 6, 2, 0x1e, 0, 7, 2, 0x1c, 2, 5, 0, 0x1e, 0x82, 6, 1})
	// Both lines, both projects, a date before the year, a zero amount.
	f.Add([]byte{0x10, 1, 1, 2, 0x0c, 3, 2, 2, 0x0e, 0x83, 3, 2, 0x02, 0x81, 255, 2, 0x03, 1, 4, 2, 0x08, 5, 9, 2})
	// Allocate 7 triệu, carry 3 of them over, retry the carry-over from
	// the other ledger, lapse 3 (refused: not all), lapse 4, disburse
	// (refused: lapsed), refund nothing paid (refused).
	f.Add([]byte{0x1c, 0, 10, 2, 0x4c, 0, 11, 2, 0x4c, 0x80, 11, 0x08, 0x4d, 0, 12, 2, 0x51, 0, 12, 2, 0x06, 0, 13, 2, 0x07, 0, 14, 2})
	// A project's allocation, its carry-over and its lapse.
	f.Add([]byte{0x1c, 2, 10, 2, 0x48, 2, 11, 2, 0x49, 2, 12, 2, 0x41, 0, 12, 2})
	// Many steps alternating ledgers.
	seed := make([]byte, 0, fuzzMaxSteps*fuzzStepBytes)
	for i := range fuzzMaxSteps {
		seed = append(seed, byte(i*37), byte(i*11), byte(i), byte(i*5))
	}
	f.Add(seed)

	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		mem := eventstore.NewMemory()
		ledgers := [2]*domain.Ledger{domain.NewLedger(mem, domain.Policy{}), domain.NewLedger(mem, domain.Policy{})}
		m := &model{
			projects: [4]map[string]modelBalance{{}, {}, {}, {}},
			claims:   map[string]modelClaim{},
		}
		type sent struct {
			content fuzzContent
			key     string
		}
		var history []sent

		for step := 0; step < fuzzMaxSteps && len(data) >= fuzzStepBytes; step++ {
			c, li, keyMode, pick := decodeStep(data[:fuzzStepBytes])
			data = data[fuzzStepBytes:]
			key := uuid.Must(uuid.NewV7()).String()
			if len(history) > 0 && keyMode <= 1 {
				earlier := history[pick%len(history)]
				key = earlier.key
				if keyMode == 0 {
					c = earlier.content
				}
			}
			history = append(history, sent{c, key})
			cmd := c.command(key)

			wantCode, replay := m.predict(c, key)
			before := len(mem.Events())
			var res domain.Result
			var err error
			var pair domain.TransferResult
			if c.kind == domain.Transfer {
				pair, err = ledgers[li].Transfer(ctx, cmd)
				res = domain.Result{Recorded: pair.Out, Line: pair.From, Replayed: pair.Replayed}
			} else {
				res, err = ledgers[li].Record(ctx, cmd)
			}
			events := mem.Events()

			switch {
			case wantCode != "":
				require.Errorf(t, err, "step %d: %+v with key %s: want %s", step, c, key, wantCode)
				require.Equalf(t, wantCode, domain.ErrorCode(err), "step %d: %+v: %v", step, c, err)
				require.Lenf(t, events, before, "step %d: a refused command appends nothing", step)
			case replay != nil:
				require.NoErrorf(t, err, "step %d: retry of %+v must replay", step, c)
				require.Truef(t, res.Replayed, "step %d", step)
				require.Equal(t, replay.eventID, res.Recorded.Event.ID)
				require.Lenf(t, events, before, "step %d: a replay appends nothing", step)
			default:
				require.NoErrorf(t, err, "step %d: %+v (ledger %d) must be accepted", step, c, li)
				require.Falsef(t, res.Replayed, "step %d", step)
				require.Lenf(t, events, before+c.events(), "step %d", step)
				last := events[before]
				require.Equal(t, cmd.EventID, last.Event.ID)
				require.Equal(t, res.Recorded.Seq, last.Seq)
				require.Truef(t, last.Event.Amount.Equal(domain.AmountFromInt64(c.amount)), "step %d: amount %s", step, last.Event.Amount)
				m.accept(c, key, cmd.EventID)
				requireModelBalance(t, m.lines[c.line], res.Line.Balance, "result line")
				if c.kind == domain.Transfer {
					in := events[before+1]
					require.Equal(t, res.Recorded.Seq+1, in.Seq, "step %d: the two sides are one write", step)
					require.Equal(t, cmd.InEventID, in.Event.ID)
					require.Equal(t, cmd.EventID, in.Event.TransferID)
					requireModelBalance(t, m.lines[c.line+fuzzNextYear], pair.To.Balance, "result destination")
				}
			}
			checkLog(t, step, events, m)
		}
	})
}

// checkLog replays events into fresh line states and checks the invariants,
// the model's balances and exactly-once recording.
func checkLog(t *testing.T, step int, events []domain.Recorded, m *model) {
	t.Helper()
	var states [4]*domain.LineState
	for i := range states {
		states[i] = domain.NewLineState(fuzzLines[i])
	}
	ids := map[string]int{}
	keys := map[string]int{}
	for _, r := range events {
		li := slices.Index(fuzzLines, r.Event.Line())
		require.GreaterOrEqualf(t, li, 0, "step %d: event on line %s", step, r.Event.Line())
		require.NoErrorf(t, states[li].Apply(r), "step %d: the log must replay", step)
		ids[r.Event.ID]++
		if r.Event.Type != domain.TypeTransferredIn {
			keys[r.Event.IdempotencyKey]++
		}
	}
	for li, s := range states {
		require.Equalf(t, m.closed[li], s.Closed, "step %d: line %s closed", step, s.Key)
		requireInvariants(t, s.Balance, "line")
		requireModelBalance(t, m.lines[li], s.Balance, "line")
		for code, b := range s.Projects {
			requireInvariants(t, b, "project "+code)
			requireModelBalance(t, m.projects[li][code], b, "project "+code)
		}
		require.Len(t, s.Projects, len(m.projects[li]))
	}
	require.Len(t, ids, len(events), "event ids are unique")
	require.Len(t, keys, len(m.claims), "one command per idempotency key")
	appended := 0
	for _, cl := range m.claims {
		appended += cl.content.events()
	}
	require.Equal(t, appended, len(events), "every accepted command, and nothing else, is in the log")
	for key, cl := range m.claims {
		require.Equalf(t, 1, ids[cl.eventID], "step %d: accepted event %s appears once", step, cl.eventID)
		require.Equal(t, 1, keys[key])
	}
}

// requireInvariants checks domain.md's invariants on one balance.
func requireInvariants(t *testing.T, b domain.Balance, what string) {
	t.Helper()
	require.GreaterOrEqualf(t, b.Refunded.Sign(), 0, "%s: refunded %s < 0", what, b.Refunded)
	require.LessOrEqualf(t, b.Refunded.Cmp(b.Disbursed), 0, "%s: refunded %s > disbursed %s", what, b.Refunded, b.Disbursed)
	require.GreaterOrEqualf(t, b.Available().Sign(), 0, "%s: available %s < 0", what, b.Available())
	require.Equalf(t, 0, b.Available().Cmp(b.Allocated.Add(b.TransferredIn).Sub(b.TransferredOut).Sub(b.Lapsed).Sub(b.NetDisbursed())), "%s: available", what)
	for _, v := range []domain.Amount{b.TransferredIn, b.TransferredOut, b.Lapsed} {
		require.GreaterOrEqualf(t, v.Sign(), 0, "%s: a total < 0", what)
	}
	require.GreaterOrEqualf(t, b.Allocated.Sign(), 0, "%s: allocated %s < 0", what, b.Allocated)
}

func requireModelBalance(t *testing.T, want modelBalance, got domain.Balance, what string) {
	t.Helper()
	require.Truef(t, got.Allocated.Equal(domain.AmountFromInt64(want.allocated)), "%s allocated: model %d, ledger %s", what, want.allocated, got.Allocated)
	require.Truef(t, got.Disbursed.Equal(domain.AmountFromInt64(want.disbursed)), "%s disbursed: model %d, ledger %s", what, want.disbursed, got.Disbursed)
	require.Truef(t, got.Refunded.Equal(domain.AmountFromInt64(want.refunded)), "%s refunded: model %d, ledger %s", what, want.refunded, got.Refunded)
	require.Truef(t, got.TransferredIn.Equal(domain.AmountFromInt64(want.in)), "%s transferred in: model %d, ledger %s", what, want.in, got.TransferredIn)
	require.Truef(t, got.TransferredOut.Equal(domain.AmountFromInt64(want.out)), "%s transferred out: model %d, ledger %s", what, want.out, got.TransferredOut)
	require.Truef(t, got.Lapsed.Equal(domain.AmountFromInt64(want.lapsed)), "%s lapsed: model %d, ledger %s", what, want.lapsed, got.Lapsed)
}
