package eventstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
)

// Reader reads the event stream without changing anything: what auditors
// and independent replays use, with a read-only NATS user.
type Reader struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	// verify, when set, has every scanned event's signature checked by
	// the scan's decoders, on every core (StoredEvent.Unsigned).
	verify func(*domain.Event) error
	// decoders is how many goroutines decode a scan's messages; 0 means
	// scanDecoders (tests compare one with many).
	decoders int
}

// CheckSignatures makes every scan check each event's signature against
// keys, in parallel with decoding.
func (r *Reader) CheckSignatures(keys domain.Keyring) { r.verify = keys.Verify }

// VerifyWith makes every scan check each event with verify (a signature
// check whose keys may grow), in parallel with decoding; verify must be
// safe for concurrent use.
func (r *Reader) VerifyWith(verify func(*domain.Event) error) { r.verify = verify }

// OpenReader opens an existing stream for reading.
func OpenReader(ctx context.Context, nc *nats.Conn, stream string) (*Reader, error) {
	if stream == "" {
		stream = DefaultStream
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("eventstore: jetstream: %w", err)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("eventstore: stream %s: %w", stream, err)
	}
	return &Reader{js: js, stream: s}, nil
}

// StreamState is what the stream says of itself.
type StreamState struct {
	FirstSeq, LastSeq, Msgs uint64
}

// State returns the stream's first and last sequence and message count.
func (r *Reader) State(ctx context.Context) (StreamState, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	info, err := r.stream.Info(ctx)
	if err != nil {
		return StreamState{}, fmt.Errorf("eventstore: stream info: %w", err)
	}
	return StreamState{FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq, Msgs: info.State.Msgs}, nil
}

// StoredEvent is one message of the stream as an auditor sees it.
type StoredEvent struct {
	Seq     uint64
	Subject string
	// Stored is when the server stored the message.
	Stored   time.Time
	Recorded domain.Recorded
	// Err is set when the message is not an event of kcledger's format on
	// its own subject; it wraps domain.ErrCorrupt.
	Err error
	// Unsigned is, when the reader checks signatures, why the event's
	// signature is not one of the keys' (it wraps domain.ErrForged).
	Unsigned error
	// SignatureChecked says that the reader checked the event's
	// signature, so that Unsigned is its finding: a decoded event, read
	// by a reader told to check signatures.
	SignatureChecked bool
	// Data is the message's body as stored (see domain.MessageDigest).
	Data []byte
}

// At is the message as a domain.Recorded at its sequence, whether or
// not it decoded (Recorded is empty when it did not).
func (se StoredEvent) At() domain.Recorded {
	r := se.Recorded
	r.Seq = se.Seq
	return r
}

// Digest is the message's domain.MessageDigest: what a repudiation of it
// names.
func (se *StoredEvent) Digest() string { return domain.MessageDigest(se.Subject, se.Data) }

// Digest returns the domain.MessageDigest of the message at seq, "" when
// the stream lacks it.
func (r *Reader) Digest(ctx context.Context, seq uint64) (string, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m, err := r.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("eventstore: message at seq %d: %w", seq, err)
	}
	return domain.MessageDigest(m.Subject, m.Data), nil
}

// Event returns the message at seq as a scan delivers it (decoded and
// checked the same way), and false when the stream lacks it: one event
// read without scanning its line.
func (r *Reader) Event(ctx context.Context, seq uint64) (StoredEvent, bool, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m, err := r.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return StoredEvent{}, false, nil
	}
	if err != nil {
		return StoredEvent{}, false, fmt.Errorf("eventstore: message at seq %d: %w", seq, err)
	}
	j := &scanJob{se: StoredEvent{Seq: m.Sequence, Subject: m.Subject, Stored: m.Time, Data: m.Data}, header: m.Header, data: m.Data, verify: r.verify, done: make(chan struct{})}
	j.decode()
	return j.se, true, nil
}

// Scan delivers, in order, every message with a sequence from 1 up to and
// including last, until fn returns false or an error, or ctx ends.
func (r *Reader) Scan(ctx context.Context, last uint64, fn func(StoredEvent) (bool, error)) error {
	return r.ScanFilter(ctx, AllEvents, last, fn)
}

