package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// A stream deleted and re-created without one message (the other
// sequences kept, deny-delete back on) is noticed on restart: serve does
// not resume from checkpoints that count the removed message, says so in
// its log, and serves no total that includes it.
func TestRestartNoticesAMessageRemovedWithTheStream(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data", data, "--log-level", "info")
	for i, m := range []struct{ kind, province, amount string }{
		{"allocate", "01", "5 tỷ"},
		{"disburse", "01", "1 tỷ"},
		{"allocate", "02", "2 tỷ"}, // seq 3: the one that goes, its line's only event
		{"disburse", "01", "500 triệu"},
		{"allocate", "79", "3 tỷ"},
		{"disburse", "79", "1 tỷ"},
	} {
		args := []string{m.kind, "--year", "2025", "--province", m.province, "--source", "national", "--amount", m.amount, "--date", "2025-03-03", "--id", fmt.Sprint("h-", i)}
		if m.kind == "allocate" {
			args = append(args, "--decision", "1/QĐ-BCT")
		} else {
			args = append(args, "--voucher", fmt.Sprint("KB-", i), "--beneficiary", "HTX Gốm")
		}
		code, _, stderr := cli(t, p.http, args...)
		require.Equal(t, 0, code, stderr)
	}
	token := tokenFor(p.http)
	keysFile := pinKeys(t, p.http)
	// Through the same server, a read waits for its balances to apply its
	// own writes, so that the checkpoint saved at shutdown holds them.
	code, _, stderr := cli(t, p.http, "balances", "--json")
	require.Equal(t, 0, code, stderr)
	p.stop(t) // saves the checkpoints at seq 6

	// With the operator's password, on the stopped ledger's store.
	ts := tamperStore(t, data, 6)
	ts.recreate(t, false, ts.msgs...)
	require.NoError(t, ts.stream.DeleteMsg(t.Context(), 3))
	cfg := eventstore.StreamSettings(eventstore.StreamConfig{})
	_, err := ts.js.UpdateStream(t.Context(), cfg)
	require.NoError(t, err)
	info, err := ts.stream.Info(t.Context())
	require.NoError(t, err)
	require.Equal(t, uint64(6), info.State.LastSeq)
	require.Equal(t, 1, info.State.NumDeleted)
	pw := ts.password
	// The auditor's replay does not add up what is left either.
	code, out, stderr := cliEnv(t, "", []string{"KCLEDGER_NATS_URL=" + ts.server.ClientURL(), "KCLEDGER_NATS_USER=" + eventstore.ServiceUser, "KCLEDGER_NATS_PASSWORD=" + pw},
		"replay", "--keys", keysFile, "--json")
	assert.Equal(t, exitRefused, code, "%s\n%s", out, stderr)
	assert.Contains(t, stderr, "no message at seq 3")
	ts.close()

	// The restart: serve comes up with its balances stopped before the
	// missing message, names it, and serves no total that counts it.
	q := startServeOrExit(t, "--data", data, "--log-level", "info")
	require.NotEmpty(t, q.http, "serve did not come up:\n%s", q.stderr.String())
	waitForLog(q, "seq [3]")
	assert.Contains(t, q.stderr.String(), "seq [3]", "the log names the removed message")
	useTokenFile(q.http, p.tokenFile())
	waitUntil(t, 20*time.Second, func() bool {
		code, body := getJSON(t, q.http, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "seq 3")
	}, func() string { _, body := getJSON(t, q.http, "/readyz"); return body + "\n" + q.stderr.String() })
	code, body := getJSON(t, q.http, "/v1/balances?year=2025&province=02")
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
	assert.NotContains(t, body, "2000000000", "the removed allocation is still counted")
	_ = token

	// The admin records what happened; the balances go on without it.
	code, out, stderr = cli(t, q.http, "repudiate", "--seq", "3", "--reason", "tin nhắn bị xoá khỏi luồng", "--decision", "14/QĐ-TTKC")
	require.Equal(t, 0, code, "%s\n%s", out, stderr)
	waitUntil(t, 20*time.Second, func() bool {
		code, _ := getJSON(t, q.http, "/readyz")
		return code == http.StatusOK
	}, func() string { _, body := getJSON(t, q.http, "/readyz"); return body + "\n" + q.stderr.String() })
	waitUntil(t, 20*time.Second, func() bool {
		code, body = getJSON(t, q.http, "/v1/balances?year=2025")
		var rep struct {
			AsOfSeq uint64 `json:"as_of_seq"`
		}
		return code == http.StatusOK && decodeAnswer(body, &rep) == nil && rep.AsOfSeq == 7
	}, func() string { return body + "\n" + q.stderr.String() })
	rep := reportIn(t, body)
	assert.Nil(t, reportLine(rep, "02"), "the removed allocation is counted: %s", body)
	for _, p := range rep.Provinces {
		assert.NotEqual(t, "02", p.Province, "the removed allocation is counted: %s", body)
	}
	if l := reportLine(rep, "79"); assert.NotNil(t, l, body) {
		apitest.RequireAmount(t, "3000000000", l.Totals.Balance.Allocated, "line 79, after the gap, is counted")
	}

	// The auditor's tools say what was repudiated, and add up the rest.
	code, out, stderr = cliEnv(t, "", []string{"KCLEDGER_NATS_URL=" + q.nats, "KCLEDGER_NATS_USER=" + eventstore.ServiceUser, "KCLEDGER_NATS_PASSWORD=" + pw},
		"replay", "--keys", keysFile, "--json")
	require.Equal(t, 0, code, "%s\n%s", out, stderr)
	assert.Contains(t, stderr, "no message at seq 3: repudiated by seq 7")
	assert.Contains(t, out, `"allocated": "3000000000"`)
	code, out, stderr = cliEnv(t, "", []string{"KCLEDGER_NATS_URL=" + q.nats, "KCLEDGER_NATS_USER=" + eventstore.ServiceUser, "KCLEDGER_NATS_PASSWORD=" + pw},
		"verify", "--keys", keysFile)
	require.Equal(t, 0, code, "%s\n%s", out, stderr)
	assert.Contains(t, out, "REPUDIATED: seq 3, by seq 7")

}

