package domain_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

// decidedTransfer returns the two sides of a carry-over of 300 from line
// 2025/01/national to 2026/01/national, and a lapse of the rest of the
// source line, as the rules decide them.
func decidedTransfer(t *testing.T) (out, in, lapse domain.Event) {
	t.Helper()
	from := domain.NewLineState(domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational})
	to := domain.NewLineState(domain.LineKey{FiscalYear: 2026, Province: "01", Source: domain.SourceNational})
	al := newCommand(domain.Allocate, from.Key, 1_000, "DA-01")
	ev, err := domain.Decide(from, al, domain.Policy{})
	require.NoError(t, err)
	require.NoError(t, from.Apply(domain.Recorded{Event: ev, Seq: 1}))

	tr := newCommand(domain.Transfer, from.Key, 300, "DA-01")
	tr.TransferKind, tr.To, tr.Decision, tr.InEventID = domain.TransferCarryOver, to.Key, "9/QĐ-BCT", uuid.Must(uuid.NewV7()).String()
	tr.EffectiveDate, tr.Now = domain.Date{Year: 2026, Month: time.January, Day: 20}, time.Date(2026, time.January, 20, 3, 0, 0, 0, time.UTC)
	out, in, err = domain.DecideTransfer(from, to, tr, domain.Policy{})
	require.NoError(t, err)
	require.NoError(t, from.Apply(domain.Recorded{Event: out, Seq: 2}))

	lp := newCommand(domain.Lapse, from.Key, 700, "")
	lp.Decision, lp.Reason = "10/QĐ-BCT", "hủy dự toán"
	lp.EffectiveDate, lp.Now = domain.Date{Year: 2026, Month: time.February, Day: 1}, time.Date(2026, time.February, 2, 3, 0, 0, 0, time.UTC)
	lapse, err = domain.Decide(from, lp, domain.Policy{})
	require.NoError(t, err)
	return out, in, lapse
}

// Event.Validate, which verify runs on every event of the stream, accepts
// both sides of a transfer and a lapse as the rules decided them, and
// refuses each that no command could have produced.
func TestValidateTransfersAndLapses(t *testing.T) {
	out, in, lapse := decidedTransfer(t)
	for _, e := range []domain.Event{out, in, lapse} {
		require.NoError(t, e.Validate(domain.Policy{}), "%s", e.Type)
	}
	other := domain.LineKey{FiscalYear: 2026, Province: "79", Source: domain.SourceNational}
	for _, tc := range []struct {
		name   string
		base   domain.Event
		change func(e *domain.Event)
		field  string
	}{
		{"out side without transfer kind", out, func(e *domain.Event) { e.TransferKind = "" }, "transfer_kind"},
		{"in side of an unknown kind", in, func(e *domain.Event) { e.TransferKind = "gift" }, "transfer_kind"},
		{"out side whose transfer id is another event's", out, func(e *domain.Event) { e.TransferID = in.ID }, "transfer_id"},
		{"in side whose transfer id is its own", in, func(e *domain.Event) { e.TransferID = in.ID }, "transfer_id"},
		{"in side without transfer id", in, func(e *domain.Event) { e.TransferID = "" }, "transfer_id"},
		{"out side on another line than from_line", out, func(e *domain.Event) { e.Province = "79" }, "from_line"},
		{"in side on another line than to_line", in, func(e *domain.Event) { e.Province = "79" }, "to_line"},
		{"carry-over to another province", in, func(e *domain.Event) { e.ToLine, e.Province = other, "79" }, "to_province"},
		{"carry-over two years on", out, func(e *domain.Event) { e.ToLine.FiscalYear = 2027 }, "to_fiscal_year"},
		{"out side with a voucher", out, func(e *domain.Event) { e.Voucher = "KB-1" }, "voucher"},
		{"out side without decision", out, func(e *domain.Event) { e.Decision = "" }, "decision"},
		{"zero transfer", in, func(e *domain.Event) { e.Amount = domain.Amount{} }, "amount"},
		{"lapse with a transfer kind", lapse, func(e *domain.Event) { e.TransferKind = domain.TransferCarryOver }, "transfer_kind"},
		{"lapse with a transfer id", lapse, func(e *domain.Event) { e.TransferID = out.ID }, "transfer_id"},
		{"lapse with a from_line", lapse, func(e *domain.Event) { e.FromLine = out.FromLine }, "from_line"},
		{"lapse before the settlement period ends", lapse, func(e *domain.Event) { e.EffectiveDate = domain.Date{Year: 2026, Month: time.January, Day: 31} }, "effective_date"},
		{"negative lapse", lapse, func(e *domain.Event) { e.Amount = domain.AmountFromInt64(-1) }, "amount"},
		{"lapse without decision", lapse, func(e *domain.Event) { e.Decision = "" }, "decision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.base
			tc.change(&e)
			err := e.Validate(domain.Policy{})
			require.Error(t, err)
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.field, de.Field, "%v", err)
		})
	}
}

// Both sides of a transfer hash by the recipe of docs/events.md: the
// movement's fields, then the transfer-v1 block. A lapse, which has no
// transfer fields, hashes as every movement did before transfers.
func TestTransferHashRecipe(t *testing.T) {
	out, in, lapse := decidedTransfer(t)
	for _, e := range []domain.Event{out, in} {
		h := sha256.New()
		fields := []string{"kcledger-event-v1", e.ID, string(e.Type), strconv.Itoa(e.FiscalYear), e.Province, string(e.Source),
			e.Project, string(e.Category), e.Amount.String(), e.Decision, e.Voucher, e.Beneficiary, e.Reason,
			e.EffectiveDate.String(), e.RecordedAt.UTC().Format(time.RFC3339Nano), e.Actor, e.IdempotencyKey, e.PrevHash,
			"transfer-v1", string(e.TransferKind), e.TransferID,
			strconv.Itoa(e.FromLine.FiscalYear), e.FromLine.Province, string(e.FromLine.Source),
			strconv.Itoa(e.ToLine.FiscalYear), e.ToLine.Province, string(e.ToLine.Source)}
		for _, s := range fields {
			fmt.Fprintf(h, "%d:%s,", len(s), s)
		}
		assert.Equal(t, hex.EncodeToString(h.Sum(nil)), e.Hash, "%s", e.Type)
		assert.NotEqual(t, recipeBeforeFacts(&e), e.Hash, "the transfer block is hashed")
	}
	assert.Equal(t, recipeBeforeFacts(&lapse), lapse.Hash)
}
