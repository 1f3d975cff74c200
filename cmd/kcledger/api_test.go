package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// testNow is the API's fixed clock: 10:00 on 1 June 2026 in Vietnam.
var testNow = time.Date(2026, time.June, 1, 3, 0, 0, 0, time.UTC)

// testAPI is the HTTP API over a real ledger on an embedded JetStream
// server, with the live balances projection running.
type testAPI struct {
	// Client sends as the first admin by default.
	*apitest.Client
	nc       *nats.Conn
	accounts *eventstore.Accounts
	api      *webapi.Server
	// What the API was built over, for the tests that look behind it.
	natsURL  string
	store    *eventstore.JetStream
	balances *projections.Balances
	plans    *projections.Plans
	health   *webapi.Health
	clock    *testClock
	ledger   *domain.Ledger
	// repudiations are those the API knows.
	repudiations *domain.Repudiations
}

// as returns the API seen with another token.
func (ta *testAPI) as(token string) *testAPI {
	c := *ta
	c.Client = ta.Client.As(token)
	return &c
}

// testClock is the API's clock: testNow, or the real time once real is
// set (for the routes that compare with storage times).
type testClock struct{ real atomic.Bool }

func (c *testClock) now() time.Time {
	if c.real.Load() {
		return time.Now()
	}
	return testNow
}

func newTestAPI(t *testing.T) *testAPI { t.Helper(); return newTestAPIWith(t, false) }

// newTestAPIWith is newTestAPI, with the reports' live model when
// liveReports is set (serve --live-reports).
func newTestAPIWith(t *testing.T, liveReports bool) *testAPI {
	t.Helper()
	ns, nc, store := apitest.StartStore(t)

	balances := projections.NewBalances()
	ctx, cancel := context.WithCancel(context.Background())
	projErr := make(chan error, 1)
	// As serve runs them: a bad message stops the balances, not the test.
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	repudiations := domain.NewRepudiations()
	store.SkipRepudiated(repudiations)
	repudiationsRead := make(chan struct{})
	go followRepudiations(ctx, store, repudiations, func(context.Context, *domain.Event) error { return nil }, repudiationsRead, log)
	health := &webapi.Health{}
	go func() {
		projErr <- superviseBalances(ctx, store, store, balances, repudiations, repudiationsRead, health, log)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-projErr; err != nil {
			t.Errorf("balances projection: %v", err)
		}
	})
	var plans *projections.Plans
	plansHealth := &webapi.Health{}
	if liveReports {
		plans = projections.NewLivePlans()
		plansErr := make(chan error, 1)
		go func() {
			plansErr <- superviseBalances(ctx, store, store, plans, repudiations, repudiationsRead, plansHealth, log)
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-plansErr; err != nil {
				t.Errorf("reports projection: %v", err)
			}
		})
	}

	js, err := jetstream.New(nc)
	require.NoError(t, err)
	accounts, err := eventstore.OpenAccounts(t.Context(), js, "", 1)
	require.NoError(t, err)
	signers, err := eventstore.OpenSigners(t.Context(), js, 1)
	require.NoError(t, err)
	history, err := eventstore.OpenReader(t.Context(), nc, store.Stream())
	require.NoError(t, err)
	data := t.TempDir()
	key, err := signingKey(data)
	require.NoError(t, err)
	trust, err := trustSigners(t.Context(), data, signers, domain.NewSigner(key), testNow, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, ensureAdmin(t.Context(), accounts, data, testNow, slog.New(slog.DiscardHandler)))
	token, err := readSecretFile(filepath.Join(data, adminTokenFile))
	require.NoError(t, err)

	history.VerifyWith(trust.verifyEvent)
	// As serve's: signing, and deciding only on signed events.
	ledger := domain.NewLedger(trust.decidedOn(store), domain.Policy{})
	ledger.SignWith(domain.NewSigner(key))
	clock := &testClock{}
	a := webapi.New(webapi.Config{
		Ledger:      ledger,
		Balances:    balances,
		Accounts:    accounts,
		Signers:     trust,
		History:     history,
		Feed:        store,
		Checkpoints: store.Checkpoints(),
		NATSURL:     ns.ClientURL(),
		NATSUsers:   eventstore.NewNATSAuth("unused", ""),
		Stream:      store.Stream(),
		Log:         log,
		Now:         clock.now,

		Health:       health,
		Repudiations: repudiations,
		Plans:        plans,
		PlansHealth:  plansHealth,
	})
	srv := apitest.NewServer(t, a.Handler())
	return &testAPI{Client: &apitest.Client{URL: srv.URL, HTTP: srv.Client(), Token: token}, nc: nc, accounts: accounts, api: a,
		natsURL: ns.ClientURL(), store: store, balances: balances, plans: plans, health: health, clock: clock,
		ledger: ledger, repudiations: repudiations}
}

