// Package projections builds read models from the ledger's events: live
// balances per budget line, project, province and fiscal year. A read model
// is rebuilt by replaying the event feed from the start; it applies each
// event once, in stream order, and knows the last sequence it applied, so
// that a reader can wait for its own write.
package projections
