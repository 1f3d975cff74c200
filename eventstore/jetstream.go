package eventstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
)

// JetStream is the event log on a JetStream stream.
type JetStream struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string
	keys   *keyIndex
	stop   context.CancelFunc

	// checkpoints holds the key index's checkpoint; keysSaved is the
	// applied sequence of the last one saved; keysResumed says where the
	// index resumed from, and keysProblem why a checkpoint was not used.
	checkpoints *Checkpoints
	keysSaved   atomic.Uint64
	keysResumed uint64
	keysProblem error

	// Group commit (commit.go); queue is nil when it is off. deferred
	// belongs to the committer's goroutine; underWay counts the appends
	// under way, queued those of them that went through the committer.
	queue         chan *pendingAppend
	deferred      []*pendingAppend
	underWay      atomic.Int64
	queued        atomic.Int64
	lastAnswered  atomic.Int32 // messages of the last batch committed
	prevAnswered  atomic.Int32 // and of the one before
	maxBatch      int
	minBatch      int
	batchFrom     int
	maxInFlight   int
	committerDone chan struct{}
	stats         commitStats
	onCommit      atomic.Pointer[func(messages int)]
	onKeysSaved   atomic.Pointer[func(bytes int)]

	// repudiated, when set, names the messages Load and Follow deliver
	// as repudiated, without decoding them (SkipRepudiated).
	repudiated *domain.Repudiations
}

var _ domain.EventLog = (*JetStream)(nil)

// orderedConsumerIdle is how long the server keeps an ordered consumer
// nobody pulls from.
const orderedConsumerIdle = 10 * time.Second

// DefaultTimeout bounds one request to the server when the caller's context
// has no deadline.
const DefaultTimeout = 10 * time.Second

// JetStream's headers for deduplication and expectations.
const (
	hdrMsgID              = "Nats-Msg-Id"
	hdrExpectedSubjSeq    = "Nats-Expected-Last-Subject-Sequence"
	hdrExpectedSubjSeqSub = "Nats-Expected-Last-Subject-Sequence-Subject"
)

// JetStream API error codes that mean "the line has moved on".
const (
	errCodeWrongLastSeq          = 10071 // single server, and R1 streams
	errCodeWrongLastSeqClustered = 10164 // replicated streams
	// errCodeBatchDuplicate: an atomic batch holds a message id already
	// in the stream's duplicate window (or twice).
	errCodeBatchDuplicate = 10201
)

// Open ensures the stream exists with kcledger's settings, builds the
// idempotency key index from it, and returns the event log. Close stops
// the index.
func Open(ctx context.Context, nc *nats.Conn, c StreamConfig) (*JetStream, error) {
	c = c.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("eventstore: jetstream: %w", err)
	}
	s, err := EnsureStream(ctx, js, c)
	if err != nil {
		return nil, err
	}
	cps, err := OpenCheckpoints(ctx, js, c.Replicas)
	if err != nil {
		return nil, err
	}
	if c.Sealer != nil {
		cps.SealWith(c.Sealer)
	}
	runCtx, stop := context.WithCancel(context.Background())
	log := &JetStream{nc: nc, js: js, stream: s, name: s.CachedInfo().Config.Name, stop: stop, maxBatch: c.MaxBatch, checkpoints: cps}
	if c.Rebuild {
		log.keys = newKeyIndex(c.DuplicateWindow / 2)
	} else {
		log.keys, log.keysProblem = log.resumeKeyIndex(ctx, c.DuplicateWindow/2)
	}
	log.keysResumed = log.keys.appliedSeq()
	log.keysSaved.Store(log.keysResumed)
	log.runKeyIndex(runCtx)
	select {
	case <-log.keys.ready:
	case <-ctx.Done():
		stop()
		return nil, fmt.Errorf("eventstore: building the idempotency key index: %w", ctx.Err())
	}
	log.minBatch, log.batchFrom, log.maxInFlight = minBatchR1, batchFromR1, maxInFlightR1
	if c.Replicas > 1 {
		log.minBatch, log.batchFrom, log.maxInFlight = minBatchReplicas, batchFromReplicas, maxInFlightReplicas
	}
	if log.maxBatch > 1 {
		log.startCommitter(runCtx)
	}
	return log, nil
}

