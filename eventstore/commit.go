package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Group commit. With an fsync on every write, one publish costs a disk
// flush, and concurrent publishers mostly queue behind each other's
// flushes. Appends that arrive while a commit is in flight are gathered
// into one JetStream atomic batch (nats-server 2.12+): the server checks
// each message's own expectation and message id, stores all of them or
// none, and flushes once. Callers of Append see no difference.
//
// A refused batch tells which rule failed but not which message broke
// it, so its messages are then published one by one, each getting its
// own answer (stale line, duplicate key, or success). A batch whose
// outcome is unknown (timeout, lost connection) reports that to each
// caller, who reloads its line and looks for its key, as for a single
// publish.

// Limits of one atomic batch. The server's own limit is 1000 messages.
//
// Group commit is off by default: on a single-replica file stream,
// nats-server 2.15 stages every atomic batch in a file store of its own,
// created and deleted per batch, which costs more than the flushes it
// saves at the batch sizes a few dozen writers produce (measured with
// TestGroupCommitDebug and scripts/bench: 16 writers went from about
// 3,300 to 2,000 appends/s). Replicated streams stage batches in memory.
const (
	DefaultMaxBatch  = 1
	maxBatchMessages = 1000
	maxBatchBytes    = 4 << 20
)

// JetStream's atomic batch headers.
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

// pendingAppend is one message waiting for the committer.
type pendingAppend struct {
	msg  *nats.Msg
	done chan publishResult // buffered: the committer never blocks on it
}

type publishResult struct {
	seq       uint64
	duplicate bool
	err       error
}

// commitStats counts what the committer did, for tests and benchmarks.
type commitStats struct {
	batches   atomic.Uint64 // atomic batches committed
	batched   atomic.Uint64 // messages committed in them
	fallbacks atomic.Uint64 // refused batches republished one by one
}

// publish stores m and returns its sequence, through the committer when
// group commit is on.
func (s *JetStream) publish(ctx context.Context, m *nats.Msg) (publishResult, error) {
	if s.queue == nil {
		return s.publishOne(ctx, m)
	}
	p := &pendingAppend{msg: m, done: make(chan publishResult, 1)}
	select {
	case s.queue <- p:
	case <-ctx.Done():
		return publishResult{}, ctx.Err()
	case <-s.committerDone:
		return publishResult{}, errClosed
	}
	select {
	case r := <-p.done:
		return r, r.err
	case <-ctx.Done():
		// The committer may still store it: the outcome is unknown, which
		// the caller resolves by reloading its line.
		return publishResult{}, ctx.Err()
	case <-s.committerDone:
		select {
		case r := <-p.done:
			return r, r.err
		default:
			return publishResult{}, errClosed
		}
	}
}

var errClosed = errors.New("eventstore: the event log is closed")

func (s *JetStream) publishOne(ctx context.Context, m *nats.Msg) (publishResult, error) {
	ack, err := s.js.PublishMsg(ctx, m)
	if err != nil {
		return publishResult{err: err}, err
	}
	return publishResult{seq: ack.Sequence, duplicate: ack.Duplicate}, nil
}

// runCommitter gathers queued appends into batches until ctx ends; then it
// answers whatever is still queued with an error.
func (s *JetStream) runCommitter(ctx context.Context) {
	defer close(s.committerDone)
	var carry *pendingAppend
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case <-ctx.Done():
				s.failQueued()
				return
			case first = <-s.queue:
			}
		}
		var batch []*pendingAppend
		batch, carry = s.gather(first)
		s.commit(ctx, batch)
	}
}

// gather returns first and the appends queued behind it, up to the batch
// limits, and the append that had to wait for the next batch, if any.
func (s *JetStream) gather(first *pendingAppend) (batch []*pendingAppend, carry *pendingAppend) {
	batch = []*pendingAppend{first}
	lines := map[string]bool{first.msg.Header.Get(hdrExpectedSubjSeqSub): true}
	size := len(first.msg.Data)
	for len(batch) < s.maxBatch && size < maxBatchBytes {
		select {
		case p := <-s.queue:
			// Two expectations on one line in one batch are both checked
			// against the line as it was before the batch, and both pass
			// (nats-server 2.15): the second waits for the next batch.
			line := p.msg.Header.Get(hdrExpectedSubjSeqSub)
			if lines[line] {
				return batch, p
			}
			lines[line] = true
			batch = append(batch, p)
			size += len(p.msg.Data)
		default:
			return batch, nil
		}
	}
	return batch, nil
}

