package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the stream's options.
const (
	DefaultDuplicateWindow = 2 * time.Minute
	// MaxMessageBytes bounds one stored message. An event with every text
	// field at its limit stays well under it.
	MaxMessageBytes = 64 * 1024
)

// StreamConfig holds the stream options kcledger lets operators choose.
// Everything else is fixed by StreamSettings.
type StreamConfig struct {
	Name            string
	Replicas        int
	DuplicateWindow time.Duration
	// MaxBatch bounds how many concurrent appends one atomic batch
	// gathers (group commit, commit.go); 0 means DefaultMaxBatch, 1 turns
	// group commit off.
	MaxBatch int
	// Rebuild ignores the key index's checkpoint: the index is rebuilt
	// from the whole stream.
	Rebuild bool
	// Sealer, when set, seals the checkpoints (Checkpoints.SealWith).
	Sealer Sealer
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Name == "" {
		c.Name = DefaultStream
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	c.MaxBatch = min(max(c.MaxBatch, 1), maxBatchMessages)
	return c
}

// StreamSettings returns the full configuration of the stream, every
// option set on purpose rather than inherited.
func StreamSettings(c StreamConfig) jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:        c.Name,
		Description: "kcledger: khuyến công fund movements (append-only)",
		Subjects:    []string{AllEvents},
		Retention:   jetstream.LimitsPolicy,
		// No limits at all, and discard "new": should a limit ever be set,
		// appends are refused instead of history being silently dropped.
		MaxConsumers:      -1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxAge:            0,
		MaxMsgsPerSubject: -1,
		Discard:           jetstream.DiscardNew,
		MaxMsgSize:        MaxMessageBytes,
		Storage:           jetstream.FileStorage,
		Replicas:          c.Replicas,
		NoAck:             false,
		Duplicates:        c.DuplicateWindow,
		DenyDelete:        true,
		DenyPurge:         true,
		AllowRollup:       false,
		Compression:       jetstream.NoCompression,
		// Direct Get may be answered by a lagging replica; reads that
		// decide anything go through the leader.
		AllowDirect:       false,
		MirrorDirect:      false,
		AllowMsgTTL:       false,
		AllowMsgCounter:   false,
		AllowMsgSchedules: false,
		// The group commit gathers concurrent appends into atomic
		// batches (commit.go).
		AllowAtomicPublish: true,
		PersistMode:        jetstream.DefaultPersistMode,
	}
}

// EnsureStream creates the stream, or updates an existing one to the
// settings above. It refuses a stream that exists with a different subject
// set, rather than take over someone else's stream.
func EnsureStream(ctx context.Context, js jetstream.JetStream, c StreamConfig) (jetstream.Stream, error) {
	want := StreamSettings(c)
	s, err := js.Stream(ctx, want.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s, err = js.CreateStream(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("eventstore: create stream %s: %w", want.Name, err)
		}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("eventstore: look up stream %s: %w", want.Name, err)
	}
	have := s.CachedInfo().Config
	if len(have.Subjects) != 1 || have.Subjects[0] != AllEvents {
		return nil, fmt.Errorf("eventstore: stream %s exists with subjects %v, not kcledger's %v", want.Name, have.Subjects, want.Subjects)
	}
	if !sameSettings(have, want) {
		if s, err = js.UpdateStream(ctx, want); err != nil {
			return nil, fmt.Errorf("eventstore: update stream %s: %w", want.Name, err)
		}
	}
	return s, nil
}

func sameSettings(a, b jetstream.StreamConfig) bool {
	return a.Replicas == b.Replicas && a.Duplicates == b.Duplicates && a.MaxMsgSize == b.MaxMsgSize &&
		a.DenyDelete == b.DenyDelete && a.DenyPurge == b.DenyPurge && a.Discard == b.Discard &&
		a.MaxMsgs == b.MaxMsgs && a.MaxBytes == b.MaxBytes && a.MaxAge == b.MaxAge &&
		a.AllowAtomicPublish == b.AllowAtomicPublish && a.AllowDirect == b.AllowDirect
}
