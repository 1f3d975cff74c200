package api

import (
	"net/http"

	"github.com/kcledger/kcledger/domain"
)

// routes is every route of the API, in one place. Each route group's
// handler and request parsing are in a file of their own: movements.go
// (the recording routes), transfers.go, balances.go (balances, past
// balances, provinces), audit.go, reports.go, accounts.go (accounts,
// read-only NATS users, and the authentication every /v1 route needs),
// keys.go, rebuild.go, repudiations.go, yearend.go, and health.go
// (/readyz).
func (a *Server) routes() http.Handler {
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
	v1.HandleFunc("GET "+PathPlanExecution, a.getPlanExecution)
	v1.HandleFunc(PathPlanExecution, a.methodNotAllowed("GET"))
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
	v1.HandleFunc("POST /v1/users/{name}/password", a.setPassword)
	v1.HandleFunc("/v1/users/{name}/password", a.methodNotAllowed("POST"))
	// The year-end operations (yearend.go).
	for op, path := range YearEndPaths {
		v1.HandleFunc("POST "+path, a.yearEnd(op))
		v1.HandleFunc(path, a.methodNotAllowed("POST"))
	}
	v1.HandleFunc("/v1/", a.notFound)

	mux := http.NewServeMux()
	// Every /v1 route needs an account; the health check does not.
	mux.Handle("/v1/", a.limit(a.requireAccount(v1)))
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("/", a.notFound)
	return a.middleware(mux)
}
