package apitest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
)

// FirstAdmin is the admin account Start makes, named as serve names its
// first admin.
const FirstAdmin = "admin"

// Now is the API's clock in tests: 10:00 on 1 June 2026 in Vietnam.
var Now = time.Date(2026, time.June, 1, 3, 0, 0, 0, time.UTC)

// API is the HTTP API over a real ledger on an embedded JetStream
// server, with the live balances running, as serve builds it but for
// what lives in cmd/kcledger: the signing keys' trust (the ledger signs,
// and decides and reads without checking signatures) and the
// supervision that stops the balances before a bad message (they are
// always sound here). The tests of those stay in cmd/kcledger.
type API struct {
	// Client sends as the first admin by default.
	*Client
	Server  *api.Server
	NC      *nats.Conn
	NATSURL string
	// Accounts is the API's account cache, as serve's.
	Accounts *eventstore.AccountCache
	Ledger   *domain.Ledger
	Store    *eventstore.JetStream
	// realTime switches the API's clock from Now to the real time.
	realTime *atomic.Bool
	// ns is the NATS server; firstAdmin the first admin's token.
	ns         *server.Server
	firstAdmin string
	scans      *scanCounter
}

// As is the API seen with another token.
func (a *API) As(token string) *API {
	c := *a
	c.Client = a.Client.As(token)
	return &c
}

// UseRealTime switches the API's clock from Now to the real time, for
// the routes that compare with storage times.
func (a *API) UseRealTime() { a.realTime.Store(true) }

func (a *API) now() time.Time {
	if a.realTime.Load() {
		return time.Now()
	}
	return Now
}

// Options change what Start builds.
type Options struct {
	// LiveReports runs the reports' live model (serve --live-reports).
	LiveReports bool
	// MaxInFlight is the API's limit of requests served at once.
	MaxInFlight int
	// ExternalNATS serves as with an external NATS server, whose
	// operator manages its users: no NATS users are created.
	ExternalNATS bool
	// Observer is told of the API's answers (serve --metrics).
	Observer api.Observer
	// KeysCurrent stands for the idempotency key index's currency
	// (/readyz); nil is the store's own.
	KeysCurrent func() error
	// Beside serves as a second process beside another API: on its
	// NATS server, through connections, a ledger and an account cache
	// of its own, its first admin's token in hand.
	Beside *API
}

// Start builds the API and serves it on 127.0.0.1, for the test's life.
func Start(t *testing.T, o Options) *API {
	t.Helper()
	var (
		ns    *server.Server
		nc    *nats.Conn
		store *eventstore.JetStream
	)
	if o.Beside != nil {
		ns = o.Beside.ns
		var err error
		nc, err = eventstore.ConnectEmbedded(ns, "kcledger-test-beside", "")
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		store, err = eventstore.Open(t.Context(), nc, eventstore.StreamConfig{})
		require.NoError(t, err)
		t.Cleanup(store.Close)
	} else {
		ns, nc, store = StartStore(t)
	}
	repudiations := domain.NewRepudiations()
	store.SkipRepudiated(repudiations)

	ctx, cancel := context.WithCancel(context.Background())
	balances := projections.NewBalances()
	follow(t, ctx, cancel, "balances", func(ctx context.Context) error { return balances.Run(ctx, store) })
	var plans *projections.Plans
	if o.LiveReports {
		plans = projections.NewLivePlans()
		follow(t, ctx, cancel, "reports", func(ctx context.Context) error { return plans.Run(ctx, store) })
	}

	js, err := jetstream.New(nc)
	require.NoError(t, err)
	bucket, err := eventstore.OpenAccounts(t.Context(), js, "", 1)
	require.NoError(t, err)
	accounts, err := bucket.Cache(ctx)
	require.NoError(t, err)
	history, err := eventstore.OpenReader(t.Context(), nc, store.Stream())
	require.NoError(t, err)
	token := ""
	if o.Beside != nil {
		token = o.Beside.firstAdmin
	} else {
		secret, hash := domain.NewSecret()
		require.NoError(t, accounts.Create(t.Context(), domain.Account{Name: FirstAdmin, Role: domain.RoleAdmin, TokenHash: hash, CreatedAt: Now, CreatedBy: "apitest"}))
		token = domain.Token(FirstAdmin, secret)
	}

	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ledger := domain.NewLedger(store, domain.Policy{})
	ledger.SignWith(domain.NewSigner(key))
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	var natsUsers interface{ SetAccount(domain.Account) } = eventstore.NewNATSAuth("unused", "")
	if o.ExternalNATS {
		natsUsers = nil
	}
	a := &API{ns: ns, firstAdmin: token, NC: nc, NATSURL: ns.ClientURL(), Accounts: accounts, Ledger: ledger, Store: store, realTime: new(atomic.Bool), scans: &scanCounter{HistoryReader: history}}
	keysCurrent := o.KeysCurrent
	if keysCurrent == nil {
		keysCurrent = store.KeyIndexCurrent
	}
	a.Server = api.New(api.Config{
		Ledger:       ledger,
		Balances:     balances,
		Plans:        plans,
		Accounts:     accounts,
		Signers:      signerKeys{eventstore.SignerKey{ID: domain.KeyID(pub), PublicKey: pub, RegisteredAt: Now}},
		History:      a.scans,
		Feed:         store,
		Checkpoints:  store.Checkpoints(),
		NATSURL:      ns.ClientURL(),
		NATSUsers:    natsUsers,
		Stream:       store.Stream(),
		MaxInFlight:  o.MaxInFlight,
		Log:          log,
		Now:          a.now,
		Repudiations: repudiations,
		Observer:     o.Observer,
		KeysCurrent:  keysCurrent,
	})
	srv := NewServer(t, a.Server.Handler())
	a.Client = &Client{URL: srv.URL, HTTP: srv.Client(), Token: token}
	return a
}

// StartStore starts an embedded JetStream server on 127.0.0.1 with the
// ledger's stream, for the test's life.
func StartStore(t *testing.T) (*server.Server, *nats.Conn, *eventstore.JetStream) {
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
	return ns, nc, store
}

// follow runs a read model until the test ends; an error other than the
// end of the test fails it.
func follow(t *testing.T, ctx context.Context, cancel context.CancelFunc, what string, run func(context.Context) error) {
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("%s: %v", what, err)
		}
	})
}

// signerKeys is the ledger's one signing key, as GET /v1/keys lists it.
type signerKeys []eventstore.SignerKey

func (s signerKeys) Keys(context.Context) (api.KeysResponse, error) {
	return api.KeysResponse{Keys: s}, nil
}

// StreamLastSeq returns the last sequence of the stream, counting events
// and idempotency claims alike.
func StreamLastSeq(t *testing.T, nc *nats.Conn) uint64 {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(t.Context(), eventstore.DefaultStream)
	require.NoError(t, err)
	info, err := s.Info(t.Context())
	require.NoError(t, err)
	return info.State.LastSeq
}

// StreamLastSeq is the last sequence of the API's stream.
func (a *API) StreamLastSeq(t *testing.T) uint64 { t.Helper(); return StreamLastSeq(t, a.NC) }