// waitForLog gives a serve's log a moment to reach its buffer: it is
// copied by another goroutine.
func waitForLog(p *serveProc, substr string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(p.stderr.String(), substr) {
		time.Sleep(20 * time.Millisecond)
	}
}

// Messages that look like a changed consumer to the balances' feed, but
// are only bad messages, stop the balances (to be repudiated) rather than
// the ledger: an empty message carrying the Nats-Msg-Size header that
// headers-only deliveries have, and a message on a subject the stream was
// widened to. Before, serve exited on each, and again on every start.
func TestMessagesThatMimicAnAlteredConsumerAreRepudiable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		publish func(t *testing.T, p *serveProc) uint64
		// restore puts the stream back as kcledger set it, if needed
		// for serve to start again.
		restore func(t *testing.T, p *serveProc)
		// available is the line's in the end.
		available string
	}{
		{"empty message with a Nats-Msg-Size header", func(t *testing.T, p *serveProc) uint64 {
			m := nats.NewMsg("kcledger.events.2025.01.national.allocated.v1")
			m.Header.Set(nats.MsgSize, "123")
			return publishAsOperator(t, p, m)
		}, nil, "6000000000"},
		{"message on a subject the stream was widened to", func(t *testing.T, p *serveProc) uint64 {
			js := operatorJetStream(t, p)
			cfg := eventstore.StreamSettings(eventstore.StreamConfig{})
			cfg.Subjects = append(cfg.Subjects, "zz.>")
			_, err := js.UpdateStream(t.Context(), cfg)
			require.NoError(t, err)
			ack, err := js.Publish(t.Context(), "zz.x", []byte("x"))
			require.NoError(t, err)
			// The balances meet it with the next event: it is not one
			// of theirs, but a message they cannot account for.
			code, _, stderr := cli(t, p.http, "allocate", "--amount", "500 triệu", "--decision", "3/QĐ-BCT", "--date", "2025-01-10",
				"--year", "2025", "--province", "01", "--source", "national")
			require.Equal(t, 0, code, stderr)
			return ack.Sequence
		}, func(t *testing.T, p *serveProc) {
			_, err := operatorJetStream(t, p).UpdateStream(t.Context(), eventstore.StreamSettings(eventstore.StreamConfig{}))
			require.NoError(t, err)
		}, "6500000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			p := startServe(t, "--data", data, "--log-level", "info")
			code, _, stderr := cli(t, p.http, "allocate", "--amount", "5 tỷ", "--decision", "1/QĐ-BCT", "--date", "2025-01-10",
				"--year", "2025", "--province", "01", "--source", "national")
			require.Equal(t, 0, code, stderr)
			seq := tc.publish(t, p)
			requireStalledAt(t, p, seq)
			if tc.restore != nil {
				tc.restore(t, p)
			}
			p.stop(t)
			q := startServeOrExit(t, "--data", data, "--log-level", "info")
			require.NotEmpty(t, q.http, "serve did not come up again:\n%s", q.stderr.String())
			requireStalledAt(t, q, seq)
			code, out, stderr := cli(t, q.http, "repudiate", "--seq", fmt.Sprint(seq), "--reason", "không phải sự kiện", "--decision", "15/QĐ-TTKC")
			require.Equal(t, 0, code, "%s\n%s", out, stderr)
			requireReady(t, q)
			code, _, stderr = cli(t, q.http, "allocate", "--amount", "1 tỷ", "--decision", "2/QĐ-BCT", "--date", "2025-01-11",
				"--year", "2025", "--province", "01", "--source", "national")
			require.Equal(t, 0, code, stderr)
			waitUntil(t, 20*time.Second, func() bool { return available(t, q) == tc.available },
				func() string { return available(t, q) + "\n" + q.stderr.String() })
		})
	}
}

