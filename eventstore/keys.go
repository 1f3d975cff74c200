package eventstore

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
)

// keyIndex maps every idempotency key in the stream, by its message id
// (msgID), to the sequence of the event it produced. Its consumer is
// headers-only: the event bodies never leave the server. It follows the
// stream, so it lags slightly behind appends made by other processes. That lag is harmless as long as it stays
// well inside the stream's duplicate window, within which JetStream itself
// refuses a second message with the same key (Nats-Msg-Id); the index
// refuses to answer when it cannot show that it does.
type keyIndex struct {
	mu      sync.RWMutex
	seqs    map[string]uint64
	applied uint64
	// confirmed is when the index was last shown to hold every event
	// appended before that moment.
	confirmed time.Time
	maxLag    time.Duration
	ready     chan struct{} // closed once the first confirmation is done
	readyOnce sync.Once
}

func newKeyIndex(maxLag time.Duration) *keyIndex {
	return &keyIndex{seqs: map[string]uint64{}, maxLag: maxLag, ready: make(chan struct{})}
}

func (x *keyIndex) add(id string, seq uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if seq > x.applied {
		x.seqs[id] = seq
		x.applied = seq
	}
}

// lookup returns the sequence of key's event. It fails when the index
// cannot vouch for being recent enough.
func (x *keyIndex) lookup(key string) (uint64, bool, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if lag := time.Since(x.confirmed); lag > x.maxLag {
		return 0, false, domain.Errorf(domain.CodeUnavailable, "",
			"the idempotency key index is catching up with the stream (last confirmed %s ago, limit %s); retry shortly with the same key", lag.Round(time.Millisecond), x.maxLag)
	}
	seq, ok := x.seqs[msgID(key)]
	return seq, ok, nil
}

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

// runKeyIndex follows the stream into the index, and confirms it every
// keyIndexConfirmEvery, until ctx ends.
func (s *JetStream) runKeyIndex(ctx context.Context) {
	go func() {
		for ctx.Err() == nil {
			err := s.consume(ctx, AllEvents, s.keys.appliedSeq(), true, func(m jetstream.Msg, seq uint64) (bool, error) {
				s.keys.add(m.Headers().Get(hdrMsgID), seq)
				return true, nil
			})
			if err != nil && ctx.Err() == nil {
				// The ordered consumer gave up (connection lost for long);
				// start again from where the index stands.
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	go func() {
		t := time.NewTicker(min(keyIndexConfirmEvery, s.keys.maxLag/4))
		defer t.Stop()
		for {
			at := time.Now()
			if target, err := s.LastEventSeq(ctx); err == nil {
				s.waitIndexed(ctx, target)
				if s.keys.appliedSeq() >= target {
					s.keys.confirm(at)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// waitIndexed polls until the index has applied target, for at most the
// index's allowed lag.
func (s *JetStream) waitIndexed(ctx context.Context, target uint64) {
	deadline := time.Now().Add(s.keys.maxLag)
	for s.keys.appliedSeq() < target && time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}
