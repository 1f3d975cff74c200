package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Group commit. With an fsync on every write, one publish costs a disk
// flush, and concurrent publishers mostly queue behind each other's
// flushes. Appends that arrive while commits are in flight are gathered
// into one JetStream atomic batch (nats-server 2.12+): the server checks
// each message's own expectation and message id, stores all of them or
// none, and flushes once. Callers of Append see no difference.
//
// It is adaptive, as a database's group commit, which only waits when
// other commits are in flight. While fewer than batchFrom appends are
// under way (queued or waiting for their answer), and no batch went of
// late, each is published at once on its own, from its caller's
// goroutine, as without group commit: a lone append is never delayed,
// nor are a few concurrent ones, and no timer is involved anywhere.
// From batchFrom on, appends go through the committer: they wait while
// maxInFlight commits are in flight, and those waiting are gathered
// into one batch. The committer stays at it while its last two batches
// held batchFrom appends between them; small batches hand back to the
// single publishes.
//
// On a single-replica file stream nats-server 2.15 stages every atomic
// batch in a file store of its own, created and deleted per batch, one
// after the other on the stream: a fixed cost per batch worth many
// fsyncs (about a dozen single publishes on the quiet build machine, in
// the figures; several dozen when its disk is busy). So batches
// pay there only when they are large: from batchFromR1 appends under
// way, one batch at a time, which makes each as large as it can be.
// Replicated streams stage batches in memory, and two in flight keep the
// replicas busy.
//
// Several commits in flight may arrive in any order as far as the
// expectations are concerned: each names an absolute sequence of its
// line, which the server checks against the line as it is when it
// commits the message, whatever was committed before; and one process
// never has two appends of a line pending but by a caller that gave up
// waiting (an unknown outcome, which it resolves by reloading the line).
//
// A refused batch tells which rule failed but not which message broke
// it. For a stale expectation, the lines' heads say which: those whose
// line has moved past their expectation are answered stale, as the server
// would answer them, and the others are committed again. Any other
// refusal, or a second one, republishes the messages one by one, each
// getting its own answer (stale line, duplicate key, or success). A
// batch whose outcome is unknown (timeout, lost connection) reports that
// to each caller, who reloads its line and looks for its key, as for a
// single publish.

// Limits of group commit. The server's own limit is 1000 messages a
// batch and 50 atomic batches in flight a stream. A gathered batch of
// fewer than minBatch messages is published as single messages.
const (
	DefaultMaxBatch     = maxBatchMessages
	maxBatchMessages    = 1000
	maxBatchBytes       = 4 << 20
	batchFromR1         = 32
	batchFromReplicas   = 2
	maxInFlightR1       = 1
	maxInFlightReplicas = 2
	minBatchR1          = 4
	minBatchReplicas    = 2
	maxYields           = 64
	maxYieldsStill      = 4
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
	line string             // its expectation's filter: the line
	done chan publishResult // buffered: the committer never blocks on it
}

func newPending(m *nats.Msg) *pendingAppend {
	return &pendingAppend{msg: m, line: m.Header.Get(hdrExpectedSubjSeqSub), done: make(chan publishResult, 1)}
}

type publishResult struct {
	seq       uint64
	duplicate bool
	err       error
}

// commitStats counts what the committer did, for tests, benchmarks and
// metrics.
type commitStats struct {
	singles   atomic.Uint64 // messages published on their own
	queued    atomic.Uint64 // appends that went through the committer
	batches   atomic.Uint64 // atomic batches committed
	batched   atomic.Uint64 // messages committed in them
	fallbacks atomic.Uint64 // refused batches republished one by one
	resolved  atomic.Uint64 // refused batches split by the lines' heads
	waits     atomic.Uint64 // times an append waited for a commit slot
	deferred  atomic.Uint64 // appends left for a later batch: their line was in this one
}

// CommitStats is what group commit did since Open.
type CommitStats struct {
	// Singles are messages published on their own; Batches the atomic
	// batches committed, holding Batched messages.
	Singles, Batches, Batched uint64
	// Fallbacks are refused batches republished one by one; Resolved
	// refused batches split by their lines' heads.
	Fallbacks, Resolved uint64
	// Queued counts the appends that went through the committer, and
	// Waits the times they waited for a commit in flight.
	Queued, Waits uint64
}