// streamLastSeq returns the last sequence of the stream, counting events
// and idempotency claims alike.
func (ta *testAPI) streamLastSeq(t *testing.T) uint64 {
	t.Helper()
	return apitest.StreamLastSeq(t, ta.nc)
}

// ---------------------------------------------------------------- golden

// goldenLine is the line of the golden events.
var goldenLine = domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}

func mustAmount(t *testing.T, s string) domain.Amount {
	t.Helper()
	a, err := domain.ParseAmount(s)
	require.NoError(t, err)
	return a
}

func mustDate(t *testing.T, s string) domain.Date {
	t.Helper()
	d, err := domain.ParseDate(s)
	require.NoError(t, err)
	return d
}

// goldenEvents returns one event of each type, chained on goldenLine (the
// transferred-in side on goldenCarryOverLine, the repudiation on the
// ledger's own chain) and verified by applying them to a line state.
func goldenEvents(t *testing.T) []domain.Event {
	t.Helper()
	evs := []domain.Event{
		{
			ID: "01970a6e-8000-7000-8000-000000000001", Type: domain.TypeAllocated,
			Project: "KC-2025-01", Category: domain.CategoryTraining, Amount: mustAmount(t, "1500000000"),
			Decision: "123/QĐ-BCT", EffectiveDate: mustDate(t, "2025-03-01"),
			RecordedAt: time.Date(2025, time.March, 3, 2, 30, 0, 123456789, time.UTC), IdempotencyKey: "golden-allocate",
		},
		{
			ID: "01970a6e-8000-7000-8000-000000000002", Type: domain.TypeDisbursed,
			Project: "KC-2025-01", Category: domain.CategoryTraining, Amount: mustAmount(t, "250000000"),
			Voucher: "UNC-0042", Beneficiary: "Hợp tác xã Gốm Bát Tràng", EffectiveDate: mustDate(t, "2025-04-15"),
			RecordedAt: time.Date(2025, time.April, 15, 9, 0, 0, 0, time.UTC), IdempotencyKey: "golden-disburse",
		},
		{
			ID: "01970a6e-8000-7000-8000-000000000003", Type: domain.TypeRefunded,
			Project: "KC-2025-01", Amount: mustAmount(t, "50000000"),
			Voucher: "NT-0007", Reason: "Thu hồi theo kết luận kiểm toán", EffectiveDate: mustDate(t, "2025-06-20"),
			RecordedAt: time.Date(2025, time.June, 20, 1, 2, 3, 0, time.UTC), IdempotencyKey: "golden-refund",
		},
		{
			ID: "01970a6e-8000-7000-8000-000000000004", Type: domain.TypeAdjusted,
			Project: "KC-2025-01", Amount: mustAmount(t, "-100000000"),
			Decision: "456/QĐ-BCT", Reason: "Điều chỉnh giảm kế hoạch", EffectiveDate: mustDate(t, "2025-06-25"),
			RecordedAt: time.Date(2025, time.June, 25, 4, 5, 6, 0, time.UTC), IdempotencyKey: "golden-adjust",
		},
		// The repudiation of a bad message at seq 8, on the ledger's own
		// chain.
		{
			ID: "01970a6e-8000-7000-8000-000000000006", Type: domain.TypeRepudiated, RepudiatedSeq: 8,
			RepudiatedDigest: domain.MessageDigest("kcledger.events.2025.01.national.disbursed.v1", []byte(`{"forged":true}`)),
			Decision:         "15/QĐ-TTKC", Reason: "Tin nhắn không do kcledger ghi, chi vượt số khả dụng", EffectiveDate: mustDate(t, "2025-06-26"),
			RecordedAt: time.Date(2025, time.June, 26, 7, 8, 9, 0, time.UTC), IdempotencyKey: "golden-repudiate",
		},
	}
	st := domain.NewLineState(goldenLine)
	ledgerLine := domain.NewLineState(domain.LineKey{})
	// A fixed key: Ed25519 signatures are deterministic.
	signer := domain.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	for i := range evs {
		e := &evs[i]
		chain := st
		if e.Type == domain.TypeRepudiated {
			chain = ledgerLine
			e.Actor = "admin"
		} else {
			e.FiscalYear, e.Province, e.Source = goldenLine.FiscalYear, goldenLine.Province, goldenLine.Source
			e.Actor = "officer-hanoi"
		}
		e.PrevHash = chain.LastHash
		e.Hash = e.ComputeHash()
		signer.Sign(e)
		require.NoError(t, chain.Apply(domain.Recorded{Event: *e, Seq: goldenSeqs[i]}))
	}

	// The end of the line's budget year, decided by the rules: most of
	// what is left carried over to 2026 (both sides of one transfer, at
	// consecutive sequences), the rest lapsing after the settlement
	// period, which closes the line.
	next := domain.NewLineState(goldenCarryOverLine)
	tr := domain.Command{
		Kind: domain.Transfer, FiscalYear: goldenLine.FiscalYear, Province: goldenLine.Province, Source: goldenLine.Source,
		Project: "KC-2025-01", Category: domain.CategoryTraining, Amount: mustAmount(t, "1000000000"),
		TransferKind: domain.TransferCarryOver, To: goldenCarryOverLine,
		Decision: "27/QĐ-BCT", Reason: "Chuyển nguồn sang năm 2026 để tiếp tục thực hiện đề án", EffectiveDate: mustDate(t, "2026-01-20"),
		EventID: "01970a6e-8000-7000-8000-000000000007", InEventID: "01970a6e-8000-7000-8000-000000000008",
		Actor: "officer-hanoi", IdempotencyKey: "golden-carry-over",
		Now: time.Date(2026, time.January, 20, 3, 4, 5, 0, time.UTC),
	}
	out, in, err := domain.DecideTransfer(st, next, tr, domain.Policy{})
	require.NoError(t, err)
	for i, side := range []struct {
		e     *domain.Event
		chain *domain.LineState
	}{{&out, st}, {&in, next}} {
		signer.Sign(side.e)
		require.NoError(t, side.chain.Apply(domain.Recorded{Event: *side.e, Seq: goldenSeqs[len(evs)+i]}))
	}
	evs = append(evs, out, in)
	lp := domain.Command{
		Kind: domain.Lapse, FiscalYear: goldenLine.FiscalYear, Province: goldenLine.Province, Source: goldenLine.Source,
		Amount: st.Balance.Available(), Decision: "35/QĐ-BCT", Reason: "Hủy dự toán còn lại sau thời gian chỉnh lý quyết toán",
		EffectiveDate: mustDate(t, "2026-02-02"),
		EventID:       "01970a6e-8000-7000-8000-000000000009", Actor: "officer-hanoi", IdempotencyKey: "golden-lapse",
		Now: time.Date(2026, time.February, 2, 8, 0, 0, 0, time.UTC),
	}
	lapse, err := domain.Decide(st, lp, domain.Policy{})
	require.NoError(t, err)
	signer.Sign(&lapse)
	require.NoError(t, st.Apply(domain.Recorded{Event: lapse, Seq: goldenSeqs[len(evs)]}))
	require.True(t, st.Closed, "a lapse of the whole line closes it")
	return append(evs, lapse)
}

