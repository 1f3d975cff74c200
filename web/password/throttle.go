package password

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/kcledger/kcledger/domain"
)

// ThrottleConfig sets how a Throttle answers failed log-ins.
type ThrottleConfig struct {
	// FreeFailures is how many failures in a row an account may have
	// before attempts are slowed down; it is also how many attempts may be
	// pending at once.
	FreeFailures int
	// Delay is the wait after the first failure beyond FreeFailures; it
	// doubles with each further failure, up to MaxDelay.
	Delay, MaxDelay time.Duration
	// LockAfter failures in a row lock the account for LockFor. Once the
	// lock ends one attempt is allowed, and a failure locks it again.
	LockAfter int
	LockFor   time.Duration
	// Forget is how long after its last failure an account's failures are
	// forgotten. It is at least LockFor.
	Forget time.Duration
	// MaxAccounts bounds the names the throttle remembers (see Begin).
	MaxAccounts int
}

// DefaultThrottle: three free tries, then 1 s, 2 s, 4 s, … up to 1 min
// between tries, and a lock of 15 minutes after 10 failures in a row.
var DefaultThrottle = ThrottleConfig{
	FreeFailures: 3,
	Delay:        time.Second,
	MaxDelay:     time.Minute,
	LockAfter:    10,
	LockFor:      15 * time.Minute,
	Forget:       24 * time.Hour,
	MaxAccounts:  10_000,
}

// Validate checks c.
func (c ThrottleConfig) Validate() error {
	switch {
	case c.FreeFailures < 1:
		return errors.New("password: throttle: FreeFailures must be at least 1")
	case c.Delay <= 0 || c.MaxDelay < c.Delay:
		return errors.New("password: throttle: want 0 < Delay <= MaxDelay")
	case c.LockAfter <= c.FreeFailures:
		return errors.New("password: throttle: LockAfter must be above FreeFailures")
	case c.LockFor <= 0 || c.Forget < c.LockFor:
		return errors.New("password: throttle: want 0 < LockFor <= Forget")
	case c.MaxAccounts < 1:
		return errors.New("password: throttle: MaxAccounts must be at least 1")
	}
	return nil
}

// Verdict is a Throttle's answer to an attempt.
type Verdict struct {
	// Wait is how long until the next attempt may be made; zero when this
	// one may go ahead.
	Wait time.Duration
	// Locked tells that the account is locked for Wait.
	Locked bool
}

// Allowed reports whether the attempt may go ahead.
func (v Verdict) Allowed() bool { return v.Wait <= 0 }

// Throttle slows down and then locks log-ins to an account after failed
// attempts. It keeps its state in memory, per process, keyed by the account
// name as typed (case-folded, cut at domain.MaxAccountNameLen bytes), and
// is safe for concurrent use.
type Throttle struct {
	cfg ThrottleConfig
	now func() time.Time

	mu       sync.Mutex
	accounts map[string]*attempts
}

type attempts struct {
	failures    int       // in a row
	last        time.Time // of the last failure
	lockedUntil time.Time
	pending     int // allowed attempts not yet done
}

// NewThrottle makes a throttle; now is its clock (time.Now outside tests).
func NewThrottle(cfg ThrottleConfig, now func() time.Time) (*Throttle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Throttle{cfg: cfg, now: now, accounts: map[string]*attempts{}}, nil
}

func throttleKey(name string) string {
	if len(name) > domain.MaxAccountNameLen {
		name = name[:domain.MaxAccountNameLen]
	}
	return strings.ToLower(name)
}

// Begin asks whether a log-in attempt for name may go ahead now. When it may
// not, it returns the Verdict and a no-op done. When it may, done must be
// called once the password has been checked, with whether it was right: a
// success forgets the failures, a failure counts.
//
// While attempts are pending they count as failures for the attempts that
// follow, so that many log-ins sent at once get no more tries than the same
// sent one by one. When the throttle already remembers MaxAccounts names it
// forgets one whose failures are old, or else the one with the fewest
// failures that is neither locked nor pending; when every name is locked
// or pending, a new name waits for Delay.
func (t *Throttle) Begin(name string) (v Verdict, done func(ok bool)) {
	key := throttleKey(name)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	a := t.accounts[key]
	if a != nil && a.pending == 0 && now.Sub(a.last) >= t.cfg.Forget {
		delete(t.accounts, key)
		a = nil
	}
	if a == nil {
		if len(t.accounts) >= t.cfg.MaxAccounts && !t.evict(now) {
			return Verdict{Wait: t.cfg.Delay}, func(bool) {}
		}
		a = &attempts{}
		t.accounts[key] = a
	}
	if v := t.verdict(a, now); !v.Allowed() {
		return v, func(bool) {}
	}
	a.pending++
	var once sync.Once
	return Verdict{}, func(ok bool) { once.Do(func() { t.done(key, a, ok) }) }
}

// verdict decides an attempt on a, under t.mu.
func (t *Throttle) verdict(a *attempts, now time.Time) Verdict {
	if now.Before(a.lockedUntil) {
		return Verdict{Wait: a.lockedUntil.Sub(now), Locked: true}
	}
	if a.pending > 0 && a.failures+a.pending >= t.cfg.FreeFailures {
		return Verdict{Wait: t.cfg.Delay}
	}
	if a.failures >= t.cfg.FreeFailures {
		if next := a.last.Add(t.delay(a.failures)); now.Before(next) {
			return Verdict{Wait: next.Sub(now)}
		}
	}
	return Verdict{}
}

// delay is the wait after the given number of failures in a row, at least
// FreeFailures.
func (t *Throttle) delay(failures int) time.Duration {
	d := t.cfg.Delay
	for i := t.cfg.FreeFailures; i < failures && d < t.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.cfg.MaxDelay)
}

func (t *Throttle) done(key string, a *attempts, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a.pending--
	if ok {
		a.failures, a.lockedUntil = 0, time.Time{}
		if a.pending == 0 && t.accounts[key] == a {
			delete(t.accounts, key)
		}
		return
	}
	now := t.now()
	a.failures++
	a.last = now
	if a.failures >= t.cfg.LockAfter {
		a.lockedUntil = now.Add(t.cfg.LockFor)
	}
}

// evict makes room for one name, under t.mu, and reports whether it could.
func (t *Throttle) evict(now time.Time) bool {
	var victim string
	fewest := -1
	for k, a := range t.accounts {
		if a.pending > 0 {
			continue
		}
		if now.Sub(a.last) >= t.cfg.Forget || a.failures == 0 {
			delete(t.accounts, k)
			return true
		}
		if now.Before(a.lockedUntil) {
			continue
		}
		if fewest < 0 || a.failures < fewest {
			victim, fewest = k, a.failures
		}
	}
	if fewest < 0 {
		return false
	}
	delete(t.accounts, victim)
	return true
}

// Remembered returns how many names the throttle remembers, for tests and
// metrics.
func (t *Throttle) Remembered() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.accounts)
}
