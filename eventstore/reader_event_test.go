package eventstore_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

// One message read by its sequence is the message a scan delivers there,
// decoded and checked alike: a forged one is named, not taken.
func TestReaderEventIsTheScannedMessage(t *testing.T) {
	s := startServer(t)
	log := openLog(t, s, eventstore.StreamConfig{})
	honest := eventstoretest.Event(ceLine, "honest", 1000)
	_, err := log.Append(context.Background(), domain.Proposal{Event: honest})
	require.NoError(t, err)
	forged := eventstoretest.Event(domain.LineKey{FiscalYear: 2025, Province: "79", Source: domain.SourceLocal}, "forged", 1000)
	m, err := eventstore.NewMessage(domain.Proposal{Event: forged})
	require.NoError(t, err)
	m.Header.Set("ce-id", honest.ID)
	nc := connect(t, s)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.PublishMsg(context.Background(), m)
	require.NoError(t, err)

	r, err := eventstore.OpenReader(context.Background(), nc, "")
	require.NoError(t, err)
	var scanned []eventstore.StoredEvent
	require.NoError(t, r.Scan(context.Background(), 2, func(se eventstore.StoredEvent) (bool, error) {
		scanned = append(scanned, se)
		return true, nil
	}))
	require.Len(t, scanned, 2)
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
