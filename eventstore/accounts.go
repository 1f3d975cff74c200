package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
)

// DefaultAccountsBucket is the JetStream key-value bucket of accounts. It
// is shared by every kcledger process on the same NATS server, so a
// disabled account is refused by all of them at once. Its history keeps
// the last accountHistory versions of each account.
const DefaultAccountsBucket = "KCLEDGER_ACCOUNTS"

const accountHistory = 64

// Accounts is the account store.
type Accounts struct {
	kv jetstream.KeyValue
}

// OpenAccounts creates or opens the accounts bucket, with as many replicas
// as the event stream.
func OpenAccounts(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (*Accounts, error) {
	if bucket == "" {
		bucket = DefaultAccountsBucket
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "kcledger accounts (secrets are stored as hashes)",
			History:     accountHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    max(replicas, 1),
		})
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: accounts bucket %s: %w", bucket, err)
	}
	return &Accounts{kv: kv}, nil
}

// Create stores a new account; a name already taken, even by a disabled
// account, is refused with domain.ErrAccountExists.
func (s *Accounts) Create(ctx context.Context, a domain.Account) error {
	_, err := s.create(ctx, a)
	return err
}

// create is Create, and the revision it stored.
func (s *Accounts) create(ctx context.Context, a domain.Account) (uint64, error) {
	data, err := json.Marshal(&a)
	if err != nil {
		return 0, fmt.Errorf("eventstore: encode account %s: %w", a.Name, err)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	rev, err := s.kv.Create(ctx, a.Name, data)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, domain.Errorf(domain.CodeAccountExists, "name", "an account named %q already exists; names are never reused", a.Name)
		}
		return 0, fmt.Errorf("eventstore: create account %s: %w", a.Name, err)
	}
	return rev, nil
}

// Account returns the account named name and its revision, or
// domain.ErrNotFound.
func (s *Accounts) Account(ctx context.Context, name string) (domain.Account, uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	e, err := s.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return domain.Account{}, 0, domain.Errorf(domain.CodeNotFound, "name", "no account named %q", name)
	}
	if err != nil {
		return domain.Account{}, 0, fmt.Errorf("eventstore: read account %s: %w", name, err)
	}
	var a domain.Account
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return domain.Account{}, 0, fmt.Errorf("%w: account %s at revision %d: %v", domain.ErrCorrupt, name, e.Revision(), err)
	}
	return a, e.Revision(), nil
}

// List returns every account, sorted by name.
func (s *Accounts) List(ctx context.Context) ([]domain.Account, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	keys, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("eventstore: list accounts: %w", err)
	}
	var names []string
	for k := range keys.Keys() {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]domain.Account, 0, len(names))
	for _, n := range names {
		a, _, err := s.Account(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Update changes an account with fn, provided nobody changed it since it
// was read; it retries a few times when somebody did.
func (s *Accounts) Update(ctx context.Context, name string, fn func(*domain.Account) error) (domain.Account, error) {
	a, _, err := s.update(ctx, name, fn)
	return a, err
}

// update is Update, and the revision it stored.
func (s *Accounts) update(ctx context.Context, name string, fn func(*domain.Account) error) (domain.Account, uint64, error) {
	for range 5 {
		a, rev, err := s.Account(ctx, name)
		if err != nil {
			return a, 0, err
		}
		if err := fn(&a); err != nil {
			return a, 0, err
		}
		data, err := json.Marshal(&a)
		if err != nil {
			return a, 0, fmt.Errorf("eventstore: encode account %s: %w", name, err)
		}
		uctx, cancel := withTimeout(ctx)
		rev, err = s.kv.Update(uctx, name, data, rev)
		cancel()
		if err == nil {
			return a, rev, nil
		}
		// Somebody else changed it in between (10071, or 10164 on a
		// replicated bucket): read it again.
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return a, 0, fmt.Errorf("eventstore: update account %s: %w", name, err)
		}
	}
	return domain.Account{}, 0, domain.Errorf(domain.CodeConflict, "name", "account %q kept changing; try again", name)
}

// HasAdmin says whether an enabled admin account exists.
func (s *Accounts) HasAdmin(ctx context.Context) (bool, error) {
	all, err := s.List(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(all, func(a domain.Account) bool { return a.Role == domain.RoleAdmin && !a.Disabled }), nil
}

// Watch calls fn with every account as it is now, then with every change,
// until ctx ends. It returns once the accounts as they are now have been
// delivered; fn runs on another goroutine afterwards.
func (s *Accounts) Watch(ctx context.Context, fn func(domain.Account)) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("eventstore: watch accounts: %w", err)
	}
	deliver := func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			// A deleted key is an account nobody may use.
			fn(domain.Account{Name: e.Key(), Disabled: true})
			return
		}
		var a domain.Account
		if err := json.Unmarshal(e.Value(), &a); err != nil {
			fn(domain.Account{Name: e.Key(), Disabled: true}) // unreadable: refuse it
			return
		}
		fn(a)
	}
	for {
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("eventstore: accounts watch closed")
			}
			if e == nil { // the current values are all delivered
				go func() {
					defer func() { _ = w.Stop() }()
					for {
						select {
						case <-ctx.Done():
							return
						case e, ok := <-w.Updates():
							if !ok {
								return
							}
							if e != nil {
								deliver(e)
							}
						}
					}
				}()
				return nil
			}
			deliver(e)
		}
	}
}