func (s *JetStream) startCommitter(ctx context.Context) {
	s.queue = make(chan *pendingAppend, s.maxBatch)
	s.committerDone = make(chan struct{})
	go s.runCommitter(ctx)
}

// Close stops following the stream and committing (appends still queued
// fail), and saves the key index's checkpoint. It does not close the
// connection.
func (s *JetStream) Close() {
	s.stop()
	if s.committerDone != nil {
		<-s.committerDone
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Catch up first, so that the checkpoint holds this process's own
	// last appends.
	if target, err := s.LastEventSeq(ctx); err == nil {
		_ = s.catchUpKeys(ctx, target)
	}
	if s.keys.appliedSeq() > s.keysSaved.Load() {
		_ = s.saveKeyIndex(ctx) // best effort: a missing checkpoint only means a longer start
	}
}

// KeyIndexResumed says from which sequence the idempotency key index
// resumed (0: it read the whole stream), and why a checkpoint found was
// not used.
func (s *JetStream) KeyIndexResumed() (uint64, error) { return s.keysResumed, s.keysProblem }

// Checkpoints is the checkpoint store, for other projections.
func (s *JetStream) Checkpoints() *Checkpoints { return s.checkpoints }

// SkipRepudiated makes Load and Follow deliver every message that r names
// as a domain.Recorded with Repudiated set and no event, whatever its
// content: a message that does not decode would otherwise stop them. Call
// it before either is used.
func (s *JetStream) SkipRepudiated(r *domain.Repudiations) { s.repudiated = r }

// Stream returns the name of the stream.
func (s *JetStream) Stream() string { return s.name }

// msgID is the JetStream message id of an event: its idempotency key,
// hashed to a fixed length. Within the duplicate window, JetStream itself
// then refuses a second event with the same key, on any line.
func msgID(key string) string {
	id := idOf(key)
	return hex.EncodeToString(id[:])
}

// eventMsgID is the message id of an event: msgID of its idempotency key,
// except on the transferred-in side of a transfer, which shares its key
// with the transferred-out side and is appended with it: its id is that
// of the key followed by " in" (a space, which no key holds), so that the
// key stays the transferred-out event's.
func eventMsgID(e *domain.Event) string {
	if e.Type == domain.TypeTransferredIn {
		return msgID(e.IdempotencyKey + " in")
	}
	return msgID(e.IdempotencyKey)
}

// expectLine sets the line's expectation on m. Every expectation is built
// here, so the filter string is always identical (see LineFilter).
func expectLine(m *nats.Msg, k domain.LineKey, seq uint64) {
	m.Header.Set(hdrExpectedSubjSeqSub, LineFilter(k))
	m.Header.Set(hdrExpectedSubjSeq, strconv.FormatUint(seq, 10))
}

// NewMessage is the message that records a proposal, for tools that
// publish recorded events in bulk (kcledger bench --fill); the ledger
// appends through Append.
func NewMessage(p domain.Proposal) (*nats.Msg, error) { return message(p) }

// message builds the one message that records a proposal.
func message(p domain.Proposal) (*nats.Msg, error) {
	ev := p.Event
	data, err := domain.MarshalEvent(&ev)
	if err != nil {
		return nil, fmt.Errorf("eventstore: encode event %s: %w", ev.ID, err)
	}
	// Sized for its headers up front: one map, never grown.
	m := &nats.Msg{Subject: EventSubject(&ev), Header: make(nats.Header, 11), Data: data}
	setCloudEvents(m, &ev)
	m.Header.Set(hdrMsgID, eventMsgID(&ev))
	expectLine(m, ev.Line(), p.ExpectedSeq)
	tap(m)
	return m, nil
}

// Append implements domain.EventLog: one message, on the line's subject,
// expecting the line's last sequence.
//
// Concurrent appends are gathered into atomic batches (group commit,
// commit.go), each message keeping its own expectation and message id.
func (s *JetStream) Append(ctx context.Context, p domain.Proposal) (uint64, error) {
	m, err := message(p)
	if err != nil {
		return 0, err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	ack, err := s.publish(ctx, m)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == errCodeWrongLastSeq || apiErr.ErrorCode == errCodeWrongLastSeqClustered) {
			return 0, fmt.Errorf("eventstore: append to %s: %s: %w", m.Subject, apiErr.Description, domain.ErrStale)
		}
		return 0, fmt.Errorf("eventstore: append to %s: %w", m.Subject, err)
	}
	if ack.duplicate {
		// Within the duplicate window, the key already produced the event
		// at ack.seq.
		rec, err := s.event(ctx, ack.seq)
		if err != nil {
			return 0, err
		}
		return 0, &domain.ClaimedError{Claim: domain.IdempotencyClaim{Fingerprint: rec.Event.Fingerprint(), Recorded: rec}}
	}
	s.keys.note(m.Header.Get(hdrMsgID), ack.seq)
	return ack.seq, nil
}