// ScanFilter is Scan of the messages whose subject matches filter (see
// subjects.go): the server skips the others.
func (r *Reader) ScanFilter(ctx context.Context, filter string, last uint64, fn func(StoredEvent) (bool, error)) error {
	return r.ScanFilterFrom(ctx, filter, 1, last, fn)
}

// ScanFilterFrom is ScanFilter of the messages from sequence from on: a
// scan that resumes where a known state leaves off.
func (r *Reader) ScanFilterFrom(ctx context.Context, filter string, from, last uint64, fn func(StoredEvent) (bool, error)) error {
	if last == 0 || from > last {
		return nil
	}
	// The last matching message bounds the scan: an ordered consumer
	// would otherwise wait for more.
	ctx2, cancel := withTimeout(ctx)
	m, err := r.stream.GetLastMsgForSubject(ctx2, filter)
	cancel()
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("eventstore: last message of %s: %w", filter, err)
	}
	last = min(last, m.Sequence)
	if from > last {
		return nil // nothing matches from there on: a consumer would wait
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	cons, err := r.js.OrderedConsumer(ctx, r.stream.CachedInfo().Config.Name, cfg)
	if err != nil {
		return fmt.Errorf("eventstore: scan: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("eventstore: scan: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()

	// Decoding is most of a replay's work: messages are decoded by
	// scanDecoders goroutines, and handed to fn in stream order.
	scanCtx, cancelScan := context.WithCancel(ctx)
	defer cancelScan()
	jobs := make(chan *scanJob, scanWindow)
	ordered := make(chan *scanJob, scanWindow)
	var readErr error
	go func() {
		defer close(ordered)
		defer close(jobs)
		for {
			m, err := it.Next()
			if err != nil {
				if scanCtx.Err() == nil {
					readErr = fmt.Errorf("eventstore: scan: %w", err)
				}
				return
			}
			meta, err := m.Metadata()
			if err != nil {
				readErr = fmt.Errorf("eventstore: scan: metadata: %w", err)
				return
			}
			if meta.Sequence.Stream > last {
				return
			}
			j := &scanJob{se: StoredEvent{Seq: meta.Sequence.Stream, Subject: m.Subject(), Stored: meta.Timestamp, Data: m.Data()}, header: m.Headers(), data: m.Data(), verify: r.verify, done: make(chan struct{})}
			select {
			case ordered <- j:
			case <-scanCtx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-scanCtx.Done():
				return
			}
			if j.se.Seq >= last {
				return
			}
		}
	}()
	decoders := r.decoders
	if decoders <= 0 {
		decoders = scanDecoders
	}
	for range decoders {
		go func() {
			for j := range jobs {
				j.decode()
			}
		}()
	}
	for j := range ordered {
		select {
		case <-j.done:
		case <-scanCtx.Done():
			return ctx.Err()
		}
		more, err := fn(j.se)
		if err != nil || !more {
			cancelScan()
			it.Stop()
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return readErr
}

// Scans decode scanDecoders messages at once, at most scanWindow ahead of
// the caller.
const scanWindow = 1024

var scanDecoders = max(runtime.GOMAXPROCS(0), 2)

type scanJob struct {
	se     StoredEvent
	header nats.Header
	data   []byte
	verify func(*domain.Event) error
	done   chan struct{}
}

func (j *scanJob) decode() {
	defer close(j.done)
	j.se.Recorded, j.se.Err = decode(j.data, j.se.Seq)
	if j.se.Err == nil {
		if want := EventSubject(&j.se.Recorded.Event); want != j.se.Subject {
			j.se.Err = fmt.Errorf("%w: event %s at seq %d is on subject %s; its content belongs on %s", domain.ErrCorrupt, j.se.Recorded.Event.ID, j.se.Seq, j.se.Subject, want)
		} else if err := CheckCloudEvents(j.header, &j.se.Recorded.Event); err != nil {
			j.se.Err = fmt.Errorf("%w: event %s at seq %d: CloudEvents %v", domain.ErrCorrupt, j.se.Recorded.Event.ID, j.se.Seq, err)
		} else {
			// A mismatch is left for Apply to find and name.
			j.se.Recorded.HashChecked = j.se.Recorded.Event.Hash == j.se.Recorded.Event.ComputeHash()
			if j.verify != nil {
				j.se.Unsigned, j.se.SignatureChecked = j.verify(&j.se.Recorded.Event), true
			}
		}
	}
}