// The account cache. Every request names its account, and reading it
// from the bucket is a round trip to the server; the cache keeps every
// account in memory instead, kept current by a watch of the bucket, and
// answers from memory only while it can prove it is current enough:
//
//   - a change made through this cache (a disable, a password set) is in
//     it before Update returns, so this process refuses a disabled
//     account from its next request on;
//   - a change made by another process reaches it by the watch, pushed
//     by the server as soon as it is stored (milliseconds on a live
//     connection); and the cache serves from memory only if, at most
//     AccountsMaxStale ago, it asked the server for the bucket's last
//     revision and its watch had delivered that revision. Otherwise (the
//     watch is down, or behind, or the connection is), it reads each
//     account from the bucket, as without a cache. So a change another
//     process made is honored here at most AccountsMaxStale after that
//     process was told it was stored, whatever the watch does;
//   - a name the cache does not hold is read from the bucket: a new
//     account works at once everywhere.
const (
	// AccountsMaxStale bounds how old a change made by another process
	// may be and still not be honored here.
	AccountsMaxStale = time.Second
	// accountsProbeEvery is how often the cache asks the bucket's last
	// revision: well within AccountsMaxStale, so that a live watch
	// always serves from memory.
	accountsProbeEvery = AccountsMaxStale / 4
	// accountsRewatchEvery paces the watch's restarts once it stopped.
	accountsRewatchEvery = 500 * time.Millisecond
)

// AccountCache is the accounts, served from memory while a watch of the
// bucket keeps them current (above). It is an Accounts: its writes go to
// the bucket, then into the cache.
type AccountCache struct {
	*Accounts

	mu sync.RWMutex
	// byName is each account as last delivered or written, with the
	// revision it was stored at.
	byName map[string]cachedAccount
	// seen is the highest revision the watch delivered; live says the
	// watch runs and delivered the bucket as it was when it started.
	seen uint64
	live bool
	// current is when the cache was last shown current: the bucket's
	// last revision asked at that moment had been delivered. Zero is
	// never.
	current time.Time
	// changed is closed, and replaced, when seen or live changes.
	changed chan struct{}
	// w is the running watch.
	w jetstream.KeyWatcher
	// hold, in tests, delays each change the watch delivers: a watch
	// that is behind.
	hold func()
}

type cachedAccount struct {
	acc domain.Account
	rev uint64
}

// Cache starts a cache of the accounts, which lives until ctx ends. It
// returns once the watch delivered every account as it is now, and the
// cache was shown current.
func (s *Accounts) Cache(ctx context.Context) (*AccountCache, error) {
	return s.cache(ctx, nil)
}

func (s *Accounts) cache(ctx context.Context, hold func()) (*AccountCache, error) {
	c := &AccountCache{Accounts: s, byName: map[string]cachedAccount{}, changed: make(chan struct{}), hold: hold}
	w, err := c.watch(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.probe(ctx); err != nil {
		_ = w.Stop()
		return nil, err
	}
	go c.run(ctx, w)
	return c, nil
}

// stopWatch stops the running watch, in tests: as when it fails.
func (c *AccountCache) stopWatch() {
	c.mu.RLock()
	w := c.w
	c.mu.RUnlock()
	if w != nil {
		_ = w.Stop()
	}
}

// watch starts a watch of the bucket and applies every account as it is
// now before it returns.
func (c *AccountCache) watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	w, err := c.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("eventstore: watch accounts: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("eventstore: accounts watch closed")
			}
			if e == nil { // the accounts as they are now are all in
				c.mu.Lock()
				c.w = w
				c.mu.Unlock()
				c.setLive(true)
				return w, nil
			}
			c.apply(e)
		}
	}
}

