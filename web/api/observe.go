package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/kcledger/kcledger/domain"
)

// Observer is told what the API answers, for metrics (cmd/kcledger's
// --metrics). Every label it is given is from a bounded set: a route is
// the ServeMux pattern that matched, never the raw path; a method is
// one of knownMethods or "other"; a code is a domain.Code.
type Observer interface {
	// Request is one request's answer.
	Request(route, method string, status int, d time.Duration)
	// Refused is the code of a request's problem answer.
	Refused(code domain.Code)
	// Command is the ledger's answer to a recording command that did not
	// append: "replayed" (its idempotency key had already produced the
	// event) or "refused" (a rule, or the request, said no).
	Command(t domain.EventType, outcome string)
}

// Outcomes of Observer.Command.
const (
	OutcomeReplayed = "replayed"
	OutcomeRefused  = "refused"
)

// routeUnmatched is the route of a request that no pattern matched
// before it was answered (a refusal of the in-flight limit, say).
const routeUnmatched = "unmatched"

// knownMethods bounds the method label: a client may send any token.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "other"
}

// routed notes the pattern that matched (r.Pattern, set by the ServeMux
// on the request it hands to h) on the request's statusWriter.
func routed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if sw, ok := w.(*statusWriter); ok {
			sw.route = r.Pattern
		}
		h(w, r)
	}
}

// observeRequest tells the observer of a request's answer.
func (a *Server) observeRequest(sw *statusWriter, r *http.Request, d time.Duration) {
	if a.observer == nil {
		return
	}
	route := sw.route
	if route == "" {
		route = routeUnmatched
	}
	a.observer.Request(route, methodLabel(r.Method), sw.status, d)
	if sw.code != "" {
		a.observer.Refused(sw.code)
	}
}

// observeCommand tells the observer of a recording command that did not
// append: replayed, or refused by the ledger with a domain error (not
// an internal one, whose outcome may be unknown).
func (a *Server) observeCommand(t domain.EventType, replayed bool, err error) {
	if a.observer == nil {
		return
	}
	var de *domain.Error
	switch {
	case err != nil && errors.As(err, &de) && de.Code != domain.CodeInternal:
		a.observer.Command(t, OutcomeRefused)
	case err == nil && replayed:
		a.observer.Command(t, OutcomeReplayed)
	}
}
