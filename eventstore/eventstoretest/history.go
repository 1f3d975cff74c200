package eventstoretest

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

// The fault tests' harness: concurrent writers that retry a write of
// unknown outcome until it is acknowledged, a history of what was
// acknowledged, and the Jepsen-style check of that history against the
// stream.

// Ack is one acknowledged write: the movement asked for and the event
// the ledger answered with.
type Ack struct {
	Key      string // idempotency key
	EventID  string
	Type     domain.EventType
	Line     domain.LineKey
	Amount   domain.Amount
	Started  time.Time // the first attempt
	Answered time.Time
	Replayed bool // acknowledged on a retry, as the original event
}

// History is the acknowledged writes, in the order they were answered.
type History struct {
	mu   sync.Mutex
	acks []Ack
}

// Add records an acknowledged write.
func (h *History) Add(a Ack) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acks = append(h.acks, a)
}

// Len is the number of acknowledged writes.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acks)
}

// Acks returns a copy of the acknowledged writes.
func (h *History) Acks() []Ack {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Ack(nil), h.acks...)
}

// firstStartedAfter is when the first write begun after t0 was
// answered, if one was.
func (h *History) firstStartedAfter(t0 time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.acks {
		if a.Started.After(t0) {
			return a.Answered, true
		}
	}
	return time.Time{}, false
}

// AckedSince waits until n writes begun after t0 are acknowledged, for
// at most within, and returns how many are.
func (h *History) AckedSince(t0 time.Time, n int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		count := 0
		h.mu.Lock()
		for _, a := range h.acks {
			if a.Started.After(t0) {
				count++
			}
		}
		h.mu.Unlock()
		if count >= n || !time.Now().Before(deadline) {
			return count
		}
		<-time.After(10 * time.Millisecond)
	}
}

// faultWait bounds every wait of the fault tests for writes.
const faultWait = 60 * time.Second

// retryPause is a writer's pause before it retries a write.
const retryPause = 20 * time.Millisecond

// errFinal marks an answer that a retry cannot change.
var errFinal = errors.New("final")

// Final wraps err so that Retry gives up at once: the write was refused,
// and retrying it would hide a bug.
func Final(err error) error { return fmt.Errorf("%w: %w", errFinal, err) }

// Retry calls try with attempt 0, 1, 2… until it acknowledges the
// write, for at most a minute, pausing briefly between attempts; an
// error made with Final stops it. try returns the Ack without its times,
// which Retry sets.
func Retry(try func(attempt int) (Ack, error)) (Ack, error) {
	started := time.Now()
	deadline := started.Add(faultWait)
	var last error
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		a, err := try(attempt)
		if err == nil {
			a.Started, a.Answered = started, time.Now()
			return a, nil
		}
		if errors.Is(err, errFinal) {
			return Ack{}, err
		}
		last = err
		<-time.After(retryPause)
	}
	return Ack{}, fmt.Errorf("not acknowledged within %s: %w", faultWait, last)
}

// Writers are concurrent clients, each writing one movement after
// another (retried until acknowledged) until Stop.
type Writers struct {
	History
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

// StartWriters starts clients writers; write(c, i) makes client c's i-th
// write, and returns once it is acknowledged (with Retry) or given up.
func StartWriters(t *testing.T, clients int, write func(c, i int) (Ack, error)) *Writers {
	t.Helper()
	w := &Writers{stop: make(chan struct{})}
	for c := range clients {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				a, err := write(c, i)
				if err != nil {
					w.mu.Lock()
					w.errs = append(w.errs, fmt.Errorf("client %d, write %d: %w", c, i, err))
					w.mu.Unlock()
					return
				}
				w.Add(a)
			}
		}()
	}
	t.Cleanup(w.halt)
	return w
}

func (w *Writers) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// failed fails the test now if a writer gave up.
func (w *Writers) failed(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	require.Empty(t, w.errs, "writers gave up")
}

// WaitFor waits until n more writes are acknowledged.
func (w *Writers) WaitFor(t *testing.T, n int) {
	t.Helper()
	target := w.Len() + n
	deadline := time.Now().Add(faultWait)
	for w.Len() < target {
		w.failed(t)
		require.True(t, time.Now().Before(deadline), "fewer than %d writes acknowledged within %s", target, faultWait)
		<-time.After(10 * time.Millisecond)
	}
}

