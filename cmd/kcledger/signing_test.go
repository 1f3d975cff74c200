package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// signersBucket is a fresh signers bucket on an embedded server.
func signersBucket(t *testing.T) *eventstore.Signers {
	t.Helper()
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)
	nc, err := eventstore.ConnectEmbedded(ns, "kcledger-test", "")
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := eventstore.OpenSigners(t.Context(), js, 1)
	require.NoError(t, err)
	return s
}

// signedEvent is an event at seq signed by s.
func signedEvent(s *domain.Signer, seq uint64) domain.Recorded {
	e := domain.Event{ID: "e1", Hash: strings.Repeat("ab", 32)}
	s.Sign(&e)
	return domain.Recorded{Seq: seq, Event: e}
}

func testSigner(b byte) *domain.Signer {
	return domain.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize)))
}

// A store from before endorsements: serve endorses its own registration
// on start, refuses events of another unendorsed key (saying which key and
// why), and trusts a second process given a copy of the root, even one
// that registers after the first started.
func TestSignerTrust(t *testing.T) {
	bucket := signersBucket(t)
	a, stranger, b := testSigner(1), testSigner(2), testSigner(3)
	for _, s := range []*domain.Signer{a, stranger} {
		require.NoError(t, bucket.Put(t.Context(), eventstore.SignerKey{ID: s.ID(), PublicKey: s.Public(), RegisteredAt: testNow}))
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	dataA := t.TempDir()
	trustA, err := trustSigners(t.Context(), dataA, bucket, a, testNow.Add(1), log)
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(dataA, ledgerRootFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.Contains(t, logs.String(), "key="+stranger.ID())
	require.Contains(t, logs.String(), "without an endorsement")

	regs, err := bucket.List(t.Context())
	require.NoError(t, err)
	root := trustA.root
	for _, k := range regs {
		if k.ID == a.ID() {
			require.NoError(t, k.VerifyEndorsement(root.Public()), "serve endorsed its own key")
			require.True(t, k.RegisteredAt.Equal(testNow), "keeping the time it was registered at")
		}
	}

	require.NoError(t, trustA.check(t.Context(), signedEvent(a, 1)))
	err = trustA.check(t.Context(), signedEvent(stranger, 2))
	require.ErrorIs(t, err, domain.ErrForged)
	require.ErrorContains(t, err, "seq 2")
	require.ErrorContains(t, err, stranger.ID())
	require.ErrorContains(t, err, "without an endorsement")

	// A process with its own data directory and no root must not make
	// one: its events would be refused by a.
	_, err = trustSigners(t.Context(), t.TempDir(), bucket, b, testNow, log)
	require.ErrorContains(t, err, "copy that file")
	// Given a copy, it endorses its key, and a trusts it on sight.
	dataB := t.TempDir()
	seed, err := os.ReadFile(filepath.Join(dataA, ledgerRootFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dataB, ledgerRootFile), seed, 0o600))
	trustB, err := trustSigners(t.Context(), dataB, bucket, b, testNow, log)
	require.NoError(t, err)
	require.NoError(t, trustA.check(t.Context(), signedEvent(b, 3)))
	require.NoError(t, trustB.check(t.Context(), signedEvent(a, 1)))

	// GET /v1/keys offers the root and the endorsed keys only, and the
	// file it makes pins them.
	res, err := trustA.Keys(t.Context())
	require.NoError(t, err)
	require.Equal(t, root.ID(), res.Root.ID)
	var ids []string
	for _, k := range res.Keys {
		ids = append(ids, k.ID)
	}
	require.ElementsMatch(t, []string{a.ID(), b.ID()}, ids)
	file, err := json.Marshal(res)
	require.NoError(t, err)
	ring, err := keyring(bytes.NewReader(file))
	require.NoError(t, err)
	require.Len(t, ring, 2)
}

// A keys file with a root holds only keys that root endorsed; a file from
// before roots (no "root") is read as before.
func TestKeysFile(t *testing.T) {
	root := domain.NewRoot(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, ed25519.SeedSize)))
	s := testSigner(6)
	reg := eventstore.SignerKey{ID: s.ID(), PublicKey: s.Public(), RegisteredAt: testNow}
	endorsed := root.Endorse(reg)
	tampered := endorsed
	tampered.RegisteredAt = testNow.Add(1)
	for _, tc := range []struct {
		name  string
		file  webapi.KeysResponse
		wants string // "" for a good file
	}{
		{"from before roots", webapi.KeysResponse{Keys: []eventstore.SignerKey{reg}}, ""},
		{"endorsed", webapi.KeysResponse{Root: &webapi.RootKey{ID: root.ID(), PublicKey: root.Public()}, Keys: []eventstore.SignerKey{endorsed}}, ""},
		{"a key without endorsement", webapi.KeysResponse{Root: &webapi.RootKey{ID: root.ID(), PublicKey: root.Public()}, Keys: []eventstore.SignerKey{reg}}, "without an endorsement"},
		{"a tampered registration", webapi.KeysResponse{Root: &webapi.RootKey{ID: root.ID(), PublicKey: root.Public()}, Keys: []eventstore.SignerKey{tampered}}, "does not match its registration"},
		{"a root that does not match its id", webapi.KeysResponse{Root: &webapi.RootKey{ID: "0000000000000000", PublicKey: root.Public()}, Keys: []eventstore.SignerKey{endorsed}}, "does not match its id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.file)
			require.NoError(t, err)
			ring, err := keyring(bytes.NewReader(data))
			if tc.wants == "" {
				require.NoError(t, err)
				require.Contains(t, ring, s.ID())
				return
			}
			require.ErrorContains(t, err, tc.wants)
		})
	}
}

