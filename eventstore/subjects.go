package eventstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/kcledger/kcledger/domain"
)

// Subject taxonomy. These names are a public contract (docs/events.md):
//
//	kcledger.events.<fiscal year>.<province>.<source>.<kind>.<version>
//	    one message per recorded movement, e.g.
//	    kcledger.events.2025.01.national.disbursed.v1
//	kcledger.keys.<sha256 of the idempotency key, hex>
//	    the permanent claim on an idempotency key, appended atomically
//	    with the event it produced
//
// so `kcledger.events.2025.>` is one fiscal year, `kcledger.events.*.01.>`
// one province, `kcledger.events.*.*.local.>` the local funds and
// `kcledger.events.*.*.*.refunded.>` every refund.
const (
	// DefaultStream is the name of the stream.
	DefaultStream = "KCLEDGER"
	eventsPrefix  = "kcledger.events"
	keysPrefix    = "kcledger.keys"
	// AllEvents is the filter that matches every event and no claim.
	AllEvents = eventsPrefix + ".>"
	allKeys   = keysPrefix + ".>"
)

// EventSubject is the subject an event is published on.
func EventSubject(e *domain.Event) string {
	return fmt.Sprintf("%s.%d.%s.%s.%s.%s", eventsPrefix, e.FiscalYear, e.Province, e.Source, e.Type.Kind(), e.Type.Version())
}

// LineFilter matches every event of one budget line. Every expectation on
// a line is built from this one function: on replicated streams the server
// only sees in-flight writes made with the identical filter string.
func LineFilter(k domain.LineKey) string {
	return eventsPrefix + "." + strconv.Itoa(k.FiscalYear) + "." + k.Province + "." + string(k.Source) + ".>"
}

// KeySubject is the subject of an idempotency key's claim. The key is
// hashed so that any printable key makes a valid, fixed-length token.
func KeySubject(key string) string {
	sum := sha256.Sum256([]byte(key))
	return keysPrefix + "." + hex.EncodeToString(sum[:])
}