// AppendAll implements domain.EventLog with one JetStream atomic batch:
// the server stores every message of the batch or none, contiguously. It
// goes around the group commit's queue, whose batches are split up when
// refused.
//
// Within a batch the server checks each message's expectation against
// the stream as it was before the batch, so only the first message of
// each line carries the line's expected last sequence; the line's later
// messages carry none and are chained after it here: they must expect
// the same sequence (the line before the write), and land right after it
// or not at all.
func (s *JetStream) AppendAll(ctx context.Context, ps []domain.Proposal) ([]uint64, error) {
	if len(ps) == 0 || len(ps) > maxBatchMessages {
		return nil, fmt.Errorf("eventstore: atomic append of %d events (1 to %d)", len(ps), maxBatchMessages)
	}
	msgs := make([]*nats.Msg, len(ps))
	expected := make(map[domain.LineKey]uint64, len(ps))
	for i, p := range ps {
		m, err := message(p)
		if err != nil {
			return nil, err
		}
		k := p.Event.Line()
		if seq, ok := expected[k]; ok {
			if seq != p.ExpectedSeq {
				// The line was at one sequence before the write: one of
				// the two expectations is stale.
				return nil, fmt.Errorf("eventstore: atomic append: events on line %s expect seq %d and %d: %w", k, seq, p.ExpectedSeq, domain.ErrStale)
			}
			m.Header.Del(hdrExpectedSubjSeq)
			m.Header.Del(hdrExpectedSubjSeqSub)
		}
		expected[k] = p.ExpectedSeq
		msgs[i] = m
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	first, err := s.publishAtomic(ctx, msgs)
	var refused *batchRefusedError
	switch {
	case err == nil:
	case errors.As(err, &refused) && (refused.code == errCodeWrongLastSeq || refused.code == errCodeWrongLastSeqClustered):
		return nil, fmt.Errorf("eventstore: atomic append: %s: %w", refused.description, domain.ErrStale)
	case errors.As(err, &refused) && refused.code == errCodeBatchDuplicate:
		return nil, fmt.Errorf("eventstore: atomic append: %s: %w", refused.description, domain.ErrKeyTaken)
	default:
		return nil, err
	}
	seqs := make([]uint64, len(msgs))
	for i, m := range msgs {
		seqs[i] = first + uint64(i)
		s.keys.note(m.Header.Get(hdrMsgID), seqs[i])
	}
	return seqs, nil
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}

// event reads the event at seq from the stream's leader, never from a
// possibly lagging replica.
func (s *JetStream) event(ctx context.Context, seq uint64) (domain.Recorded, error) {
	m, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return domain.Recorded{}, fmt.Errorf("eventstore: read seq %d: %w", seq, err)
	}
	return decode(m.Data, m.Sequence)
}