// CommitStats says what group commit did since Open.
func (s *JetStream) CommitStats() CommitStats {
	return CommitStats{
		Singles: s.stats.singles.Load(), Batches: s.stats.batches.Load(), Batched: s.stats.batched.Load(),
		Fallbacks: s.stats.fallbacks.Load(), Resolved: s.stats.resolved.Load(),
		Queued: s.stats.queued.Load(), Waits: s.stats.waits.Load(),
	}
}

// OnCommit makes group commit call fn with the number of messages of
// each commit (1 for a message published alone), from its own
// goroutines and its appenders': fn must be quick and safe for
// concurrent use.
func (s *JetStream) OnCommit(fn func(messages int)) { s.onCommit.Store(&fn) }

// publish stores m and returns its sequence, through the committer when
// group commit is on.
func (s *JetStream) publish(ctx context.Context, m *nats.Msg) (publishResult, error) {
	if s.queue == nil {
		return s.publishOne(ctx, m)
	}
	n := s.underWay.Add(1)
	defer s.underWay.Add(-1)
	if n < int64(s.batchFrom) && s.queued.Load() == 0 && !s.batching() {
		// Few appends under way, none of them through the committer, and
		// no batches of late: this one goes at once, on its own, from the
		// caller's goroutine, as without group commit. (While batches
		// go, appends join them: the writers a batch has just answered
		// would otherwise come back one by one, each alone.)
		s.stats.singles.Add(1)
		s.observeCommit(1)
		return s.publishOne(ctx, m)
	}
	p := newPending(m)
	s.stats.queued.Add(1)
	s.queued.Add(1)
	defer s.queued.Add(-1)
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

// runCommitter publishes queued appends, or gathers them into batches,
// until ctx ends; then it waits for the commits in flight and answers
// whatever is still queued with an error.
func (s *JetStream) runCommitter(ctx context.Context) {
	slots := make(chan struct{}, s.maxInFlight)
	var inFlight sync.WaitGroup
	defer func() {
		inFlight.Wait()
		s.failQueued()
		close(s.committerDone)
	}()
	for {
		var first *pendingAppend
		if len(s.deferred) > 0 {
			first, s.deferred = s.deferred[0], s.deferred[1:]
		} else {
			select {
			case <-ctx.Done():
				return
			case first = <-s.queue:
			}
		}
		if s.underWay.Load() < int64(s.batchFrom) && !s.batching() {
			// Fewer appends under way than when this one was queued:
			// it goes at once, on its own.
			s.stats.singles.Add(1)
			s.observeCommit(1)
			inFlight.Add(1)
			go func() {
				defer inFlight.Done()
				cctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
				defer cancel()
				r, _ := s.publishOne(cctx, first.msg)
				first.done <- r
			}()
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			// Every slot is taken: this append waits, and the ones
			// arriving meanwhile gather behind it.
			s.stats.waits.Add(1)
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				first.done <- publishResult{err: errClosed}
				return
			}
		}
		s.letAnsweredQueue()
		batch := s.gather(first)
		inFlight.Add(1)
		go func() {
			defer inFlight.Done()
			s.commit(ctx, batch)
			s.prevAnswered.Store(s.lastAnswered.Swap(int32(len(batch))))
			<-slots
		}()
	}
}

// letAnsweredQueue yields to the writers the last batch has just
// answered, while they keep queueing their next appends, before the
// committer gathers: a channel wakes the committer ahead of them, and it
// would otherwise take the first of them alone, then the others in the
// next batch, and so on (two cohorts taking turns, each batch half as
// large as it could be). Nothing waits when nothing else is runnable:
// this is no timer, and only batches get here.
func (s *JetStream) letAnsweredQueue() {
	target := min(len(s.queue)+int(s.lastAnswered.Load()), cap(s.queue))
	still := 0
	for range maxYields {
		n := len(s.queue)
		if n >= target || still >= maxYieldsStill {
			return
		}
		runtime.Gosched()
		if len(s.queue) == n {
			still++
		} else {
			still = 0
		}
	}
}

// batching says whether the last two batches held batchFrom appends or
// more between them: the load that made them is still there, though the
// writers they answered are not all back yet. (At steady load, the
// writers tend to come back in two cohorts, one per batch.) Once load
// falls, two small batches end it.
func (s *JetStream) batching() bool {
	return s.lastAnswered.Load()+s.prevAnswered.Load() >= int32(s.batchFrom)
}

func (s *JetStream) observeCommit(messages int) {
	if fn := s.onCommit.Load(); fn != nil {
		(*fn)(messages)
	}
}

