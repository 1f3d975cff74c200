package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// Limits of the HTTP API.
const (
	maxHeaderBytes    = 16 * 1024
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	// maxInFlight bounds the /v1 requests served at once; more are
	// refused with 503 rather than queued without end.
	maxInFlight = 256
	// readYourWritesWait bounds how long a read waits for the projection
	// to reach this server's last write.
	readYourWritesWait = 5 * time.Second
)

// api is the HTTP JSON API over the ledger and its read models.
type api struct {
	ledger *domain.Ledger
	// policy is the ledger's, for the reports' period windows.
	policy domain.Policy
	// plans is the reports' live model (serve --live-reports), nil
	// without; plansHealth says whether it stands stopped before a bad
	// message.
	plans       *projections.Plans
	plansHealth *soundness
	balances    *projections.Balances
	accounts    accountStore
	signers     signerList
	history     historyReader
	// feed is the stream the balances follow, for rebuilds; checkpoints
	// is where their checkpoint is kept.
	feed        projections.Feed
	checkpoints checkpointStore
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
	// repudiating is held while one is recorded (repudiate.go).
	health       *soundness
	repudiations *domain.Repudiations
	repudiating  sync.Mutex
}

func (a *api) routes() http.Handler {
	v1 := http.NewServeMux()
	for path, kind := range map[string]domain.CommandKind{
		"/v1/allocations":   domain.Allocate,
		"/v1/adjustments":   domain.Adjust,
		"/v1/disbursements": domain.Disburse,
		"/v1/refunds":       domain.Refund,
		"/v1/lapses":        domain.Lapse,
	} {
		v1.HandleFunc("POST "+path, a.record(kind))
		v1.HandleFunc(path, a.methodNotAllowed("POST"))
	}
	v1.HandleFunc("POST /v1/transfers", a.transfer)
	v1.HandleFunc("/v1/transfers", a.methodNotAllowed("POST"))
	v1.HandleFunc("GET /v1/balances", a.getBalances)
	v1.HandleFunc("/v1/balances", a.methodNotAllowed("GET"))
	v1.HandleFunc("GET "+pathPlanExecution, a.getPlanExecution)
	v1.HandleFunc(pathPlanExecution, a.methodNotAllowed("GET"))
	v1.HandleFunc("GET /v1/provinces", a.getProvinces)
	v1.HandleFunc("/v1/provinces", a.methodNotAllowed("GET"))
	v1.HandleFunc("POST /v1/users", a.addUser)
	v1.HandleFunc("GET /v1/users", a.listUsers)
	v1.HandleFunc("/v1/users", a.methodNotAllowed("GET, POST"))
	v1.HandleFunc("GET /v1/audit", a.getAudit)
	v1.HandleFunc("/v1/audit", a.methodNotAllowed("GET"))
	v1.HandleFunc("POST /v1/rebuild", a.rebuild)
	v1.HandleFunc("/v1/rebuild", a.methodNotAllowed("POST"))
	v1.HandleFunc("GET /v1/keys", a.getKeys)
	v1.HandleFunc("/v1/keys", a.methodNotAllowed("GET"))
	v1.HandleFunc("POST /v1/nats-users", a.addNATSUser)
	v1.HandleFunc("/v1/nats-users", a.methodNotAllowed("POST"))
	v1.HandleFunc("POST /v1/users/{name}/disable", a.disableUser)
	v1.HandleFunc("/v1/users/{name}/disable", a.methodNotAllowed("POST"))
	v1.HandleFunc("POST /v1/repudiations", a.repudiate)
	v1.HandleFunc("/v1/repudiations", a.methodNotAllowed("POST"))
	v1.HandleFunc("POST /v1/users/{name}/enable", a.enableUser)
	v1.HandleFunc("/v1/users/{name}/enable", a.methodNotAllowed("POST"))
	a.yearEndRoutes(v1)
	v1.HandleFunc("/v1/", a.notFound)

	mux := http.NewServeMux()
	// Every /v1 route needs an account; the health check does not.
	mux.Handle("/v1/", a.limit(a.requireAccount(v1)))
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("/", a.notFound)
	return a.middleware(mux)
}

