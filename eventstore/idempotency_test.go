package eventstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// now is after every effective date used here.
var now = time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)

func disbursement(key string, amount int64) domain.Command {
	return domain.Command{
		Kind: domain.Disburse, FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
		Amount: domain.AmountFromInt64(amount), Voucher: "KB-1", Beneficiary: "HTX Gốm",
		EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 3},
		EventID:       uuid.Must(uuid.NewV7()).String(), Actor: "tester", IdempotencyKey: key, Now: now,
	}
}

func allocation(key string, amount int64) domain.Command {
	return domain.Command{
		Kind: domain.Allocate, FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
		Amount: domain.AmountFromInt64(amount), Decision: "3536/QĐ-BCT",
		EffectiveDate: domain.Date{Year: 2025, Month: time.January, Day: 10},
		EventID:       uuid.Must(uuid.NewV7()).String(), Actor: "tester", IdempotencyKey: key, Now: now,
	}
}

func lastSeq(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), eventstore.DefaultStream)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.LastSeq
}

// The JetStream duplicate window forgets message ids; kcledger's key
// claims must not. The window here is one second, and the retry comes
// after it has passed.
func TestIdempotencyOutlivesDuplicateWindow(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	nc := connect(t, s)
	const window = time.Second
	log := openLog(t, s, eventstore.StreamConfig{DuplicateWindow: window})
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ledger := domain.NewLedger(log, domain.Policy{})

	_, err = ledger.Record(ctx, allocation("alloc-1", 5_000_000))
	require.NoError(t, err)
	first, err := ledger.Record(ctx, disbursement("pay-1", 5_000_000))
	require.NoError(t, err)
	seqAfterFirst := lastSeq(t, js)

	// Waiting for the window to expire is waiting for time itself to pass;
	// there is no event to poll for.
	time.Sleep(window + 500*time.Millisecond)

	// A retry builds a new event id and recorded time, as a client retry
	// through the API does. The line has no money left, so without
	// permanent idempotency this would be refused, or worse, recorded.
	again, err := domain.NewLedger(log, domain.Policy{}).Record(ctx, disbursement("pay-1", 5_000_000))
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.Recorded.Event.ID, again.Recorded.Event.ID)
	assert.Equal(t, first.Recorded.Seq, again.Recorded.Seq)
	assert.Equal(t, seqAfterFirst, lastSeq(t, js), "a replay must append nothing")

	_, err = ledger.Record(ctx, disbursement("pay-1", 4_000_000))
	require.ErrorIs(t, err, domain.ErrIdempotencyKeyReused)
	assert.Equal(t, seqAfterFirst, lastSeq(t, js))

	// The same key on another line, long after the window: only the key
	// index can see it, and a fresh ledger has no cache to help.
	other := allocation("pay-1", 1_000)
	other.Province = "79"
	_, err = domain.NewLedger(log, domain.Policy{}).Record(ctx, other)
	require.ErrorIs(t, err, domain.ErrIdempotencyKeyReused)
	assert.Equal(t, seqAfterFirst, lastSeq(t, js))
}

// Within the duplicate window JetStream refuses the reused key itself,
// before any index has seen the first event.
func TestReusedKeyOnAnotherLineWithinWindow(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	log := openLog(t, s, eventstore.StreamConfig{})
	js, err := jetstream.New(connect(t, s))
	require.NoError(t, err)
	first := allocation("shared", 1_000)
	_, err = domain.NewLedger(log, domain.Policy{}).Record(ctx, first)
	require.NoError(t, err)
	before := lastSeq(t, js)

	other := allocation("shared", 1_000)
	other.Province = "79"
	st := domain.NewLineState(other.Line())
	ev, err := domain.Decide(st, other, domain.Policy{})
	require.NoError(t, err)
	_, err = log.Append(ctx, domain.Proposal{Event: ev})
	var claimed *domain.ClaimedError
	require.ErrorAs(t, err, &claimed)
	assert.Equal(t, first.EventID, claimed.Claim.Recorded.Event.ID)
	assert.Equal(t, before, lastSeq(t, js))
}