// Claim implements domain.EventLog from the key index.
func (s *JetStream) Claim(ctx context.Context, key string) (domain.IdempotencyClaim, bool, error) {
	seq, ok, err := s.keys.lookup(key)
	if err != nil || !ok {
		return domain.IdempotencyClaim{}, false, err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	rec, err := s.event(ctx, seq)
	if err != nil {
		return domain.IdempotencyClaim{}, false, err
	}
	if rec.Event.IdempotencyKey != key {
		return domain.IdempotencyClaim{}, false, fmt.Errorf("%w: key index points key %q at seq %d, which holds key %q", domain.ErrCorrupt, key, seq, rec.Event.IdempotencyKey)
	}
	return domain.IdempotencyClaim{Fingerprint: rec.Event.Fingerprint(), Recorded: rec}, true, nil
}

func decode(data []byte, seq uint64) (domain.Recorded, error) {
	var e domain.Event
	if err := domain.UnmarshalEvent(data, &e); err != nil {
		return domain.Recorded{}, fmt.Errorf("%w: event at seq %d: %v", domain.ErrCorrupt, seq, err)
	}
	return domain.Recorded{Event: e, Seq: seq}, nil
}

// lastSeq returns the sequence of the last message matching filter, 0 if
// there is none.
func (s *JetStream) lastSeq(ctx context.Context, filter string) (uint64, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("eventstore: last message of %s: %w", filter, err)
	}
	return m.Sequence, nil
}

// LastEventSeq returns the sequence of the newest event in the stream, 0
// when there is none.
func (s *JetStream) LastEventSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	return s.lastSeq(ctx, AllEvents)
}

