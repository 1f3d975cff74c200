package eventstore_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

func TestSessions(t *testing.T) {
	s := startServer(t)
	js, err := jetstream.New(connect(t, s))
	require.NoError(t, err)
	store, err := eventstore.OpenSessions(t.Context(), js, "", 1, time.Second)
	require.NoError(t, err)

	require.NoError(t, store.Create(t.Context(), "k1", []byte(`{"account":"a"}`)))
	require.Error(t, store.Create(t.Context(), "k1", []byte(`{}`)), "a key is opened once")
	got, err := store.Get(t.Context(), "k1")
	require.NoError(t, err)
	assert.JSONEq(t, `{"account":"a"}`, string(got))

	// A second process opening the bucket sees the same sessions.
	other, err := eventstore.OpenSessions(t.Context(), js, "", 1, time.Second)
	require.NoError(t, err)
	_, err = other.Get(t.Context(), "k1")
	require.NoError(t, err)
	require.NoError(t, other.Delete(t.Context(), "k1"))
	_, err = store.Get(t.Context(), "k1")
	require.ErrorIs(t, err, domain.ErrNotFound, "ended on one, ended on all")
	require.NoError(t, store.Delete(t.Context(), "k1"), "ending an ended session is no error")
	_, err = store.Get(t.Context(), "not a key!")
	require.ErrorIs(t, err, domain.ErrNotFound)

	// The bucket's TTL ends a session whatever happens to its process.
	require.NoError(t, store.Create(t.Context(), "k2", []byte(`{}`)))
	require.Eventually(t, func() bool {
		_, err := store.Get(t.Context(), "k2")
		return err != nil
	}, 10*time.Second, 100*time.Millisecond)
	_, err = store.Get(t.Context(), "k2")
	require.ErrorIs(t, err, domain.ErrNotFound)
}