// operatorJetStream is JetStream with the operator's credentials of p.
func operatorJetStream(t *testing.T, p *serveProc) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(p.nats, p.serviceUser(t))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// tamperedStore is a stopped ledger's store served by a bare embedded
// server, with the operator's password: what someone holding only the
// NATS credentials can do to it.
type tamperedStore struct {
	server   *server.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   jetstream.Stream
	password string
	// msgs are the stream's messages 1..n as they were.
	msgs []*jetstream.RawStreamMsg
}

func tamperStore(t *testing.T, data string, n uint64) *tamperedStore {
	t.Helper()
	pw, err := readSecretFile(filepath.Join(data, natsServiceFile))
	require.NoError(t, err)
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: data, Listen: "127.0.0.1:-1", Auth: eventstore.NewNATSAuth(pw, "")})
	require.NoError(t, err)
	ts := &tamperedStore{server: ns, password: pw}
	t.Cleanup(ts.close)
	ts.nc, err = eventstore.ConnectEmbedded(ns, "tamper", pw)
	require.NoError(t, err)
	ts.js, err = jetstream.New(ts.nc)
	require.NoError(t, err)
	ts.stream, err = ts.js.Stream(t.Context(), eventstore.DefaultStream)
	require.NoError(t, err)
	for seq := uint64(1); seq <= n; seq++ {
		m, err := ts.stream.GetMsg(t.Context(), seq)
		require.NoError(t, err)
		ts.msgs = append(ts.msgs, m)
	}
	return ts
}

// recreate deletes the stream and makes it again (deny-delete as given),
// then publishes msgs in that order, as they were but for their
// expectation headers.
func (ts *tamperedStore) recreate(t *testing.T, denyDelete bool, msgs ...*jetstream.RawStreamMsg) {
	t.Helper()
	require.NoError(t, ts.js.DeleteStream(t.Context(), eventstore.DefaultStream))
	cfg := eventstore.StreamSettings(eventstore.StreamConfig{})
	cfg.DenyDelete = denyDelete
	var err error
	ts.stream, err = ts.js.CreateStream(t.Context(), cfg)
	require.NoError(t, err)
	for _, m := range msgs {
		out := nats.NewMsg(m.Subject)
		out.Data = m.Data
		for k, v := range m.Header {
			if !strings.HasPrefix(k, "Nats-Expected") {
				out.Header[k] = v
			}
		}
		_, err := ts.js.PublishMsg(t.Context(), out)
		require.NoError(t, err)
	}
}

// close stops the server, so that serve may take its data directory.
func (ts *tamperedStore) close() {
	if ts.nc != nil {
		ts.nc.Close()
	}
	ts.server.Shutdown()
	ts.server.WaitForShutdown()
}
