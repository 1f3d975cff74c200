package eventstore_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

var ceLine = domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}

// Every appended message carries the CloudEvents attributes of its event
// as headers, read back from the stream as a subscriber sees them.
func TestAppendedMessagesCarryCloudEvents(t *testing.T) {
	s := startServer(t)
	log := openLog(t, s, eventstore.StreamConfig{})
	ev := eventstoretest.Event(ceLine, "ce-1", 1000)
	seq, err := log.Append(context.Background(), domain.Proposal{Event: ev})
	require.NoError(t, err)

	js, err := jetstream.New(connect(t, s))
	require.NoError(t, err)
	stream, err := js.Stream(context.Background(), eventstore.DefaultStream)
	require.NoError(t, err)
	m, err := stream.GetMsg(context.Background(), seq)
	require.NoError(t, err)
	assert.Equal(t, "kcledger.events.2025.01.national.allocated.v1", m.Subject)
	for header, want := range map[string]string{
		"ce-specversion": "1.0",
		"ce-id":          ev.ID,
		"ce-type":        "funds.allocated.v1",
		"ce-source":      "/kcledger",
		"ce-time":        "2025-01-02T03:04:05.000000006Z",
		"ce-subject":     "2025/01/national",
		"content-type":   "application/json",
	} {
		assert.Equal(t, []string{want}, m.Header.Values(header), header)
	}
	require.NoError(t, eventstore.CheckCloudEvents(m.Header, &ev))
}

