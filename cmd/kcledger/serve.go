package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
	webui "github.com/kcledger/kcledger/web/ui"
)

// serveConfig is everything `kcledger serve` needs, parsed from flags and
// environment variables, or built directly by tests.
type serveConfig struct {
	HTTP string
	// Metrics is where Prometheus metrics are served (/metrics); "" is
	// off.
	Metrics         string
	DataDir         string
	NATSListen      string
	NATSURL         string
	Stream          string
	AccountsBucket  string
	Replicas        int
	DuplicateWindow time.Duration
	// SyncInterval 0 fsyncs every write (the default); see
	// eventstore.ServerConfig.
	SyncInterval  time.Duration
	SettlementEnd domain.MonthDay
	LogLevel      slog.Level
	// LogFormat is "text" or "json".
	LogFormat string
	// LiveReports keeps the reports' model up to date in memory, beside
	// the balances, so that a report without as_of or events answers from
	// it instead of from a scan of the stream; it resumes from its
	// checkpoint as the balances do. On by default.
	LiveReports bool
	// Rebuild ignores every checkpoint: the projections are rebuilt from
	// the whole stream, and new checkpoints saved.
	Rebuild bool
	// GroupCommit bounds the appends gathered into one atomic batch
	// (adaptive group commit, eventstore.DefaultMaxBatch by default); 1
	// publishes each on its own.
	GroupCommit int
	// TLSCert and TLSKey make the API speak HTTPS.
	TLSCert, TLSKey string
	// Insecure allows listening beyond loopback without TLS.
	Insecure bool
	// NATSTLSCert and NATSTLSKey make the embedded server speak TLS.
	NATSTLSCert, NATSTLSKey string
	// Credentials of kcledger's own connection to an external server.
	NATSCreds, NATSUser, NATSPassword, NATSToken, NATSCA string
	// DebugPprof is where Go's profiles are served (pprof.go); "" is
	// off.
	DebugPprof string
}

