package eventstore

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

// verifyStream is a stream for verify's path: a reader over it, its last
// sequence, and the keys that should have signed it.
type verifyStream struct {
	nc   *nats.Conn
	last uint64
	ring domain.Keyring
}

func newSigner(tb testing.TB) *domain.Signer {
	tb.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(tb, err)
	return domain.NewSigner(key)
}

// tamper changes an event as it is published, after it was decided and
// signed; it returns false to leave the event out of the stream.
type tamper func(i int, e *domain.Event) bool

// fillVerifyStream publishes n events decided by the rules and signed,
// on a few lines of 2025, then carries some of each line over to 2026,
// each message passed through tamper first. The stream allows deletes,
// so that a test can remove a message.
func fillVerifyStream(tb testing.TB, n int, tamper tamper) (*verifyStream, jetstream.Stream) {
	tb.Helper()
	s, err := StartServer(ServerConfig{DataDir: tb.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(tb, err)
	tb.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	require.NoError(tb, err)
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(tb, err)
	ctx := context.Background()
	cfg := StreamSettings(StreamConfig{})
	cfg.DenyDelete = false
	stream, err := js.CreateStream(ctx, cfg)
	require.NoError(tb, err)

	signer := newSigner(tb)
	ring := domain.Keyring{}
	ring.Add(signer.Public())
	now := time.Date(2026, time.January, 25, 8, 0, 0, 0, time.UTC)
	lines := map[domain.LineKey]*domain.LineState{}
	state := func(k domain.LineKey) *domain.LineState {
		if lines[k] == nil {
			lines[k] = domain.NewLineState(k)
		}
		return lines[k]
	}
	var seq uint64
	i := 0
	publish := func(e domain.Event) {
		i++
		if !tamper(i, &e) {
			return
		}
		m, err := NewMessage(domain.Proposal{Event: e})
		require.NoError(tb, err)
		m.Header.Del(hdrExpectedSubjSeqSub)
		m.Header.Del(hdrExpectedSubjSeq)
		ack, err := js.PublishMsg(ctx, m)
		require.NoError(tb, err)
		seq = ack.Sequence
	}
	command := func(kind domain.CommandKind, k domain.LineKey, amount int64) domain.Command {
		c := domain.Command{Kind: kind, FiscalYear: k.FiscalYear, Province: k.Province, Source: k.Source,
			Amount: domain.AmountFromInt64(amount), EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 1},
			EventID: uuid.Must(uuid.NewV7()).String(), Actor: "tester", IdempotencyKey: fmt.Sprintf("k-%d", i+1), Now: now}
		switch kind {
		case domain.Allocate:
			c.Decision = "1/QĐ-BCT"
		case domain.Disburse:
			c.Voucher, c.Beneficiary = "KB-1", "HTX Gốm"
		}
		return c
	}
	line := func(p int, year int) domain.LineKey {
		return domain.LineKey{FiscalYear: year, Province: []string{"01", "79", "48", "31", "92", "08", "04"}[p], Source: domain.SourceNational}
	}
	const provinces = 7
	for j := range n {
		k := line(j%provinces, 2025)
		kind, amount := domain.Disburse, int64(1_000_000)
		if j < provinces {
			kind, amount = domain.Allocate, 1_000_000_000_000
		}
		st := state(k)
		e, err := domain.Decide(st, command(kind, k, amount), domain.Policy{})
		require.NoError(tb, err)
		signer.Sign(&e)
		require.NoError(tb, st.Apply(domain.Recorded{Event: e, Seq: uint64(i + 1)}))
		publish(e)
	}
	for p := range provinces {
		from, to := line(p, 2025), line(p, 2026)
		c := command(domain.Transfer, from, 1_000)
		c.TransferKind, c.To, c.Decision = domain.TransferCarryOver, to, "27/QĐ-BCT"
		c.EffectiveDate = domain.Date{Year: 2026, Month: time.January, Day: 20}
		c.InEventID = uuid.Must(uuid.NewV7()).String()
		out, in, err := domain.DecideTransfer(state(from), state(to), c, domain.Policy{})
		require.NoError(tb, err)
		signer.Sign(&out)
		signer.Sign(&in)
		require.NoError(tb, state(from).Apply(domain.Recorded{Event: out, Seq: uint64(i + 1)}))
		require.NoError(tb, state(to).Apply(domain.Recorded{Event: in, Seq: uint64(i + 2)}))
		publish(out)
		publish(in)
	}
	return &verifyStream{nc: nc, last: seq, ring: ring}, stream
}

// verifyReport is what kcledger verify reports of a verification, with
// each line's recomputed state in words.
type verifyReport struct {
	Events     int
	Problems   []projections.Problem
	More       int
	Repudiated []projections.Repudiated
	Lines      []string
}

// verify runs kcledger verify's path over the stream: a scan by decoders
// goroutines, the signatures checked by them when presigned (as verify
// does) or else by the verification itself in stream order (as verify
// did before).
func (vs *verifyStream) verify(tb testing.TB, decoders int, presigned bool) verifyReport {
	tb.Helper()
	rd, err := OpenReader(context.Background(), vs.nc, "")
	require.NoError(tb, err)
	rd.decoders = decoders
	if presigned {
		rd.CheckSignatures(vs.ring)
	}
	v := projections.NewVerification(vs.ring, domain.Policy{})
	require.NoError(tb, rd.Scan(context.Background(), vs.last, func(se StoredEvent) (bool, error) {
		v.CheckSigned(se.Seq, se.Digest(), se.Recorded, se.Err, projections.Signature{Checked: se.SignatureChecked, Err: se.Unsigned})
		return true, nil
	}))
	v.Finish(vs.last)
	rep := verifyReport{Events: v.Events, Problems: v.Problems, More: v.More, Repudiated: v.Repudiated}
	for k, st := range v.Lines() {
		b := st.Balance
		rep.Lines = append(rep.Lines, fmt.Sprintf("%s: %s %s %s %s %s %s in %d, last %d %s", k,
			b.Allocated, b.Disbursed, b.Refunded, b.TransferredIn, b.TransferredOut, b.Lapsed, st.Events, st.LastSeq, st.LastHash))
	}
	sort.Strings(rep.Lines)
	return rep
}

// Signatures checked on many cores give verify the same findings, in the
// same order, as checked one at a time in stream order: for a stream with
// every kind of problem, at many places.
func TestVerifyFindsTheSameOnEveryCore(t *testing.T) {
	foreign := newSigner(t)
	vs, stream := fillVerifyStream(t, 600, func(i int, e *domain.Event) bool {
		switch {
		case i%53 == 10: // unsigned
			e.SignedBy, e.Signature = "", ""
		case i%59 == 20: // by a key not the ledger's
			foreign.Sign(e)
		case i%61 == 30: // a field altered after signing
			e.Amount = domain.AmountFromInt64(999)
		case i%67 == 40: // a broken link, its hash recomputed
			e.PrevHash = domain.GenesisHash
			e.Hash = e.ComputeHash()
		case i%71 == 50: // a signature of another hash
			e.Signature = "AAAA" + e.Signature[4:]
		case i == 604 || i == 611: // half a transfer: its in side, then its out side, left out
			return false
		}
		return true
	})
	// Missing messages, and one that is not an event.
	for _, seq := range []uint64{77, 78, 301} {
		require.NoError(t, stream.DeleteMsg(t.Context(), seq))
	}
	_, err := stream.Info(t.Context())
	require.NoError(t, err)
	js, err := jetstream.New(vs.nc)
	require.NoError(t, err)
	ack, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: "kcledger.events.2025.01.national", Data: []byte(`{"id":`)})
	require.NoError(t, err)
	vs.last = ack.Sequence

	today := vs.verify(t, 1, false)
	require.Greater(t, len(today.Problems), 30, "%v", today.Problems)
	var details string
	for _, p := range today.Problems {
		details += p.Detail + "\n"
	}
	for _, want := range []string{"is not signed", "not one of the ledger's", "does not match its hash", "messages 77 to 78 are missing",
		"messages 301 to 301 are missing", "has no transferred_in side", "has no transferred_out side", fmt.Sprintf("at seq %d", ack.Sequence)} {
		assert.Contains(t, details, want)
	}
	for _, decoders := range []int{1, 2, 4, 8} {
		assert.Equal(t, today, vs.verify(t, decoders, true), "%d decoders", decoders)
	}
}

// BenchmarkVerifyScan is kcledger verify's path over a few thousand
// signed events on an embedded server: the scan, its decoders checking
// signatures, and the verification in stream order, with one decoder and
// with one per core.
func BenchmarkVerifyScan(b *testing.B) {
	const events = 3000
	vs, _ := fillVerifyStream(b, events-14, func(int, *domain.Event) bool { return true })
	for _, decoders := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("decoders=%d", decoders), func(b *testing.B) {
			for b.Loop() {
				rep := vs.verify(b, decoders, true)
				if len(rep.Problems) > 0 || rep.Events != events {
					b.Fatalf("%d events, problems %v", rep.Events, rep.Problems)
				}
			}
			b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