// goldenCarryOverLine is the line the golden transfer carries money to.
var goldenCarryOverLine = domain.LineKey{FiscalYear: 2026, Province: "01", Source: domain.SourceNational}

// goldenSeqs are the stream sequences of the golden events, in order: the
// two sides of the transfer are consecutive, as AppendAll writes them.
var goldenSeqs = []uint64{1, 3, 5, 7, 9, 11, 12, 13}

// checkGolden compares got with testdata/golden/name, or rewrites the file
// under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/kcledger -run Golden -update to create it")
	require.Equal(t, string(want), string(got), "%s differs; if the change is intended, rerun with -update", path)
}

func TestGoldenEvents(t *testing.T) {
	evs := goldenEvents(t)
	require.Len(t, evs, len(domain.EventTypes))
	for _, ev := range evs {
		t.Run(ev.Type.Kind(), func(t *testing.T) {
			got, err := json.MarshalIndent(ev, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			checkGolden(t, "event_"+ev.Type.Kind()+".json", got)

			// The file is a verifiable event: it decodes to the same
			// event, whose hash is its content's.
			var back domain.Event
			dec := json.NewDecoder(bytes.NewReader(got))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&back))
			assert.Equal(t, ev.Hash, back.ComputeHash())
			apitest.RequireAmount(t, ev.Amount.String(), back.Amount)
			back.Amount, ev.Amount = domain.Amount{}, domain.Amount{}
			assert.Equal(t, ev, back)
		})
	}
}

