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
