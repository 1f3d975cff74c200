package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

// Limits of the API.
const (
	// maxInFlight bounds the /v1 requests served at once; more are
	// refused with 503 rather than queued without end.
	maxInFlight = 256
	// readYourWritesWait bounds how long a read waits for the projection
	// to reach this server's last write.
	readYourWritesWait = 5 * time.Second
)

// Server is the HTTP JSON API over the ledger and its read models.
type Server struct {
	ledger *domain.Ledger
	// policy is the ledger's, for the reports' period windows.
	policy domain.Policy
	// plans is the reports' live model (serve --live-reports), nil
	// without; plansHealth says whether it stands stopped before a bad
	// message.
	plans       *projections.Plans
	plansHealth *Health
	balances    *projections.Balances
	accounts    AccountStore
	signers     SignerList
	history     HistoryReader
	// feed is the stream the balances follow, for rebuilds; checkpoints
	// is where their checkpoint is kept.
	feed        projections.Feed
	checkpoints CheckpointStore
	// natsURL is where readers connect. natsUsers is the embedded
	// server's authenticator, told of account changes as they are made
	// (its watch of the accounts bucket would follow a moment later); nil
	// when the operator of an external server manages its users.
	natsURL   string
	natsUsers interface{ SetAccount(domain.Account) }
	stream    string
	// inFlight holds a token per /v1 request being served; nil means
	// maxInFlight.
	inFlight chan struct{}
	log      *slog.Logger
	now      func() time.Time
	// lastWrite is the highest event sequence this server has returned to
	// a writer; reads wait until the projection has applied it.
	lastWrite atomic.Uint64
	// health says whether the balances stand stopped before a bad
	// message (nil: always sound); repudiations are those known, and
	// repudiating is held while one is recorded (repudiations.go).
	health       *Health
	repudiations *domain.Repudiations
	repudiating  sync.Mutex
	// connected says whether the NATS connection is up (/readyz); nil
	// is always.
	connected func() bool
	// keysCurrent says why the idempotency key index would refuse a
	// recording now (/readyz); nil is never.
	keysCurrent func() error
	// marks are the lines' totals the audit trails met, to start later
	// trails of a line from (audit.go).
	marks *projections.TrailMarks
	// observer is told of answers, for metrics (observe.go); nil is
	// none.
	observer Observer

	handlerOnce sync.Once
	handler     http.Handler
	// asAccount is the /v1 routes without their authentication (ServeAs).
	asAccount http.Handler
	// patterns are the routes' "METHOD /path" (routes.go).
	patterns []string
}

// Config is what a Server serves and answers with.
type Config struct {
	Ledger *domain.Ledger
	// Policy is the ledger's, for the reports' period windows.
	Policy domain.Policy
	// Plans is the reports' live model (serve --live-reports), nil
	// without; PlansHealth says whether it stands stopped before a bad
	// message.
	Plans       *projections.Plans
	PlansHealth *Health
	Balances    *projections.Balances
	Accounts    AccountStore
	Signers     SignerList
	History     HistoryReader
	// Feed is the stream the balances follow, for rebuilds; Checkpoints
	// is where their checkpoint is kept.
	Feed        projections.Feed
	Checkpoints CheckpointStore
	// NATSURL is where readers connect. NATSUsers is the embedded
	// server's authenticator, told of account changes as they are made;
	// nil when the operator of an external server manages its users.
	NATSURL   string
	NATSUsers interface{ SetAccount(domain.Account) }
	Stream    string
	// MaxInFlight bounds the /v1 requests served at once; 0 means
	// maxInFlight.
	MaxInFlight int
	Log         *slog.Logger
	Now         func() time.Time
	// Health says whether the balances stand stopped before a bad
	// message (nil: always sound); Repudiations are those known.
	Health       *Health
	Repudiations *domain.Repudiations
	// Connected says whether the NATS connection is up, for /readyz;
	// nil is always.
	Connected func() bool
	// KeysCurrent says why the idempotency key index would refuse a
	// recording now, for /readyz; nil when there is no such index.
	KeysCurrent func() error
	// Observer is told of answers, for metrics; nil is none.
	Observer Observer
}

