package eventstore_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

func TestValidateFilter(t *testing.T) {
	for _, tt := range []struct {
		filter string
		want   string // "" accepts
	}{
		{"kcledger.events.>", ""},
		{"kcledger.events.2025.>", ""},
		{"kcledger.events.*.01.>", ""},
		{"kcledger.events.2025.01.national.>", ""},
		{"kcledger.events.*.*.local.>", ""},
		{"kcledger.events.*.*.*.refunded.>", ""},
		{"kcledger.events.*.*.*.disbursed.v1", ""},
		{"kcledger.events.2025.01.national.disbursed.v1", ""},
		{"kcledger.events.2026.31.national.>", ""}, // a 34-province code
		{"kcledger.events.2024.99.>", `province "99"`},
		{"kcledger.events.2024.1.>", `province "1"`},
		{"kcledger.>", "event subjects begin with kcledger.events."},
		{"kcledger.events", "event subjects begin with kcledger.events."},
		{"kcledger.events.", "the fiscal year token is empty"},
		{"kcledger.events.2025..>", "the province token is empty"},
		{"kcledger.events.02025.>", `fiscal year "02025"`},
		{"kcledger.events.2101.>", `fiscal year "2101"`},
		{"kcledger.events.*.*.KCQG.>", `source "KCQG"`},
		{"kcledger.events.*.*.*.Disbursed.>", `kind "Disbursed"`},
		{"kcledger.events.>.>", "'>' may only be the last token"},
		{"kcledger.events.20*.>", "mixes a wildcard with text"},
		{"kcledger.events.2025.01", "it stops after the province token and matches no event"},
		{"kcledger.events.*.*.*.*.*.*", "has 5 tokens after kcledger.events, not 6"},
	} {
		t.Run(tt.filter, func(t *testing.T) {
			err := eventstore.ValidateFilter(tt.filter)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			var de *domain.Error
			if assert.ErrorAs(t, err, &de) {
				assert.Equal(t, "filter", de.Field)
				assert.Equal(t, domain.CodeInvalidField, de.Code)
				assert.Contains(t, de.Message, tt.want)
			}
		})
	}
}

func TestValidateDurable(t *testing.T) {
	for name, ok := range map[string]bool{
		"kho-bac": true, "dashboard_2025": true, "A": true, strings.Repeat("x", 64): true,
		"": false, "kho.bac": false, "kho bac": false, "kho*": false, "kho>": false, "a/b": false,
		`a\b`: false, "khobạc": false, strings.Repeat("x", 65): false, "tab\t": false,
	} {
		err := eventstore.ValidateDurable(name)
		if ok {
			assert.NoError(t, err, "%q", name)
		} else {
			assert.Error(t, err, "%q", name)
		}
	}
}

// Whatever a subscriber types, an accepted filter lies inside the stream's
// subjects and is made of whole tokens, and an event subject it names
// exactly (no wildcard) is one kcledger can publish on.
func FuzzValidateFilter(f *testing.F) {
	for _, s := range []string{"kcledger.events.>", "kcledger.events.2025.01.national.disbursed.v1", "kcledger.events.*.79.>", "kcledger.events.2025", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		if eventstore.ValidateFilter(filter) != nil {
			return
		}
		if !strings.HasPrefix(filter, "kcledger.events.") {
			t.Fatalf("accepted %q outside the stream", filter)
		}
		toks := strings.Split(filter, ".")
		if len(toks) > 7 {
			t.Fatalf("accepted %q with %d tokens", filter, len(toks))
		}
		for i, tok := range toks {
			if tok == "" || (strings.ContainsAny(tok, "*>") && len(tok) > 1) || (tok == ">" && i != len(toks)-1) {
				t.Fatalf("accepted %q with token %q", filter, tok)
			}
		}
		if !strings.ContainsAny(filter, "*>") {
			if len(toks) != 7 {
				t.Fatalf("accepted literal %q that is not a whole subject", filter)
			}
			year := 0
			for _, c := range toks[2] {
				year = year*10 + int(c-'0')
			}
			var typ domain.EventType
			for _, et := range domain.EventTypes {
				if et.Kind() == toks[5] && et.Version() == toks[6] {
					typ = et
				}
			}
			e := domain.Event{FiscalYear: year, Province: toks[3], Source: domain.Source(toks[4]), Type: typ}
			if got := eventstore.EventSubject(&e); got != filter {
				t.Fatalf("accepted %q, but that event is published on %q", filter, got)
			}
		}
	})
}