// gather returns first and the appends waiting behind it (those deferred
// from earlier batches first), up to the batch limits. An append on a
// line already in the batch is deferred to a later one: two expectations
// on one line in one batch are both checked against the line as it was
// before the batch, and both pass (nats-server 2.15).
func (s *JetStream) gather(first *pendingAppend) []*pendingAppend {
	batch := []*pendingAppend{first}
	lines := map[string]bool{first.line: true}
	size := len(first.msg.Data)
	full := func() bool { return len(batch) >= s.maxBatch || size >= maxBatchBytes }
	add := func(p *pendingAppend) bool {
		if lines[p.line] {
			return false
		}
		lines[p.line] = true
		batch = append(batch, p)
		size += len(p.msg.Data)
		return true
	}
	kept := s.deferred[:0]
	for _, p := range s.deferred {
		if full() || !add(p) {
			kept = append(kept, p)
		}
	}
	s.deferred = kept
	// The deferred are bounded by what the queue held: at most maxBatch
	// more are taken from it than the batch holds.
	for !full() && len(s.deferred) < s.maxBatch {
		select {
		case p := <-s.queue:
			if !add(p) {
				s.stats.deferred.Add(1)
				s.deferred = append(s.deferred, p)
			}
		default:
			return batch
		}
	}
	return batch
}

func (s *JetStream) failQueued() {
	for _, p := range s.deferred {
		p.done <- publishResult{err: errClosed}
	}
	s.deferred = nil
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
	if len(batch) < s.minBatch {
		s.stats.singles.Add(uint64(len(batch)))
		for range batch {
			s.observeCommit(1)
		}
		s.oneByOne(ctx, batch)
		return
	}
	s.observeCommit(len(batch))
	s.commitBatch(ctx, batch, true)
}

// commitBatch publishes batch as one atomic batch; if it is refused for a
// stale expectation and resolve is set, it splits it by the lines' heads.
func (s *JetStream) commitBatch(ctx context.Context, batch []*pendingAppend, resolve bool) {
	first, err := s.publishBatch(ctx, batch)
	var refused *batchRefusedError
	switch {
	case err == nil:
		s.stats.batches.Add(1)
		s.stats.batched.Add(uint64(len(batch)))
		for i, p := range batch {
			p.done <- publishResult{seq: first + uint64(i)}
		}
	case errors.As(err, &refused) && resolve && (refused.code == errCodeWrongLastSeq || refused.code == errCodeWrongLastSeqClustered):
		s.stats.resolved.Add(1)
		rest := s.answerStale(ctx, batch, refused)
		switch {
		case len(rest) == len(batch):
			s.stats.fallbacks.Add(1)
			s.oneByOne(ctx, rest)
		case len(rest) >= s.minBatch:
			s.commitBatch(ctx, rest, false)
		default:
			s.oneByOne(ctx, rest)
		}
	case errors.As(err, &refused):
		// Nothing of the batch was stored: one by one, each message gets
		// its own verdict.
		s.stats.fallbacks.Add(1)
		s.oneByOne(ctx, batch)
	default:
		for _, p := range batch {
			p.done <- publishResult{err: err}
		}
	}
}

// oneByOne publishes each message of batch on its own, all at once.
func (s *JetStream) oneByOne(ctx context.Context, batch []*pendingAppend) {
	if len(batch) == 1 {
		r, _ := s.publishOne(ctx, batch[0].msg)
		batch[0].done <- r
		return
	}
	var wg sync.WaitGroup
	for _, p := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := s.publishOne(ctx, p.msg)
			p.done <- r
		}()
	}
	wg.Wait()
}

// answerStale answers, as the server would, the appends of a batch
// refused for a stale expectation whose line has moved past their
// expectation, and returns the others. Lines only grow, so a head past
// the expectation is proof; a head not past it, or one that could not be
// read, leaves the append to be committed again.
func (s *JetStream) answerStale(ctx context.Context, batch []*pendingAppend, refused *batchRefusedError) []*pendingAppend {
	stale := make([]bool, len(batch))
	var wg sync.WaitGroup
	for i, p := range batch {
		want, err := strconv.ParseUint(p.msg.Header.Get(hdrExpectedSubjSeq), 10, 64)
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			head, err := s.lastSeq(ctx, p.line)
			stale[i] = err == nil && head > want
		}()
	}
	wg.Wait()
	var rest []*pendingAppend
	for i, p := range batch {
		if !stale[i] {
			rest = append(rest, p)
			continue
		}
		err := &jetstream.APIError{Code: 400, ErrorCode: jetstream.ErrorCode(refused.code), Description: refused.description}
		p.done <- publishResult{err: err}
	}
	return rest
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
