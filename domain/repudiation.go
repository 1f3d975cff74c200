package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sync"
)

// Repudiations holds the repudiation events read so far, by the sequence
// they name: what readers of the stream skip. It is safe for concurrent
// use.
type Repudiations struct {
	mu      sync.RWMutex
	bySeq   map[uint64]Recorded
	changed chan struct{} // closed and replaced after every change
}

// NewRepudiations returns an empty set.
func NewRepudiations() *Repudiations {
	return &Repudiations{bySeq: map[uint64]Recorded{}, changed: make(chan struct{})}
}

// Add notes a repudiation event; the first of two naming one sequence
// stays.
func (s *Repudiations) Add(r Recorded) {
	if r.Event.Type != TypeRepudiated || r.Event.RepudiatedSeq == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.bySeq[r.Event.RepudiatedSeq]; ok {
		return
	}
	s.bySeq[r.Event.RepudiatedSeq] = r
	close(s.changed)
	s.changed = make(chan struct{})
}

// Has says whether the message at seq is repudiated. A nil set holds
// nothing.
func (s *Repudiations) Has(seq uint64) bool {
	_, ok := s.Get(seq)
	return ok
}

// Covers says whether the message at seq, whose MessageDigest is digest
// ("" for a sequence the stream lacks), is the one a repudiation names:
// only then is it passed over. A stream re-created with its messages in
// another order keeps the sequence but not the message.
func (s *Repudiations) Covers(seq uint64, digest string) bool {
	r, ok := s.Get(seq)
	return ok && r.Event.RepudiatedDigest == digest
}

// MessageDigest identifies a stored message by what it holds: the
// SHA-256, in lowercase hex, of its subject, a newline, and its data.
func MessageDigest(subject string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{'\n'})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// Get returns the repudiation of the message at seq.
func (s *Repudiations) Get(seq uint64) (Recorded, bool) {
	if s == nil {
		return Recorded{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.bySeq[seq]
	return r, ok
}

// Changed returns a channel closed at the next Add.
func (s *Repudiations) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// All returns every repudiation, in the order of the sequences they name.
func (s *Repudiations) All() []Recorded {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Recorded, 0, len(s.bySeq))
	for _, r := range s.bySeq {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Recorded) int { return cmpUint(a.Event.RepudiatedSeq, b.Event.RepudiatedSeq) })
	return out
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
