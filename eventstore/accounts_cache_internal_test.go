package eventstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

// cacheProcess is one process's account cache: a connection of its own
// to the shared server, and the cache living until the test ends.
func cacheProcess(t *testing.T, url string, hold func()) *AccountCache {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	accounts, err := OpenAccounts(t.Context(), js, "", 1)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := accounts.cache(ctx, hold)
	require.NoError(t, err)
	return c
}

func startCacheServer(t *testing.T) string {
	t.Helper()
	s, err := StartServer(ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// isCurrent says whether the cache would answer from memory now.
func (c *AccountCache) isCurrent() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.isCurrentLocked()
}

func disable(t *testing.T, c *AccountCache, name string) {
	t.Helper()
	_, err := c.Update(t.Context(), name, func(a *domain.Account) error {
		a.Disabled = true
		a.SessionEpoch++
		return nil
	})
	require.NoError(t, err)
}

// waitDisabled polls c until it answers name disabled, and returns how
// long that took and whether c answered from memory.
func waitDisabled(t *testing.T, c *AccountCache, name string, within time.Duration) (time.Duration, bool) {
	t.Helper()
	start := time.Now()
	for {
		acc, _, err := c.Account(t.Context(), name)
		require.NoError(t, err)
		if acc.Disabled {
			return time.Since(start), c.isCurrent()
		}
		if time.Since(start) > within {
			t.Fatalf("%s still enabled %s after it was disabled elsewhere (the bound is %s)", name, time.Since(start), AccountsMaxStale)
		}
		time.Sleep(time.Millisecond) // polling, not waiting for a thing to happen
	}
}

// The process that disables an account refuses it at once; another
// process sharing the server, through its own connection and cache,
// within AccountsMaxStale, by its watch (it answers from memory).
func TestAccountCacheDisableSeenHereAtOnceElsewhereWithinBound(t *testing.T) {
	url := startCacheServer(t)
	here, there := cacheProcess(t, url, nil), cacheProcess(t, url, nil)
	require.NoError(t, here.Create(t.Context(), domain.Account{Name: "can-bo", Role: domain.RoleOfficer, TokenHash: "h"}))
	// A new account is known at once elsewhere too (a miss reads the
	// bucket).
	acc, _, err := there.Account(t.Context(), "can-bo")
	require.NoError(t, err)
	require.False(t, acc.Disabled)
	require.Eventually(t, func() bool { // and the watch brings it into memory
		there.mu.RLock()
		defer there.mu.RUnlock()
		_, ok := there.byName["can-bo"]
		return ok && there.isCurrentLocked()
	}, 5*time.Second, time.Millisecond)

	for round := range 5 {
		disable(t, here, "can-bo")
		acc, _, err := here.Account(t.Context(), "can-bo")
		require.NoError(t, err)
		require.True(t, acc.Disabled, "round %d: refused at once by the process that disabled it", round)
		took, fromMemory := waitDisabled(t, there, "can-bo", AccountsMaxStale)
		require.True(t, fromMemory, "round %d: the other process's watch brought the change (%s)", round, took)
		t.Logf("round %d: the other process refused it after %s", round, took)
		_, err = here.Update(t.Context(), "can-bo", func(a *domain.Account) error { a.Disabled = false; return nil })
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			acc, _, err := there.Account(t.Context(), "can-bo")
			return err == nil && !acc.Disabled
		}, 5*time.Second, time.Millisecond)
	}
}

// A watch that is behind (its changes held back) makes the cache read
// the bucket once it cannot show itself current: the other process
// still refuses the disabled account within AccountsMaxStale.
func TestAccountCacheBehindWatchReadsTheBucket(t *testing.T) {
	url := startCacheServer(t)
	here := cacheProcess(t, url, nil)
	require.NoError(t, here.Create(t.Context(), domain.Account{Name: "can-bo", Role: domain.RoleOfficer, TokenHash: "h"}))
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	there := cacheProcess(t, url, func() { <-release })
	acc, _, err := there.Account(t.Context(), "can-bo")
	require.NoError(t, err)
	require.False(t, acc.Disabled)

	disable(t, here, "can-bo")
	took, fromMemory := waitDisabled(t, there, "can-bo", AccountsMaxStale+accountsProbeEvery)
	require.False(t, fromMemory, "the held watch did not bring the change: the bucket did")
	t.Logf("a held watch: refused after %s, read from the bucket", took)

	// Released, the watch catches up and the cache serves from memory
	// again.
	once.Do(func() { close(release) })
	require.Eventually(t, there.isCurrent, 5*time.Second, 10*time.Millisecond)
	acc, _, err = there.Account(t.Context(), "can-bo")
	require.NoError(t, err)
	require.True(t, acc.Disabled)
}

// A watch that stops is started again; meanwhile the cache reads the
// bucket.
func TestAccountCacheRewatches(t *testing.T) {
	url := startCacheServer(t)
	here := cacheProcess(t, url, nil)
	require.NoError(t, here.Create(t.Context(), domain.Account{Name: "can-bo", Role: domain.RoleOfficer, TokenHash: "h"}))
	there := cacheProcess(t, url, nil)
	require.Eventually(t, there.isCurrent, 5*time.Second, time.Millisecond)
	there.stopWatch()
	require.Eventually(t, func() bool { return !there.isCurrent() }, 5*time.Second, time.Millisecond)
	disable(t, here, "can-bo")
	acc, _, err := there.Account(t.Context(), "can-bo")
	require.NoError(t, err)
	require.True(t, acc.Disabled, "a cache whose watch stopped reads the bucket")

	require.Eventually(t, there.isCurrent, 5*time.Second, 10*time.Millisecond, "the watch is started again")
	_, err = here.Update(t.Context(), "can-bo", func(a *domain.Account) error { a.Disabled = false; return nil })
	require.NoError(t, err)
	disable(t, here, "can-bo")
	_, fromMemory := waitDisabled(t, there, "can-bo", AccountsMaxStale)
	require.True(t, fromMemory, "the new watch brings changes")
}
