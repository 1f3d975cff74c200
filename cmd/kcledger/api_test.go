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
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kcledger/kcledger/web/api/apitest"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
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
	history  *scanCounter
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
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)
	nc, err := eventstore.ConnectEmbedded(ns, "kcledger-test", "")
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	store, err := eventstore.Open(t.Context(), nc, eventstore.StreamConfig{})
	require.NoError(t, err)
	t.Cleanup(store.Close)

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
	counter := &scanCounter{HistoryReader: history}
	a := webapi.New(webapi.Config{
		Ledger:      ledger,
		Balances:    balances,
		Accounts:    accounts,
		Signers:     trust,
		History:     counter,
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
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &testAPI{Client: &apitest.Client{URL: srv.URL, HTTP: srv.Client(), Token: token}, nc: nc, accounts: accounts, api: a,
		natsURL: ns.ClientURL(), store: store, balances: balances, plans: plans, history: counter, health: health, clock: clock,
		ledger: ledger, repudiations: repudiations}
}

// streamLastSeq returns the last sequence of the stream, counting events
// and idempotency claims alike.
func (ta *testAPI) streamLastSeq(t *testing.T) uint64 {
	t.Helper()
	js, err := jetstream.New(ta.nc)
	require.NoError(t, err)
	s, err := js.Stream(t.Context(), eventstore.DefaultStream)
	require.NoError(t, err)
	info, err := s.Info(t.Context())
	require.NoError(t, err)
	return info.State.LastSeq
}

// The setup's movements on line 2025/01/national: 1 000 000 000 allocated,
// 400 000 000 disbursed, so 600 000 000 is available.
const (
	setupAllocationKey   = "setup-allocation"
	setupDisbursementKey = "setup-disbursement"
)

func TestBadInputAppendsNothing(t *testing.T) {
	t.Parallel()
	ta := newTestAPI(t)

	r := ta.Post(t, apitest.PathAllocations, setupAllocationKey, apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	disb := apitest.ValidBody(apitest.PathDisbursements)
	disb["amount"] = "400000000"
	r = ta.Post(t, apitest.PathDisbursements, setupDisbursementKey, apitest.MustJSON(t, disb))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)

	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	const (
		noKey       = "\x00none" // send no Idempotency-Key header
		contentJSON = "application/json"
	)
	tooLarge := apitest.ValidBody(apitest.PathRefunds)
	tooLarge["reason"] = strings.Repeat("a", webapi.MaxBodyBytes)

	tests := []struct {
		name string
		path string
		set  map[string]any // fields replaced in validBody(path)
		del  []string       // fields removed from it
		raw  []byte         // the body verbatim, instead of validBody
		// contentType defaults to application/json; "-" sends none.
		contentType string
		key         string // defaults to a fresh UUID
		status      int
		code        domain.Code
		field       string
	}{
		// Provinces.
		{name: "unknown province", path: apitest.PathAllocations, set: map[string]any{"province": "99"},
			status: 400, code: domain.CodeUnknownProvince, field: "province"},
		{name: "province not two digits", path: apitest.PathAllocations, set: map[string]any{"province": "1"},
			status: 400, code: domain.CodeUnknownProvince, field: "province"},
		{name: "province missing", path: apitest.PathAllocations, del: []string{"province"},
			status: 400, code: domain.CodeMissingField, field: "province"},
		{name: "old province code after the merger", path: apitest.PathAllocations,
			set:    map[string]any{"province": "10", "effective_date": "2025-08-01"},
			status: 422, code: domain.CodeProvinceNotInForce, field: "province"},
		// Sources and categories.
		{name: "unknown source", path: apitest.PathDisbursements, set: map[string]any{"source": "regional"},
			status: 400, code: domain.CodeUnknownSource, field: "source"},
		{name: "source missing", path: apitest.PathDisbursements, del: []string{"source"},
			status: 400, code: domain.CodeMissingField, field: "source"},
		{name: "unknown category", path: apitest.PathAllocations, set: map[string]any{"category": "tourism"},
			status: 400, code: domain.CodeUnknownCategory, field: "category"},
		// Fiscal years.
		{name: "fiscal year 1999", path: apitest.PathAllocations, set: map[string]any{"fiscal_year": 1999},
			status: 400, code: domain.CodeInvalidYear, field: "fiscal_year"},
		{name: "fiscal year 2101", path: apitest.PathAllocations, set: map[string]any{"fiscal_year": 2101},
			status: 400, code: domain.CodeInvalidYear, field: "fiscal_year"},
		{name: "fiscal year as a string", path: apitest.PathAllocations, set: map[string]any{"fiscal_year": "2025"},
			status: 400, code: domain.CodeInvalidField, field: "fiscal_year"},
		{name: "fiscal year fractional", path: apitest.PathAllocations, set: map[string]any{"fiscal_year": raw("2025.5")},
			status: 400, code: domain.CodeInvalidField, field: "fiscal_year"},
		{name: "fiscal year missing", path: apitest.PathAllocations, del: []string{"fiscal_year"},
			status: 400, code: domain.CodeMissingField, field: "fiscal_year"},
		// Amounts.
		{name: "amount zero", path: apitest.PathDisbursements, set: map[string]any{"amount": "0"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount negative", path: apitest.PathDisbursements, set: map[string]any{"amount": "-5"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount fractional", path: apitest.PathDisbursements, set: map[string]any{"amount": "1.5"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount over the bound", path: apitest.PathAllocations, set: map[string]any{"amount": "1000000000000001"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount with grouping", path: apitest.PathAllocations, set: map[string]any{"amount": "1.500.000.000"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount with a unit", path: apitest.PathAllocations, set: map[string]any{"amount": "1,5 tỷ"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount empty string", path: apitest.PathAllocations, set: map[string]any{"amount": ""},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount with leading zeros", path: apitest.PathRefunds, set: map[string]any{"amount": "0100"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount as a JSON number", path: apitest.PathAllocations, set: map[string]any{"amount": raw("1500000000")},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount as a JSON number with exponent", path: apitest.PathAllocations, set: map[string]any{"amount": raw("1.5e9")},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount as a JSON object", path: apitest.PathAllocations, set: map[string]any{"amount": raw(`{"value":"1"}`)},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount null", path: apitest.PathDisbursements, set: map[string]any{"amount": nil},
			status: 400, code: domain.CodeMissingField, field: "amount"},
		{name: "amount missing", path: apitest.PathRefunds, del: []string{"amount"},
			status: 400, code: domain.CodeMissingField, field: "amount"},
		{name: "delta zero", path: apitest.PathAdjustments, set: map[string]any{"delta": "0"},
			status: 400, code: domain.CodeInvalidAmount, field: "delta"},
		{name: "delta over the bound", path: apitest.PathAdjustments, set: map[string]any{"delta": "-1000000000000001"},
			status: 400, code: domain.CodeInvalidAmount, field: "delta"},
		{name: "delta as a JSON number", path: apitest.PathAdjustments, set: map[string]any{"delta": raw("-1000")},
			status: 400, code: domain.CodeInvalidAmount, field: "delta"},
		{name: "amount on an adjustment", path: apitest.PathAdjustments, set: map[string]any{"amount": "1000"},
			status: 400, code: domain.CodeUnknownField, field: "amount"},
		{name: "delta on a disbursement", path: apitest.PathDisbursements, set: map[string]any{"delta": "1000"},
			status: 400, code: domain.CodeUnknownField, field: "delta"},
		// Business rules against the line's state.
		{name: "disbursement over available", path: apitest.PathDisbursements, set: map[string]any{"amount": "600000001"},
			status: 422, code: domain.CodeInsufficientFunds, field: "amount"},
		{name: "refund over net disbursed", path: apitest.PathRefunds, set: map[string]any{"amount": "400000001"},
			status: 422, code: domain.CodeRefundExceedsDisbursed, field: "amount"},
		{name: "adjustment below net disbursed", path: apitest.PathAdjustments, set: map[string]any{"delta": "-600000001"},
			status: 422, code: domain.CodeAllocationBelowDisbursed, field: "delta"},
		// Dates.
		{name: "disbursement before the fiscal year", path: apitest.PathDisbursements, set: map[string]any{"effective_date": "2024-12-31"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "disbursement after the settlement period", path: apitest.PathDisbursements, set: map[string]any{"effective_date": "2026-02-01"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "allocation after the fiscal year", path: apitest.PathAllocations, set: map[string]any{"effective_date": "2026-01-01"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "allocation two years early", path: apitest.PathAllocations, set: map[string]any{"effective_date": "2023-12-31"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "adjustment after the fiscal year", path: apitest.PathAdjustments, set: map[string]any{"effective_date": "2026-01-01"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "refund dated tomorrow", path: apitest.PathRefunds, set: map[string]any{"effective_date": "2026-06-02"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "date month 13", path: apitest.PathAllocations, set: map[string]any{"effective_date": "2025-13-01"},
			status: 400, code: domain.CodeInvalidDate, field: "effective_date"},
		{name: "date 30 February", path: apitest.PathAllocations, set: map[string]any{"effective_date": "2025-02-30"},
			status: 400, code: domain.CodeInvalidDate, field: "effective_date"},
		{name: "date in another format", path: apitest.PathAllocations, set: map[string]any{"effective_date": "01/03/2025"},
			status: 400, code: domain.CodeInvalidDate, field: "effective_date"},
		{name: "date as a JSON number", path: apitest.PathAllocations, set: map[string]any{"effective_date": raw("20250301")},
			status: 400, code: domain.CodeInvalidDate, field: "effective_date"},
		{name: "date missing", path: apitest.PathAllocations, del: []string{"effective_date"},
			status: 400, code: domain.CodeMissingField, field: "effective_date"},
		// References.
		{name: "allocation without decision", path: apitest.PathAllocations, del: []string{"decision"},
			status: 400, code: domain.CodeMissingField, field: "decision"},
		{name: "adjustment with blank decision", path: apitest.PathAdjustments, set: map[string]any{"decision": ""},
			status: 400, code: domain.CodeMissingField, field: "decision"},
		{name: "disbursement without voucher", path: apitest.PathDisbursements, del: []string{"voucher"},
			status: 400, code: domain.CodeMissingField, field: "voucher"},
		{name: "refund without voucher", path: apitest.PathRefunds, del: []string{"voucher"},
			status: 400, code: domain.CodeMissingField, field: "voucher"},
		{name: "disbursement citing a decision", path: apitest.PathDisbursements, set: map[string]any{"decision": "1/QĐ"},
			status: 400, code: domain.CodeInvalidField, field: "decision"},
		{name: "reference with control character", path: apitest.PathDisbursements, set: map[string]any{"voucher": "UNC\u0007"},
			status: 400, code: domain.CodeInvalidField, field: "voucher"},
		{name: "reference too long", path: apitest.PathDisbursements, set: map[string]any{"voucher": strings.Repeat("V", domain.MaxReferenceLen+1)},
			status: 400, code: domain.CodeInvalidField, field: "voucher"},
		// The body as a whole.
		{name: "unknown JSON field", path: apitest.PathAllocations, set: map[string]any{"memo": "x"},
			status: 400, code: domain.CodeUnknownField, field: "memo"},
		{name: "body over the size limit", path: apitest.PathRefunds, raw: apitest.MustJSON(t, tooLarge),
			status: 413, code: domain.CodeBodyTooLarge},
		{name: "invalid UTF-8", path: apitest.PathAllocations,
			raw:    []byte(`{"fiscal_year":2025,"province":"01","source":"national","amount":"1000","decision":"1/Q` + "\xff\xfe" + `","effective_date":"2025-03-01"}`),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "empty body", path: apitest.PathAllocations, raw: []byte{},
			status: 400, code: domain.CodeMalformedRequest},
		{name: "not JSON", path: apitest.PathAllocations, raw: []byte("fiscal_year=2025"),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "truncated JSON", path: apitest.PathAllocations, raw: []byte(`{"fiscal_year":2025,"province":"01"`),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "trailing garbage", path: apitest.PathAllocations, raw: append(apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)), " garbage"...),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "two objects", path: apitest.PathAllocations, raw: append(apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)), "{}"...),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "a JSON array", path: apitest.PathAllocations, raw: []byte(`[]`),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "a JSON string", path: apitest.PathAllocations, raw: []byte(`"x"`),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "field name in another case", path: apitest.PathAllocations,
			raw:    []byte(`{"FISCAL_YEAR":2025,"province":"01","source":"national","amount":"1000","decision":"1/QĐ","effective_date":"2025-03-01"}`),
			status: 400, code: domain.CodeUnknownField, field: "FISCAL_YEAR"},
		{name: "field name folding to another (long s)", path: apitest.PathAllocations,
			raw:    []byte(`{"fiscal_year":2025,"province":"01","ſource":"national","amount":"1000","decision":"1/QĐ","effective_date":"2025-03-01"}`),
			status: 400, code: domain.CodeUnknownField, field: "ſource"},
		{name: "amount given twice", path: apitest.PathAllocations,
			raw:    []byte(`{"fiscal_year":2025,"province":"01","source":"national","amount":"5","amount":"7","decision":"1/QĐ","effective_date":"2025-03-01"}`),
			status: 400, code: domain.CodeMalformedRequest, field: "amount"},
		{name: "wrong content type", path: apitest.PathAllocations, contentType: "text/plain",
			status: 415, code: domain.CodeUnsupportedMediaType},
		{name: "form content type", path: apitest.PathAllocations, contentType: "application/x-www-form-urlencoded",
			status: 415, code: domain.CodeUnsupportedMediaType},
		{name: "no content type", path: apitest.PathAllocations, contentType: "-",
			status: 415, code: domain.CodeUnsupportedMediaType},
		// Idempotency keys.
		{name: "no idempotency key", path: apitest.PathAllocations, key: noKey,
			status: 400, code: domain.CodeInvalidIdempotencyKey, field: "Idempotency-Key"},
		{name: "idempotency key with a space", path: apitest.PathAllocations, key: "a key",
			status: 400, code: domain.CodeInvalidIdempotencyKey, field: "Idempotency-Key"},
		{name: "idempotency key too long", path: apitest.PathAllocations, key: strings.Repeat("k", domain.MaxIdempotencyKeyLen+1),
			status: 400, code: domain.CodeInvalidIdempotencyKey, field: "Idempotency-Key"},
		{name: "idempotency key reused for another amount", path: apitest.PathAllocations, key: setupAllocationKey,
			set:    map[string]any{"amount": "2000000000"},
			status: 409, code: domain.CodeIdempotencyKeyReused, field: "Idempotency-Key"},
		{name: "idempotency key reused on another route", path: apitest.PathDisbursements, key: setupAllocationKey,
			status: 409, code: domain.CodeIdempotencyKeyReused, field: "Idempotency-Key"},
		{name: "idempotency key reused for a refused command", path: apitest.PathDisbursements, key: setupDisbursementKey,
			set:    map[string]any{"amount": "900000000"},
			status: 409, code: domain.CodeIdempotencyKeyReused, field: "Idempotency-Key"},
	}
	require.GreaterOrEqual(t, len(tests), 25)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.raw
			if body == nil {
				b := apitest.ValidBody(tt.path)
				maps.Copy(b, tt.set)
				for _, f := range tt.del {
					delete(b, f)
				}
				body = apitest.MustJSON(t, b)
			}
			header := http.Header{"Content-Type": {contentJSON}, "Idempotency-Key": {uuid.NewString()}}
			switch tt.contentType {
			case "":
			case "-":
				header.Del("Content-Type")
			default:
				header.Set("Content-Type", tt.contentType)
			}
			switch tt.key {
			case "":
			case noKey:
				header.Del("Idempotency-Key")
			default:
				header.Set("Idempotency-Key", tt.key)
			}

			before := ta.streamLastSeq(t)
			r := ta.Do(t, http.MethodPost, tt.path, header, body)
			apitest.RequireProblem(t, r, tt.status, tt.code, tt.field)
			require.Equal(t, before, ta.streamLastSeq(t), "the refused request appended to the stream")
		})
	}

	// Each valid body is accepted, so every case above was refused for
	// the one thing it changed.
	for _, path := range []string{apitest.PathAllocations, apitest.PathDisbursements, apitest.PathRefunds, apitest.PathAdjustments} {
		before := ta.streamLastSeq(t)
		r := ta.Post(t, path, uuid.NewString(), apitest.MustJSON(t, apitest.ValidBody(path)))
		require.Equal(t, http.StatusCreated, r.Status, "%s: %s", path, r.Body)
		var res webapi.RecordResponse
		require.NoError(t, json.Unmarshal(r.Body, &res))
		after := ta.streamLastSeq(t)
		require.Greater(t, res.Seq, before, path)
		require.LessOrEqual(t, res.Seq, after, path)
	}
}

// recordedJSON is a recording answer decoded without the domain's types, to
// check the wire format itself.
type recordedJSON struct {
	Event struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Amount   any    `json:"amount"`
		PrevHash string `json:"prev_hash"`
		Hash     string `json:"hash"`
	} `json:"event"`
	Seq      uint64 `json:"seq"`
	Replayed bool   `json:"replayed"`
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestRecordAndReplay(t *testing.T) {
	t.Parallel()
	ta := newTestAPI(t)

	// An allocation, with a charset in the media type.
	alloc := apitest.ValidBody(apitest.PathAllocations)
	maps.Copy(alloc, map[string]any{"amount": "1500000000", "project": "KC-2025-01"})
	r := ta.Do(t, http.MethodPost, apitest.PathAllocations, http.Header{
		"Content-Type":    {"application/json; charset=utf-8"},
		"Idempotency-Key": {"alloc-1"},
	}, apitest.MustJSON(t, alloc))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))

	var wire recordedJSON
	require.NoError(t, json.Unmarshal(r.Body, &wire))
	assert.Equal(t, "1500000000", wire.Event.Amount, "amounts are JSON strings")
	assert.Equal(t, string(domain.TypeAllocated), wire.Event.Type)
	assert.Regexp(t, hexHash, wire.Event.Hash)
	assert.Equal(t, domain.GenesisHash, wire.Event.PrevHash)
	assert.False(t, wire.Replayed)

	var allocRes webapi.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &allocRes))
	ev := allocRes.Event
	assert.Equal(t, ev.Hash, ev.ComputeHash(), "the event's hash is its content's")
	assert.Equal(t, firstAdmin, ev.Actor, "the actor is the token's account")
	assert.Equal(t, "alloc-1", ev.IdempotencyKey)
	assert.True(t, testNow.Equal(ev.RecordedAt), "recorded at %s", ev.RecordedAt)
	assert.Equal(t, domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}, allocRes.Line.Line)
	apitest.RequireAmount(t, "1500000000", allocRes.Line.Balance.Allocated)
	apitest.RequireAmount(t, "1500000000", allocRes.Line.Balance.Available())
	assert.Equal(t, 1, allocRes.Line.Events)
	assert.Equal(t, allocRes.Seq, allocRes.Line.LastSeq)
	require.NotNil(t, allocRes.Project)
	apitest.RequireAmount(t, "1500000000", allocRes.Project.Balance.Allocated)
	assert.LessOrEqual(t, allocRes.Seq, ta.streamLastSeq(t))

	// A disbursement links to the allocation.
	disb := apitest.ValidBody(apitest.PathDisbursements)
	maps.Copy(disb, map[string]any{"amount": "250000000", "project": "KC-2025-01"})
	r = ta.Post(t, apitest.PathDisbursements, "disb-1", apitest.MustJSON(t, disb))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var disbRes webapi.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &disbRes))
	assert.Equal(t, ev.Hash, disbRes.Event.PrevHash)
	assert.Regexp(t, hexHash, disbRes.Event.Hash)
	assert.False(t, disbRes.Replayed)
	apitest.RequireAmount(t, "250000000", disbRes.Line.Balance.Disbursed)
	apitest.RequireAmount(t, "1250000000", disbRes.Line.Balance.Available())
	apitest.RequireAmount(t, "1250000000", disbRes.Project.Balance.Available())
	assert.Greater(t, disbRes.Seq, allocRes.Seq)

	// The same request again is answered with the original event.
	seq := ta.streamLastSeq(t)
	r = ta.Post(t, apitest.PathDisbursements, "disb-1", apitest.MustJSON(t, disb))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var again webapi.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &again))
	assert.True(t, again.Replayed)
	assert.Equal(t, disbRes.Event.ID, again.Event.ID)
	assert.Equal(t, disbRes.Event.Hash, again.Event.Hash)
	assert.Equal(t, disbRes.Seq, again.Seq)
	apitest.RequireAmount(t, "250000000", again.Line.Balance.Disbursed, "the balance counts it once")
	require.Equal(t, seq, ta.streamLastSeq(t), "a replay appends nothing")

	// The same key for another movement is refused.
	disb["amount"] = "250000001"
	r = ta.Post(t, apitest.PathDisbursements, "disb-1", apitest.MustJSON(t, disb))
	p := apitest.RequireProblem(t, r, http.StatusConflict, domain.CodeIdempotencyKeyReused, "Idempotency-Key")
	assert.Contains(t, p.Detail, disbRes.Event.ID, "the detail names the original event")
	require.Equal(t, seq, ta.streamLastSeq(t))

	// Reads reflect this server's writes without waiting.
	r = ta.Get(t, "/v1/balances?year=2025&province=01&source=national")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var rep projections.Report
	require.NoError(t, json.Unmarshal(r.Body, &rep))
	assert.GreaterOrEqual(t, rep.AsOfSeq, disbRes.Seq)
	require.Len(t, rep.Lines, 1)
	assert.Equal(t, allocRes.Line.Line, rep.Lines[0].Line)
	apitest.RequireAmount(t, "1500000000", rep.Lines[0].Totals.Balance.Allocated)
	apitest.RequireAmount(t, "250000000", rep.Lines[0].Totals.Balance.Disbursed)
	apitest.RequireAmount(t, "1250000000", rep.Lines[0].Totals.Balance.Available())
	assert.Equal(t, 2, rep.Lines[0].Totals.Events)
	require.Len(t, rep.Lines[0].Projects, 1)
	assert.Equal(t, "KC-2025-01", rep.Lines[0].Projects[0].Project)
	apitest.RequireAmount(t, "250000000", rep.Total.Balance.Disbursed)

	r = ta.Get(t, "/v1/balances?year=2025&source=local")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	rep = projections.Report{}
	require.NoError(t, json.Unmarshal(r.Body, &rep))
	assert.Empty(t, rep.Lines)

	for _, tc := range []struct {
		query string
		code  domain.Code
		field string
	}{
		{"year=1999", domain.CodeInvalidYear, "year"},
		{"year=2101", domain.CodeInvalidYear, "year"},
		{"year=abc", domain.CodeInvalidYear, "year"},
		{"province=99", domain.CodeUnknownProvince, "province"},
		{"source=regional", domain.CodeUnknownSource, "source"},
	} {
		apitest.RequireProblem(t, ta.Get(t, "/v1/balances?"+tc.query), http.StatusBadRequest, tc.code, tc.field)
	}

	// Provinces in force on either side of the merger.
	for _, tc := range []struct {
		date   string
		scheme domain.Scheme
		n      int
	}{
		{"2025-06-30", domain.Scheme63, 63},
		{"2025-07-01", domain.Scheme34, 34},
		{"", domain.Scheme34, 34}, // today, by the API's clock
	} {
		r = ta.Get(t, "/v1/provinces?date="+tc.date)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var pr webapi.ProvincesResponse
		require.NoError(t, json.Unmarshal(r.Body, &pr))
		assert.Equal(t, tc.scheme, pr.Scheme, tc.date)
		assert.Len(t, pr.Provinces, tc.n, tc.date)
		if tc.date == "" {
			assert.Equal(t, "2026-06-01", pr.Date.String())
		}
	}
	apitest.RequireProblem(t, ta.Get(t, "/v1/provinces?date=2025-02-30"), http.StatusBadRequest, domain.CodeInvalidDate, "date")

	r = ta.Get(t, "/healthz")
	require.Equal(t, http.StatusOK, r.Status)
	var health struct {
		Status     string `json:"status"`
		AppliedSeq uint64 `json:"applied_seq"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &health))
	assert.Equal(t, "ok", health.Status)
	assert.GreaterOrEqual(t, health.AppliedSeq, disbRes.Seq)

	apitest.RequireProblem(t, ta.Get(t, "/v1/nothing-here"), http.StatusNotFound, domain.CodeNotFound, "")

	r = ta.Get(t, apitest.PathAllocations)
	apitest.RequireProblem(t, r, http.StatusMethodNotAllowed, domain.CodeMethodNotAllowed, "")
	assert.Equal(t, "POST", r.Header.Get("Allow"))
	r = ta.Do(t, http.MethodPost, "/v1/balances", http.Header{"Content-Type": {"application/json"}}, []byte("{}"))
	apitest.RequireProblem(t, r, http.StatusMethodNotAllowed, domain.CodeMethodNotAllowed, "")
	assert.Equal(t, "GET", r.Header.Get("Allow"))
	require.Equal(t, seq, ta.streamLastSeq(t))
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
