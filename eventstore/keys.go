package eventstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
)

// keyIndex maps every idempotency key in the stream, by its message id
// (msgID), to the sequence of the event it produced. The process's own
// appends go in as they are acknowledged; the rest it learns by catching
// up with the stream a few times a second, headers only (the event
// bodies never leave the server), rather than by following every append
// live: a consumer delivering each message as it is stored costs every
// append a delivery in its own critical path (about 80 µs on one writer,
// measured with kcledger bench). So it lags behind appends made by other
// processes, by up to keyIndexConfirmEvery. That lag is harmless as long
// as it stays well inside the stream's duplicate window, within which
// JetStream itself refuses a second message with the same key
// (Nats-Msg-Id); the index refuses to answer when it cannot show that it
// does.
type keyIndex struct {
	mu      sync.RWMutex
	seqs    map[keyID]uint64
	applied uint64
	// confirmed is when the index was last shown to hold every event
	// appended before that moment.
	confirmed time.Time
	maxLag    time.Duration
	// own holds the sequences of this process's appends above applied:
	// where they follow applied without a gap, the catch-up has nothing
	// to read (skipOwn).
	own       []uint64
	ready     chan struct{} // closed once the first confirmation is done
	readyOnce sync.Once
}

// keyID is the SHA-256 of an idempotency key: 32 bytes, whatever the
// key's length. Its hex form is the message id (msgID).
type keyID [sha256.Size]byte

func idOf(key string) keyID { return sha256.Sum256([]byte(key)) }

func newKeyIndex(maxLag time.Duration) *keyIndex {
	return &keyIndex{seqs: map[keyID]uint64{}, maxLag: maxLag, ready: make(chan struct{})}
}

// add records the message at seq, whose Nats-Msg-Id header is header. A
// message without a well-formed id (not kcledger's) only moves the index
// on.
func (x *keyIndex) add(header string, seq uint64) {
	id, ok := parseMsgID(header)
	x.mu.Lock()
	defer x.mu.Unlock()
	if seq > x.applied {
		if ok {
			x.seqs[id] = seq
		}
		x.applied = seq
	}
}

// parseMsgID reads a Nats-Msg-Id header written by msgID.
func parseMsgID(header string) (keyID, bool) {
	var id keyID
	if len(header) != 2*len(id) {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(header))
	return id, err == nil
}

// note records that this process's append whose Nats-Msg-Id header is
// header landed at seq. The applied sequence does not move: the catch-up
// still reads every message before seq, from whichever process.
func (x *keyIndex) note(header string, seq uint64) {
	id, ok := parseMsgID(header)
	if !ok {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.seqs[id]; !ok {
		x.seqs[id] = seq
	}
	if seq > x.applied {
		x.own = append(x.own, seq)
	}
}

// skipOwn moves the applied sequence over this process's own appends
// that follow it without a gap (their keys are in the index already) and
// returns it: a process that is the only writer never reads the stream
// back.
func (x *keyIndex) skipOwn() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	slices.Sort(x.own)
	i := 0
	for i < len(x.own) && x.own[i] <= x.applied+1 {
		x.applied = max(x.applied, x.own[i])
		i++
	}
	x.own = slices.Delete(x.own, 0, i)
	return x.applied
}

// lookup returns the sequence of key's event. It fails when the index
// cannot vouch for being recent enough.
func (x *keyIndex) lookup(key string) (uint64, bool, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if err := x.currentLocked(); err != nil {
		return 0, false, err
	}
	seq, ok := x.seqs[idOf(key)]
	return seq, ok, nil
}

// currentLocked is the refusal of a lookup while the index cannot vouch
// for holding every key of the stream within its allowed lag.
func (x *keyIndex) currentLocked() error {
	if lag := time.Since(x.confirmed); lag > x.maxLag {
		return domain.Errorf(domain.CodeUnavailable, "",
			"the idempotency key index is catching up with the stream (last confirmed %s ago, limit %s); retry shortly with the same key", lag.Round(time.Millisecond), x.maxLag)
	}
	return nil
}

