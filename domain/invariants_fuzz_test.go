package domain_test

import (
	"context"
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
	fuzzLines    = []domain.LineKey{lineHaNoi, lineHCM}
	fuzzProjects = []string{"", "DA-01", "DA-02", ""}
)

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
	cmd.IdempotencyKey = key
	return cmd
}

// decodeStep reads one command from 4 fuzz bytes:
//
//	b0: bits 0-1 kind, bits 2-4 amount in triệu (0 is invalid), bit 5 the
//	    sign of a delta;
//	b1: bit 0 the line, bits 1-2 the project, bit 7 which of two ledgers;
//	b2: the effective date, 255 meaning the day before the fiscal year;
//	b3: bits 0-2 select a fresh key (2-7), an exact retry of an earlier
//	    command (0) or an earlier key with this new content (1); bits 3-7
//	    pick the earlier command.
func decodeStep(b []byte) (c fuzzContent, ledger int, keyMode int, pick int) {
	c.kind = []domain.CommandKind{domain.Allocate, domain.Adjust, domain.Disburse, domain.Refund}[b[0]&3]
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
type modelBalance struct{ allocated, disbursed, refunded int64 }

func (b modelBalance) net() int64       { return b.disbursed - b.refunded }
func (b modelBalance) available() int64 { return b.allocated - b.net() }

func (b modelBalance) refuses(c fuzzContent) domain.Code {
	switch c.kind {
	case domain.Adjust:
		if b.allocated+c.amount < b.net() {
			return domain.CodeAllocationBelowDisbursed
		}
	case domain.Disburse:
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
	}
	return b
}

type modelClaim struct {
	content fuzzContent
	eventID string
}

// model predicts the ledger's answer to every command from the rules of
// domain.md, without using the code under test.
type model struct {
	lines    [2]modelBalance
	projects [2]map[string]modelBalance
	claims   map[string]modelClaim
}

// predict returns the code of the expected refusal, or the claim to
// replay, or neither for an accepted command.
func (m *model) predict(c fuzzContent, key string) (domain.Code, *modelClaim) {
	switch { // Validate checks the date before the amount
	case c.day < 0 && c.kind != domain.Allocate:
		return domain.CodeDateOutsideWindow, nil
	case c.amount == 0:
		return domain.CodeInvalidAmount, nil
	}
	if cl, ok := m.claims[key]; ok {
		if cl.content != c {
			return domain.CodeIdempotencyKeyReused, nil
		}
		return "", &cl
	}
	if code := m.lines[c.line].refuses(c); code != "" {
		return code, nil
	}
	if c.project != "" {
		return m.projects[c.line][c.project].refuses(c), nil
	}
	return "", nil
}

func (m *model) accept(c fuzzContent, key, eventID string) {
	m.lines[c.line] = m.lines[c.line].apply(c)
	if c.project != "" {
		m.projects[c.line][c.project] = m.projects[c.line][c.project].apply(c)
	}
	m.claims[key] = modelClaim{content: c, eventID: eventID}
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
			projects: [2]map[string]modelBalance{{}, {}},
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
			res, err := ledgers[li].Record(ctx, cmd)
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
				require.Lenf(t, events, before+1, "step %d", step)
				last := events[len(events)-1]
				require.Equal(t, cmd.EventID, last.Event.ID)
				require.Equal(t, res.Recorded.Seq, last.Seq)
				require.Truef(t, last.Event.Amount.Equal(domain.AmountFromInt64(c.amount)), "step %d: amount %s", step, last.Event.Amount)
				m.accept(c, key, cmd.EventID)
				requireModelBalance(t, m.lines[c.line], res.Line.Balance, "result line")
			}
			checkLog(t, step, events, m)
		}
	})
}

// checkLog replays events into fresh line states and checks the invariants,
// the model's balances and exactly-once recording.
func checkLog(t *testing.T, step int, events []domain.Recorded, m *model) {
	t.Helper()
	states := [2]*domain.LineState{domain.NewLineState(fuzzLines[0]), domain.NewLineState(fuzzLines[1])}
	ids := map[string]int{}
	keys := map[string]int{}
	for _, r := range events {
		li := 0
		if r.Event.Line() == fuzzLines[1] {
			li = 1
		}
		require.NoErrorf(t, states[li].Apply(r), "step %d: the log must replay", step)
		ids[r.Event.ID]++
		keys[r.Event.IdempotencyKey]++
	}
	for li, s := range states {
		requireInvariants(t, s.Balance, "line")
		requireModelBalance(t, m.lines[li], s.Balance, "line")
		for code, b := range s.Projects {
			requireInvariants(t, b, "project "+code)
			requireModelBalance(t, m.projects[li][code], b, "project "+code)
		}
		require.Len(t, s.Projects, len(m.projects[li]))
	}
	require.Len(t, ids, len(events), "event ids are unique")
	require.Len(t, keys, len(events), "one event per idempotency key")
	require.Len(t, m.claims, len(events), "every accepted command, and nothing else, is in the log")
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
	require.LessOrEqualf(t, b.NetDisbursed().Cmp(b.Allocated), 0, "%s: net disbursed %s > allocated %s", what, b.NetDisbursed(), b.Allocated)
	require.GreaterOrEqualf(t, b.Allocated.Sign(), 0, "%s: allocated %s < 0", what, b.Allocated)
}

func requireModelBalance(t *testing.T, want modelBalance, got domain.Balance, what string) {
	t.Helper()
	require.Truef(t, got.Allocated.Equal(domain.AmountFromInt64(want.allocated)), "%s allocated: model %d, ledger %s", what, want.allocated, got.Allocated)
	require.Truef(t, got.Disbursed.Equal(domain.AmountFromInt64(want.disbursed)), "%s disbursed: model %d, ledger %s", what, want.disbursed, got.Disbursed)
	require.Truef(t, got.Refunded.Equal(domain.AmountFromInt64(want.refunded)), "%s refunded: model %d, ledger %s", what, want.refunded, got.Refunded)
}
