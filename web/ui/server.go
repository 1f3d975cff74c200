package ui

import (
	"context"
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/password"
)

//go:embed templates static
var files embed.FS

// SessionStore is what the console needs of eventstore.Sessions.
type SessionStore interface {
	Create(ctx context.Context, key string, value []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

// Config is what a console serves.
type Config struct {
	// API is the JSON API the console calls, in process, as each
	// session's account; its routes are served beside the console's.
	API      *api.Server
	Accounts api.AccountStore
	Sessions SessionStore
	// Throttle slows down and locks repeated failed log-ins; nil is
	// password.DefaultThrottle.
	Throttle *password.Throttle
	// SessionLifetime ends a session this long after its log-in; 0 is
	// DefaultSessionLifetime. The sessions bucket's TTL should match.
	SessionLifetime time.Duration
	// Secure marks the cookies Secure: serve runs under TLS.
	Secure bool
	Log    *slog.Logger
	Now    func() time.Time
	// Observer is told of every page's answer (serve's --metrics); nil
	// is none.
	Observer PageObserver
}

// PageObserver is told what the console answers. Its labels are from
// bounded sets: route is the pattern of routes.go that matched, method
// GET, HEAD, POST or "other".
type PageObserver interface {
	Request(route, method string, status int, d time.Duration)
}

// DefaultSessionLifetime is a working day.
const DefaultSessionLifetime = 10 * time.Hour

// Server is the web console.
type Server struct {
	api      *api.Server
	accounts api.AccountStore
	sessions SessionStore
	throttle *password.Throttle
	lifetime time.Duration
	secure   bool
	log      *slog.Logger
	now      func() time.Time
	observer PageObserver
	pages    *pages

	handlerOnce sync.Once
	handler     http.Handler
}

// New builds the console over c.
func New(c Config) (*Server, error) {
	if c.API == nil || c.Accounts == nil || c.Sessions == nil {
		return nil, errors.New("ui: the console needs the API, the accounts and the sessions")
	}
	s := &Server{
		api: c.API, accounts: c.Accounts, sessions: c.Sessions, throttle: c.Throttle,
		lifetime: c.SessionLifetime, secure: c.Secure, log: c.Log, now: c.Now,
		observer: c.Observer,
	}
	if s.lifetime <= 0 {
		s.lifetime = DefaultSessionLifetime
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.throttle == nil {
		t, err := password.NewThrottle(password.DefaultThrottle, s.now)
		if err != nil {
			return nil, err
		}
		s.throttle = t
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = p
	return s, nil
}

// Handler serves the console at / and the API's routes (/v1/, /healthz,
// /readyz) beside it, on one address.
func (s *Server) Handler() http.Handler {
	s.handlerOnce.Do(func() {
		apiH := s.api.Handler()
		mux := http.NewServeMux()
		mux.Handle("/v1/", apiH)
		mux.Handle("/healthz", apiH)
		mux.Handle("/readyz", apiH)
		mux.Handle("/", s.console())
		s.handler = mux
	})
	return s.handler
}

// console is the console's routes (routes.go) behind what every page
// gets: a request id and a log line, the security headers, and the
// refusal of state-changing requests from another origin.
func (s *Server) console() http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.forbiddenForm(w, r)
	}))
	return s.middleware(cop.Handler(s.routes()))
}

// contentSecurityPolicy allows nothing from another host, no inline
// script or style, and no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		r = r.WithContext(api.WithRequestID(r.Context(), id))
		r.Pattern = "" // Handler's "/", until the routes' own matches
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		// The routes' ServeMux has set the pattern on r, this request.
		route := r.Pattern
		if route == "" {
			route = "unmatched" // refused before routing: another origin's form
		}
		s.log.Info("page", "request_id", id, "method", r.Method, "path", r.URL.Path, "route", route,
			"status", sw.status, "account", sw.account, "duration_ms", d.Milliseconds())
		if s.observer != nil {
			s.observer.Request(route, pageMethod(r.Method), sw.status, d)
		}
	})
}

// pageMethod bounds the method label: "/" answers any method a client
// sends with the page not found.
func pageMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost:
		return m
	}
	return "other"
}

type statusWriter struct {
	http.ResponseWriter
	status  int
	account string
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