// New movements are decided on a line's events as the log holds them: an
// unsigned allocation published onto the line must not raise what the
// line may spend, and an event under an honest command's idempotency key
// must not answer for it.
func TestDecisionsRefuseForgedEvents(t *testing.T) {
	bucket := signersBucket(t)
	honest := testSigner(1)
	trust, err := trustSigners(t.Context(), t.TempDir(), bucket, honest, testNow, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	mem := eventstore.NewMemory()
	recorder := domain.NewLedger(mem, domain.Policy{})
	recorder.SignWith(honest)
	alloc := eventstoretest.Command(domain.Allocate, "01", "honest-1", testNow)
	alloc.Amount = domain.AmountFromInt64(5_000_000_000)
	res, err := recorder.Record(t.Context(), alloc)
	require.NoError(t, err)

	// The forgery: chained after the honest allocation, unsigned.
	forged := eventstoretest.Event(alloc.Line(), "forged-1", 7_770_000_000)
	forged.FiscalYear, forged.EffectiveDate = 2024, domain.Date{Year: 2024, Month: 2, Day: 1}
	forged.PrevHash = res.Recorded.Event.Hash
	forged.Hash = forged.ComputeHash()
	_, err = mem.Append(t.Context(), domain.Proposal{Event: forged, ExpectedSeq: res.Recorded.Seq})
	require.NoError(t, err)

	spend := eventstoretest.Command(domain.Disburse, "01", "spend-1", testNow)
	spend.Amount = domain.AmountFromInt64(6_000_000_000) // more than the 5 tỷ really allocated
	checked := domain.NewLedger(trust.decidedOn(mem), domain.Policy{})
	checked.SignWith(honest)
	_, err = checked.Record(t.Context(), spend)
	require.ErrorIs(t, err, domain.ErrForged, "the forged allocation was spent")
	_, err = checked.Record(t.Context(), eventstoretest.Command(domain.Allocate, "01", "forged-1", testNow))
	require.ErrorIs(t, err, domain.ErrForged, "the forgery answered for an idempotency key")

	// Without the check, the same ledger would have paid.
	unchecked := domain.NewLedger(mem, domain.Policy{})
	unchecked.SignWith(honest)
	_, err = unchecked.Record(t.Context(), spend)
	require.NoError(t, err, "the test's forgery is not what makes the spend fail")
}

// Views of the past are rebuilt per request from the stream, and may meet
// a forgery before the live balances do: they check signatures too.
func TestPastViewsRefuseForgedEvents(t *testing.T) {
	ta := newTestAPI(t)
	r := ta.Post(t, apitest.PathAllocations, "k-alloc", apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	recs := lineEvents(t, ta.natsURL)
	require.Len(t, recs, 1)
	forged := eventstoretest.Event(recs[0].Event.Line(), "forged-past", 7_770_000_000)
	forged.FiscalYear, forged.EffectiveDate = recs[0].Event.FiscalYear, recs[0].Event.EffectiveDate
	forged.PrevHash = recs[0].Event.Hash
	forged.Hash = forged.ComputeHash()
	m, err := eventstore.NewMessage(domain.Proposal{Event: forged, ExpectedSeq: recs[0].Seq})
	require.NoError(t, err)
	require.NoError(t, ta.nc.PublishMsg(m))
	require.NoError(t, ta.nc.Flush())
	require.Eventually(t, func() bool { return ta.streamLastSeq(t) == 2 }, 10*time.Second, 10*time.Millisecond)

	for _, path := range []string{"/v1/balances?until_seq=2", "/v1/balances?effective_until=2025-12-31", "/v1/audit?year=" + fmt.Sprint(forged.FiscalYear)} {
		r := ta.Get(t, path)
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s: %s", path, r.Body)
		require.Contains(t, string(r.Body), "seq 2", path)
		require.Contains(t, string(r.Body), "forged event", path)
		require.NotContains(t, string(r.Body), "7770000000", path)
	}
	r = ta.Get(t, "/v1/balances?until_seq=1")
	require.Equal(t, http.StatusOK, r.Status, "the past before it is answered: %s", r.Body)
}

// The checkpoints live in an object store that the operator's NATS
// credentials can write. A forged balances checkpoint (unsealed, or
// sealed by the real key but altered) is not trusted on restart: serve
// says so and rebuilds from the stream (found by review: a restart served
// the forged total). The key index's checkpoint is held to the same seal.
func TestForgedCheckpointsAreNotTrusted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forge  func(t *testing.T, sealed []byte) []byte
		reason string
	}{
		{"unsealed", func(t *testing.T, sealed []byte) []byte {
			_, data := unsealForTest(t, sealed)
			return forgeBalances(t, data)
		}, "not sealed"},
		{"sealed, then altered", func(t *testing.T, sealed []byte) []byte {
			seal, data := unsealForTest(t, sealed)
			return append(seal, forgeBalances(t, data)...)
		}, "does not match its content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			p := startServe(t, "--data", data, "--log-level", "info")
			code, _, stderr := cli(t, p.http, "allocate", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10",
				"--year", "2025", "--province", "01", "--source", "national")
			require.Equal(t, 0, code, stderr)
			// A read through the same server waits for its balances to
			// apply its own write (read-your-writes): only then does the
			// checkpoint saved at shutdown hold it (under load, a stop
			// right after the write found the balances still at seq 0,
			// and saved nothing).
			code, _, stderr = cli(t, p.http, "balances", "--json")
			require.Equal(t, 0, code, stderr)
			p.stop(t) // saves the checkpoints

			q := startServe(t, "--data", data, "--log-level", "info") // for its NATS server
			cps := operatorCheckpoints(t, q)
			sealed, err := cps.Load(t.Context(), webapi.BalancesCheckpoint)
			require.NoError(t, err)
			require.NotNil(t, sealed, "serve saved its balances' checkpoint at shutdown")
			require.NoError(t, cps.Save(t.Context(), webapi.BalancesCheckpoint, tc.forge(t, sealed)))
			keys, err := cps.Load(t.Context(), "key-index")
			require.NoError(t, err)
			_, plain := unsealForTest(t, keys)
			require.NoError(t, cps.Save(t.Context(), "key-index", plain))
			q.kill()

			r := startServe(t, "--data", data, "--log-level", "info")
			r.waitLog(t, tc.reason)
			r.waitLog(t, "the idempotency key index's checkpoint did not match the stream")
			code, bal, stderr := cli(t, r.http, "balances", "--json")
			require.Equal(t, 0, code, stderr)
			require.NotContains(t, bal, forgedAmount, "the forged checkpoint is served")
			require.Contains(t, bal, `"allocated": "5000000000"`)
		})
	}
}