// KeyIndexCurrent says why a recording would now be refused for the
// idempotency key index lagging behind the stream; nil when it would
// not (for /readyz).
func (s *JetStream) KeyIndexCurrent() error {
	s.keys.mu.RLock()
	defer s.keys.mu.RUnlock()
	return s.keys.currentLocked()
}

// KeyIndexApplied is the sequence of the last stream message the
// idempotency key index holds, for its lag behind the stream.
func (s *JetStream) KeyIndexApplied() uint64 { return s.keys.appliedSeq() }

func (x *keyIndex) appliedSeq() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.applied
}

// confirm records that every event up to target, the stream's last event
// sequence as read at time at, is in the index.
func (x *keyIndex) confirm(at time.Time) {
	x.mu.Lock()
	if at.After(x.confirmed) {
		x.confirmed = at
	}
	x.mu.Unlock()
	x.readyOnce.Do(func() { close(x.ready) })
}

// keyIndexConfirmEvery is how often the index checks it has caught up,
// at most; short duplicate windows (tests) make it check more often.
const keyIndexConfirmEvery = 500 * time.Millisecond

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// runKeyIndex keeps the index caught up with the stream, and confirms it,
// every keyIndexConfirmEvery until ctx ends; it also saves checkpoints.
func (s *JetStream) runKeyIndex(ctx context.Context) {
	go every(ctx, keyIndexSaveEvery, func() {
		if s.keys.appliedSeq() >= s.keysSaved.Load()+keyIndexSaveAfter {
			_ = s.saveKeyIndex(ctx) // best effort: the next save, or a rebuild, makes up for it
		}
	})
	go func() {
		t := time.NewTicker(min(keyIndexConfirmEvery, s.keys.maxLag/4))
		defer t.Stop()
		for {
			// Everything appended before at has a sequence up to target:
			// once the index has applied target, it holds all of it.
			at := time.Now()
			if target, err := s.LastEventSeq(ctx); err == nil && s.catchUpKeys(ctx, target) == nil {
				s.keys.confirm(at)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// catchUpKeys reads the stream's headers from the index's applied
// sequence up to target into the index, within the index's allowed lag.
func (s *JetStream) catchUpKeys(ctx context.Context, target uint64) error {
	from := s.keys.skipOwn()
	if from >= target {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.keys.maxLag)
	defer cancel()
	return s.consume(ctx, AllEvents, from, true, func(m jetstream.Msg, seq uint64) (bool, error) {
		s.keys.add(m.Headers().Get(hdrMsgID), seq)
		return seq < target, nil
	})
}

// The key index's checkpoint.
const (
	keyIndexCheckpoint = "key-index"
	keyIndexMagic      = "kcledger-key-index-v1\n"
	// keyIndexSaveEvery and keyIndexSaveAfter: the index is saved at most
	// every minute, once this many events have been added since the last
	// save, and when the log is closed.
	keyIndexSaveEvery = time.Minute
	keyIndexSaveAfter = 1000
)

// snapshot encodes the index: the magic line; the applied sequence and
// the message id at it (8 + 1 + 32 bytes: a flag says whether that message
// had one); the number of keys; then each key's id and sequence.
func (x *keyIndex) snapshot() (data []byte, applied uint64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	buf := make([]byte, 0, len(keyIndexMagic)+8+1+32+8+len(x.seqs)*(32+8))
	buf = append(buf, keyIndexMagic...)
	buf = binary.BigEndian.AppendUint64(buf, x.applied)
	var at keyID
	has := false
	n := 0
	for id, seq := range x.seqs {
		if seq == x.applied {
			at, has = id, true
		}
		if seq <= x.applied {
			n++
		}
	}
	if has {
		buf = append(buf, 1)
	} else {
		buf = append(buf, 0)
	}
	buf = append(buf, at[:]...)
	// Keys this process noted beyond the applied sequence wait for the
	// catch-up: a checkpoint holds exactly the stream up to applied.
	buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	for id, seq := range x.seqs {
		if seq > x.applied {
			continue
		}
		buf = append(buf, id[:]...)
		buf = binary.BigEndian.AppendUint64(buf, seq)
	}
	return buf, x.applied
}

// restoreKeyIndex decodes a snapshot. It returns the message id the
// stream must hold at the applied sequence ("" when that message had
// none).
func restoreKeyIndex(data []byte, maxLag time.Duration) (*keyIndex, string, error) {
	x := newKeyIndex(maxLag)
	rest, ok := bytes.CutPrefix(data, []byte(keyIndexMagic))
	if !ok || len(rest) < 8+1+32+8 {
		return nil, "", errors.New("not a key index checkpoint")
	}
	x.applied = binary.BigEndian.Uint64(rest)
	has := rest[8] == 1
	var at keyID
	copy(at[:], rest[9:41])
	n := binary.BigEndian.Uint64(rest[41:])
	rest = rest[49:]
	if uint64(len(rest)) != n*(32+8) {
		return nil, "", fmt.Errorf("key index checkpoint: %d keys announced, %d bytes follow", n, len(rest))
	}
	for i := uint64(0); i < n; i++ {
		var id keyID
		copy(id[:], rest[:32])
		seq := binary.BigEndian.Uint64(rest[32:40])
		rest = rest[40:]
		if seq == 0 || seq > x.applied {
			return nil, "", fmt.Errorf("key index checkpoint: key at seq %d beyond its applied seq %d", seq, x.applied)
		}
		x.seqs[id] = seq
	}
	if has && x.seqs[at] != x.applied {
		return nil, "", errors.New("key index checkpoint: the id at its applied seq is not among its keys")
	}
	want := ""
	if has {
		want = hex.EncodeToString(at[:])
	}
	return x, want, nil
}

// resumeKeyIndex loads the key index's checkpoint, if it matches the
// stream: the message at its applied sequence must be there, with the
// same id. Otherwise the index starts empty and says why.
func (s *JetStream) resumeKeyIndex(ctx context.Context, maxLag time.Duration) (*keyIndex, error) {
	data, err := s.checkpoints.Load(ctx, keyIndexCheckpoint)
	if err != nil || data == nil {
		return newKeyIndex(maxLag), err
	}
	x, want, err := restoreKeyIndex(data, maxLag)
	if err != nil {
		return newKeyIndex(maxLag), err
	}
	if x.applied == 0 {
		return x, nil
	}
	gctx, cancel := withTimeout(ctx)
	defer cancel()
	m, err := s.stream.GetMsg(gctx, x.applied)
	if err != nil {
		return newKeyIndex(maxLag), fmt.Errorf("key index checkpoint at seq %d: the stream does not hold that message: %w", x.applied, err)
	}
	if got := m.Header.Get(hdrMsgID); got != want {
		return newKeyIndex(maxLag), fmt.Errorf("key index checkpoint at seq %d: the stream's message there has id %q, the checkpoint %q", x.applied, got, want)
	}
	missing, err := s.Missing(ctx, x.applied)
	if err != nil {
		return newKeyIndex(maxLag), err
	}
	if len(missing) > 0 {
		return newKeyIndex(maxLag), fmt.Errorf("key index checkpoint at seq %d: the stream no longer holds seq %v, which it counted", x.applied, missing)
	}
	return x, nil
}

// saveKeyIndex writes the index's checkpoint.
func (s *JetStream) saveKeyIndex(ctx context.Context) error {
	data, applied := s.keys.snapshot()
	if err := s.checkpoints.Save(ctx, keyIndexCheckpoint, data); err != nil {
		return err
	}
	s.keysSaved.Store(applied)
	if fn := s.onKeysSaved.Load(); fn != nil {
		(*fn)(len(data))
	}
	return nil
}

// OnKeyIndexSaved has fn told the size of each checkpoint of the
// idempotency key index saved from now on (serve's metrics).
func (s *JetStream) OnKeyIndexSaved(fn func(bytes int)) { s.onKeysSaved.Store(&fn) }