// A publish retried with the same message id and the same, now stale,
// expectation may be answered "wrong last sequence" or "duplicate",
// depending on the server and the duplicate window; the log reports both
// as stale, stores nothing, and the claim shows the first one landed.
func TestIdenticalRepublishIsStaleAndClaimed(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	nc := connect(t, s)
	log := openLog(t, s, eventstore.StreamConfig{})
	js, err := jetstream.New(nc)
	require.NoError(t, err)

	st := domain.NewLineState(domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational})
	cmd := allocation("k", 1_000)
	ev, err := domain.Decide(st, cmd, domain.Policy{})
	require.NoError(t, err)
	p := domain.Proposal{Event: ev, ExpectedSeq: 0}
	seq, err := log.Append(ctx, p)
	require.NoError(t, err)
	before := lastSeq(t, js)

	_, err = log.Append(ctx, p)
	var claimed *domain.ClaimedError
	if !errors.As(err, &claimed) {
		require.ErrorIs(t, err, domain.ErrStale)
	} else {
		assert.Equal(t, seq, claimed.Claim.Recorded.Seq)
	}
	assert.Equal(t, before, lastSeq(t, js))
	require.Eventually(t, func() bool {
		c, ok, err := log.Claim(ctx, "k")
		require.NoError(t, err)
		return ok && c.Recorded.Seq == seq && c.Fingerprint == cmd.Fingerprint()
	}, 10*time.Second, 5*time.Millisecond)
}

// Every option of the stream is set on purpose; an operator's tool should
// find exactly these.
func TestStreamSettings(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	nc := connect(t, s)
	_, err := eventstore.Open(ctx, nc, eventstore.StreamConfig{})
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	str, err := js.Stream(ctx, eventstore.DefaultStream)
	require.NoError(t, err)
	cfg := str.CachedInfo().Config
	assert.Equal(t, jetstream.FileStorage, cfg.Storage)
	assert.Equal(t, 1, cfg.Replicas)
	assert.True(t, cfg.DenyDelete)
	assert.True(t, cfg.DenyPurge)
	assert.Equal(t, jetstream.DiscardNew, cfg.Discard)
	assert.Equal(t, int64(-1), cfg.MaxMsgs)
	assert.Equal(t, int64(-1), cfg.MaxBytes)
	assert.Zero(t, cfg.MaxAge)
	assert.Equal(t, int32(eventstore.MaxMessageBytes), cfg.MaxMsgSize)
	assert.Equal(t, eventstore.DefaultDuplicateWindow, cfg.Duplicates)
	assert.True(t, cfg.AllowAtomicPublish)
	assert.False(t, cfg.AllowDirect)
	assert.False(t, cfg.AllowRollup)

	// Reopening is harmless and keeps the settings.
	_, err = eventstore.Open(ctx, nc, eventstore.StreamConfig{})
	require.NoError(t, err)

	// A message on a ledger subject cannot be deleted, nor the stream purged.
	require.ErrorContains(t, str.DeleteMsg(ctx, 1), "")
	require.Error(t, str.Purge(ctx))
}

// The subjects let a subscriber filter with plain wildcards.
func TestSubjects(t *testing.T) {
	e := domain.Event{FiscalYear: 2025, Province: "79", Source: domain.SourceLocal, Type: domain.TypeRefunded}
	assert.Equal(t, "kcledger.events.2025.79.local.refunded.v1", eventstore.EventSubject(&e))
	assert.Equal(t, "kcledger.events.2025.79.local.>", eventstore.LineFilter(e.Line()))
}

// Another process's keys: each log learns them by catching up with the
// stream, not from its own appends. Process B is open before A records;
// once the duplicate window has passed, only B's key index can refuse
// the key reused on another line.
func TestKeysOfAnotherProcessOutliveTheWindow(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	const window = time.Second
	a := openLog(t, s, eventstore.StreamConfig{DuplicateWindow: window})
	b := openLog(t, s, eventstore.StreamConfig{DuplicateWindow: window})
	js, err := jetstream.New(connect(t, s))
	require.NoError(t, err)

	_, err = domain.NewLedger(a, domain.Policy{}).Record(ctx, allocation("a-alloc", 5_000_000))
	require.NoError(t, err)
	seq := lastSeq(t, js)
	time.Sleep(window + 500*time.Millisecond) // time itself must pass

	claim, ok, err := b.Claim(ctx, "a-alloc")
	require.NoError(t, err)
	require.True(t, ok, "B's key index has caught up with A's append")
	assert.Equal(t, seq, claim.Recorded.Seq)

	other := allocation("a-alloc", 1_000)
	other.Province = "79"
	_, err = domain.NewLedger(b, domain.Policy{}).Record(ctx, other)
	require.ErrorIs(t, err, domain.ErrIdempotencyKeyReused)
	assert.Equal(t, seq, lastSeq(t, js), "nothing appended")
}
