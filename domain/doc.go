// Package domain holds kcledger's core: money, reference data (provinces,
// regions, sources, content categories), the four movement events, their
// commands, and the pure rules that decide whether a command may be recorded
// against a budget line.
//
// The package imports only the standard library and shopspring/decimal. It
// knows nothing of NATS, HTTP, logging or the clock: the current time arrives
// inside each command, and the event log it appends to is the small EventLog
// interface declared here and implemented by package eventstore.
package domain
