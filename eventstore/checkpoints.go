package eventstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultCheckpointsBucket is the JetStream object store where kcledger
// keeps the checkpoints of its in-memory state (the idempotency key index,
// the balances), so that a restart resumes after them instead of reading
// the whole stream again. A checkpoint is only ever a shortcut: one that
// does not match the stream is thrown away and the state rebuilt.
const DefaultCheckpointsBucket = "KCLEDGER_CHECKPOINTS"

// Checkpoints is the checkpoint store.
type Checkpoints struct {
	obs    jetstream.ObjectStore
	sealer Sealer
}

// Sealer signs the checkpoints kcledger saves and checks those it loads.
// The object store can be written by anyone holding the operator's NATS
// credentials, and a checkpoint is state a restart trusts without
// reading the events it covers: unsealed, a forged one would be served.
type Sealer interface {
	Seal(name string, data []byte) ([]byte, error)
	// Unseal returns the data of a sealed checkpoint, or why it is not
	// to be trusted.
	Unseal(ctx context.Context, name string, sealed []byte) ([]byte, error)
}

// SealWith makes every Save seal and every Load unseal with s.
func (c *Checkpoints) SealWith(s Sealer) { c.sealer = s }

// OpenCheckpoints creates or opens the checkpoint store, with as many
// replicas as the event stream.
func OpenCheckpoints(ctx context.Context, js jetstream.JetStream, replicas int) (*Checkpoints, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	obs, err := js.ObjectStore(ctx, DefaultCheckpointsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      DefaultCheckpointsBucket,
			Description: "kcledger: checkpoints of projections (derived data, rebuilt from the stream when missing or wrong)",
			Storage:     jetstream.FileStorage,
			Replicas:    max(replicas, 1),
		})
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: checkpoints bucket: %w", err)
	}
	return &Checkpoints{obs: obs}, nil
}

// Save replaces the checkpoint name.
func (c *Checkpoints) Save(ctx context.Context, name string, data []byte) error {
	if c.sealer != nil {
		var err error
		if data, err = c.sealer.Seal(name, data); err != nil {
			return fmt.Errorf("eventstore: seal checkpoint %s: %w", name, err)
		}
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := c.obs.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("eventstore: save checkpoint %s: %w", name, err)
	}
	return nil
}

// Load returns the checkpoint name, nil when there is none. The object
// store checks its digest: a damaged checkpoint is an error.
func (c *Checkpoints) Load(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	data, err := c.obs.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: load checkpoint %s: %w", name, err)
	}
	if c.sealer != nil {
		if data, err = c.sealer.Unseal(ctx, name, data); err != nil {
			return nil, fmt.Errorf("eventstore: checkpoint %s is not to be trusted: %w", name, err)
		}
	}
	return data, nil
}

// Delete removes the checkpoint name, if any.
func (c *Checkpoints) Delete(ctx context.Context, name string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if err := c.obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("eventstore: delete checkpoint %s: %w", name, err)
	}
	return nil
}

// EventHash returns the hash of the event at seq, read from the stream's
// leader: what a checkpoint taken after that event must name.
func (s *JetStream) EventHash(ctx context.Context, seq uint64) (string, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	rec, err := s.event(ctx, seq)
	if err != nil {
		return "", err
	}
	return rec.Event.Hash, nil
}

// Missing returns the sequences up to upTo (all of them with 0) that the
// stream lacks. kcledger never deletes a message (the stream denies it),
// so any is a message removed, for instance by re-creating the stream
// without it: a checkpoint that counted it must not be used.
func (s *JetStream) Missing(ctx context.Context, upTo uint64) ([]uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	info, err := s.stream.Info(ctx, jetstream.WithDeletedDetails(true))
	if err != nil {
		return nil, fmt.Errorf("eventstore: stream info: %w", err)
	}
	var out []uint64
	if info.State.Msgs > 0 || info.State.LastSeq > 0 {
		for seq := uint64(1); seq < info.State.FirstSeq && (upTo == 0 || seq <= upTo) && len(out) < maxMissingListed; seq++ {
			out = append(out, seq)
		}
	}
	for _, seq := range info.State.Deleted {
		if (upTo == 0 || seq <= upTo) && len(out) < maxMissingListed {
			out = append(out, seq)
		}
	}
	slices.Sort(out)
	return out, nil
}

// maxMissingListed bounds the sequences Missing lists.
const maxMissingListed = 100
