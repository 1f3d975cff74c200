// Package eventstore keeps kcledger's events in NATS JetStream: the stream
// and its options, the subject taxonomy, append with per-line optimistic
// concurrency and permanent idempotency, reads, the live feed that
// projections follow, and the embedded nats-server that `kcledger serve`
// starts by default.
//
// Nothing outside this package inspects a NATS error: JetStream's "wrong
// last sequence" becomes domain.ErrStale here.
package eventstore
