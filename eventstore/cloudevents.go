package eventstore

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kcledger/kcledger/domain"
)

// CloudEvents. Every message carries the CloudEvents 1.0 context
// attributes as NATS headers, in the binary content mode of the
// CloudEvents NATS protocol binding: each attribute in a header named
// "ce-" and the attribute, the event's JSON as the body, and its media
// type (datacontenttype) in "content-type". A CloudEvents SDK reads the
// events without kcledger code. The headers repeat what the body says and
// are not covered by the hash chain or the signature; verify checks that
// they agree with the body (CheckCloudEvents).
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderID          = "ce-id"
	HeaderType        = "ce-type"
	HeaderSource      = "ce-source"
	HeaderTime        = "ce-time"
	HeaderSubject     = "ce-subject"
	HeaderContentType = "content-type"

	// CloudEventsSpecVersion is the CloudEvents version the headers follow.
	CloudEventsSpecVersion = "1.0"
	// CloudEventsSource is every event's source attribute: kcledger's
	// events, whose ids are unique across the ledger.
	CloudEventsSource = "/kcledger"
	// ContentTypeJSON is the media type of every event body.
	ContentTypeJSON = "application/json"
)

// cloudEventsSubject is an event's subject attribute: its budget line,
// "<fiscal year>/<province>/<source>", e.g. "2025/01/national"; "ledger"
// for the ledger's own events (repudiations).
func cloudEventsSubject(e *domain.Event) string {
	if e.Type == domain.TypeRepudiated {
		return "ledger"
	}
	return strconv.Itoa(e.FiscalYear) + "/" + e.Province + "/" + string(e.Source)
}

// cloudEventsHeaders returns the CloudEvents attributes of e, each value
// percent-encoded as the binding requires (kcledger's values are plain
// ASCII, so in practice they pass through unchanged).
func cloudEventsHeaders(e *domain.Event) [7][2]string {
	return [7][2]string{
		{HeaderSpecVersion, CloudEventsSpecVersion},
		{HeaderID, percentEncode(e.ID)},
		{HeaderType, percentEncode(string(e.Type))},
		{HeaderSource, CloudEventsSource},
		{HeaderTime, e.RecordedAt.UTC().Format(time.RFC3339Nano)},
		{HeaderSubject, percentEncode(cloudEventsSubject(e))},
		{HeaderContentType, ContentTypeJSON},
	}
}

func setCloudEvents(m *nats.Msg, e *domain.Event) {
	for _, h := range cloudEventsHeaders(e) {
		m.Header[h[0]] = []string{h[1]}
	}
}

// CheckCloudEvents reports the first CloudEvents header of a message that
// is missing or disagrees with its event. A message with no ce- header at
// all was recorded before kcledger wrote them (2026-12-01) and passes:
// the body is the record, and the headers only repeat it.
func CheckCloudEvents(h nats.Header, e *domain.Event) error {
	if !hasCloudEvents(h) {
		return nil
	}
	for _, want := range cloudEventsHeaders(e) {
		got, ok := h[want[0]]
		switch {
		case !ok || len(got) == 0:
			return fmt.Errorf("header %s is missing (want %q)", want[0], want[1])
		case len(got) > 1:
			return fmt.Errorf("header %s is repeated (%q)", want[0], got)
		case got[0] != want[1]:
			return fmt.Errorf("header %s is %q; the event says %q", want[0], got[0], want[1])
		}
	}
	return nil
}

func hasCloudEvents(h nats.Header) bool {
	for _, k := range []string{HeaderSpecVersion, HeaderID, HeaderType, HeaderSource, HeaderTime, HeaderSubject} {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

// percentEncode encodes what the CloudEvents HTTP and NATS bindings say a
// header value must not carry as is: space, double quote, percent, and
// every byte outside printable ASCII (UTF-8 is encoded byte by byte).
func percentEncode(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if needsPercent(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsPercent(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func needsPercent(c byte) bool { return c <= ' ' || c >= 0x7f || c == '"' || c == '%' }
