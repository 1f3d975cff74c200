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

// DefaultSignersBucket is the JetStream key-value bucket where every
// kcledger process registers the public key it signs events with. Auditors
// take the keys from there once (kcledger keys) and pin them.
const DefaultSignersBucket = "KCLEDGER_SIGNERS"

// SignerKey is one registered public key, with the ledger root's
// endorsement when it has one. Anyone with the operator's credentials can
// write the bucket: only the endorsement, which needs the root's private
// key, makes a registration worth trusting.
type SignerKey = domain.SignerKey

// Signers is the bucket of public keys.
type Signers struct {
	kv jetstream.KeyValue
}

// OpenSigners creates or opens the signers bucket.
func OpenSigners(ctx context.Context, js jetstream.JetStream, replicas int) (*Signers, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	kv, err := js.KeyValue(ctx, DefaultSignersBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      DefaultSignersBucket,
			Description: "kcledger: public keys that sign events",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    max(replicas, 1),
		})
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: signers bucket: %w", err)
	}
	return &Signers{kv: kv}, nil
}

// Put records k under its id, replacing what was there: how a process
// endorses its own key's registration.
func (s *Signers) Put(ctx context.Context, k SignerKey) error {
	data, err := json.Marshal(k)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := s.kv.Put(ctx, k.ID, data); err != nil {
		return fmt.Errorf("eventstore: register signer %s: %w", k.ID, err)
	}
	return nil
}

// List returns every registered key, oldest first.
func (s *Signers) List(ctx context.Context) ([]SignerKey, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("eventstore: list signers: %w", err)
	}
	var out []SignerKey
	for k := range lister.Keys() {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("eventstore: read signer %s: %w", k, err)
		}
		var sk SignerKey
		if err := json.Unmarshal(e.Value(), &sk); err != nil {
			return nil, fmt.Errorf("eventstore: signer %s: %w", k, err)
		}
		out = append(out, sk)
	}
	slices.SortFunc(out, func(a, b SignerKey) int { return a.RegisteredAt.Compare(b.RegisteredAt) })
	return out, nil
}
