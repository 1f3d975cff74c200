package password

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testThrottle = ThrottleConfig{
	FreeFailures: 3, Delay: time.Second, MaxDelay: 8 * time.Second,
	LockAfter: 6, LockFor: 15 * time.Minute, Forget: time.Hour, MaxAccounts: 100,
}

func newTestThrottle(t *testing.T, cfg ThrottleConfig) (*Throttle, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2025, 6, 30, 7, 5, 0, 0, time.UTC)}
	th, err := NewThrottle(cfg, c.now)
	require.NoError(t, err)
	return th, c
}

// try makes one attempt and reports its verdict; ok is what the password
// check said when the attempt was allowed.
func try(th *Throttle, name string, ok bool) Verdict {
	v, done := th.Begin(name)
	if v.Allowed() {
		done(ok)
	}
	return v
}

func TestThrottle(t *testing.T) {
	type step struct {
		advance time.Duration
		ok      bool
		want    Verdict
	}
	fail := func(advance time.Duration, want Verdict) step { return step{advance: advance, want: want} }
	allowed := Verdict{}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"three free failures", []step{
			fail(0, allowed), fail(0, allowed), fail(0, allowed),
			fail(0, Verdict{Wait: time.Second}),
			fail(999*time.Millisecond, Verdict{Wait: time.Millisecond}),
		}},
		{"the delay doubles up to MaxDelay, then the lock", []step{
			fail(0, allowed), fail(0, allowed), fail(0, allowed),
			fail(time.Second, allowed), // 4th failure
			fail(time.Second, Verdict{Wait: time.Second}),
			fail(time.Second, allowed), // 5th failure
			fail(3*time.Second, Verdict{Wait: time.Second}),
			fail(time.Second, allowed), // 6th failure: locked
			fail(0, Verdict{Wait: 15 * time.Minute, Locked: true}),
			fail(14*time.Minute, Verdict{Wait: time.Minute, Locked: true}),
			{advance: time.Minute, ok: true, want: allowed}, // the lock ends; right password
			fail(0, allowed), fail(0, allowed), fail(0, allowed),
		}},
		{"after the lock one attempt, and a failure locks again", []step{
			fail(0, allowed), fail(0, allowed), fail(0, allowed),
			fail(time.Second, allowed), fail(2*time.Second, allowed), fail(4*time.Second, allowed),
			fail(15*time.Minute, allowed),
			fail(0, Verdict{Wait: 15 * time.Minute, Locked: true}),
		}},
		{"a success forgets the failures", []step{
			fail(0, allowed), fail(0, allowed),
			{ok: true, want: allowed},
			fail(0, allowed), fail(0, allowed), fail(0, allowed),
			fail(0, Verdict{Wait: time.Second}),
		}},
		{"failures are forgotten after Forget", []step{
			fail(0, allowed), fail(0, allowed), fail(0, allowed),
			fail(time.Hour, allowed), fail(0, allowed), fail(0, allowed),
			fail(0, Verdict{Wait: time.Second}),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th, c := newTestThrottle(t, testThrottle)
			for i, s := range tc.steps {
				c.add(s.advance)
				assert.Equal(t, s.want, try(th, "ttcp-hanoi", s.ok), "step %d", i)
			}
			assert.True(t, try(th, "another-account", false).Allowed(), "accounts are throttled apart")
		})
	}
}

func TestThrottleKey(t *testing.T) {
	th, _ := newTestThrottle(t, testThrottle)
	for _, name := range []string{"ttcp-hanoi", "TTCP-Hanoi", "ttcp-HANOI"} {
		require.True(t, try(th, name, false).Allowed())
	}
	assert.False(t, try(th, "ttcp-hanoi", false).Allowed(), "names are case-folded")
	assert.Equal(t, 1, th.Remembered())
}