// isLoopback says whether a listen address is reachable only from this
// machine.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *serveConfig) Validate() error {
	if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
		return fmt.Errorf("--http %q: want host:port: %v", c.HTTP, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if !isLoopback(c.HTTP) && c.TLSCert == "" && !c.Insecure {
		return fmt.Errorf("--http %s is reachable from other machines, and tokens would cross the network in clear: give --tls-cert and --tls-key, or --insecure if TLS ends in front of kcledger", c.HTTP)
	}
	if c.Metrics != "" {
		if _, _, err := net.SplitHostPort(c.Metrics); err != nil {
			return fmt.Errorf("--metrics %q: want host:port: %v", c.Metrics, err)
		}
		if !isLoopback(c.Metrics) && c.TLSCert == "" && !c.Insecure {
			return fmt.Errorf("--metrics %s is reachable from other machines, and the metrics would cross the network in clear: give --tls-cert and --tls-key (the metrics are then served over HTTPS too), or --insecure if TLS ends in front of kcledger", c.Metrics)
		}
	}
	if (c.NATSTLSCert == "") != (c.NATSTLSKey == "") {
		return errors.New("--nats-tls-cert and --nats-tls-key go together")
	}
	if c.NATSURL == "" && !isLoopback(c.NATSListen) && c.NATSTLSCert == "" && !c.Insecure {
		return fmt.Errorf("--nats-listen %s is reachable from other machines, and NATS passwords would cross the network in clear: give --nats-tls-cert and --nats-tls-key, or --insecure", c.NATSListen)
	}
	if c.NATSURL != "" && (c.NATSTLSCert != "" || c.NATSTLSKey != "") {
		return errors.New("--nats-tls-cert and --nats-tls-key configure the embedded server; with --nats-url, TLS is the external server's (give --nats-ca to trust it)")
	}
	if n := btoi(c.NATSCreds != "") + btoi(c.NATSUser != "") + btoi(c.NATSToken != ""); n > 1 {
		return errors.New("give one of --nats-creds, --nats-user (with --nats-password) or --nats-token")
	}
	if c.NATSURL == "" && (c.NATSCreds != "" || c.NATSUser != "" || c.NATSToken != "" || c.NATSCA != "") {
		return errors.New("--nats-creds, --nats-user, --nats-token and --nats-ca are for an external server (--nats-url); the embedded one uses its own service user")
	}
	if c.DataDir == "" {
		return errors.New("--data: a data directory is required: it holds the embedded server's store and the first admin's token")
	}
	if c.NATSURL == "" {
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			return fmt.Errorf("--nats-listen %q: want host:port: %v", c.NATSListen, err)
		}
		if c.Replicas != 1 {
			return fmt.Errorf("--replicas %d: the embedded server is a single node; use --nats-url with a cluster for more replicas", c.Replicas)
		}
	}
	if c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5 {
		return fmt.Errorf("--replicas %d: want 1, 3 or 5", c.Replicas)
	}
	if c.DuplicateWindow < time.Second {
		return fmt.Errorf("--duplicate-window %s: want at least 1s", c.DuplicateWindow)
	}
	if c.GroupCommit < 1 || c.GroupCommit > 1000 {
		return fmt.Errorf("--group-commit %d: want 1 (off) to 1000 appends per atomic batch", c.GroupCommit)
	}
	if c.SyncInterval < 0 {
		return fmt.Errorf("--fsync-interval %s: must not be negative", c.SyncInterval)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func parseServeConfig(args []string, stderr io.Writer) (serveConfig, int, bool) {
	fs := newFlags("serve", "run the ledger: embedded JetStream (or --nats-url), the HTTP API and the web console on --http, live balances and reports", stderr)
	c := serveConfig{}
	fs.StringVar(&c.HTTP, "http", env("KCLEDGER_HTTP", "127.0.0.1:8080"), "HTTP API listen address (KCLEDGER_HTTP)")
	fs.StringVar(&c.Metrics, "metrics", env("KCLEDGER_METRICS", ""), "serve Prometheus metrics at /metrics on this address, e.g. 127.0.0.1:9464; off when empty (KCLEDGER_METRICS)")
	fs.StringVar(&c.DebugPprof, "debug-pprof", env("KCLEDGER_DEBUG_PPROF", ""), "serve Go's CPU, block and mutex profiles (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060; off when empty (KCLEDGER_DEBUG_PPROF)")
	fs.StringVar(&c.DataDir, "data", env("KCLEDGER_DATA", "./kcledger-data"), "data directory of the embedded JetStream server (KCLEDGER_DATA)")
	fs.StringVar(&c.NATSListen, "nats-listen", env("KCLEDGER_NATS_LISTEN", "127.0.0.1:4222"), "where the embedded server listens for NATS clients such as the nats CLI (KCLEDGER_NATS_LISTEN)")
	fs.StringVar(&c.NATSURL, "nats-url", env("KCLEDGER_NATS_URL", ""), "use this external NATS server or cluster instead of the embedded one, e.g. nats://127.0.0.1:4222 (KCLEDGER_NATS_URL)")
	fs.StringVar(&c.Stream, "stream", env("KCLEDGER_STREAM", eventstore.DefaultStream), "JetStream stream name (KCLEDGER_STREAM)")
	fs.StringVar(&c.AccountsBucket, "accounts-bucket", env("KCLEDGER_ACCOUNTS_BUCKET", eventstore.DefaultAccountsBucket), "JetStream key-value bucket of accounts (KCLEDGER_ACCOUNTS_BUCKET)")
	replicas := fs.String("replicas", env("KCLEDGER_REPLICAS", "1"), "stream replicas: 1, or 3 or 5 on a cluster (KCLEDGER_REPLICAS)")
	dup := fs.String("duplicate-window", env("KCLEDGER_DUPLICATE_WINDOW", eventstore.DefaultDuplicateWindow.String()), "JetStream duplicate window; idempotency itself lasts forever (KCLEDGER_DUPLICATE_WINDOW)")
	fsync := fs.String("fsync-interval", env("KCLEDGER_FSYNC_INTERVAL", "0"), "0 fsyncs every write before acknowledging it (durable across power cuts); a duration such as 1s fsyncs periodically: faster, but a power cut can lose acknowledged writes (KCLEDGER_FSYNC_INTERVAL)")
	settle := fs.String("settlement-end-2026", env("KCLEDGER_SETTLEMENT_END_2026", "01-31"), "MM-DD in the next year: end of the settlement-adjustment period for fiscal years from 2026 (Law 89/2025) (KCLEDGER_SETTLEMENT_END_2026)")
	groupCommit := fs.String("group-commit", env("KCLEDGER_GROUP_COMMIT", strconv.Itoa(eventstore.DefaultMaxBatch)), "adaptive group commit: appends that wait while commits are in flight are gathered, up to this many, into one JetStream atomic batch; a lone append is never delayed; 1 publishes each on its own (KCLEDGER_GROUP_COMMIT)")
	fs.StringVar(&c.TLSCert, "tls-cert", env("KCLEDGER_TLS_CERT", ""), "PEM certificate for HTTPS (KCLEDGER_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", env("KCLEDGER_TLS_KEY", ""), "PEM private key for HTTPS (KCLEDGER_TLS_KEY)")
	fs.StringVar(&c.NATSTLSCert, "nats-tls-cert", env("KCLEDGER_NATS_TLS_CERT", ""), "PEM certificate: the embedded NATS server speaks TLS to its clients (KCLEDGER_NATS_TLS_CERT)")
	fs.StringVar(&c.NATSTLSKey, "nats-tls-key", env("KCLEDGER_NATS_TLS_KEY", ""), "PEM private key of --nats-tls-cert (KCLEDGER_NATS_TLS_KEY)")
	fs.StringVar(&c.NATSCreds, "nats-creds", env("KCLEDGER_NATS_CREDS", ""), "with --nats-url: credentials file of kcledger's NATS user (KCLEDGER_NATS_CREDS)")
	fs.StringVar(&c.NATSUser, "nats-user", env("KCLEDGER_NATS_USER", ""), "with --nats-url: NATS user name (KCLEDGER_NATS_USER)")
	fs.StringVar(&c.NATSPassword, "nats-password", env("KCLEDGER_NATS_PASSWORD", ""), "with --nats-user: its password; prefer the environment variable (KCLEDGER_NATS_PASSWORD)")
	fs.StringVar(&c.NATSToken, "nats-token", env("KCLEDGER_NATS_TOKEN", ""), "with --nats-url: NATS token; prefer the environment variable (KCLEDGER_NATS_TOKEN)")
	fs.StringVar(&c.NATSCA, "nats-ca", env("KCLEDGER_NATS_CA", ""), "with --nats-url: PEM CA that signed the server's certificate (KCLEDGER_NATS_CA)")
	fs.BoolVar(&c.LiveReports, "live-reports", envBoolDefault("KCLEDGER_LIVE_REPORTS", true), "keep the plan-execution reports' model in memory, resumed from its checkpoint, so that reports without as_of or events answer from it; --live-reports=false rebuilds each report from the stream (KCLEDGER_LIVE_REPORTS)")
	fs.BoolVar(&c.Rebuild, "rebuild", envBool("KCLEDGER_REBUILD"), "ignore the checkpoints: rebuild the idempotency key index, the balances and the reports' model from the whole stream, then save new checkpoints (KCLEDGER_REBUILD)")
	fs.BoolVar(&c.Insecure, "insecure", envBool("KCLEDGER_INSECURE"), "allow listening beyond loopback without TLS, e.g. behind a TLS-terminating proxy (KCLEDGER_INSECURE)")
	level := fs.String("log-level", env("KCLEDGER_LOG_LEVEL", "info"), "debug, info, warn or error (KCLEDGER_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("KCLEDGER_LOG_FORMAT", "text"), "text, or json for one JSON object a line (KCLEDGER_LOG_FORMAT)")
	if code, ok := parseFlags(fs, args); !ok {
		return c, code, false
	}
	bad := func(err error) (serveConfig, int, bool) {
		fmt.Fprintf(stderr, "kcledger serve: %v\n", err)
		return c, exitUsage, false
	}
	var err error
	if c.Replicas, err = strconv.Atoi(*replicas); err != nil {
		return bad(fmt.Errorf("--replicas %q: not a number", *replicas))
	}
	if c.GroupCommit, err = strconv.Atoi(*groupCommit); err != nil {
		return bad(fmt.Errorf("--group-commit %q: not a number", *groupCommit))
	}
	if c.DuplicateWindow, err = time.ParseDuration(*dup); err != nil {
		return bad(fmt.Errorf("--duplicate-window: %v", err))
	}
	if *fsync == "0" || *fsync == "always" {
		c.SyncInterval = 0
	} else if c.SyncInterval, err = time.ParseDuration(*fsync); err != nil {
		return bad(fmt.Errorf("--fsync-interval: %v", err))
	}
	if c.SettlementEnd, err = domain.ParseMonthDay(*settle); err != nil {
		return bad(fmt.Errorf("--settlement-end-2026: %v", err))
	}
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return bad(fmt.Errorf("--log-level: %v", err))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad(fmt.Errorf("--log-format %q: want text or json", c.LogFormat))
	}
	if err := c.Validate(); err != nil {
		return bad(err)
	}
	return c, 0, true
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, code, ok := parseServeConfig(args, stderr)
	if !ok {
		return code
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel})
	if c.LogFormat == "json" {
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel})
	}
	log := slog.New(handler)
	if err := serve(ctx, c, log, stdout); err != nil {
		log.Error("kcledger serve stopped", "err", err)
		return exitFailure
	}
	return exitOK
}