// operatorCheckpoints is the checkpoint store as the operator's
// credentials see it: no seal of its own.
func operatorCheckpoints(t *testing.T, p *serveProc) *eventstore.Checkpoints {
	t.Helper()
	js := operatorJetStream(t, p)
	cps, err := eventstore.OpenCheckpoints(t.Context(), js, 1)
	require.NoError(t, err)
	return cps
}

// unsealForTest splits a sealed checkpoint into its seal and its data.
func unsealForTest(t *testing.T, sealed []byte) (seal, data []byte) {
	t.Helper()
	require.True(t, bytes.HasPrefix(sealed, []byte(sealMagic)), "the checkpoint is sealed")
	n := len(sealMagic)
	for lines := 0; lines < 2; n++ {
		if sealed[n] == '\n' {
			lines++
		}
	}
	return append([]byte(nil), sealed[:n]...), sealed[n:]
}

// forgeBalances raises the first line's allocation to forgedAmount.
func forgeBalances(t *testing.T, data []byte) []byte {
	t.Helper()
	var cp projections.Checkpoint
	require.NoError(t, json.Unmarshal(data, &cp))
	require.NotEmpty(t, cp.Lines)
	cp.Lines[0].Balance.Allocated = domain.AmountFromInt64(7_770_000_000)
	out, err := json.Marshal(cp)
	require.NoError(t, err)
	return out
}

