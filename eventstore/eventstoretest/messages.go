package eventstoretest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// RequireSameMessages fails t unless dst holds, at every sequence from 1
// to n, src's message: its subject, headers, body and time (a restored
// backup, say).
func RequireSameMessages(ctx context.Context, t testing.TB, src, dst jetstream.Stream, n uint64) {
	t.Helper()
	for seq := uint64(1); seq <= n; seq++ {
		want, err := src.GetMsg(ctx, seq)
		require.NoError(t, err)
		got, err := dst.GetMsg(ctx, seq)
		require.NoError(t, err)
		require.Equal(t, want.Subject, got.Subject, "seq %d", seq)
		require.Equal(t, want.Header, got.Header, "seq %d", seq)
		require.Equal(t, want.Data, got.Data, "seq %d", seq)
		require.True(t, want.Time.Equal(got.Time), "seq %d: time %s, want %s", seq, got.Time, want.Time)
	}
}
