package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
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
}

var _ domain.EventLog = (*JetStream)(nil)

// DefaultTimeout bounds one request to the server when the caller's context
// has no deadline.
const DefaultTimeout = 10 * time.Second

// Headers kcledger sets on its messages, besides JetStream's own.
const (
	headerContentType = "Content-Type"
	contentTypeJSON   = "application/json"
)

// JetStream's headers for expectations and atomic batches.
const (
	hdrMsgID              = "Nats-Msg-Id"
	hdrExpectedSubjSeq    = "Nats-Expected-Last-Subject-Sequence"
	hdrExpectedSubjSeqSub = "Nats-Expected-Last-Subject-Sequence-Subject"
	hdrBatchID            = "Nats-Batch-Id"
	hdrBatchSeq           = "Nats-Batch-Sequence"
	hdrBatchCommit        = "Nats-Batch-Commit"
)

// JetStream API error codes that mean "your expectation failed".
const (
	errCodeWrongLastSeq          = 10071 // single server, and R1 streams
	errCodeWrongLastSeqClustered = 10164 // replicated streams
	// Inside the duplicate window, a batch whose event id was already
	// stored is refused as a duplicate: the line has moved past it too.
	errCodeBatchDuplicateMsgID = 10201
)

// Open ensures the stream exists with kcledger's settings and returns the
// event log over it.
func Open(ctx context.Context, nc *nats.Conn, c StreamConfig) (*JetStream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("eventstore: jetstream: %w", err)
	}
	s, err := EnsureStream(ctx, js, c)
	if err != nil {
		return nil, err
	}
	return &JetStream{nc: nc, js: js, stream: s, name: s.CachedInfo().Config.Name}, nil
}

// Stream returns the name of the stream.
func (s *JetStream) Stream() string { return s.name }

// claimRecord is the body of an idempotency key's claim.
type claimRecord struct {
	Key         string `json:"idempotency_key"`
	Fingerprint string `json:"fingerprint"`
	EventID     string `json:"event_id"`
	Subject     string `json:"subject"`
}

// expectLine sets the line's expectation on m. Every expectation is built
// here, so the filter string is always identical (see LineFilter).
func expectLine(m *nats.Msg, k domain.LineKey, seq uint64) {
	m.Header.Set(hdrExpectedSubjSeqSub, LineFilter(k))
	m.Header.Set(hdrExpectedSubjSeq, strconv.FormatUint(seq, 10))
}

// messages returns the messages that record one proposal: the event, with
// the line's expectation, then the key's claim, expecting that the key was
// never claimed. The claim always directly follows its event.
func messages(p domain.Proposal) ([]*nats.Msg, error) {
	ev := p.Event
	data, err := json.Marshal(&ev)
	if err != nil {
		return nil, fmt.Errorf("eventstore: encode event %s: %w", ev.ID, err)
	}
	subj := EventSubject(&ev)
	claim, err := json.Marshal(claimRecord{Key: ev.IdempotencyKey, Fingerprint: p.Fingerprint, EventID: ev.ID, Subject: subj})
	if err != nil {
		return nil, fmt.Errorf("eventstore: encode claim of %s: %w", ev.ID, err)
	}
	em := nats.NewMsg(subj)
	em.Data = data
	em.Header.Set(headerContentType, contentTypeJSON)
	em.Header.Set(hdrMsgID, ev.ID)
	expectLine(em, ev.Line(), p.ExpectedSeq)

	cm := nats.NewMsg(KeySubject(ev.IdempotencyKey))
	cm.Data = claim
	cm.Header.Set(headerContentType, contentTypeJSON)
	cm.Header.Set(hdrExpectedSubjSeq, "0")
	return []*nats.Msg{em, cm}, nil
}

// Append implements domain.EventLog. The event and its key's claim go in
// one atomic batch: both are stored, or neither.
//
// The batch is the unit a future group commit will widen: several
// proposals' messages gathered into one batch, without changing callers.
func (s *JetStream) Append(ctx context.Context, p domain.Proposal) (uint64, error) {
	msgs, err := messages(p)
	if err != nil {
		return 0, err
	}
	last, err := s.publishAtomic(ctx, msgs)
	if err != nil {
		return 0, err
	}
	return last - 1, nil // the event sits right before its claim
}

// pubAck is JetStream's answer to a publish or a batch commit.
type pubAck struct {
	Stream string    `json:"stream"`
	Seq    uint64    `json:"seq"`
	Count  int       `json:"count"`
	Error  *apiError `json:"error"`
}

type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