// An event signed by a key the ledger root endorsed but that is not (or
// no longer) registered stops the balances; once the registration is
// back (its own process puts it back on start), they go on by
// themselves, without anyone repudiating a sound event.
func TestBalancesGoOnOnceTheSignerIsRegistered(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data", data, "--log-level", "info")
	code, _, stderr := cli(t, p.http, "allocate", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10",
		"--year", "2025", "--province", "01", "--source", "national")
	require.Equal(t, 0, code, stderr)
	recs := lineEvents(t, p.nats, p.serviceUser(t))
	require.Len(t, recs, 1)

	// A second process of the ledger: its key, endorsed by the root.
	rootKey, err := readSeed(filepath.Join(data, ledgerRootFile), "ledger root")
	require.NoError(t, err)
	other := testSigner(9)
	reg := domain.NewRoot(rootKey).Endorse(eventstore.SignerKey{ID: other.ID(), PublicKey: other.Public(), RegisteredAt: time.Now().UTC()})
	e := eventstoretest.Event(recs[0].Event.Line(), "other-process-1", 1_000_000_000)
	e.FiscalYear, e.EffectiveDate = recs[0].Event.FiscalYear, recs[0].Event.EffectiveDate
	e.PrevHash = recs[0].Event.Hash
	e.Hash = e.ComputeHash()
	other.Sign(&e)
	m, err := eventstore.NewMessage(domain.Proposal{Event: e, ExpectedSeq: recs[0].Seq})
	require.NoError(t, err)
	seq := publishAsOperator(t, p, m)
	requireStalledAt(t, p, seq)

	// Its registration arrives (as its process would put it).
	js := operatorJetStream(t, p)
	signers, err := eventstore.OpenSigners(t.Context(), js, 1)
	require.NoError(t, err)
	require.NoError(t, signers.Put(t.Context(), reg))
	requireReady(t, p)
	waitUntil(t, 30*time.Second, func() bool { return available(t, p) == "6000000000" },
		func() string { return available(t, p) + "\n" + p.stderr.String() })
}

// sliceFeed delivers its records in order, then waits for ctx.
type sliceFeed []domain.Recorded

