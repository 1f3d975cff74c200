package api

import (
	"net/http"
	"strings"

	"github.com/kcledger/kcledger/domain"
)

// routes is every route of the API, in one place. Each route group's
// handler and request parsing are in a file of their own: movements.go
// (the recording routes), transfers.go, balances.go (balances, past
// balances, provinces), audit.go, reports.go, accounts.go (accounts,
// read-only NATS users, and the authentication every /v1 route needs),
// keys.go, rebuild.go, repudiations.go, yearend.go, health.go
// (/readyz), and openapi.go (this API's description, docs/openapi.yaml,
// which a test holds to this list).
func (a *Server) routes() http.Handler {
	v1 := http.NewServeMux()
	// handle registers a path's handlers, one per method, and answers
	// any other method with 405 and the Allow header.
	handle := func(path string, methods ...route) {
		allow := make([]string, len(methods))
		for i, m := range methods {
			v1.HandleFunc(m.method+" "+path, routed(m.handler))
			allow[i] = m.method
			a.patterns = append(a.patterns, m.method+" "+path)
		}
		v1.HandleFunc(path, routed(a.methodNotAllowed(strings.Join(allow, ", "))))
	}
	for path, kind := range map[string]domain.CommandKind{
		"/v1/allocations":   domain.Allocate,
		"/v1/adjustments":   domain.Adjust,
		"/v1/disbursements": domain.Disburse,
		"/v1/refunds":       domain.Refund,
		"/v1/lapses":        domain.Lapse,
	} {
		handle(path, post(a.record(kind)))
	}
	handle("/v1/transfers", post(a.transfer))
	handle("/v1/balances", get(a.getBalances))
	handle(PathPlanExecution, get(a.getPlanExecution))
	handle("/v1/provinces", get(a.getProvinces))
	handle("/v1/users", get(a.listUsers), post(a.addUser))
	handle("/v1/audit", get(a.getAudit))
	handle("/v1/events/{seq}", get(a.getEvent))
	handle(PathExport, get(a.getExport)) // export.go
	handle("/v1/rebuild", post(a.rebuild))
	handle("/v1/keys", get(a.getKeys))
	handle("/v1/nats-users", post(a.addNATSUser))
	handle("/v1/users/{name}/disable", post(a.disableUser))
	handle("/v1/users/{name}/enable", post(a.enableUser))
	handle("/v1/users/{name}/password", post(a.setPassword))
	handle("/v1/repudiations", post(a.repudiate))
	handle(PathImports, post(a.importBatch)) // imports.go
	// The year-end operations (yearend.go).
	for op, path := range YearEndPaths {
		handle(path, post(a.yearEnd(op)))
	}
	v1.HandleFunc("/v1/", routed(a.notFound))

	// The web console authenticates its own sessions and calls the same
	// routes as their account (ServeAs).
	a.asAccount = a.limit(v1)
	mux := http.NewServeMux()
	// Every /v1 route needs an account; the health check does not.
	mux.Handle("/v1/", a.limit(a.requireAccount(v1)))
	mux.HandleFunc("GET /healthz", routed(a.healthz))
	mux.HandleFunc("GET /readyz", routed(a.readyz))
	// The API's description needs none either: it describes no data.
	mux.HandleFunc("GET "+PathOpenAPI, routed(a.openAPI))
	mux.HandleFunc(PathOpenAPI, routed(a.methodNotAllowed(http.MethodGet)))
	a.patterns = append(a.patterns, "GET /healthz", "GET /readyz", "GET "+PathOpenAPI)
	mux.HandleFunc("/", routed(a.notFound))
	return a.middleware(mux)
}

// route is one method's handler of a path.
type route struct {
	method  string
	handler http.HandlerFunc
}

func get(h http.HandlerFunc) route  { return route{http.MethodGet, h} }
func post(h http.HandlerFunc) route { return route{http.MethodPost, h} }