// Load implements domain.EventLog. It asks the stream's leader for each
// next message of the line: no consumer to create (slow and contended on a
// replicated stream, where an ephemeral consumer may also sit on a lagging
// replica), and a reload after a conflict usually needs one or two events.
func (s *JetStream) Load(ctx context.Context, k domain.LineKey, after uint64) ([]domain.Recorded, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	filter := LineFilter(k)
	last, err := s.lastSeq(ctx, filter)
	if err != nil || last <= after {
		return nil, err
	}
	var out []domain.Recorded
	for next := after + 1; next <= last; {
		m, err := s.stream.GetMsg(ctx, next, jetstream.WithGetMsgSubject(filter))
		if err != nil {
			return nil, fmt.Errorf("eventstore: load line %s from seq %d: %w", k, next, err)
		}
		if s.passedOver(m.Sequence, m.Subject, m.Data) {
			out = append(out, domain.Recorded{Seq: m.Sequence, Repudiated: true})
			next = m.Sequence + 1
			continue
		}
		rec, err := decode(m.Data, m.Sequence)
		if err != nil && k == (domain.LineKey{}) {
			// On the repudiations' subject a message that does not
			// decode is no repudiation: it counts for nothing, and the
			// line moves past it.
			rec, err = domain.Recorded{Seq: m.Sequence, Repudiated: true}, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
		next = m.Sequence + 1
	}
	return out, nil
}

// passedOver says whether the message at seq is the one a repudiation
// names (its digest too, not only its sequence).
func (s *JetStream) passedOver(seq uint64, subject string, data []byte) bool {
	return s.repudiated.Has(seq) && s.repudiated.Covers(seq, domain.MessageDigest(subject, data))
}

// repudiatedAt says whether a sequence a whole-stream feed skipped (the
// stream lacks it, or holds a message outside the ledger's subjects) is
// repudiated as what it is.
func (s *JetStream) repudiatedAt(ctx context.Context, seq uint64) bool {
	if !s.repudiated.Has(seq) {
		return false
	}
	d, err := s.Digest(ctx, seq)
	return err == nil && s.repudiated.Covers(seq, d)
}

// Digest returns the domain.MessageDigest of the message at seq, "" when
// the stream lacks it.
func (s *JetStream) Digest(ctx context.Context, seq uint64) (string, error) {
	m, err := s.storedMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return domain.MessageDigest(m.Subject, m.Data), nil
}

// read delivers, in order, the events matching filter with a sequence
// greater than after, until fn returns false or an error, or ctx ends.
//
// On the whole stream, a message the stream lacks but that is repudiated
// (consume lets the reading pass it) is delivered as passed over too.
func (s *JetStream) read(ctx context.Context, filter string, after uint64, fn func(domain.Recorded) (bool, error)) error {
	next := after + 1
	return s.consume(ctx, filter, after, false, func(m jetstream.Msg, seq uint64) (bool, error) {
		for ; filter == AllEvents && next < seq; next++ {
			if more, err := fn(domain.Recorded{Seq: next, Repudiated: true}); err != nil || !more {
				return more, err
			}
		}
		next = seq + 1
		if s.passedOver(seq, m.Subject(), m.Data()) {
			return fn(domain.Recorded{Seq: seq, Repudiated: true})
		}
		rec, err := decode(m.Data(), seq)
		if err != nil {
			return false, err
		}
		return fn(rec)
	})
}

// consume delivers, in order, the messages matching filter with a sequence
// greater than after, with their stream sequence, until fn returns false
// or an error, or ctx ends. With headersOnly the bodies stay on the server.
//
// It trusts the consumer no further than it can check: the server's
// consumer is created anew, its configuration compared with the one asked
// for (and again every consumerCheckEvery), and, on the whole stream,
// every sequence must follow the one before. A consumer that someone else
// changed answers ErrConsumerAltered; a sequence missing from the stream
// itself wraps domain.ErrCorrupt.
func (s *JetStream) consume(ctx context.Context, filter string, after uint64, headersOnly bool, fn func(jetstream.Msg, uint64) (bool, error)) error {
	// A consumer left behind (nats.go does not delete ordered consumers
	// on Stop) goes soon: the key index makes one per catch-up.
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy, HeadersOnly: headersOnly, InactiveThreshold: orderedConsumerIdle}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	cons, err := s.js.OrderedConsumer(ctx, s.name, cfg)
	if err != nil {
		return fmt.Errorf("ordered consumer on %s: %w", filter, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("messages of %s: %w", filter, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	whole := filter == AllEvents
	next := after + 1
	// A watchdog asks for the consumer's configuration now and then,
	// also while nothing arrives (a filter moved to a future year
	// delivers nothing at all).
	var altered atomic.Pointer[error]
	watch, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		t := time.NewTicker(time.Duration(consumerCheckEvery.Load()))
		defer t.Stop()
		for {
			if info := cons.CachedInfo(); info != nil {
				if err := orderedAsAsked(info.Config, filter, headersOnly); err != nil {
					altered.Store(&err)
					it.Stop()
					return
				}
			}
			select {
			case <-watch.Done():
				return
			case <-t.C:
			}
			ictx, cancel := withTimeout(watch)
			info, err := cons.Info(ictx)
			cancel()
			if err == nil {
				if err := orderedAsAsked(info.Config, filter, headersOnly); err != nil {
					altered.Store(&err)
					it.Stop()
					return
				}
			}
		}
	}()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if a := altered.Load(); a != nil {
				return *a
			}
			return fmt.Errorf("next message of %s: %w", filter, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("metadata of message on %s: %w", m.Subject(), err)
		}
		seq := meta.Sequence.Stream
		for whole && next < seq && s.repudiatedAt(ctx, next) {
			next++ // a message the feed does not deliver, repudiated
		}
		if whole && seq != next {
			// A message the stream lacks leaves the key index (headers
			// only) nothing to note; a projection cannot go past it
			// unless it is repudiated.
			if err := s.gap(ctx, next, seq); !headersOnly || !errors.Is(err, domain.ErrCorrupt) {
				return err
			}
		}
		if !headersOnly && len(m.Data()) == 0 && m.Headers().Get(nats.MsgSize) != "" {
			// The header is the server's for a headers-only consumer, but
			// a publisher may set it too: blame the consumer only if the
			// stream holds a body.
			if stored, err := s.storedBody(ctx, seq); err != nil || len(stored) > 0 {
				return fmt.Errorf("%w: message at seq %d came without its body (headers only), which kcledger did not ask for", ErrConsumerAltered, seq)
			}
		}
		next = seq + 1
		more, err := fn(m, seq)
		if err != nil || !more {
			return err
		}
	}
}

// consumerCheckEvery is how often a consume asks the server for its
// consumer's configuration, in nanoseconds. It is atomic because a test
// shortens it while consumes of earlier tests may still be winding down.
var consumerCheckEvery atomic.Int64

func init() { consumerCheckEvery.Store(int64(5 * time.Second)) }

// ErrConsumerAltered marks a consumer whose configuration or deliveries
// are not the ones kcledger asked for: someone changed it. Reading again,
// through a new consumer, is the remedy.
var ErrConsumerAltered = errors.New("eventstore: the stream's consumer was changed by someone else")

// orderedAsAsked compares what the server says of a consumer with what
// kcledger asked for.
func orderedAsAsked(c jetstream.ConsumerConfig, filter string, headersOnly bool) error {
	filters := c.FilterSubjects
	if c.FilterSubject != "" {
		filters = append([]string{c.FilterSubject}, filters...)
	}
	switch {
	case len(filters) != 1 || filters[0] != filter:
		return fmt.Errorf("%w: its filter is %v, not %s", ErrConsumerAltered, filters, filter)
	case c.HeadersOnly != headersOnly:
		return fmt.Errorf("%w: headers_only is %t", ErrConsumerAltered, c.HeadersOnly)
	case c.DeliverSubject != "":
		return fmt.Errorf("%w: it pushes to %s", ErrConsumerAltered, c.DeliverSubject)
	case c.MaxDeliver > 1 || c.AckPolicy != jetstream.AckNonePolicy:
		return fmt.Errorf("%w: it acknowledges (%s)", ErrConsumerAltered, c.AckPolicy)
	}
	return nil
}

// storedBody is the body the stream holds at seq.
func (s *JetStream) storedBody(ctx context.Context, seq uint64) ([]byte, error) {
	m, err := s.storedMsg(ctx, seq)
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}

// storedMsg is the message the stream holds at seq, from its leader.
func (s *JetStream) storedMsg(ctx context.Context, seq uint64) (*jetstream.RawStreamMsg, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	return s.stream.GetMsg(ctx, seq)
}

// subjectMatches says whether subject matches the filter (tokens, with *
// and a final >).
func subjectMatches(filter, subject string) bool {
	f, sub := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, t := range f {
		if t == ">" {
			return len(sub) > i
		}
		if i >= len(sub) || t != "*" && t != sub[i] {
			return false
		}
	}
	return len(f) == len(sub)
}

// gap explains a sequence that did not follow the one expected on the
// whole stream: the consumer skipped a message the stream still holds, or
// the stream lost one.
func (s *JetStream) gap(ctx context.Context, want, got uint64) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m, err := s.stream.GetMsg(ctx, want)
	switch {
	case err == nil && m.Sequence == want && !subjectMatches(AllEvents, m.Subject):
		// Someone widened the stream's subjects: a message that is no
		// event, which a projection cannot pass without a repudiation.
		return fmt.Errorf("%w: the stream holds a message at seq %d on subject %s, outside kcledger's %s", domain.ErrCorrupt, want, m.Subject, AllEvents)
	case err == nil && m.Sequence == want:
		return fmt.Errorf("%w: it delivered seq %d after %d, skipping a message the stream holds", ErrConsumerAltered, got, want-1)
	case errors.Is(err, jetstream.ErrMsgNotFound) && got > want:
		return fmt.Errorf("%w: the stream has no message at seq %d (the next is seq %d): a message was removed from the stream", domain.ErrCorrupt, want, got)
	case err != nil:
		return fmt.Errorf("eventstore: the stream's seq %d after %d: %w", got, want-1, err)
	}
	return fmt.Errorf("%w: it delivered seq %d where seq %d was due", ErrConsumerAltered, got, want)
}