// Unavailable waits for the first write begun after t0 to be
// acknowledged and returns how long after t0 it was: how long writes
// were unavailable after a fault at t0.
func (w *Writers) Unavailable(t *testing.T, t0 time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(faultWait)
	for {
		if at, ok := w.firstStartedAfter(t0); ok {
			return at.Sub(t0)
		}
		w.failed(t)
		require.True(t, time.Now().Before(deadline), "no write begun after the fault was acknowledged within %s", faultWait)
		<-time.After(10 * time.Millisecond)
	}
}

// Stop stops the writers, each after its write in progress, and returns
// every acknowledged write.
func (w *Writers) Stop(t *testing.T) []Ack {
	t.Helper()
	w.halt()
	w.failed(t)
	return w.Acks()
}

// Faults is the number of faults a fault test injects: FAULTS, or def.
func Faults(t *testing.T, def int) int {
	t.Helper()
	v := os.Getenv("FAULTS")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "FAULTS")
	require.Positive(t, n, "FAULTS")
	return n
}

// Outcome is what CheckHistory found.
type Outcome struct {
	Acked, Replayed, Lost, Twice, Unacked int
}

// CheckHistory checks, Jepsen-style, the acknowledged writes against the
// stream's events (every line but the ledger's own, in any order): every
// line's chain and rules replay; no acknowledged write is lost, none is
// there twice, each is the event it was acknowledged as; nothing is
// there that no client saw acknowledged; and each line's allocations and
// disbursements are the sums of the acknowledged ones.
func CheckHistory(t *testing.T, acks []Ack, stream []domain.Recorded) Outcome {
	t.Helper()
	recs := append([]domain.Recorded(nil), stream...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })
	lines := map[domain.LineKey]*domain.LineState{}
	inStream := map[string][]string{} // idempotency key → event ids
	for _, r := range recs {
		k := r.Event.Line()
		if k == (domain.LineKey{}) {
			continue // the ledger's own line: no movement of money
		}
		st := lines[k]
		if st == nil {
			st = domain.NewLineState(k)
			lines[k] = st
		}
		require.NoError(t, st.Apply(r), "line %s: the chain and rules replay", k)
		inStream[r.Event.IdempotencyKey] = append(inStream[r.Event.IdempotencyKey], r.Event.ID)
	}
	var o Outcome
	allocated, disbursed := map[domain.LineKey]domain.Amount{}, map[domain.LineKey]domain.Amount{}
	acked := map[string]bool{}
	for _, a := range acks {
		o.Acked++
		if a.Replayed {
			o.Replayed++
		}
		acked[a.Key] = true
		switch a.Type {
		case domain.TypeAllocated:
			allocated[a.Line] = allocated[a.Line].Add(a.Amount)
		case domain.TypeDisbursed:
			disbursed[a.Line] = disbursed[a.Line].Add(a.Amount)
		default:
			require.FailNow(t, "CheckHistory sums allocations and disbursements only", "%s: %s", a.Key, a.Type)
		}
		switch ids := inStream[a.Key]; {
		case len(ids) == 0:
			o.Lost++
		case len(ids) > 1:
			o.Twice++
		default:
			assert.Equal(t, a.EventID, ids[0], "%s: acknowledged as another event", a.Key)
		}
	}
	for k := range inStream {
		if !acked[k] {
			o.Unacked++
		}
	}
	for k, st := range lines {
		assert.True(t, st.Balance.Allocated.Equal(allocated[k]), "line %s: allocated %s in the stream, %s acknowledged", k, st.Balance.Allocated, allocated[k])
		assert.True(t, st.Balance.Disbursed.Equal(disbursed[k]), "line %s: disbursed %s in the stream, %s acknowledged", k, st.Balance.Disbursed, disbursed[k])
	}
	t.Logf("%d writes acknowledged (%d on a retry, as the original event), %d lost, %d duplicated, %d in the stream unacknowledged",
		o.Acked, o.Replayed, o.Lost, o.Twice, o.Unacked)
	assert.Zero(t, o.Lost, "acknowledged writes lost")
	assert.Zero(t, o.Twice, "writes in the stream twice")
	assert.Zero(t, o.Unacked, "writes in the stream that no client saw acknowledged")
	return o
}