// A durable subscription that stops gives back what the server sent it
// before it learnt of the stop. The subscriber's bytes reach the server
// 150 ms late here, and an event is recorded just after the stop: the
// server sends it to the subscription's waiting pull request. Were it
// dropped on arrival rather than given back, it would stay reserved for
// the ack wait (a minute) and hold up the next run.
func TestSubscribeStopGivesBackWhatCameMeanwhile(t *testing.T) {
	s, ledger, nc := slowSubscriber(t)
	cfg := eventstore.SubscribeConfig{Durable: "d", AckWait: time.Minute}
	subscribe := func() (<-chan uint64, <-chan error, func()) {
		ctx, cancel := context.WithCancel(t.Context())
		handled, done := make(chan uint64, 10), make(chan error, 1)
		go func() {
			done <- eventstore.Subscribe(ctx, nc, cfg, func(eventstore.SubscriptionInfo) {}, func(_ context.Context, d *eventstore.Delivery) error {
				handled <- d.Seq
				return nil
			})
		}()
		return handled, done, cancel
	}
	next := func(handled <-chan uint64) uint64 {
		select {
		case seq := <-handled:
			return seq
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
			return 0
		}
	}
	js, err := jetstream.New(connect(t, s))
	require.NoError(t, err)

	handled, done, cancel := subscribe()
	defer cancel()
	require.Equal(t, uint64(1), next(handled))
	cons, err := js.Consumer(t.Context(), eventstore.DefaultStream, "d")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && info.AckFloor.Stream == 1 && info.NumWaiting == 1
	}, 10*time.Second, 5*time.Millisecond, "the subscriber never acknowledged seq 1 and asked for more")
	cancel()
	_, err = ledger.Record(t.Context(), disbursement("b", 1000))
	require.NoError(t, err)
	require.NoError(t, <-done)
	assert.Empty(t, handled, "nothing handled after the stop")

	// Well within the ack wait.
	handled, done, cancel = subscribe()
	defer cancel()
	require.Equal(t, uint64(2), next(handled), "the next run starts with the event recorded during the stop")
	cancel()
	require.NoError(t, <-done)
}

// When a durable subscription returns from a stop, the server has already
// dropped its subscription: the caller may close the connection at once
// (the CLI does) without a window in which the server still sends it an
// event. The subscriber's bytes reach the server 150 ms late here, as on
// a loaded machine, so a stop that returned on sending its unsubscribe,
// rather than on the server's answer, would show.
func TestSubscribeReturnsOnceTheServerDroppedIt(t *testing.T) {
	s, _, nc := slowSubscriber(t)
	cid, err := nc.GetClientID()
	require.NoError(t, err)
	subs := func() uint32 {
		cz, err := s.Connz(&server.ConnzOptions{CID: cid})
		require.NoError(t, err)
		require.Len(t, cz.Conns, 1)
		return cz.Conns[0].NumSubs
	}
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.Stream(t.Context(), eventstore.DefaultStream) // the connection's reply subscription, kept
	require.NoError(t, err)
	idle := subs()
	for round := range 3 {
		ctx, cancel := context.WithCancel(t.Context())
		done, begun := make(chan error, 1), make(chan struct{})
		go func() {
			done <- eventstore.Subscribe(ctx, nc, eventstore.SubscribeConfig{Durable: "d"}, func(eventstore.SubscriptionInfo) { close(begun) },
				func(context.Context, *eventstore.Delivery) error { return nil })
		}()
		<-begun
		require.Eventually(t, func() bool { return subs() > idle }, 10*time.Second, time.Millisecond, "round %d: the subscription never showed on the server", round)
		cancel()
		require.NoError(t, <-done)
		require.Equal(t, idle, subs(), "round %d: Subscribe returned while the server still held its subscription", round)
	}
}

// slowSubscriber is a server whose stream holds one allocation, a ledger
// recording into it, and a connection whose bytes reach the server 150 ms
// late, for a subscriber.
func slowSubscriber(t *testing.T) (*server.Server, *domain.Ledger, *nats.Conn) {
	t.Helper()
	s := startServer(t)
	ledger := domain.NewLedger(openLog(t, s, eventstore.StreamConfig{}), domain.Policy{})
	_, err := ledger.Record(t.Context(), allocation("a", 1_000_000))
	require.NoError(t, err)
	nc, err := nats.Connect(slowUpstream(t, s.Addr().String(), 150*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return s, ledger, nc
}

// slowUpstream listens on 127.0.0.1 and forwards each connection to addr,
// handing what the client sends to the server delay late, in order; the
// server's answers pass at once. It returns the URL to connect to.
func slowUpstream(t *testing.T, addr string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", addr)
			if err != nil {
				client.Close()
				return
			}
			t.Cleanup(func() { client.Close(); up.Close() })
			go io.Copy(client, up)
			type chunk struct {
				b  []byte
				at time.Time
			}
			late := make(chan chunk, 1024)
			go func() {
				defer up.Close()
				for c := range late {
					time.Sleep(time.Until(c.at))
					if _, err := up.Write(c.b); err != nil {
						return
					}
				}
			}()
			go func() {
				defer close(late)
				for {
					b := make([]byte, 32<<10)
					n, err := client.Read(b)
					if n > 0 {
						late <- chunk{b[:n], time.Now().Add(delay)}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return "nats://" + ln.Addr().String()
}

// A stop that comes before the subscription began is a stop, not an
// error, and leaves nothing on the server.
func TestSubscribeStoppedBeforeItBegan(t *testing.T) {
	s := startServer(t)
	openLog(t, s, eventstore.StreamConfig{})
	nc := connect(t, s)
	for _, durable := range []string{"", "d"} {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := eventstore.Subscribe(ctx, nc, eventstore.SubscribeConfig{Durable: durable}, func(eventstore.SubscriptionInfo) { t.Error("begun after its stop") },
			func(context.Context, *eventstore.Delivery) error { return nil })
		assert.NoError(t, err, "durable %q", durable)
	}
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(t.Context(), eventstore.DefaultStream)
	require.NoError(t, err)
	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	assert.Zero(t, info.State.Consumers)
}
