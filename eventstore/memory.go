package eventstore

import (
	"context"
	"sync"

	"github.com/kcledger/kcledger/domain"
)

// Memory is an event log held in memory, with the same semantics as
// JetStream (it passes the same conformance suite). Tests of the rules use
// it where a real server would only add time.
type Memory struct {
	mu     sync.Mutex
	seq    uint64
	events []domain.Recorded
	claims map[string]domain.IdempotencyClaim
	last   map[domain.LineKey]uint64
}

var _ domain.EventLog = (*Memory)(nil)

// NewMemory returns an empty in-memory log.
func NewMemory() *Memory {
	return &Memory{claims: map[string]domain.IdempotencyClaim{}, last: map[domain.LineKey]uint64{}}
}

// Append implements domain.EventLog.
func (m *Memory) Append(_ context.Context, p domain.Proposal) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := p.Event.Line()
	if m.last[k] != p.ExpectedSeq {
		return 0, domain.ErrStale
	}
	if c, ok := m.claims[p.Event.IdempotencyKey]; ok {
		return 0, &domain.ClaimedError{Claim: c}
	}
	if tapDir() != "" {
		_, _ = message(p) // the message JetStream would store, for the tap (tap.go)
	}
	m.seq++
	rec := domain.Recorded{Event: p.Event, Seq: m.seq}
	m.events = append(m.events, rec)
	m.claims[p.Event.IdempotencyKey] = domain.IdempotencyClaim{Fingerprint: p.Event.Fingerprint(), Recorded: rec}
	m.last[k] = rec.Seq
	return rec.Seq, nil
}

// AppendAll implements domain.EventLog: every proposal's expectation and
// key is checked, against the log as it was before the write, before any
// is appended. Several proposals on one line all expect the line's last
// sequence before the write and land in order, as on JetStream.
func (m *Memory) AppendAll(_ context.Context, ps []domain.Proposal) ([]uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make(map[string]bool, len(ps))
	for _, p := range ps {
		if m.last[p.Event.Line()] != p.ExpectedSeq {
			return nil, domain.ErrStale
		}
		// The message id JetStream would give it (eventMsgID): the
		// transferred-in side of a transfer shares its key.
		id := p.Event.IdempotencyKey
		if p.Event.Type == domain.TypeTransferredIn {
			id += " in"
		}
		if _, ok := m.claims[p.Event.IdempotencyKey]; ok || ids[id] {
			return nil, domain.ErrKeyTaken
		}
		ids[id] = true
	}
	seqs := make([]uint64, len(ps))
	for i, p := range ps {
		m.seq++
		rec := domain.Recorded{Event: p.Event, Seq: m.seq}
		m.events = append(m.events, rec)
		if _, ok := m.claims[p.Event.IdempotencyKey]; !ok {
			// A transfer's key is its first event's, as on JetStream.
			m.claims[p.Event.IdempotencyKey] = domain.IdempotencyClaim{Fingerprint: p.Event.Fingerprint(), Recorded: rec}
		}
		m.last[p.Event.Line()] = rec.Seq
		seqs[i] = rec.Seq
	}
	return seqs, nil
}

// Load implements domain.EventLog.
func (m *Memory) Load(_ context.Context, k domain.LineKey, after uint64) ([]domain.Recorded, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []domain.Recorded
	for _, r := range m.events {
		if r.Seq > after && r.Event.Line() == k {
			out = append(out, r)
		}
	}
	return out, nil
}

// Claim implements domain.EventLog.
func (m *Memory) Claim(_ context.Context, key string) (domain.IdempotencyClaim, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.claims[key]
	return c, ok, nil
}

// Events returns every recorded event, in order.
func (m *Memory) Events() []domain.Recorded {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]domain.Recorded(nil), m.events...)
}
