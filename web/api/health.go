package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/kcledger/kcledger/domain"
)

// Stall is why the balances stopped.
type Stall struct {
	Seq    uint64
	Reason string
	Since  time.Time
}

// Health says whether the balances follow the stream or stand stopped
// before a bad message. The zero value is sound.
type Health struct {
	mu      sync.Mutex
	stall   *Stall
	changed chan struct{}
}

// Stalled is why the balances stopped, or nil while they are sound.
func (h *Health) Stalled() *Stall {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stall
}

// Set records why the balances stopped (nil: they are sound again).
func (h *Health) Set(s *Stall) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stall = s
	if h.changed != nil {
		close(h.changed)
	}
	h.changed = make(chan struct{})
}

// Wait returns a channel closed at the next change.
func (h *Health) Wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.changed == nil {
		h.changed = make(chan struct{})
	}
	return h.changed
}

// unavailable is the refusal of what would need the balances past a bad
// message; nil while they are sound.
func (s *Stall) unavailable() error {
	if s == nil {
		return nil
	}
	return domain.Errorf(domain.CodeUnavailable, "", "the ledger stopped before the message at seq %d, which is not sound (%s)%s, and an admin may repudiate the message (kcledger repudiate --seq %d)",
		s.Seq, s.Reason, readableBefore(s.Seq), s.Seq)
}

// readableBefore says how far the past is still answered.
func readableBefore(seq uint64) string {
	if seq <= 1 {
		return ""
	}
	return fmt.Sprintf("; balances up to seq %d can be read with until_seq", seq-1)
}

// sound refuses what needs the balances while they stand stopped.
func (a *Server) sound() error { return a.health.Stalled().unavailable() }

// Readiness bounds.
const (
	// readyStreamWait bounds how long /readyz waits for the stream's state.
	readyStreamWait = 2 * time.Second
	// readyMaxLag is how many messages the balances may be behind the
	// stream and still be ready: a process that far behind would answer
	// reads late (read-your-writes waits for it) and decide on old state.
	readyMaxLag = 10_000
)

// readyz answers 200 when the process should be sent requests: connected
// to NATS, its stream reachable, its balances caught up within
// readyMaxLag messages and sound, and its idempotency key index within
// its allowed lag (a recording would be refused otherwise). Otherwise 503, with the reason; a load
// balancer then sends its requests elsewhere. /healthz only says that the
// process is alive.
func (a *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if a.connected != nil && !a.connected() {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeUnavailable, "", "not connected to NATS: the ledger's stream is out of reach; the client reconnects by itself"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyStreamWait)
	defer cancel()
	state, err := a.history.State(ctx)
	if err != nil {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeUnavailable, "", "the stream %s is out of reach: %v", a.stream, err))
		return
	}
	applied := a.balances.Applied()
	if state.LastSeq > applied+readyMaxLag {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeUnavailable, "", "the balances are %d messages behind the stream (at seq %d of %d); ready within %d", state.LastSeq-applied, applied, state.LastSeq, readyMaxLag))
		return
	}
	if a.keysCurrent != nil {
		if err := a.keysCurrent(); err != nil {
			WriteError(w, r, a.log, err)
			return
		}
	}
	if err := a.sound(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "applied_seq": applied, "stream_last_seq": state.LastSeq})
}

// unsoundAt is the refusal of a history read that met the message at seq
// and could not count it.
func unsoundAt(seq uint64, err error) error {
	return domain.Errorf(domain.CodeUnavailable, "", "the message at seq %d is not sound (%v)%s", seq, err, readableBefore(seq))
}