// limit refuses a request when maxInFlight are already being served.
func (a *api) limit(next http.Handler) http.Handler {
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
			webapi.WriteError(w, r, a.log, domain.Errorf(domain.CodeUnavailable, "", "the ledger is serving %d requests already; retry in a moment (with the same Idempotency-Key)", cap(a.inFlight)))
		}
	})
}

func (a *api) notFound(w http.ResponseWriter, r *http.Request) {
	webapi.WriteError(w, r, a.log, domain.Errorf(domain.CodeNotFound, "", "no such resource: %s", r.URL.Path))
}

// middleware gives every request an id and logs it once, when done.
func (a *api) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(webapi.WithRequestID(r.Context(), id))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r)
		a.log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "duration_ms", time.Since(start).Milliseconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (a *api) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		webapi.WriteError(w, r, a.log, domain.Errorf(domain.CodeMethodNotAllowed, "", "%s %s is not supported; use %s", r.Method, r.URL.Path, allow))
	}
}

// recordResponse is the answer to a recording request.
type recordResponse struct {
	Event    domain.Event `json:"event"`
	Seq      uint64       `json:"seq"`
	Replayed bool         `json:"replayed"`
	Line     lineView     `json:"line"`
	Project  *projectView `json:"project,omitempty"`
}

type lineView struct {
	Line    domain.LineKey `json:"line"`
	Balance domain.Balance `json:"balance"`
	Events  int            `json:"events"`
	LastSeq uint64         `json:"last_seq"`
}

type projectView struct {
	Project string         `json:"project"`
	Balance domain.Balance `json:"balance"`
}

func (a *api) record(kind domain.CommandKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cmd, err := a.command(w, r, kind)
		if err != nil {
			webapi.WriteError(w, r, a.log, err)
			return
		}
		res, err := a.ledger.Record(r.Context(), cmd)
		if err != nil {
			webapi.WriteError(w, r, a.log, keyError(err))
			return
		}
		a.noteWrite(res.Recorded.Seq)
		resp := recordResponse{
			Event:    res.Recorded.Event,
			Seq:      res.Recorded.Seq,
			Replayed: res.Replayed,
			Line:     lineViewOf(res.Line),
			Project:  projectViewOf(res.Line, res.Recorded.Event.Project),
		}
		status := http.StatusCreated
		if res.Replayed {
			status = http.StatusOK
		}
		webapi.WriteJSON(w, status, resp)
	}
}

// command reads a recording request into the command to decide: the
// account records at all, the ledger's state is known, the body decodes,
// the account may record on every line the command moves money on (both
// of a transfer's), and an Idempotency-Key is given. The fields set at
// the edge (ids, time, actor) are filled in.
func (a *api) command(w http.ResponseWriter, r *http.Request, kind domain.CommandKind) (domain.Command, error) {
	acc := accountOf(r)
	if err := acc.MayRecordAny(); err != nil {
		return domain.Command{}, err
	}
	// A ledger whose state is unknown decides no new movement.
	if err := a.sound(); err != nil {
		return domain.Command{}, err
	}
	body, err := webapi.ReadBody(w, r)
	if err != nil {
		return domain.Command{}, err
	}
	cmd, err := webapi.DecodeMovement(kind, body)
	if err != nil {
		return cmd, err
	}
	if err := acc.MayRecord(cmd.Line()); err != nil {
		return cmd, err
	}
	if kind == domain.Transfer {
		if err := acc.MayRecord(cmd.To); err != nil {
			var de *domain.Error
			if errors.As(err, &de) && de.Field != "" {
				err = webapi.WithField(err, "to_"+de.Field) // the destination's province or source
			}
			return cmd, err
		}
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return cmd, domain.Errorf(domain.CodeInvalidIdempotencyKey, "Idempotency-Key",
			"the Idempotency-Key header is required: a unique key per movement (a UUID), reused only to retry the same request")
	}
	cmd.IdempotencyKey = key
	cmd.EventID = uuid.Must(uuid.NewV7()).String()
	if kind == domain.Transfer {
		cmd.InEventID = uuid.Must(uuid.NewV7()).String()
	}
	cmd.Now = a.now().UTC()
	cmd.Actor = acc.Name // from the token, never from the request body
	return cmd, nil
}