func TestCheckCloudEventsNamesTheHeader(t *testing.T) {
	ev := eventstoretest.Event(ceLine, "ce-2", 1000)
	m, err := eventstore.NewMessage(domain.Proposal{Event: ev})
	require.NoError(t, err)
	require.NoError(t, eventstore.CheckCloudEvents(m.Header, &ev))
	legacy := nats.Header{"Content-Type": {"application/json"}, "Nats-Msg-Id": m.Header["Nats-Msg-Id"]}
	require.NoError(t, eventstore.CheckCloudEvents(legacy, &ev), "recorded before kcledger wrote CloudEvents headers")
	for _, tt := range []struct {
		name   string
		change func(h nats.Header)
		want   string
	}{
		{"missing id", func(h nats.Header) { h.Del("ce-id") }, "header ce-id is missing"},
		{"other type", func(h nats.Header) { h.Set("ce-type", "funds.disbursed.v1") }, `header ce-type is "funds.disbursed.v1"; the event says "funds.allocated.v1"`},
		{"other time", func(h nats.Header) { h.Set("ce-time", "2025-01-02T03:04:05Z") }, "header ce-time is"},
		{"repeated subject", func(h nats.Header) { h.Add("ce-subject", "2025/79/local") }, "header ce-subject is repeated"},
		{"canonical case is another header", func(h nats.Header) {
			v := h.Get("content-type")
			h.Del("content-type")
			h.Set("Content-Type", v)
		}, "header content-type is missing"},
		{"old spec version", func(h nats.Header) { h.Set("ce-specversion", "0.3") }, "header ce-specversion is"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := nats.Header{}
			for k, v := range m.Header {
				h[k] = append([]string(nil), v...)
			}
			tt.change(h)
			err := eventstore.CheckCloudEvents(h, &ev)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// A message whose headers contradict its body, published around kcledger,
// is named by the auditor's reader, which refuses to take it as an event.
// scanAfterHonest appends an honest event, publishes the message forge
// makes straight onto the stream (around kcledger, as another client
// could), and returns both as the auditor's reader sees them.
func scanAfterHonest(t *testing.T, forge func(honest domain.Event) *nats.Msg) []eventstore.StoredEvent {
	t.Helper()
	_, _, got := readAfterHonest(t, forge)
	return got
}

// readAfterHonest is scanAfterHonest that also returns the reader and the
// honest event.
func readAfterHonest(t *testing.T, forge func(honest domain.Event) *nats.Msg) (*eventstore.Reader, domain.Event, []eventstore.StoredEvent) {
	t.Helper()
	s := startServer(t)
	log := openLog(t, s, eventstore.StreamConfig{})
	honest := eventstoretest.Event(ceLine, "honest", 1000)
	_, err := log.Append(context.Background(), domain.Proposal{Event: honest})
	require.NoError(t, err)
	m := forge(honest)
	nc := connect(t, s)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.PublishMsg(context.Background(), m)
	require.NoError(t, err)
	r, err := eventstore.OpenReader(context.Background(), nc, "")
	require.NoError(t, err)
	var got []eventstore.StoredEvent
	require.NoError(t, r.Scan(context.Background(), 2, func(se eventstore.StoredEvent) (bool, error) {
		got = append(got, se)
		return true, nil
	}))
	require.Len(t, got, 2)
	return r, honest, got
}

func TestReaderRefusesContradictingCloudEvents(t *testing.T) {
	got := scanAfterHonest(t, func(honest domain.Event) *nats.Msg {
		forged := eventstoretest.Event(domain.LineKey{FiscalYear: 2025, Province: "79", Source: domain.SourceLocal}, "ce-4", 1000)
		m, err := eventstore.NewMessage(domain.Proposal{Event: forged})
		require.NoError(t, err)
		m.Header.Set("ce-id", honest.ID) // a consumer keyed on ce-id would drop it as a duplicate
		return m
	})
	assert.NoError(t, got[0].Err)
	require.Error(t, got[1].Err)
	assert.ErrorIs(t, got[1].Err, domain.ErrCorrupt)
	assert.Contains(t, got[1].Err.Error(), "seq 2")
	assert.Contains(t, got[1].Err.Error(), "header ce-id is")
}

// The CloudEvents Go SDK reads a stored message as a CloudEvent without
// kcledger code. Its NATS JetStream protocol module is not served by the
// module proxy here, so the message goes through the SDK's HTTP binding,
// whose binary mode uses the same headers (ce-<attribute>, and
// content-type for datacontenttype): the headers are copied as they are.
func TestCloudEventsSDKReadsTheMessages(t *testing.T) {
	s := startServer(t)
	log := openLog(t, s, eventstore.StreamConfig{})
	ev := eventstoretest.Event(ceLine, "ce-sdk", 250_000_000)
	seq, err := log.Append(context.Background(), domain.Proposal{Event: ev})
	require.NoError(t, err)
	js, err := jetstream.New(connect(t, s))
	require.NoError(t, err)
	stream, err := js.Stream(context.Background(), eventstore.DefaultStream)
	require.NoError(t, err)
	m, err := stream.GetMsg(context.Background(), seq)
	require.NoError(t, err)

	h := http.Header{}
	for k, vs := range m.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	msg := cehttp.NewMessage(h, io.NopCloser(bytes.NewReader(m.Data)))
	require.Equal(t, binding.EncodingBinary, msg.ReadEncoding())
	ce, err := binding.ToEvent(context.Background(), msg)
	require.NoError(t, err)
	require.NoError(t, ce.Validate())
	assert.Equal(t, "1.0", ce.SpecVersion())
	assert.Equal(t, ev.ID, ce.ID())
	assert.Equal(t, "funds.allocated.v1", ce.Type())
	assert.Equal(t, "/kcledger", ce.Source())
	assert.Equal(t, "2025/01/national", ce.Subject())
	assert.True(t, ev.RecordedAt.Equal(ce.Time()), "%s vs %s", ev.RecordedAt, ce.Time())
	assert.Equal(t, "application/json", ce.DataContentType())
	var back domain.Event
	require.NoError(t, ce.DataAs(&back))
	assert.Equal(t, ev.Hash, back.ComputeHash(), "the data is the event, whole")
}

// A scan checks each event's hash on every core and says so; an event
// whose content does not match its hash is not vouched for, and applying
// it still names the mismatch.
func TestScanChecksHashesButLeavesMismatchesToApply(t *testing.T) {
	altered := eventstoretest.Event(domain.LineKey{FiscalYear: 2025, Province: "79", Source: domain.SourceLocal}, "h-2", 1000)
	altered.Amount = domain.AmountFromInt64(9_000_000) // after hashing
	m, err := eventstore.NewMessage(domain.Proposal{Event: altered})
	require.NoError(t, err)
	got := scanAfterHonest(t, func(domain.Event) *nats.Msg { return m })
	require.NoError(t, got[0].Err)
	assert.True(t, got[0].Recorded.HashChecked)
	require.NoError(t, got[1].Err, "decodes fine: the hash is Apply's to judge")
	assert.False(t, got[1].Recorded.HashChecked)
	err = domain.NewLineState(altered.Line()).Apply(got[1].Recorded)
	require.ErrorIs(t, err, domain.ErrCorrupt)
	assert.Contains(t, err.Error(), "its content hashes to")
}
