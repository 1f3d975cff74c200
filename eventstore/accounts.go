package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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
	data, err := json.Marshal(&a)
	if err != nil {
		return fmt.Errorf("eventstore: encode account %s: %w", a.Name, err)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := s.kv.Create(ctx, a.Name, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return domain.Errorf(domain.CodeAccountExists, "name", "an account named %q already exists; names are never reused", a.Name)
		}
		return fmt.Errorf("eventstore: create account %s: %w", a.Name, err)
	}
	return nil
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
	for range 5 {
		a, rev, err := s.Account(ctx, name)
		if err != nil {
			return a, err
		}
		if err := fn(&a); err != nil {
			return a, err
		}
		data, err := json.Marshal(&a)
		if err != nil {
			return a, fmt.Errorf("eventstore: encode account %s: %w", name, err)
		}
		uctx, cancel := withTimeout(ctx)
		_, err = s.kv.Update(uctx, name, data, rev)
		cancel()
		if err == nil {
			return a, nil
		}
		// Somebody else changed it in between (10071, or 10164 on a
		// replicated bucket): read it again.
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return a, fmt.Errorf("eventstore: update account %s: %w", name, err)
		}
	}
	return domain.Account{}, domain.Errorf(domain.CodeConflict, "name", "account %q kept changing; try again", name)
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