// NextSeq returns the sequence of the first message after seq after, 0
// when there is none: where a feed that stopped on a message stopped.
func (s *JetStream) NextSeq(ctx context.Context, after uint64) (uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m, err := s.stream.GetMsg(ctx, after+1, jetstream.WithGetMsgSubject(AllEvents))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("eventstore: message after seq %d: %w", after, err)
	}
	return m.Sequence, nil
}

// FollowRepudiations delivers every message on RepudiationSubject, in
// order, then new ones as they are appended, until ctx ends or fn fails.
// A message that does not decode is delivered with its error (wrapping
// domain.ErrCorrupt) instead of ending the feed: whether a repudiation
// counts is the caller's to judge.
func (s *JetStream) FollowRepudiations(ctx context.Context, fn func(seq uint64, digest string, r domain.Recorded, err error) error) error {
	err := s.consume(ctx, RepudiationSubject, 0, false, func(m jetstream.Msg, seq uint64) (bool, error) {
		rec, err := decode(m.Data(), seq)
		if err == nil {
			if want := EventSubject(&rec.Event); want != m.Subject() {
				err = fmt.Errorf("%w: event %s at seq %d is on subject %s; its content belongs on %s", domain.ErrCorrupt, rec.Event.ID, seq, m.Subject(), want)
			} else if cerr := CheckCloudEvents(m.Headers(), &rec.Event); cerr != nil {
				err = fmt.Errorf("%w: event %s at seq %d: CloudEvents %v", domain.ErrCorrupt, rec.Event.ID, seq, cerr)
			}
		}
		return true, fn(seq, domain.MessageDigest(m.Subject(), m.Data()), rec, err)
	})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("eventstore: follow repudiations: %w", err)
}