// Attempts sent at once get no more tries than attempts sent one by one:
// pending ones count.
func TestThrottlePending(t *testing.T) {
	th, _ := newTestThrottle(t, testThrottle)
	var dones []func(bool)
	for range 3 {
		v, done := th.Begin("ttcp-hanoi")
		require.True(t, v.Allowed())
		dones = append(dones, done)
	}
	v, _ := th.Begin("ttcp-hanoi")
	assert.Equal(t, Verdict{Wait: time.Second}, v)
	dones[0](true)
	dones[0](false) // a second call changes nothing
	v, done := th.Begin("ttcp-hanoi")
	require.True(t, v.Allowed())
	done(false)
	dones[1](false)
	dones[2](false)
	assert.Equal(t, Verdict{Wait: time.Second}, try(th, "ttcp-hanoi", false))
}

func TestThrottleMaxAccounts(t *testing.T) {
	cfg := testThrottle
	cfg.MaxAccounts = 3
	th, c := newTestThrottle(t, cfg)
	lock := func(name string) {
		for range cfg.LockAfter {
			v := try(th, name, false)
			if v.Locked {
				return
			}
			require.True(t, v.Allowed())
			c.add(cfg.MaxDelay)
		}
		require.True(t, try(th, name, false).Locked)
	}
	lock("a")
	lock("b")
	require.True(t, try(th, "c", false).Allowed())
	require.True(t, try(th, "d", false).Allowed(), "c, with the fewest failures, makes room")
	assert.Equal(t, 3, th.Remembered())
	require.True(t, try(th, "a", false).Locked, "a locked name is never evicted")
	require.True(t, try(th, "b", false).Locked)

	lock("d") // now a, b and d are locked
	assert.Equal(t, Verdict{Wait: cfg.Delay}, try(th, "e", false), "no room: a new name waits")
	c.add(cfg.Forget)
	require.True(t, try(th, "e", false).Allowed(), "old failures make room")
}

func TestThrottleConfigValidate(t *testing.T) {
	require.NoError(t, DefaultThrottle.Validate())
	for name, edit := range map[string]func(*ThrottleConfig){
		"no free failure":       func(c *ThrottleConfig) { c.FreeFailures = 0 },
		"no delay":              func(c *ThrottleConfig) { c.Delay = 0 },
		"max below delay":       func(c *ThrottleConfig) { c.MaxDelay = c.Delay / 2 },
		"lock before slow-down": func(c *ThrottleConfig) { c.LockAfter = c.FreeFailures },
		"no lock":               func(c *ThrottleConfig) { c.LockFor = 0 },
		"forget before unlock":  func(c *ThrottleConfig) { c.Forget = c.LockFor - 1 },
		"no room":               func(c *ThrottleConfig) { c.MaxAccounts = 0 },
	} {
		c := DefaultThrottle
		edit(&c)
		_, err := NewThrottle(c, time.Now)
		assert.Error(t, err, name)
	}
}

// Many goroutines failing at once on a few accounts: run with -race. Every
// allowed attempt is counted, and no account gets more than FreeFailures
// tries before the first delay, however the attempts interleave.
func TestThrottleRace(t *testing.T) {
	th, c := newTestThrottle(t, testThrottle)
	const workers, tries = 8, 50
	var mu sync.Mutex
	allowed := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range tries {
				name := fmt.Sprintf("account-%d", (w+i)%3)
				v, done := th.Begin(name)
				if v.Allowed() {
					mu.Lock()
					allowed[name]++
					mu.Unlock()
					runtime.Gosched() // let others begin while this one is pending
					done(false)
				}
				_ = th.Remembered()
			}
		})
	}
	wg.Wait()
	for name, n := range allowed {
		assert.Equal(t, testThrottle.FreeFailures, n, name)
	}
	c.add(time.Second)
	for name := range allowed {
		assert.True(t, try(th, name, false).Allowed(), "%s: one try after the first delay", name)
		assert.False(t, try(th, name, false).Allowed(), name)
	}
}
