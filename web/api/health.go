package api

import (
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

// readyz answers 200 while the balances follow the stream, and 503 naming
// the bad message while they stand stopped before one. /healthz only says
// that the process is alive.
func (a *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := a.sound(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "applied_seq": a.balances.Applied()})
}

// unsoundAt is the refusal of a history read that met the message at seq
// and could not count it.
func unsoundAt(seq uint64, err error) error {
	return domain.Errorf(domain.CodeUnavailable, "", "the message at seq %d is not sound (%v)%s", seq, err, readableBefore(seq))
}
