package domain_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

func repudiation(seq uint64) domain.Command {
	return domain.Command{
		Kind: domain.Repudiate, RepudiatedSeq: seq, Decision: "12/QĐ-TTKC",
		Reason: "tin nhắn không do kcledger ghi", EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 5},
		EventID: uuid.Must(uuid.NewV7()).String(), Actor: "admin", IdempotencyKey: uuid.NewString(),
		Now: time.Date(2025, time.March, 5, 3, 0, 0, 0, time.UTC),
	}
}

func TestRepudiationValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(c *domain.Command)
		code   domain.Code
		field  string
	}{
		{"valid", func(*domain.Command) {}, "", ""},
		{"no seq", func(c *domain.Command) { c.RepudiatedSeq = 0 }, domain.CodeMissingField, "seq"},
		{"no reason", func(c *domain.Command) { c.Reason = "" }, domain.CodeMissingField, "reason"},
		{"blank reason", func(c *domain.Command) { c.Reason = " " }, domain.CodeInvalidField, "reason"},
		{"reason too long", func(c *domain.Command) { c.Reason = strings.Repeat("ơ", domain.MaxReasonLen+1) }, domain.CodeInvalidField, "reason"},
		{"control in reason", func(c *domain.Command) { c.Reason = "a\x07b" }, domain.CodeInvalidField, "reason"},
		{"no decision", func(c *domain.Command) { c.Decision = "" }, domain.CodeMissingField, "decision"},
		{"decision too long", func(c *domain.Command) { c.Decision = strings.Repeat("1", domain.MaxReferenceLen+1) }, domain.CodeInvalidField, "decision"},
		{"no date", func(c *domain.Command) { c.EffectiveDate = domain.Date{} }, domain.CodeMissingField, "effective_date"},
		{"future date", func(c *domain.Command) { c.EffectiveDate = domain.Date{Year: 2025, Month: time.March, Day: 6} }, domain.CodeDateOutsideWindow, "effective_date"},
		{"a line", func(c *domain.Command) { c.FiscalYear = 2025 }, domain.CodeInvalidField, "fiscal_year"},
		{"an amount", func(c *domain.Command) { c.Amount = domain.AmountFromInt64(1) }, domain.CodeInvalidField, "amount"},
		{"a voucher", func(c *domain.Command) { c.Voucher = "KB-1" }, domain.CodeInvalidField, "voucher"},
		{"no actor", func(c *domain.Command) { c.Actor = "" }, domain.CodeInternal, "actor"},
		{"no key", func(c *domain.Command) { c.IdempotencyKey = "" }, domain.CodeInvalidIdempotencyKey, "idempotency_key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := repudiation(7)
			tt.change(&c)
			err := c.Validate(domain.Policy{})
			if tt.code == "" {
				require.NoError(t, err)
				return
			}
			requireErrorCode(t, err, &domain.Error{Code: tt.code}, tt.field)
		})
	}
	// A movement never names a sequence.
	c := newCommand(domain.Allocate, lineHaNoi, million, "")
	c.RepudiatedSeq = 3
	requireErrorCode(t, c.Validate(domain.Policy{}), &domain.Error{Code: domain.CodeInvalidField}, "repudiated_seq")
}

// Repudiations are recorded on the ledger's own chain, signed, and their
// JSON leaves out the budget line's fields.
func TestLedgerRecordsRepudiationsOnTheirOwnChain(t *testing.T) {
	mem := eventstore.NewMemory()
	l := domain.NewLedger(mem, domain.Policy{})
	signer := domain.NewSigner(testKey(t))
	l.SignWith(signer)
	mustRecord(t, l, newCommand(domain.Allocate, lineHaNoi, 10*million, ""))

	first := mustRecord(t, l, repudiation(5))
	e := first.Recorded.Event
	assert.Equal(t, domain.TypeRepudiated, e.Type)
	assert.Equal(t, domain.LineKey{}, e.Line())
	assert.Equal(t, domain.GenesisHash, e.PrevHash, "not the budget line's chain")
	assert.Equal(t, uint64(5), e.RepudiatedSeq)
	assert.Equal(t, e.ComputeHash(), e.Hash)
	ring := domain.Keyring{}
	ring.Add(signer.Public())
	require.NoError(t, ring.Verify(&e))
	require.NoError(t, e.Validate(domain.Policy{}))

	second := mustRecord(t, l, repudiation(6))
	assert.Equal(t, e.Hash, second.Recorded.Event.PrevHash)

	// A retry replays; the same key for another sequence is refused.
	cmd := repudiation(9)
	mustRecord(t, l, cmd)
	res, err := l.Record(context.Background(), retry(cmd))
	require.NoError(t, err)
	assert.True(t, res.Replayed)
	other := retry(cmd)
	other.RepudiatedSeq = 10
	_, err = l.Record(context.Background(), other)
	require.ErrorIs(t, err, domain.ErrIdempotencyKeyReused)

	data, err := domain.MarshalEvent(&e)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	for _, f := range []string{"fiscal_year", "province", "source", "amount"} {
		assert.NotContains(t, doc, f)
	}
	assert.EqualValues(t, 5, doc["repudiated_seq"])
	sameEncodingAsEncodingJSON(t, e)
	sameAsEncodingJSON(t, data, domain.Event{})
	var back domain.Event
	require.NoError(t, domain.UnmarshalEvent(data, &back))
	assert.Equal(t, e.Hash, back.ComputeHash())
}

// The hash and the fingerprint cover the sequence a repudiation names,
// and a movement's hash is what it always was.
func TestRepudiatedSeqIsCovered(t *testing.T) {
	r, err := domain.Decide(domain.NewLineState(domain.LineKey{}), repudiation(5), domain.Policy{})
	require.NoError(t, err)
	other := r
	other.RepudiatedSeq = 6
	assert.NotEqual(t, r.ComputeHash(), other.ComputeHash())
	assert.NotEqual(t, r.Fingerprint(), other.Fingerprint())

	e := sampleEvent(t)
	want := e.Hash
	assert.Equal(t, want, e.ComputeHash())
}

// A repudiated message counts for nothing but its position: the next
// event of the line links to the last sound one.
func TestLineStateSkipsRepudiated(t *testing.T) {
	st := domain.NewLineState(lineHaNoi)
	require.NoError(t, st.Apply(domain.Recorded{Seq: 4, Repudiated: true}))
	assert.Equal(t, uint64(4), st.LastSeq)
	assert.Equal(t, domain.GenesisHash, st.LastHash)
	assert.Equal(t, 0, st.Events)
	ev, err := domain.Decide(st, newCommand(domain.Allocate, lineHaNoi, million, ""), domain.Policy{})
	require.NoError(t, err)
	assert.Equal(t, domain.GenesisHash, ev.PrevHash)
	require.NoError(t, st.Apply(domain.Recorded{Seq: 5, Event: ev}))
	assert.Equal(t, 1, st.Events)
}

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
}
