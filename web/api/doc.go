// Package api is kcledger's HTTP surface: the JSON API over the ledger
// and its read models, its problem details (RFC 9457) and its request
// parsing. cmd/kcledger builds it and serves it; the routes' handlers
// are thin over the domain's services.
package api
