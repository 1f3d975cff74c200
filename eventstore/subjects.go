package eventstore

import (
	"strconv"

	"github.com/kcledger/kcledger/domain"
)

// Subject taxonomy. These names are a public contract (docs/events.md):
//
//	kcledger.events.<fiscal year>.<province>.<source>.<kind>.<version>
//	    one message per recorded movement, e.g.
//	    kcledger.events.2025.01.national.disbursed.v1
//
// so `kcledger.events.2025.>` is one fiscal year, `kcledger.events.*.01.>`
// one province, `kcledger.events.*.*.local.>` the local funds and
// `kcledger.events.*.*.*.refunded.>` every refund. The ledger's own
// events are on no budget line and have subjects of their own under the
// same prefix, with "ledger" where a line's subjects have the fiscal year:
//
//	kcledger.events.ledger.repudiated.v1
//	    one message per repudiation (domain.TypeRepudiated)
//
// No line filter matches them (their second token is no province); the
// stream's AllEvents does.
const (
	// DefaultStream is the name of the stream.
	DefaultStream = "KCLEDGER"
	eventsPrefix  = "kcledger.events"
	// AllEvents is the filter that matches every event.
	AllEvents = eventsPrefix + ".>"
	// RepudiationSubject is the subject of every repudiation, and the
	// chain they form.
	RepudiationSubject = eventsPrefix + ".ledger.repudiated.v1"
)

// EventSubject is the subject an event is published on.
func EventSubject(e *domain.Event) string {
	if e.Type == domain.TypeRepudiated {
		return RepudiationSubject
	}
	// Concatenation, not fmt: every read of the stream checks each
	// message's subject against this.
	return eventsPrefix + "." + strconv.Itoa(e.FiscalYear) + "." + e.Province + "." + string(e.Source) + "." + e.Type.Kind() + "." + e.Type.Version()
}

// LineFilter matches every event of one budget line; of LineKey{}, the
// ledger's own line, the repudiations. Every expectation on a line is
// built from this one function: on replicated streams the server only
// sees in-flight writes made with the identical filter string.
func LineFilter(k domain.LineKey) string {
	if k == (domain.LineKey{}) {
		return RepudiationSubject
	}
	return eventsPrefix + "." + strconv.Itoa(k.FiscalYear) + "." + k.Province + "." + string(k.Source) + ".>"
}

// Filter matches the events of a fiscal year, province and source; a zero
// value matches any.
func Filter(year int, province string, source domain.Source) string {
	tok := func(v string) string {
		if v == "" {
			return "*"
		}
		return v
	}
	y := ""
	if year != 0 {
		y = strconv.Itoa(year)
	}
	if y == "" && province == "" && source == "" {
		return AllEvents
	}
	return eventsPrefix + "." + tok(y) + "." + tok(province) + "." + tok(string(source)) + ".>"
}
