package domain

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// EventLog is the append-only log the ledger records into. Package
// eventstore implements it on JetStream; every implementation passes the
// conformance suite in eventstore/eventstoretest.
type EventLog interface {
	// Load returns the events of line with a sequence greater than after,
	// in sequence order. It reads the log itself, never a cache.
	Load(ctx context.Context, line LineKey, after uint64) ([]Recorded, error)

	// Append appends p.Event, as one message, provided that the last event
	// of its line still has sequence p.ExpectedSeq (0 for an empty line).
	// It returns the event's sequence. When the line has moved on, nothing
	// is appended and the error wraps ErrStale. When the log knows the
	// event's idempotency key is taken, nothing is appended and the error
	// is a *ClaimedError. Any other error leaves the outcome unknown.
	Append(ctx context.Context, p Proposal) (uint64, error)

	// AppendAll appends the proposals' events in one atomic write: all of
	// them or none, each expecting its own line's last sequence (no two
	// proposals may be on the same line). It returns their sequences, in
	// order. Its errors are Append's: ErrStale when any line has moved
	// on, ErrKeyTaken when the log knows an idempotency key of the
	// proposals is taken (without saying by which event), anything else
	// leaving the outcome unknown.
	AppendAll(ctx context.Context, ps []Proposal) ([]uint64, error)

	// Claim returns the event recorded under an idempotency key, with ok
	// false when there is none. It may lag behind appends made by other
	// processes, but never by more than the window within which Append
	// itself detects a taken key.
	Claim(ctx context.Context, key string) (c IdempotencyClaim, ok bool, err error)
}

// Proposal is an event offered to the log.
type Proposal struct {
	Event       Event
	ExpectedSeq uint64
}

// IdempotencyClaim is the event an idempotency key produced, with the
// fingerprint of its command.
type IdempotencyClaim struct {
	Fingerprint string
	Recorded    Recorded
}

// ClaimedError reports an append refused because its idempotency key had
// already produced an event.
type ClaimedError struct {
	Claim IdempotencyClaim
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("domain: idempotency key %q already produced event %s at seq %d",
		e.Claim.Recorded.Event.IdempotencyKey, e.Claim.Recorded.Event.ID, e.Claim.Recorded.Seq)
}

// ErrStale reports an append whose line had moved on.
var ErrStale = errors.New("domain: event log: the line has moved on")

// ErrKeyTaken reports an atomic append refused because the log already
// holds an event under one of its idempotency keys.
var ErrKeyTaken = errors.New("domain: event log: an idempotency key of the write is taken")

// DefaultMaxAttempts bounds how often Record re-decides after losing a race
// for the same line.
const DefaultMaxAttempts = 16

// Backoff between attempts after a lost race: random, growing from
// backoffBase, at most backoffMax. Without it, ledgers in several
// processes that keep retrying in step can starve each other: on a
// replicated stream the leader refuses an expectation while another
// proposal on the same line is in flight, even one that will fail too.
const (
	backoffBase = time.Millisecond
	backoffMax  = 100 * time.Millisecond
)