// run applies the watch's changes, restarts the watch when it stops,
// and shows the cache current every accountsProbeEvery, until ctx ends.
func (c *AccountCache) run(ctx context.Context, w jetstream.KeyWatcher) {
	go every(ctx, accountsProbeEvery, func() {
		_ = c.probe(ctx) // when it fails, the cache ages, and reads go to the bucket
	})
	for {
		for w != nil {
			select {
			case <-ctx.Done():
				_ = w.Stop()
				return
			case e, ok := <-w.Updates():
				if !ok {
					w = nil
					break
				}
				if e != nil {
					if c.hold != nil {
						c.hold()
					}
					c.apply(e)
				}
			}
		}
		c.setLive(false)
		select {
		case <-ctx.Done():
			return
		case <-time.After(accountsRewatchEvery):
		}
		w, _ = c.watch(ctx) // nil again on failure: wait and retry
	}
}

// probe asks the bucket's last revision, waits (up to AccountsMaxStale)
// for the watch to deliver it, and then marks the cache current as of
// the moment it asked.
func (c *AccountCache) probe(ctx context.Context) error {
	asked := time.Now()
	ctx, cancel := context.WithTimeout(ctx, AccountsMaxStale)
	defer cancel()
	st, err := c.kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("eventstore: accounts bucket status: %w", err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return fmt.Errorf("eventstore: accounts bucket status: unexpected %T", st)
	}
	last := bs.StreamInfo().State.LastSeq
	for {
		c.mu.Lock()
		ready, changed := c.live && c.seen >= last, c.changed
		if ready && asked.After(c.current) {
			c.current = asked
		}
		c.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("eventstore: accounts watch behind the bucket's revision %d: %w", last, ctx.Err())
		case <-changed:
		}
	}
}

// apply takes one change the watch delivered.
func (c *AccountCache) apply(e jetstream.KeyValueEntry) {
	a := domain.Account{Name: e.Key(), Disabled: true} // deleted or unreadable: nobody may use it
	if e.Operation() == jetstream.KeyValuePut {
		var got domain.Account
		if err := json.Unmarshal(e.Value(), &got); err == nil {
			a = got
		}
	}
	c.put(a, e.Revision(), true)
}

// put keeps a at rev unless the cache holds a later revision of it;
// watched says the watch delivered it (it counts towards seen).
func (c *AccountCache) put(a domain.Account, rev uint64, watched bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.byName[a.Name]; !ok || have.rev < rev {
		c.byName[a.Name] = cachedAccount{acc: a, rev: rev}
	}
	if watched && rev > c.seen {
		c.seen = rev
		close(c.changed)
		c.changed = make(chan struct{})
	}
}

func (c *AccountCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	if !live {
		c.current = time.Time{}
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// Account returns the account named name and its revision, or
// domain.ErrNotFound: from memory while the cache is current (above),
// else from the bucket.
func (c *AccountCache) Account(ctx context.Context, name string) (domain.Account, uint64, error) {
	c.mu.RLock()
	have, ok := c.byName[name]
	fresh := c.isCurrentLocked()
	c.mu.RUnlock()
	if ok && fresh {
		return have.acc, have.rev, nil
	}
	return c.Accounts.Account(ctx, name)
}

// isCurrentLocked says whether the cache may answer from memory; c.mu
// is held.
func (c *AccountCache) isCurrentLocked() bool {
	return c.live && time.Since(c.current) <= AccountsMaxStale
}

// Create stores a new account, and keeps it.
func (c *AccountCache) Create(ctx context.Context, a domain.Account) error {
	rev, err := c.create(ctx, a)
	if err != nil {
		return err
	}
	c.put(a, rev, false)
	return nil
}

// Update changes an account with fn (Accounts.Update), and keeps the
// change before it returns: this process never serves the account as it
// was.
func (c *AccountCache) Update(ctx context.Context, name string, fn func(*domain.Account) error) (domain.Account, error) {
	a, rev, err := c.update(ctx, name, fn)
	if err != nil {
		return a, err
	}
	c.put(a, rev, false)
	return a, nil
}