// serve runs the ledger until ctx ends. It prints one "ready" line to
// stdout once the API accepts requests.
func serve(ctx context.Context, c serveConfig, log *slog.Logger, stdout io.Writer) error {
	var (
		nc       *nats.Conn
		natsURL  = c.NATSURL
		natsAuth *eventstore.NATSAuth // nil with an external server
		// apiNC serves the NATS service, as a user that may only answer
		// to inboxes; nil with an external server (no such user there).
		apiNC *nats.Conn
	)
	// One process per data directory, and the listeners taken before the
	// long work: a second serve is told at once what is in the way.
	unlock, err := lockDataDir(c.DataDir, c.HTTP, time.Now())
	if err != nil {
		return err
	}
	defer unlock()
	ln, err := net.Listen("tcp", c.HTTP)
	if err != nil {
		return fmt.Errorf("--http %s: %w", c.HTTP, err)
	}
	defer ln.Close()
	metricsLn, err := listenMetrics(c.Metrics)
	if err != nil {
		return err
	}
	var m *metrics // nil without --metrics
	if metricsLn != nil {
		defer metricsLn.Close()
		m = newMetrics()
	}
	if c.NATSURL == "" {
		password, err := servicePassword(c.DataDir)
		if err != nil {
			return err
		}
		natsAuth = eventstore.NewNATSAuth(password, c.Stream)
		ns, err := eventstore.StartServer(eventstore.ServerConfig{
			DataDir: c.DataDir, Listen: c.NATSListen, SyncInterval: c.SyncInterval, Logger: log,
			Auth: natsAuth, TLSCert: c.NATSTLSCert, TLSKey: c.NATSTLSKey,
		})
		if err != nil {
			return err
		}
		defer ns.Shutdown()
		natsURL = ns.ClientURL()
		if c.SyncInterval > 0 {
			log.Warn("fsync is periodic: a power cut can lose acknowledged writes", "fsync_interval", c.SyncInterval)
		}
		log.Info("the embedded NATS server requires authentication; its service password is in a file only you can read", "file", filepath.Join(c.DataDir, natsServiceFile))
		nc, err = eventstore.ConnectEmbedded(ns, "kcledger", password)
		if err == nil {
			if apiNC, err = eventstore.ConnectEmbeddedAPI(ns, password); err == nil {
				defer apiNC.Close()
			}
		}
	} else {
		nc, err = nats.Connect(c.NATSURL, externalNATSOptions(c)...)
	}
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()

	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	key, err := signingKey(c.DataDir)
	if err != nil {
		return err
	}
	signer := domain.NewSigner(key)
	signers, err := eventstore.OpenSigners(ctx, js, c.Replicas)
	if err != nil {
		return err
	}
	// Every event the balances take must be signed by a key the ledger
	// root endorsed, this process's own included.
	trust, err := trustSigners(ctx, c.DataDir, signers, signer, time.Now(), log)
	if err != nil {
		return err
	}
	// Checkpoints are sealed with this process's key and trusted only
	// under an endorsed key's seal: the object store that holds them is
	// writable with the operator's NATS credentials alone.
	store, err := eventstore.Open(ctx, nc, eventstore.StreamConfig{Name: c.Stream, Replicas: c.Replicas, DuplicateWindow: c.DuplicateWindow,
		MaxBatch: c.GroupCommit, Rebuild: c.Rebuild, Sealer: checkpointSeal{trust: trust, signer: signer}})
	if err != nil {
		return err
	}
	defer store.Close()
	// After the embedded server, which sets the block profile's rate to
	// its own option's.
	stopPprof, err := startPprof(c.DebugPprof, log)
	if err != nil {
		return err
	}
	defer stopPprof()
	accounts, err := eventstore.OpenAccounts(ctx, js, c.AccountsBucket, c.Replicas)
	if err != nil {
		return err
	}
	if err := ensureAdmin(ctx, accounts, c.DataDir, time.Now(), log); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Every request's account, from memory while a watch keeps it
	// current (eventstore.AccountCache: a disable is refused here at
	// once, and by other processes within eventstore.AccountsMaxStale).
	cached, err := accounts.Cache(ctx)
	if err != nil {
		return err
	}
	if natsAuth != nil {
		// Readers may connect once their accounts are known; a disabled
		// account is refused, and its connections closed, at once.
		if err := accounts.Watch(ctx, natsAuth.SetAccount); err != nil {
			return err
		}
	}
	feed := trust.checked(store)
	if resumed, problem := store.KeyIndexResumed(); problem != nil {
		log.Warn("the idempotency key index's checkpoint did not match the stream; rebuilt it from the stream", "problem", problem)
	} else if resumed > 0 {
		log.Info("idempotency key index resumed from its checkpoint", "seq", resumed)
	}
	balances := resumeBalances(ctx, store, c.Rebuild, log)
	// A bad message stops the balances, not serve (repudiate.go).
	repudiations := domain.NewRepudiations()
	store.SkipRepudiated(repudiations)
	repudiationsRead := make(chan struct{})
	go followRepudiations(ctx, store, repudiations, trust.verify, repudiationsRead, log)
	health := &webapi.Health{}
	projErr := make(chan error, 1)
	go func() {
		projErr <- superviseBalances(ctx, store, feed, balances, repudiations, repudiationsRead, health, log)
	}()
	if err := catchUp(ctx, store, balances, log, projErr, health); err != nil {
		return err
	}
	var plans *projections.Plans
	plansHealth := &webapi.Health{}
	plansErr := make(chan error, 1)
	saved := make(chan struct{})
	plansSaved := make(chan struct{})
	if c.LiveReports {
		plans = resumePlans(ctx, store, c.Rebuild, log)
		go func() {
			plansErr <- superviseBalances(ctx, store, feed, plans, repudiations, repudiationsRead, plansHealth, log)
		}()
		go func() {
			defer close(plansSaved)
			saveEvery(ctx, store.Checkpoints(), plansCheckpoint, plansSaveEvery, plans, m, log)
		}()
	} else {
		close(plansSaved)
	}
	go func() {
		defer close(saved)
		saveEvery(ctx, store.Checkpoints(), webapi.BalancesCheckpoint, balancesSaveEvery, balances, m, log)
	}()

	decided := trust.decidedOn(store)
	var observer webapi.Observer // a nil *metrics must stay a nil interface
	if m != nil {
		decided = m.observe(decided)
		observer = m
		m.watchNATS(nc)
		ps := []projection{{projectionBalances, balances.Applied}, {projectionKeyIndex, store.KeyIndexApplied}}
		if plans != nil {
			ps = append(ps, projection{projectionReports, plans.Applied})
		}
		m.watchStream(store, js, ps...)
	}
	ledger := domain.NewLedger(decided, domain.Policy{SettlementEndFrom2026: c.SettlementEnd})
	// Remembering what it signs: the balances need not verify those
	// signatures again when the events come back (ownSignatures).
	ledger.SignWith(trust.ledgerSigner())
	history, err := eventstore.OpenReader(ctx, nc, store.Stream())
	if err != nil {
		return err
	}
	history.VerifyWith(trust.verifyEvent)
	a := webapi.New(webapi.Config{
		Ledger:      ledger,
		Policy:      domain.Policy{SettlementEndFrom2026: c.SettlementEnd},
		Plans:       plans,
		PlansHealth: plansHealth,
		Signers:     trust,
		History:     history,
		Feed:        feed,
		Checkpoints: store.Checkpoints(),
		Balances:    balances,
		Accounts:    cached,
		NATSURL:     natsURL,
		NATSUsers:   natsUsersOf(natsAuth),
		Stream:      store.Stream(),
		Log:         log,
		Now:         time.Now,

		Health:       health,
		Repudiations: repudiations,
		Connected:    nc.IsConnected,
		KeysCurrent:  store.KeyIndexCurrent,
		Observer:     observer,
	})
	sessions, err := eventstore.OpenSessions(ctx, js, "", c.Replicas, webui.DefaultSessionLifetime)
	if err != nil {
		return err
	}
	var pages webui.PageObserver // a nil *metrics must stay a nil interface
	if m != nil {
		pages = m
	}
	console, err := webui.New(webui.Config{API: a, Accounts: cached, Sessions: sessions, Secure: c.TLSCert != "", Log: log, Now: time.Now, Observer: pages})
	if err != nil {
		return err
	}
	handler := console.Handler()
	if apiNC != nil {
		svc, err := a.StartNATS(apiNC)
		if err != nil {
			return err
		}
		defer func() { _ = svc.Stop() }()
	} else {
		// Requesters choose where replies go: serving with the operator's
		// credentials would let one aim a reply at a ledger subject.
		log.Info("the NATS service (kcledger.api.v1.*) runs only with the embedded server, where it answers as a user that may publish to _INBOX.> alone")
	}
	srv := newHTTPServer(handler, log)
	httpErr := make(chan error, 1)
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
		go func() { httpErr <- srv.ServeTLS(ln, c.TLSCert, c.TLSKey) }()
	} else {
		go func() { httpErr <- srv.Serve(ln) }()
	}
	if !isLoopback(c.HTTP) && c.TLSCert == "" {
		log.Warn("the API listens beyond loopback without TLS (--insecure): tokens cross the network in clear unless a proxy adds TLS", "http", c.HTTP)
	}
	metricsErr := make(<-chan error) // never, without --metrics
	if m != nil {
		metricsErr = m.serve(ctx, metricsLn, c.TLSCert, c.TLSKey, log)
		log.Info("Prometheus metrics served", "metrics", scheme+"://"+metricsLn.Addr().String()+"/metrics")
	}
	log.Info("kcledger ready", "http", scheme+"://"+ln.Addr().String(), "nats", natsURL, "stream", store.Stream(), "data", c.DataDir, "applied_seq", balances.Applied())
	fmt.Fprintf(stdout, "kcledger: HTTP API and web console on %s://%s, NATS on %s, stream %s\n", scheme, ln.Addr(), natsURL, store.Stream())

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-httpErr:
		runErr = fmt.Errorf("http: %w", err)
	case err := <-metricsErr:
		runErr = fmt.Errorf("metrics: %w", err)
	case err := <-projErr:
		runErr = fmt.Errorf("balances projection stopped: %w", err)
	case err := <-plansErr: // nil only on shutdown
		runErr = fmt.Errorf("reports projection stopped: %w", err)
	}
	shutdownCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = srv.Shutdown(shutdownCtx)
	cancel()
	<-saved      // the last checkpoint of the balances
	<-plansSaved // and of the reports' model
	log.Info("kcledger stopped")
	return runErr
}