// LastRepudiationSeq returns the sequence of the newest message on
// RepudiationSubject, 0 when there is none.
func (s *JetStream) LastRepudiationSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	return s.lastSeq(ctx, RepudiationSubject)
}

// Follow delivers every event with a sequence greater than after, in
// order, then keeps delivering new ones as they are appended, until ctx
// ends or fn fails. It is the feed projections consume.
//
// A consumer that turns out altered (ErrConsumerAltered) is replaced by a
// new one, from the last event delivered, up to followRetries times in a
// row; an event delivered resets the count.
func (s *JetStream) Follow(ctx context.Context, after uint64, fn func(domain.Recorded) error) error {
	for retries := 0; ; retries++ {
		from := after
		err := s.read(ctx, AllEvents, after, func(r domain.Recorded) (bool, error) {
			if err := fn(r); err != nil {
				return false, err
			}
			after = r.Seq
			return true, nil
		})
		if ctx.Err() != nil {
			return nil
		}
		if after > from {
			retries = 0
		}
		if !errors.Is(err, ErrConsumerAltered) {
			return fmt.Errorf("eventstore: follow: %w", err)
		}
		// Someone keeps changing the consumers: read on, more slowly,
		// rather than stop the ledger (the events are sound).
		if retries >= followRetries {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(min(time.Duration(retries-followRetries+1)*time.Second, 30*time.Second)):
			}
		}
	}
}

// followRetries is how many new consumers in a row Follow makes at once;
// after that it waits, longer each time, up to 30 s.
const followRetries = 5
