package domain

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// EventLog is the append-only log the ledger records into. Package
// eventstore implements it on JetStream; every implementation passes the
// conformance suite in eventstore/eventstoretest.
type EventLog interface {
	// Load returns the events of line with a sequence greater than after,
	// in sequence order.
	Load(ctx context.Context, line LineKey, after uint64) ([]Recorded, error)

	// Append appends p.Event atomically with a claim on its idempotency
	// key, provided that the last event of its line still has sequence
	// p.ExpectedSeq (0 for an empty line) and that the key was never
	// claimed before. It returns the event's sequence. When either
	// expectation fails, nothing is appended and the error wraps ErrStale.
	// Any other error leaves the outcome unknown: the caller asks Claim.
	Append(ctx context.Context, p Proposal) (uint64, error)

	// Claim returns the claim on an idempotency key, with ok false when the
	// key was never claimed. Claims are kept forever.
	Claim(ctx context.Context, key string) (c IdempotencyClaim, ok bool, err error)
}

// Proposal is an event offered to the log.
type Proposal struct {
	Event       Event
	ExpectedSeq uint64
	// Fingerprint is the command's fingerprint, kept with the key's claim.
	Fingerprint string
}

// IdempotencyClaim records which event an idempotency key produced, and
// the fingerprint of the command that produced it.
type IdempotencyClaim struct {
	Fingerprint string
	Recorded    Recorded
}

// ErrStale reports an append whose expectation failed: the line moved on,
// or the idempotency key is already claimed.
var ErrStale = errors.New("domain: event log: expectation failed")

// DefaultMaxAttempts bounds how often Record re-decides after losing a race
// for the same line.
const DefaultMaxAttempts = 16

// Ledger records commands into an EventLog. It caches the state of every
// line it touched, but never trusts the cache: each append expects the
// line's last sequence, so a ledger in another process that wrote in the
// meantime makes the append fail, and the ledger reloads and decides again.
type Ledger struct {
	log         EventLog
	policy      Policy
	maxAttempts int

	mu    sync.Mutex
	lines map[LineKey]*lineEntry
}

type lineEntry struct {
	mu    sync.Mutex // held while deciding and appending for this line
	state *LineState // nil until loaded
}

// NewLedger returns a ledger over log.
func NewLedger(log EventLog, p Policy) *Ledger {
	return &Ledger{log: log, policy: p, maxAttempts: DefaultMaxAttempts, lines: map[LineKey]*lineEntry{}}
}

// Result is the outcome of Record.
type Result struct {
	Recorded Recorded
	// Line is the state of the line after the event (or, for a replay,
	// as it is now).
	Line *LineState
	// Replayed is true when the idempotency key had already been used for
	// this same command: Recorded is the original event, nothing was
	// appended.
	Replayed bool
}

// Record decides cmd against the line's state and appends its event. A
// repeated command (same idempotency key, same content) returns the
// original event, however long ago it was recorded; the same key with
// different content is refused with ErrIdempotencyKeyReused.
func (l *Ledger) Record(ctx context.Context, cmd Command) (Result, error) {
	if err := cmd.Validate(l.policy); err != nil {
		return Result{}, err
	}
	fp := cmd.Fingerprint()
	entry := l.entry(cmd.Line())
	entry.mu.Lock()
	defer entry.mu.Unlock()

	for attempt := 0; attempt < l.maxAttempts; attempt++ {
		if err := l.refresh(ctx, entry, cmd.Line(), attempt > 0); err != nil {
			return Result{}, err
		}
		ev, err := Decide(entry.state, cmd, l.policy)
		if err != nil {
			// A retry of a command that was recorded may now be refused
			// (the money is spent); answer it with the original event.
			if res, ok, cerr := l.replay(ctx, entry, cmd.IdempotencyKey, fp); cerr != nil || ok {
				return res, cerr
			}
			return Result{}, err
		}
		seq, err := l.log.Append(ctx, Proposal{Event: ev, ExpectedSeq: entry.state.LastSeq, Fingerprint: fp})
		if err == nil {
			if aerr := entry.state.Apply(Recorded{Event: ev, Seq: seq}); aerr != nil {
				entry.state = nil
				return Result{}, aerr
			}
			return Result{Recorded: Recorded{Event: ev, Seq: seq}, Line: entry.state.Clone()}, nil
		}
		// The append failed or its outcome is unknown. Whatever happened,
		// first ask whether this command's key already landed: a timeout
		// may hide a success, and a retried publish is reported as a
		// conflict, not a duplicate.
		res, ok, cerr := l.replay(ctx, entry, cmd.IdempotencyKey, fp)
		if cerr != nil || ok {
			return res, cerr
		}
		if !errors.Is(err, ErrStale) {
			return Result{}, err
		}
	}
	return Result{}, Errorf(CodeConflict, "", "line %s kept changing under %d attempts; try again with the same idempotency key", cmd.Line(), l.maxAttempts)
}

// State returns a snapshot of a line's state, loading it if needed.
func (l *Ledger) State(ctx context.Context, k LineKey) (*LineState, error) {
	entry := l.entry(k)
	entry.mu.Lock()
	defer entry.mu.Unlock()
	if err := l.refresh(ctx, entry, k, true); err != nil {
		return nil, err
	}
	return entry.state.Clone(), nil
}

func (l *Ledger) entry(k LineKey) *lineEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.lines[k]
	if e == nil {
		e = &lineEntry{}
		l.lines[k] = e
	}
	return e
}

// refresh loads the line when it is not cached, and catches up with events
// appended elsewhere when force is set.
func (l *Ledger) refresh(ctx context.Context, e *lineEntry, k LineKey, force bool) error {
	if e.state != nil && !force {
		return nil
	}
	st := e.state
	if st == nil {
		st = NewLineState(k)
	}
	recs, err := l.log.Load(ctx, k, st.LastSeq)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := st.Apply(r); err != nil {
			e.state = nil
			return err
		}
	}
	e.state = st
	return nil
}

// replay answers a command whose idempotency key is already claimed.
func (l *Ledger) replay(ctx context.Context, e *lineEntry, key, fp string) (Result, bool, error) {
	c, ok, err := l.log.Claim(ctx, key)
	if err != nil || !ok {
		return Result{}, false, err
	}
	if c.Fingerprint != fp {
		return Result{}, false, Errorf(CodeIdempotencyKeyReused, "idempotency_key",
			"idempotency key %q was already used for a different command (event %s); use a new key for a new movement", key, c.Recorded.Event.ID)
	}
	// Catch up so the balance returned includes the original event.
	if err := l.refresh(ctx, e, c.Recorded.Event.Line(), true); err != nil {
		return Result{}, false, fmt.Errorf("domain: replay of key %q: %w", key, err)
	}
	return Result{Recorded: c.Recorded, Line: e.state.Clone(), Replayed: true}, true, nil
}