// catchUp waits until the projection has replayed the stream as it was at
// start, reporting progress on long replays, or has stopped before a bad
// message: serve then starts all the same, and says why it serves no
// balances.
func catchUp(ctx context.Context, store *eventstore.JetStream, b *projections.Balances, log *slog.Logger, projErr <-chan error, h *webapi.Health) error {
	target, err := store.LastEventSeq(ctx)
	if err != nil {
		return err
	}
	if target == 0 {
		return nil
	}
	log.Info("replaying the event stream into balances", "target_seq", target)
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- b.WaitFor(ctx, target) }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		changed := h.Wait()
		if st := h.Stalled(); st != nil {
			log.Warn("serving without balances: they stand stopped before a message that is not sound", "seq", st.Seq, "applied_seq", b.Applied(), "target_seq", target)
			return nil
		}
		select {
		case <-changed:
		case err := <-done:
			if err != nil {
				return err
			}
			log.Info("balances rebuilt", "applied_seq", b.Applied(), "duration_ms", time.Since(start).Milliseconds())
			return nil
		case err := <-projErr:
			return fmt.Errorf("balances projection: %w", err)
		case <-tick.C:
			log.Info("replaying", "applied_seq", b.Applied(), "target_seq", target)
		}
	}
}

// natsUsersOf keeps a nil authenticator a nil interface.
func natsUsersOf(a *eventstore.NATSAuth) interface{ SetAccount(domain.Account) } {
	if a == nil {
		return nil
	}
	return a
}