// keyError names the Idempotency-Key header on the ledger's refusals of
// the key, which came in that header.
func keyError(err error) error {
	if c := domain.ErrorCode(err); c == domain.CodeInvalidIdempotencyKey || c == domain.CodeIdempotencyKeyReused {
		return webapi.WithField(err, "Idempotency-Key")
	}
	return err
}

func lineViewOf(l *domain.LineState) lineView {
	return lineView{Line: l.Key, Balance: l.Balance, Events: l.Events, LastSeq: l.LastSeq}
}

// projectViewOf is the balance of the project an event names, or nil.
func projectViewOf(l *domain.LineState, project string) *projectView {
	if project == "" {
		return nil
	}
	return &projectView{Project: project, Balance: l.Project(project)}
}

func (a *api) noteWrite(seq uint64) {
	for {
		cur := a.lastWrite.Load()
		if seq <= cur || a.lastWrite.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// waitForWrites holds a read until the projection reflects every write
// this server has acknowledged.
func (a *api) waitForWrites(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readYourWritesWait)
	defer cancel()
	if err := a.balances.WaitFor(ctx, a.lastWrite.Load()); err != nil {
		return domain.Errorf(domain.CodeUnavailable, "", "balances are catching up with recent writes; retry shortly")
	}
	return nil
}

func (a *api) getBalances(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := webapi.CheckParams(q, "year", "province", "source", "as_of", "until_seq", "effective_until"); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	f, err := a.readFilter(r)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	if q.Has("as_of") || q.Has("until_seq") || q.Has("effective_until") {
		a.pastBalances(w, r, f)
		return
	}
	if err := a.sound(); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	if err := a.waitForWrites(r.Context()); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	webapi.WriteJSON(w, http.StatusOK, a.balances.Report(f))
}

// parseFilter reads ?year=&province=&source=, all optional.
func parseFilter(r *http.Request) (projections.Filter, error) {
	q := r.URL.Query()
	var f projections.Filter
	if y := q.Get("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < domain.MinFiscalYear || n > domain.MaxFiscalYear {
			return f, domain.Errorf(domain.CodeInvalidYear, "year", "year %q must be a fiscal year from %d to %d", y, domain.MinFiscalYear, domain.MaxFiscalYear)
		}
		f.FiscalYear = n
	}
	if p := q.Get("province"); p != "" {
		if _, ok := domain.LookupProvince(domain.Scheme63, p); !ok {
			if _, ok := domain.LookupProvince(domain.Scheme34, p); !ok {
				return f, domain.Errorf(domain.CodeUnknownProvince, "province", "unknown province code %q", p)
			}
		}
		f.Province = p
	}
	if s := q.Get("source"); s != "" {
		src, err := domain.ParseSource(s)
		if err != nil {
			return f, err
		}
		f.Source = src
	}
	return f, nil
}

type provincesResponse struct {
	Date      domain.Date       `json:"date"`
	Scheme    domain.Scheme     `json:"scheme"`
	Provinces []domain.Province `json:"provinces"`
}

func (a *api) getProvinces(w http.ResponseWriter, r *http.Request) {
	if err := accountOf(r).MayRead(); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	d := domain.DateOf(a.now().In(vietnam))
	if s := r.URL.Query().Get("date"); s != "" {
		var err error
		if d, err = domain.ParseDate(s); err != nil {
			webapi.WriteError(w, r, a.log, webapi.WithField(err, "date"))
			return
		}
	}
	s := domain.SchemeOn(d)
	webapi.WriteJSON(w, http.StatusOK, provincesResponse{Date: d, Scheme: s, Provinces: domain.Provinces(s)})
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	webapi.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "applied_seq": a.balances.Applied()})
}

// vietnam is the zone in which "today" is judged.
var vietnam = time.FixedZone("ICT", 7*60*60)
