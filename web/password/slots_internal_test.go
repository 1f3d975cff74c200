package password

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Many hashes asked for at once run at most one per core: each holds
// tens of MiB, so a burst of requests must queue, not allocate them all.
func TestHashesRunOnePerCore(t *testing.T) {
	peak.Store(0)
	cheap := Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltBytes: 16, KeyBytes: 16}
	var wg sync.WaitGroup
	for range 4 * cap(slots) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := hashWith(cheap, "một mật khẩu đủ dài")
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Positive(t, peak.Load())
	assert.LessOrEqual(t, peak.Load(), int64(cap(slots)), "at most one argon2 computation per core at once")
	assert.Zero(t, busy.Load())
}