// Balances checkpoints are saved at most every balancesSaveEvery, once
// balancesSaveAfter events have been applied since the last, and when
// serve stops.
const (
	balancesSaveEvery = time.Minute
	balancesSaveAfter = 1000
)

// resumeBalances starts the balances from their checkpoint when it
// matches the stream (the stream holds, at the checkpoint's sequence, the
// event whose hash it names), and from nothing otherwise.
func resumeBalances(ctx context.Context, store *eventstore.JetStream, rebuild bool, log *slog.Logger) *projections.Balances {
	if rebuild {
		log.Info("rebuilding the balances from the whole stream (--rebuild)")
		return projections.NewBalances()
	}
	data, err := store.Checkpoints().Load(ctx, webapi.BalancesCheckpoint)
	if err != nil || data == nil {
		if err != nil {
			log.Warn("the balances' checkpoint could not be read; rebuilding from the stream", "problem", err)
		}
		return projections.NewBalances()
	}
	b, cp, err := projections.RestoreBalances(data)
	if err == nil && cp.AppliedSeq > 0 {
		err = checkpointMatches(ctx, store, cp)
	}
	if err != nil {
		log.Warn("the balances' checkpoint does not match the stream; rebuilding from the stream", "problem", err)
		return projections.NewBalances()
	}
	log.Info("balances resumed from their checkpoint", "seq", cp.AppliedSeq)
	return b
}