// New is the API over c.
func New(c Config) *Server {
	a := &Server{
		ledger:       c.Ledger,
		policy:       c.Policy,
		plans:        c.Plans,
		plansHealth:  c.PlansHealth,
		balances:     c.Balances,
		accounts:     c.Accounts,
		signers:      c.Signers,
		history:      c.History,
		feed:         c.Feed,
		checkpoints:  c.Checkpoints,
		natsURL:      c.NATSURL,
		natsUsers:    c.NATSUsers,
		stream:       c.Stream,
		log:          c.Log,
		now:          c.Now,
		health:       c.Health,
		repudiations: c.Repudiations,
		marks:        projections.NewTrailMarks(trailMarkEvery, maxTrailMarks),
		connected:    c.Connected,
		keysCurrent:  c.KeysCurrent,
		observer:     c.Observer,
	}
	if c.MaxInFlight > 0 {
		a.inFlight = make(chan struct{}, c.MaxInFlight)
	}
	return a
}

// Handler serves the API's routes (routes.go): one handler, the same for
// HTTP and for the NATS service (nats.go).
func (a *Server) Handler() http.Handler {
	a.handlerOnce.Do(func() { a.handler = a.routes() })
	return a.handler
}

// ServeAs serves a /v1 request as acc, an account its caller has
// authenticated: the web console, whose sessions stand for tokens. The
// routes, their limits, rules and answers are those a token gets.
func (a *Server) ServeAs(w http.ResponseWriter, r *http.Request, acc *domain.Account) {
	a.Handler()
	a.asAccount.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accountKey{}, acc)))
}

// InFlight is the number of /v1 requests being served now.
func (a *Server) InFlight() int { return len(a.inFlight) }

// limit refuses a request when maxInFlight are already being served.
func (a *Server) limit(next http.Handler) http.Handler {
	if a.inFlight == nil {
		a.inFlight = make(chan struct{}, maxInFlight)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case a.inFlight <- struct{}{}:
			defer func() { <-a.inFlight }()
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			WriteError(w, r, a.log, domain.Errorf(domain.CodeUnavailable, "", "the ledger is serving %d requests already; retry in a moment (with the same Idempotency-Key)", cap(a.inFlight)))
		}
	})
}

func (a *Server) notFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, r, a.log, domain.Errorf(domain.CodeNotFound, "", "no such resource: %s", r.URL.Path))
}

// middleware gives every request an id and logs it once, when done.
func (a *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(WithRequestID(r.Context(), id))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r)
		took := time.Since(start)
		a.observeRequest(sw, r, took)
		a.logRequest(r, sw, id, took)
	})
}

// logRequest writes a request's line: its id, method, path, route (the
// pattern that matched, as the metrics count it), status, duration in
// milliseconds to the microsecond, and the account and refusal code
// when there are. Below the logger's level it builds nothing; above it,
// typed attributes, which slog keeps without boxing them.
func (a *Server) logRequest(r *http.Request, sw *statusWriter, id string, took time.Duration) {
	ctx := r.Context()
	if !a.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	route := sw.route
	if route == "" {
		route = routeUnmatched
	}
	var buf [8]slog.Attr
	attrs := append(buf[:0], slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("route", route), slog.Int("status", sw.status), slog.Float64("duration_ms", float64(took.Microseconds())/1000))
	if sw.account != "" {
		attrs = append(attrs, slog.String("account", sw.account))
	}
	if sw.code != "" {
		attrs = append(attrs, slog.String("code", string(sw.code)))
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}

// statusWriter keeps what a request's log line says of its answer: the
// status, the account that asked, and the code of a refusal; and the
// route (the ServeMux pattern) that matched, for metrics.
type statusWriter struct {
	http.ResponseWriter
	status  int
	account string
	code    domain.Code
	route   string
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (a *Server) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		WriteError(w, r, a.log, domain.Errorf(domain.CodeMethodNotAllowed, "", "%s %s is not supported; use %s", r.Method, r.URL.Path, allow))
	}
}

func (a *Server) noteWrite(seq uint64) {
	for {
		cur := a.lastWrite.Load()
		if seq <= cur || a.lastWrite.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// waitForWrites holds a read until the projection reflects every write
// this server has acknowledged.
func (a *Server) waitForWrites(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readYourWritesWait)
	defer cancel()
	if err := a.balances.WaitFor(ctx, a.lastWrite.Load()); err != nil {
		return domain.Errorf(domain.CodeUnavailable, "", "balances are catching up with recent writes; retry shortly")
	}
	return nil
}

func (a *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "applied_seq": a.balances.Applied()})
}

// vietnam is the zone in which "today" is judged.
var vietnam = time.FixedZone("ICT", 7*60*60)
