package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
)

// DefaultSessionsBucket is the JetStream key-value bucket of the web
// console's sessions. It is shared by every kcledger process on the same
// NATS server, so a session opened on one is known to all, and a log-out
// on one ends it on all.
const DefaultSessionsBucket = "KCLEDGER_SESSIONS"

// Sessions is the console's session store: opaque values under keys the
// console chooses (a hash of the session's secret, never the secret). The
// bucket's TTL ends every session after its lifetime, whatever happens
// to the process that opened it.
type Sessions struct {
	kv jetstream.KeyValue
}

// OpenSessions creates or opens the sessions bucket, whose entries live
// at most ttl, with as many replicas as the event stream.
func OpenSessions(ctx context.Context, js jetstream.JetStream, bucket string, replicas int, ttl time.Duration) (*Sessions, error) {
	if bucket == "" {
		bucket = DefaultSessionsBucket
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "kcledger web console sessions (keyed by a hash of each session's secret)",
			History:     1,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
			Replicas:    max(replicas, 1),
		})
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: sessions bucket %s: %w", bucket, err)
	}
	return &Sessions{kv: kv}, nil
}

// Create stores a new session; a key already taken is an error.
func (s *Sessions) Create(ctx context.Context, key string, value []byte) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := s.kv.Create(ctx, key, value); err != nil {
		return fmt.Errorf("eventstore: create session: %w", err)
	}
	return nil
}

// Get returns the session stored under key, or domain.ErrNotFound when
// there is none (never opened, ended, or past its lifetime).
func (s *Sessions) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, domain.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: read session: %w", err)
	}
	return e.Value(), nil
}

// Delete ends the session stored under key; ending one that is already
// gone is not an error.
func (s *Sessions) Delete(ctx context.Context, key string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if err := s.kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("eventstore: end session: %w", err)
	}
	return nil
}