// checkpointMatches says whether the stream still holds the history a
// checkpoint was taken from: the event at its sequence, the last event of
// each of its lines (hash and sequence: a line re-chained after an edit
// ends elsewhere), and no message missing up to it (kcledger never
// deletes one; re-creating the stream without one keeps the other
// sequences, and the checkpoint would go on counting the removed one).
func checkpointMatches(ctx context.Context, store *eventstore.JetStream, cp projections.Checkpoint) error {
	hash, err := store.EventHash(ctx, cp.AppliedSeq)
	if err != nil {
		return err
	}
	if hash != cp.AppliedHash {
		return fmt.Errorf("the stream's event at seq %d has hash %s, the checkpoint names %s", cp.AppliedSeq, hash, cp.AppliedHash)
	}
	missing, err := store.Missing(ctx, cp.AppliedSeq)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("the stream no longer holds seq %v, which the checkpoint (at seq %d) counted: a message was removed", missing, cp.AppliedSeq)
	}
	for _, l := range cp.Lines {
		hash, err := store.EventHash(ctx, l.LastSeq)
		if err != nil {
			return fmt.Errorf("line %s: its last event, seq %d: %w", l.Key, l.LastSeq, err)
		}
		if hash != l.LastHash {
			return fmt.Errorf("line %s: the stream's event at seq %d has hash %s, the checkpoint names %s", l.Key, l.LastSeq, hash, l.LastHash)
		}
	}
	return nil
}