// publishAtomic publishes msgs as one JetStream atomic batch and returns
// the sequence of the last one. Messages from one connection arrive in
// order, so only the commit needs a reply.
func (s *JetStream) publishAtomic(ctx context.Context, msgs []*nats.Msg) (uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	batch := uuid.NewString()
	for i, m := range msgs {
		m.Header.Set(hdrBatchID, batch)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			if err := s.nc.PublishMsg(m); err != nil {
				return 0, fmt.Errorf("eventstore: publish %s: %w", m.Subject, err)
			}
		}
	}
	commit := msgs[len(msgs)-1]
	commit.Header.Set(hdrBatchCommit, "1")
	resp, err := s.nc.RequestMsgWithContext(ctx, commit)
	if err != nil {
		return 0, fmt.Errorf("eventstore: commit batch %s: %w", batch, err)
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, fmt.Errorf("eventstore: commit batch %s: unreadable answer %q: %w", batch, resp.Data, err)
	}
	if ack.Error != nil {
		e := ack.Error
		switch e.ErrCode {
		case errCodeWrongLastSeq, errCodeWrongLastSeqClustered, errCodeBatchDuplicateMsgID:
			return 0, fmt.Errorf("eventstore: batch %s: %s: %w", batch, e.Description, domain.ErrStale)
		}
		return 0, fmt.Errorf("eventstore: batch %s: jetstream error %d (%d): %s", batch, e.ErrCode, e.Code, e.Description)
	}
	if ack.Count != len(msgs) || ack.Seq < uint64(len(msgs)) {
		return 0, fmt.Errorf("eventstore: batch %s: server stored %d of %d messages, ending at %d", batch, ack.Count, len(msgs), ack.Seq)
	}
	return ack.Seq, nil
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}

// Claim implements domain.EventLog. It reads from the stream's leader,
// never from a possibly lagging replica.
func (s *JetStream) Claim(ctx context.Context, key string) (domain.IdempotencyClaim, bool, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	cm, err := s.stream.GetLastMsgForSubject(ctx, KeySubject(key))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return domain.IdempotencyClaim{}, false, nil
	}
	if err != nil {
		return domain.IdempotencyClaim{}, false, fmt.Errorf("eventstore: claim of key %q: %w", key, err)
	}
	var c claimRecord
	if err := json.Unmarshal(cm.Data, &c); err != nil {
		return domain.IdempotencyClaim{}, false, fmt.Errorf("eventstore: claim at seq %d: %w", cm.Sequence, err)
	}
	em, err := s.stream.GetMsg(ctx, cm.Sequence-1)
	if err != nil {
		return domain.IdempotencyClaim{}, false, fmt.Errorf("eventstore: event of claim at seq %d: %w", cm.Sequence, err)
	}
	rec, err := decode(em.Data, em.Sequence)
	if err != nil {
		return domain.IdempotencyClaim{}, false, err
	}
	if rec.Event.ID != c.EventID || c.Key != key {
		return domain.IdempotencyClaim{}, false, fmt.Errorf("%w: claim at seq %d names event %s for key %q, but seq %d holds event %s",
			domain.ErrCorrupt, cm.Sequence, c.EventID, c.Key, em.Sequence, rec.Event.ID)
	}
	return domain.IdempotencyClaim{Fingerprint: c.Fingerprint, Recorded: rec}, true, nil
}

func decode(data []byte, seq uint64) (domain.Recorded, error) {
	var e domain.Event
	if err := json.Unmarshal(data, &e); err != nil {
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

// Load implements domain.EventLog.
func (s *JetStream) Load(ctx context.Context, k domain.LineKey, after uint64) ([]domain.Recorded, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	filter := LineFilter(k)
	last, err := s.lastSeq(ctx, filter)
	if err != nil || last <= after {
		return nil, err
	}
	var out []domain.Recorded
	err = s.read(ctx, filter, after, func(r domain.Recorded) (bool, error) {
		out = append(out, r)
		return r.Seq < last, nil
	})
	if err != nil {
		return nil, fmt.Errorf("eventstore: load line %s: %w", k, err)
	}
	return out, nil
}

// read delivers, in order, the events matching filter with a sequence
// greater than after, until fn returns false or an error, or ctx ends.
func (s *JetStream) read(ctx context.Context, filter string, after uint64, fn func(domain.Recorded) (bool, error)) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy}
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
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("next message of %s: %w", filter, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("metadata of message on %s: %w", m.Subject(), err)
		}
		rec, err := decode(m.Data(), meta.Sequence.Stream)
		if err != nil {
			return err
		}
		more, err := fn(rec)
		if err != nil || !more {
			return err
		}
	}
}

// Follow delivers every event with a sequence greater than after, in
// order, then keeps delivering new ones as they are appended, until ctx
// ends or fn fails. It is the feed projections consume.
func (s *JetStream) Follow(ctx context.Context, after uint64, fn func(domain.Recorded) error) error {
	err := s.read(ctx, AllEvents, after, func(r domain.Recorded) (bool, error) {
		return true, fn(r)
	})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("eventstore: follow: %w", err)
}