func (f sliceFeed) Follow(ctx context.Context, after uint64, fn func(domain.Recorded) error) error {
	for _, r := range f {
		if r.Seq <= after {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// The checked feed checks on every core but hands fn every event in
// stream order, and stops at the first that fails, having applied every
// one before it.
func TestCheckedFeedKeepsOrderAndStopsAtAForgery(t *testing.T) {
	signer := testSigner(3)
	var feed sliceFeed
	for seq := uint64(1); seq <= 3000; seq++ {
		e := domain.Event{ID: fmt.Sprint("e", seq), Hash: fmt.Sprintf("%064x", seq)}
		if seq != 2500 {
			signer.Sign(&e)
		}
		feed = append(feed, domain.Recorded{Seq: seq, Event: e})
	}
	feed[1000].Repudiated, feed[1000].Event = true, domain.Event{} // passed over: nothing to check
	ring := domain.Keyring{}
	ring.Add(signer.Public())
	checked := checkedFeed{feed: feed, check: func(_ context.Context, r domain.Recorded) error { return ring.Verify(&r.Event) }}
	var got []uint64
	err := checked.Follow(t.Context(), 0, func(r domain.Recorded) error {
		got = append(got, r.Seq)
		return nil
	})
	require.ErrorIs(t, err, domain.ErrForged)
	require.Len(t, got, 2499)
	for i, seq := range got {
		require.Equal(t, uint64(i+1), seq)
	}

	// fn's own error ends it the same way, and a cancelled context ends
	// it with no error.
	stop := errors.New("stop")
	err = checked.Follow(t.Context(), 10, func(r domain.Recorded) error {
		if r.Seq == 20 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- checkedFeed{feed: feed[:10], check: checked.check}.Follow(ctx, 0, func(domain.Recorded) error { return nil })
	}()
	cancel()
	require.NoError(t, <-done)
}

// A repudiation signed by a process of the ledger whose key this process
// does not know yet is judged again once the key is registered: it lets
// the balances go on (before, it counted for nothing, for ever).
func TestARepudiationIsJudgedAgainOnceItsKeyIsRegistered(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data", data, "--log-level", "info")
	code, _, stderr := cli(t, p.http, "allocate", "--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10",
		"--year", "2025", "--province", "01", "--source", "national")
	require.Equal(t, 0, code, stderr)
	garbage := &nats.Msg{Subject: "kcledger.events.2025.01.national.allocated.v1", Data: []byte(`garbage`)}
	bad := publishAsOperator(t, p, garbage)
	requireStalledAt(t, p, bad)

	rootKey, err := readSeed(filepath.Join(data, ledgerRootFile), "ledger root")
	require.NoError(t, err)
	other := testSigner(11)
	reg := domain.NewRoot(rootKey).Endorse(eventstore.SignerKey{ID: other.ID(), PublicKey: other.Public(), RegisteredAt: time.Now().UTC()})
	rep := domain.Event{ID: "01970a6e-8000-7000-8000-00000000cafe", Type: domain.TypeRepudiated, RepudiatedSeq: bad,
		RepudiatedDigest: domain.MessageDigest(garbage.Subject, garbage.Data),
		Decision:         "17/QĐ-TTKC", Reason: "không đọc được", EffectiveDate: domain.Date{Year: 2026, Month: 1, Day: 2},
		RecordedAt: time.Now().UTC(), Actor: "admin", IdempotencyKey: "other-process-rep", PrevHash: domain.GenesisHash}
	rep.Hash = rep.ComputeHash()
	other.Sign(&rep)
	m, err := eventstore.NewMessage(domain.Proposal{Event: rep})
	require.NoError(t, err)
	publishAsOperator(t, p, m)
	p.waitLog(t, "a repudiation is not judged yet")
	requireStalledAt(t, p, bad)

	signers, err := eventstore.OpenSigners(t.Context(), operatorJetStream(t, p), 1)
	require.NoError(t, err)
	require.NoError(t, signers.Put(t.Context(), reg))
	requireReady(t, p)
	p.waitLog(t, "a repudiation not judged before is sound now")
}