// plansCheckpoint is the name of the reports' model's checkpoint.
const plansCheckpoint = "plans"

// The reports' model is saved at most every plansSaveEvery (once
// balancesSaveAfter events have been applied since the last), and when
// serve stops: encoding a million events' model takes most of a second,
// during which it applies nothing.
const plansSaveEvery = 5 * time.Minute

// resumePlans starts the reports' live model from its checkpoint when it
// is sound and matches the stream, as checkpointMatches tells, and from
// nothing otherwise: it then replays the stream.
func resumePlans(ctx context.Context, store *eventstore.JetStream, rebuild bool, log *slog.Logger) *projections.Plans {
	if rebuild {
		log.Info("rebuilding the reports' model from the whole stream (--rebuild)")
		return projections.NewLivePlans()
	}
	start := time.Now()
	data, err := store.Checkpoints().Load(ctx, plansCheckpoint)
	if err != nil || data == nil {
		if err != nil {
			log.Warn("the reports' checkpoint could not be read; rebuilding the reports' model from the stream", "problem", err)
		}
		return projections.NewLivePlans()
	}
	p, cp, err := projections.RestorePlans(data)
	if err != nil {
		log.Warn("the reports' checkpoint is refused; rebuilding the reports' model from the stream", "problem", err)
		return projections.NewLivePlans()
	}
	if cp.AppliedSeq > 0 {
		if err := checkpointMatches(ctx, store, cp); err != nil {
			log.Warn("the reports' checkpoint does not match the stream; rebuilding the reports' model from the stream", "problem", err)
			return projections.NewLivePlans()
		}
	}
	log.Info("reports' model resumed from its checkpoint", "seq", cp.AppliedSeq, "bytes", len(data), "duration_ms", time.Since(start).Milliseconds())
	return p
}