func (s *JetStream) failQueued() {
	for {
		select {
		case p := <-s.queue:
			p.done <- publishResult{err: errClosed}
		default:
			return
		}
	}
}

// commit stores batch and answers each of its appends.
func (s *JetStream) commit(ctx context.Context, batch []*pendingAppend) {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	if len(batch) == 1 {
		r, _ := s.publishOne(ctx, batch[0].msg)
		batch[0].done <- r
		return
	}
	first, err := s.publishBatch(ctx, batch)
	var refused *batchRefusedError
	switch {
	case err == nil:
		s.stats.batches.Add(1)
		s.stats.batched.Add(uint64(len(batch)))
		for i, p := range batch {
			p.done <- publishResult{seq: first + uint64(i)}
		}
	case errors.As(err, &refused):
		// Nothing of the batch was stored: one by one, each message gets
		// its own verdict.
		s.stats.fallbacks.Add(1)
		done := make(chan struct{}, len(batch))
		for _, p := range batch {
			go func() {
				r, _ := s.publishOne(ctx, p.msg)
				p.done <- r
				done <- struct{}{}
			}()
		}
		for range batch {
			<-done
		}
	default:
		for _, p := range batch {
			p.done <- publishResult{err: err}
		}
	}
}

// batchRefusedError is the server's refusal of a whole atomic batch: none
// of its messages were stored.
type batchRefusedError struct {
	code        int
	description string
}

func (e *batchRefusedError) Error() string {
	return fmt.Sprintf("eventstore: atomic batch refused: %s (%d)", e.description, e.code)
}

// publishBatch publishes the batch's messages as one atomic batch and
// returns the sequence of the first. The messages themselves are not
// modified, so that they can be republished on their own.
func (s *JetStream) publishBatch(ctx context.Context, batch []*pendingAppend) (uint64, error) {
	msgs := make([]*nats.Msg, len(batch))
	for i, p := range batch {
		msgs[i] = p.msg
	}
	return s.publishAtomic(ctx, msgs)
}

// publishAtomic publishes msgs as one atomic batch and returns the
// sequence of the first; the others follow it. It does not modify them.
func (s *JetStream) publishAtomic(ctx context.Context, msgs []*nats.Msg) (uint64, error) {
	id := uuid.NewString()
	last := len(msgs) - 1
	for i, p := range msgs {
		m := nats.NewMsg(p.Subject)
		m.Data = p.Data
		for k, v := range p.Header {
			m.Header[k] = v
		}
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if i < last {
			// Only the commit is answered; a lost message shows there as
			// a gap, and the batch is refused.
			if err := s.nc.PublishMsg(m); err != nil {
				return 0, fmt.Errorf("eventstore: atomic batch %s, message %d: %w", id, i+1, err)
			}
			continue
		}
		m.Header.Set(hdrBatchCommit, "1")
		reply, err := s.nc.RequestMsgWithContext(ctx, m)
		if err != nil {
			return 0, fmt.Errorf("eventstore: atomic batch %s commit: %w", id, err)
		}
		return parseBatchAck(reply.Data, id, len(msgs))
	}
	panic("unreachable: empty batch")
}

func parseBatchAck(data []byte, id string, n int) (uint64, error) {
	var ack struct {
		jetstream.PubAck
		BatchID string `json:"batch"`
		Count   int    `json:"count"`
		Error   *struct {
			Code        int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &ack); err != nil {
		return 0, fmt.Errorf("eventstore: atomic batch %s: unreadable answer %q: %w", id, data, err)
	}
	if ack.Error != nil {
		return 0, &batchRefusedError{code: ack.Error.Code, description: ack.Error.Description}
	}
	if ack.BatchID != id || ack.Count != n || ack.Sequence < uint64(n) {
		return 0, fmt.Errorf("eventstore: atomic batch %s of %d: unexpected answer %q", id, n, data)
	}
	return ack.Sequence - uint64(n) + 1, nil
}
