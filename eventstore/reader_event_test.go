package eventstore_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// One message read by its sequence is the message a scan delivers there,
// decoded and checked alike: a forged one is named, not taken.
func TestReaderEventIsTheScannedMessage(t *testing.T) {
	r, honest, scanned := readAfterHonest(t, func(honest domain.Event) *nats.Msg {
		forged := eventstoretest.Event(domain.LineKey{FiscalYear: 2025, Province: "79", Source: domain.SourceLocal}, "forged", 1000)
		m, err := eventstore.NewMessage(domain.Proposal{Event: forged})
		require.NoError(t, err)
		m.Header.Set("ce-id", honest.ID)
		return m
	})
	for _, want := range scanned {
		got, ok, err := r.Event(context.Background(), want.Seq)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, want.Seq, got.Seq)
		assert.Equal(t, want.Subject, got.Subject)
		assert.True(t, want.Stored.Equal(got.Stored), "stored at %v, read alone %v", want.Stored, got.Stored)
		assert.Equal(t, want.Recorded, got.Recorded)
		assert.Equal(t, want.Err != nil, got.Err != nil, "seq %d", want.Seq)
	}
	one, _, err := r.Event(context.Background(), 1)
	require.NoError(t, err)
	assert.NoError(t, one.Err)
	assert.True(t, one.Recorded.HashChecked)
	assert.Equal(t, honest.Hash, one.Recorded.Event.Hash)
	two, _, err := r.Event(context.Background(), 2)
	require.NoError(t, err)
	assert.ErrorIs(t, two.Err, domain.ErrCorrupt)

	_, ok, err := r.Event(context.Background(), 3)
	require.NoError(t, err)
	assert.False(t, ok, "beyond the stream")
}