// checkpointed is a model with a checkpoint: the balances or the
// reports' model.
type checkpointed interface {
	Checkpoint() ([]byte, uint64)
	Applied() uint64
}

// saveEvery saves m's checkpoint under name at most every interval, once
// balancesSaveAfter events have been applied since the last, and once
// more when ctx ends. Each save is counted in met (nil without
// --metrics).
func saveEvery(ctx context.Context, cps *eventstore.Checkpoints, name string, every time.Duration, m checkpointed, met *metrics, log *slog.Logger) {
	var savedSeq uint64
	save := func(ctx context.Context) {
		data, seq := m.Checkpoint()
		if seq == savedSeq {
			return
		}
		if err := cps.Save(ctx, name, data); err != nil {
			log.Warn("saving a checkpoint failed; the next start replays more", "checkpoint", name, "err", err)
			return
		}
		savedSeq = seq
		met.checkpointSaved(name, len(data), time.Now())
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			save(final)
			cancel()
			return
		case <-t.C:
			if m.Applied() >= savedSeq+balancesSaveAfter {
				save(ctx)
			}
		}
	}
}

// envBoolDefault is envBool for a flag with a default of def: a value
// strconv.ParseBool cannot read leaves the default.
func envBoolDefault(name string, def bool) bool {
	v, err := strconv.ParseBool(env(name, strconv.FormatBool(def)))
	if err != nil {
		return def
	}
	return v
}

// Limits of the HTTP server.
const (
	maxHeaderBytes    = 16 * 1024
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// newHTTPServer serves handler with serve's limits and timeouts, its
// errors logged as warnings.
func newHTTPServer(handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
