package eventstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

// An index that cannot show it is recent must not answer "never used":
// that answer would let a reused key through once the duplicate window
// has passed.
func TestKeyIndexRefusesWhenStale(t *testing.T) {
	x := newKeyIndex(time.Minute)
	x.add(msgID("k"), 7)

	_, _, err := x.lookup("k")
	require.ErrorIs(t, err, domain.ErrUnavailable, "never confirmed")

	x.confirm(time.Now())
	seq, ok, err := x.lookup("k")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, uint64(7), seq)
	_, ok, err = x.lookup("other")
	require.NoError(t, err)
	assert.False(t, ok)

	x.confirmed = time.Now().Add(-2 * time.Minute)
	_, _, err = x.lookup("other")
	require.ErrorIs(t, err, domain.ErrUnavailable, "confirmed too long ago")

	x.add(msgID("late"), 5)
	_, ok, _ = x.lookup("late")
	assert.False(t, ok, "sequences at or below the applied one are ignored")
}

// The index moves over its own appends without reading them back, but
// never over a sequence it has not seen.
func TestKeyIndexSkipsOnlyItsOwnContiguousAppends(t *testing.T) {
	x := newKeyIndex(time.Minute)
	x.add(msgID("a"), 4)
	x.note(msgID("own-6"), 6)
	x.note(msgID("own-5"), 5)
	x.note(msgID("own-8"), 8)
	assert.Equal(t, uint64(6), x.skipOwn(), "5 and 6 are this process's; 7 is someone else's, unread")
	assert.Equal(t, uint64(6), x.skipOwn())
	x.add(msgID("other-7"), 7)
	assert.Equal(t, uint64(8), x.skipOwn(), "once 7 is read, 8 follows")
	x.confirm(time.Now())
	for key, seq := range map[string]uint64{"a": 4, "own-5": 5, "own-6": 6, "other-7": 7, "own-8": 8} {
		got, ok, err := x.lookup(key)
		require.NoError(t, err)
		assert.True(t, ok, key)
		assert.Equal(t, seq, got, key)
	}
	assert.Empty(t, x.own)
}