// backoff waits a random time that grows with attempt, or until ctx ends.
func backoff(ctx context.Context, attempt int) error {
	limit := min(backoffBase<<min(attempt, 10), backoffMax)
	t := time.NewTimer(time.Duration(rand.Int64N(int64(limit)) + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Ledger records commands into an EventLog. It caches the state of every
// line it touched, but never trusts the cache: each append expects the
// line's last sequence, so a ledger in another process that wrote in the
// meantime makes the append fail, and the ledger reloads and decides again.
type Ledger struct {
	log         EventLog
	policy      Policy
	maxAttempts int
	signer      *Signer // nil: events are not signed

	mu    sync.Mutex
	lines map[LineKey]*lineEntry
}

type lineEntry struct {
	mu    sync.Mutex // held while deciding and appending for this line
	state *LineState // nil until loaded
	// keys maps the idempotency keys of the line's events to the events.
	// A command always lands on its own line, so a retry of a recorded
	// command always finds its key here once the line is reloaded.
	keys map[string]Recorded
}

func (e *lineEntry) apply(r Recorded) error {
	if err := e.state.Apply(r); err != nil {
		e.state, e.keys = nil, nil
		return err
	}
	e.keys[r.Event.IdempotencyKey] = r
	return nil
}

// NewLedger returns a ledger over log.
func NewLedger(log EventLog, p Policy) *Ledger {
	return &Ledger{log: log, policy: p, maxAttempts: DefaultMaxAttempts, lines: map[LineKey]*lineEntry{}}
}

// SignWith makes the ledger sign every event it records with s.
func (l *Ledger) SignWith(s *Signer) { l.signer = s }

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
//
// A retry of a recorded command is recognised exactly, on its own line:
// its key is among the line's events, and a stale view of the line makes
// the append fail and the line reload. A key reused for a command on
// another line is recognised by the log (Append's ClaimedError, Claim).
func (l *Ledger) Record(ctx context.Context, cmd Command) (Result, error) {
	if err := cmd.Validate(l.policy); err != nil {
		return Result{}, err
	}
	entry := l.entry(cmd.Line())
	entry.mu.Lock()
	defer entry.mu.Unlock()
	if err := l.refresh(ctx, entry, cmd.Line(), false); err != nil {
		return Result{}, err
	}
	if c, ok, err := l.log.Claim(ctx, cmd.IdempotencyKey); err != nil {
		return Result{}, err
	} else if ok {
		return l.replay(ctx, entry, c, &cmd)
	}
	for attempt := 0; attempt < l.maxAttempts; attempt++ {
		if r, ok := entry.keys[cmd.IdempotencyKey]; ok {
			return l.replay(ctx, entry, IdempotencyClaim{Fingerprint: r.Event.Fingerprint(), Recorded: r}, &cmd)
		}
		ev, err := Decide(entry.state, cmd, l.policy)
		if err == nil && l.signer != nil {
			l.signer.Sign(&ev)
		}
		if err != nil {
			// The cached line may be stale: only refuse on the line as
			// the log has it, where a retry also finds its original.
			if attempt == 0 {
				if rerr := l.refresh(ctx, entry, cmd.Line(), true); rerr != nil {
					return Result{}, rerr
				}
				continue
			}
			return Result{}, err
		}
		seq, err := l.log.Append(ctx, Proposal{Event: ev, ExpectedSeq: entry.state.LastSeq})
		if err == nil {
			// Decide computed the hash of this very event.
			r := Recorded{Event: ev, Seq: seq, HashChecked: true}
			if aerr := entry.apply(r); aerr != nil {
				return Result{}, aerr
			}
			return Result{Recorded: r, Line: entry.state.Clone()}, nil
		}
		var claimed *ClaimedError
		if errors.As(err, &claimed) {
			return l.replay(ctx, entry, claimed.Claim, &cmd)
		}
		// The line moved on, or the outcome is unknown (a timeout may hide
		// a success). Either way reload the line: if this command landed,
		// its key is there now.
		if rerr := l.refresh(ctx, entry, cmd.Line(), true); rerr != nil {
			return Result{}, errors.Join(err, rerr)
		}
		if !errors.Is(err, ErrStale) {
			if r, ok := entry.keys[cmd.IdempotencyKey]; ok {
				return l.replay(ctx, entry, IdempotencyClaim{Fingerprint: r.Event.Fingerprint(), Recorded: r}, &cmd)
			}
			return Result{}, err
		}
		if err := backoff(ctx, attempt); err != nil {
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
	if e.state == nil {
		e.state, e.keys = NewLineState(k), map[string]Recorded{}
	}
	recs, err := l.log.Load(ctx, k, e.state.LastSeq)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := e.apply(r); err != nil {
			return err
		}
	}
	return nil
}

// replay answers a command whose idempotency key already produced c.
func (l *Ledger) replay(ctx context.Context, e *lineEntry, c IdempotencyClaim, cmd *Command) (Result, error) {
	ev := c.Recorded.Event
	if c.Fingerprint != cmd.Fingerprint() {
		if ev.Actor != cmd.Actor {
			// Another account's event: its line, id and author are not
			// this caller's to learn, only that the key is taken.
			return Result{}, Errorf(CodeIdempotencyKeyReused, "idempotency_key",
				"idempotency key %q is already taken; use a new key for a new movement", cmd.IdempotencyKey)
		}
		return Result{}, Errorf(CodeIdempotencyKeyReused, "idempotency_key",
			"idempotency key %q was already used for a different movement (event %s on line %s); use a new key for a new movement", ev.IdempotencyKey, ev.ID, ev.Line())
	}
	// Catch up so that the balance returned includes the original event.
	if err := l.refresh(ctx, e, ev.Line(), e.state == nil || e.state.LastSeq < c.Recorded.Seq); err != nil {
		return Result{}, fmt.Errorf("domain: replay of key %q: %w", ev.IdempotencyKey, err)
	}
	return Result{Recorded: c.Recorded, Line: e.state.Clone(), Replayed: true}, nil
}

// TransferResult is the outcome of Transfer.
type TransferResult struct {
	// Out and In are the transfer's two events: out of the source line,
	// into the destination line.
	Out, In Recorded
	// From and To are the states of the two lines after the transfer (or,
	// for a replay, as they are now).
	From, To *LineState
	// Replayed is true when the idempotency key had already been used for
	// this same transfer: Out and In are the original events.
	Replayed bool
}

// Transfer decides a transfer against the states of its two lines and
// appends both of its events in one atomic write (EventLog.AppendAll),
// each expecting its own line's last sequence: either both land or
// neither does. A repeated transfer (same idempotency key, same content)
// returns the original pair.
//
// Both lines are locked, always in the order of their keys, so that two
// transfers between the same lines in opposite directions cannot wait on
// each other.
func (l *Ledger) Transfer(ctx context.Context, cmd Command) (TransferResult, error) {
	if err := cmd.Validate(l.policy); err != nil {
		return TransferResult{}, err
	}
	if cmd.Kind != Transfer {
		return TransferResult{}, Errorf(CodeInternal, "", "Transfer takes a transfer, not %s", cmd.Kind.noun())
	}
	fromKey, toKey := cmd.Line(), cmd.To
	from, to := l.entry(fromKey), l.entry(toKey)
	first, second := from, to
	if toKey.String() < fromKey.String() {
		first, second = to, from
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	second.mu.Lock()
	defer second.mu.Unlock()
	refresh := func(force bool) error {
		if err := l.refresh(ctx, from, fromKey, force); err != nil {
			return err
		}
		return l.refresh(ctx, to, toKey, force)
	}
	if err := refresh(false); err != nil {
		return TransferResult{}, err
	}
	if c, ok, err := l.log.Claim(ctx, cmd.IdempotencyKey); err != nil {
		return TransferResult{}, err
	} else if ok {
		return l.replayTransfer(ctx, from, to, c, &cmd)
	}
	for attempt := 0; attempt < l.maxAttempts; attempt++ {
		if r, ok := from.keys[cmd.IdempotencyKey]; ok {
			return l.replayTransfer(ctx, from, to, IdempotencyClaim{Fingerprint: r.Event.Fingerprint(), Recorded: r}, &cmd)
		}
		out, in, err := DecideTransfer(from.state, to.state, cmd, l.policy)
		if err != nil {
			if attempt == 0 {
				if rerr := refresh(true); rerr != nil {
					return TransferResult{}, rerr
				}
				continue
			}
			return TransferResult{}, err
		}
		if l.signer != nil {
			l.signer.Sign(&out)
			l.signer.Sign(&in)
		}
		seqs, err := l.log.AppendAll(ctx, []Proposal{{Event: out, ExpectedSeq: from.state.LastSeq}, {Event: in, ExpectedSeq: to.state.LastSeq}})
		if err == nil && len(seqs) == 2 {
			ro := Recorded{Event: out, Seq: seqs[0], HashChecked: true}
			ri := Recorded{Event: in, Seq: seqs[1], HashChecked: true}
			if aerr := from.apply(ro); aerr != nil {
				return TransferResult{}, aerr
			}
			if aerr := to.apply(ri); aerr != nil {
				return TransferResult{}, aerr
			}
			return TransferResult{Out: ro, In: ri, From: from.state.Clone(), To: to.state.Clone()}, nil
		}
		if err == nil {
			err = fmt.Errorf("domain: atomic append of a transfer returned %d sequences, want 2", len(seqs))
		}
		// Stale, key taken or unknown: reload both lines; if this transfer
		// landed, its key is on the source line now.
		if rerr := refresh(true); rerr != nil {
			return TransferResult{}, errors.Join(err, rerr)
		}
		if r, ok := from.keys[cmd.IdempotencyKey]; ok {
			return l.replayTransfer(ctx, from, to, IdempotencyClaim{Fingerprint: r.Event.Fingerprint(), Recorded: r}, &cmd)
		}
		if errors.Is(err, ErrKeyTaken) {
			if c, ok, cerr := l.log.Claim(ctx, cmd.IdempotencyKey); cerr == nil && ok {
				return l.replayTransfer(ctx, from, to, c, &cmd)
			}
			return TransferResult{}, Errorf(CodeIdempotencyKeyReused, "idempotency_key",
				"idempotency key %q is already taken; use a new key for a new movement", cmd.IdempotencyKey)
		}
		if !errors.Is(err, ErrStale) {
			return TransferResult{}, err
		}
		if err := backoff(ctx, attempt); err != nil {
			return TransferResult{}, err
		}
	}
	return TransferResult{}, Errorf(CodeConflict, "", "lines %s and %s kept changing under %d attempts; try again with the same idempotency key", fromKey, toKey, l.maxAttempts)
}

// replayTransfer answers a transfer whose idempotency key already produced
// c: when c is that same transfer's transferred-out event, with it and
// its transferred-in event, found on the destination line.
func (l *Ledger) replayTransfer(ctx context.Context, from, to *lineEntry, c IdempotencyClaim, cmd *Command) (TransferResult, error) {
	ev := c.Recorded.Event
	if c.Fingerprint != cmd.Fingerprint() {
		if ev.Actor != cmd.Actor {
			return TransferResult{}, Errorf(CodeIdempotencyKeyReused, "idempotency_key",
				"idempotency key %q is already taken; use a new key for a new movement", cmd.IdempotencyKey)
		}
		return TransferResult{}, Errorf(CodeIdempotencyKeyReused, "idempotency_key",
			"idempotency key %q was already used for a different movement (event %s on line %s); use a new key for a new movement", ev.IdempotencyKey, ev.ID, ev.Line())
	}
	if err := l.refresh(ctx, from, ev.Line(), from.state == nil || from.state.LastSeq < c.Recorded.Seq); err != nil {
		return TransferResult{}, fmt.Errorf("domain: replay of key %q: %w", ev.IdempotencyKey, err)
	}
	in, ok := to.keys[ev.IdempotencyKey]
	if !ok || in.Event.TransferID != ev.ID {
		// Appended together: the destination holds it once reloaded.
		if err := l.refresh(ctx, to, cmd.To, true); err != nil {
			return TransferResult{}, fmt.Errorf("domain: replay of key %q: %w", ev.IdempotencyKey, err)
		}
		in, ok = to.keys[ev.IdempotencyKey]
	}
	if !ok || in.Event.Type != TypeTransferredIn || in.Event.TransferID != ev.ID {
		return TransferResult{}, fmt.Errorf("%w: transfer %s (key %q) has no transferred-in side on line %s", ErrCorrupt, ev.ID, ev.IdempotencyKey, cmd.To)
	}
	return TransferResult{Out: c.Recorded, In: in, From: from.state.Clone(), To: to.state.Clone(), Replayed: true}, nil
}