// TestGoldenMessages pins the whole NATS message of each golden event, as
// a subscriber receives it: subject, headers (CloudEvents, message id and
// the line's expectation) and body.
func TestGoldenMessages(t *testing.T) {
	last := map[domain.LineKey]uint64{} // each chain's last sequence
	for i, ev := range goldenEvents(t) {
		expect := last[ev.Line()]
		last[ev.Line()] = goldenSeqs[i]
		t.Run(ev.Type.Kind(), func(t *testing.T) {
			m, err := eventstore.NewMessage(domain.Proposal{Event: ev, ExpectedSeq: expect})
			require.NoError(t, err)
			var b bytes.Buffer
			fmt.Fprintf(&b, "subject: %s\n", m.Subject)
			for _, k := range slices.Sorted(maps.Keys(m.Header)) {
				for _, v := range m.Header[k] {
					fmt.Fprintf(&b, "%s: %s\n", k, v)
				}
			}
			fmt.Fprintf(&b, "\n%s\n", m.Data)
			checkGolden(t, "message_"+ev.Type.Kind()+".txt", b.Bytes())
			require.NoError(t, eventstore.CheckCloudEvents(m.Header, &ev))
		})
	}
}

func TestGoldenProblem(t *testing.T) {
	evs := goldenEvents(t)
	st := domain.NewLineState(goldenLine)
	for i, ev := range evs[:2] {
		require.NoError(t, st.Apply(domain.Recorded{Event: ev, Seq: goldenSeqs[i]}))
	}
	cmd := domain.Command{
		Kind: domain.Disburse, FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
		Amount: mustAmount(t, "1300000000"), Voucher: "UNC-0043", Beneficiary: "Công ty TNHH Mây tre đan Phú Vinh",
		EffectiveDate: mustDate(t, "2025-05-02"),
		EventID:       "01970a6e-8000-7000-8000-000000000005", Actor: "officer-hanoi", IdempotencyKey: "golden-overdraw",
		Now: time.Date(2025, time.May, 2, 3, 0, 0, 0, time.UTC),
	}
	_, err := domain.Decide(st, cmd, domain.Policy{})
	require.ErrorIs(t, err, domain.ErrInsufficientFunds)

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, apitest.PathDisbursements, nil)
	req = req.WithContext(webapi.WithRequestID(req.Context(), "01970a6e-8000-7000-8000-0000000000ff"))
	webapi.WriteError(rec, req, slog.New(slog.DiscardHandler), err)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))

	var got bytes.Buffer
	require.NoError(t, json.Indent(&got, rec.Body.Bytes(), "", "  "))
	checkGolden(t, "problem_insufficient_funds.json", got.Bytes())
}

// newNATSService starts the test API's NATS service.
func newNATSService(t *testing.T, ta *testAPI) *apitest.NATSClient {
	t.Helper()
	return apitest.StartNATS(t, ta.api, ta.nc, ta.natsURL, ta.Token)
}
