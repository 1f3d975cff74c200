package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// forgedAmount is what every forgery below allocates: a figure that no
// honest event of these tests carries, so that finding it in a balance
// means the forgery was served.
const forgedAmount = "7770000000"

// A forger holding the operator's NATS credentials (the service user and
// its password, which the data directory holds) but no signing key
// publishes, onto the right subject and with the line's expectation
// header, an allocation chained correctly after the line's last event.
// serve refuses it live and with --rebuild, naming its sequence, and
// never serves its amount; replay with the pinned keys exits 1 naming the
// sequence.
func TestForgedEventsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		// sign signs the forged event, in whatever way this forger can;
		// p is the serve it attacks, js a JetStream of the operator's
		// credentials.
		sign func(t *testing.T, p *serveProc, js jetstream.JetStream, realKey string, e *domain.Event)
	}{
		{"random signature under the real key id", func(t *testing.T, _ *serveProc, _ jetstream.JetStream, realKey string, e *domain.Event) {
			sig := make([]byte, ed25519.SignatureSize)
			_, _ = rand.Read(sig)
			e.SignedBy, e.Signature = realKey, base64.StdEncoding.EncodeToString(sig)
		}},
		{"no signature", func(*testing.T, *serveProc, jetstream.JetStream, string, *domain.Event) {}},
		{"a key the forger registered without an endorsement", func(t *testing.T, p *serveProc, js jetstream.JetStream, _ string, e *domain.Event) {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			require.NoError(t, err)
			kv, err := js.KeyValue(t.Context(), eventstore.DefaultSignersBucket)
			require.NoError(t, err)
			reg, err := json.Marshal(map[string]any{"id": domain.KeyID(pub), "public_key": pub, "registered_at": time.Now().UTC()})
			require.NoError(t, err)
			_, err = kv.Put(t.Context(), domain.KeyID(pub), reg)
			require.NoError(t, err)
			domain.NewSigner(priv).Sign(e)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			p := startServe(t, "--data", data)
			code, _, stderr := cli(t, p.http, "allocate", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10",
				"--year", "2025", "--province", "01", "--source", "national")
			require.Equal(t, 0, code, stderr)
			keysFile := pinKeys(t, p.http)

			recs := lineEvents(t, p.nats, p.serviceUser(t))
			require.Len(t, recs, 1)
			last := recs[0]
			forged := domain.Event{
				ID: "01970a6e-8000-7000-8000-00000000f00d", Type: domain.TypeAllocated, FiscalYear: 2025, Province: "01",
				Source: domain.SourceNational, Amount: domain.AmountFromInt64(7_770_000_000), Decision: "9999/QĐ-BCT",
				EffectiveDate: domain.Date{Year: 2025, Month: time.February, Day: 1},
				RecordedAt:    time.Now().UTC(), Actor: "admin", IdempotencyKey: "forged-1", PrevHash: last.Event.Hash,
			}
			forged.Hash = forged.ComputeHash()
			nc, err := nats.Connect(p.nats, p.serviceUser(t))
			require.NoError(t, err)
			defer nc.Close()
			js, err := jetstream.New(nc)
			require.NoError(t, err)
			tc.sign(t, p, js, last.Event.SignedBy, &forged)
			m, err := eventstore.NewMessage(domain.Proposal{Event: forged, ExpectedSeq: last.Seq})
			require.NoError(t, err)
			ack, err := js.PublishMsg(t.Context(), m)
			require.NoError(t, err, "the stream takes the forgery: only kcledger can refuse it")
			require.Equal(t, uint64(2), ack.Sequence)

			refused := func(p *serveProc) {
				t.Helper()
				p.waitLog(t, "seq 2")
				require.Contains(t, p.stderr.String(), "forged event")
				select {
				case <-p.done: // it stopped rather than serve the forgery
				default:
					code, out, _ := cli(t, p.http, "balances", "--json")
					if code == 0 {
						require.NotContains(t, out, forgedAmount, "the forged allocation is served")
					}
				}
			}
			refused(p)
			if tc.name == "a key the forger registered without an endorsement" {
				if code, keys, _ := cli(t, p.http, "keys"); code == 0 {
					require.NotContains(t, keys, forged.SignedBy, "kcledger keys offers the forger's key for pinning")
				}
			}
			p.kill()

			q := startServeOrExit(t, "--data", data, "--rebuild")
			refused(q)

			store := []string{"KCLEDGER_NATS_URL=" + storeOf(t, q)}
			code, out, stderr := cliEnv(t, "", store, "replay", "--keys", keysFile, "--json")
			require.Equal(t, exitRefused, code, "%s\n%s", out, stderr)
			require.Contains(t, stderr, "seq 2")
			require.Contains(t, stderr, "forged event")
			require.NotContains(t, out, forgedAmount)
			// No keys pinned, no balances: replay never takes keys from NATS.
			code, out, stderr = cliEnv(t, "", store, "replay", "--json")
			require.Equal(t, exitUsage, code, "%s\n%s", out, stderr)
			require.Contains(t, stderr, "--keys is required")
		})
	}
}

// startServeOrExit is startServe for a serve that may stop before it is
// ready (because it refuses the stream): it returns once serve is ready
// or has exited.
func startServeOrExit(t *testing.T, args ...string) *serveProc {
	t.Helper()
	data := ""
	for i, a := range args {
		if a == "--data" && i+1 < len(args) {
			data = args[i+1]
		}
	}
	args = append([]string{"serve", "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--log-level", "warn"}, args...)
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "KCLEDGER_SERVER=")
	p := &serveProc{cmd: cmd, data: data, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	select {
	case m := <-ready:
		p.http, p.nats = m[1], m[2]
		useTokenFile(p.http, p.tokenFile())
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("kcledger serve neither ready nor stopped after 60s:\n%s", p.stderr.String())
	}
	return p
}

// storeOf stops p and serves its data directory's store with a bare NATS
// server (every client allowed), for the tools that read the stream
// after serve stopped, or refused it.
func storeOf(t *testing.T, p *serveProc) string {
	t.Helper()
	p.kill()
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: p.data, Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}
