package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/kcledger/kcledger/domain"
)

// Commands over NATS. The recording commands and the balance query
// are also a NATS service (nats.go's micro framework), discoverable with
// `nats micro ls` and `nats micro info kcledger`, for systems that speak
// NATS rather than HTTP. Each request is served by the very HTTP handler
// of the API, so validation, accounts, idempotency, answers and error
// codes are the same by construction:
//
//	kcledger.api.v1.allocations    POST /v1/allocations
//	kcledger.api.v1.adjustments    POST /v1/adjustments
//	kcledger.api.v1.disbursements  POST /v1/disbursements
//	kcledger.api.v1.refunds        POST /v1/refunds
//	kcledger.api.v1.transfers      POST /v1/transfers
//	kcledger.api.v1.lapses         POST /v1/lapses
//	kcledger.api.v1.balances       GET  /v1/balances (the query as a JSON object)
//
// Readers send requests from their own NATS account (eventstore's
// readers.go), through an import: the reply subject the service sees is
// one the server made (_R_.…), leading back into the readers' account,
// whatever the requester chose. The service answers as ServiceAPIUser,
// which may publish only to _INBOX.> and to those replies, and drops
// requests whose reply is anything else, so that a reply could not be
// aimed at a ledger subject even by a client of the service's account.
//
// A request carries the same headers as over HTTP: Authorization (Bearer
// token) and, to record, Idempotency-Key. A success is answered with the
// JSON body and a Status header (201, or 200 for a replay); a refusal with
// the problem+json body and micro's error headers: Nats-Service-Error-Code
// the HTTP status, Nats-Service-Error the stable code (insufficient_funds,
// ...). A request on any other kcledger.api.v1 subject is answered with
// the code not_found.
const (
	natsServiceName    = "kcledger"
	natsServiceVersion = "1.0.0"
	natsAPIPrefix      = "kcledger.api.v1"
	// natsAPITimeout bounds one request's work.
	natsAPITimeout = 30 * time.Second
)

type natsEndpoint struct {
	name, method, path, summary string
}

var natsEndpoints = []natsEndpoint{
	{"allocations", http.MethodPost, "/v1/allocations", "record an allocation (giao kế hoạch)"},
	{"adjustments", http.MethodPost, "/v1/adjustments", "record an adjustment (điều chỉnh)"},
	{"disbursements", http.MethodPost, "/v1/disbursements", "record a disbursement (giải ngân)"},
	{"refunds", http.MethodPost, "/v1/refunds", "record a refund (nộp trả)"},
	{"transfers", http.MethodPost, "/v1/transfers", "record a transfer between lines: a succession to a merged province's successor, or a carry-over (chuyển nguồn) to next year"},
	{"lapses", http.MethodPost, "/v1/lapses", "record a lapse (hủy dự toán) of what is still available after the settlement period"},
	{"year-end-succession", http.MethodPost, YearEndPaths[domain.OpSuccession], "transfer every line of a merged province with money left to its successor (kết chuyển; admins)"},
	{"year-end-carry-over", http.MethodPost, YearEndPaths[domain.OpCarryOver], "carry year N's lines over to year N+1 (chuyển nguồn; admins)"},
	{"year-end-close-year", http.MethodPost, YearEndPaths[domain.OpCloseYear], "lapse what is left on year N's lines after the settlement period (hủy dự toán; admins)"},
	{"balances", http.MethodGet, "/v1/balances", "balances per line, province and year; the query (year, province, source, as_of, until_seq, effective_until) as a JSON object"},
}

// StartNATS serves the API's recording and balance routes on nc, as the
// NATS service described above, until the service is stopped.
func (a *Server) StartNATS(nc *nats.Conn) (micro.Service, error) {
	return startNATSService(nc, a.Handler(), a.log)
}

// StartNATSThrough is StartNATS with every request served by h, which
// wraps the API's Handler: tests hold the service's answers to the
// API's contract (apitest.Checked) this way.
func (a *Server) StartNATSThrough(nc *nats.Conn, h func(http.Handler) http.Handler) (micro.Service, error) {
	return startNATSService(nc, h(a.Handler()), a.log)
}

// startNATSService serves handler's recording and balance routes on nc.
func startNATSService(nc *nats.Conn, handler http.Handler, log *slog.Logger) (micro.Service, error) {
	svc, err := micro.AddService(nc, micro.Config{
		Name:        natsServiceName,
		Version:     natsServiceVersion,
		Description: "kcledger: record khuyến công fund movements and read balances over NATS (the HTTP API's rules and codes)",
		Metadata:    map[string]string{"docs": "docs/events.md#commands-over-nats"},
	})
	if err != nil {
		return nil, fmt.Errorf("NATS service: %w", err)
	}
	serve := func(e natsEndpoint) micro.HandlerFunc {
		return func(req micro.Request) {
			r, ok := takeNATSRequest(req, log)
			if !ok {
				return
			}
			// Each request on its own goroutine, which answers on the
			// connection itself (micro's request may not be touched once
			// this handler returns): the API's own limit (maxInFlight)
			// bounds them, as over HTTP.
			go serveNATSRequest(nc, r, e, handler, log)
		}
	}
	g := svc.AddGroup(natsAPIPrefix)
	for _, e := range natsEndpoints {
		if err := g.AddEndpoint(e.name, serve(e), micro.WithEndpointMetadata(map[string]string{"method": e.method, "http": e.path, "summary": e.summary})); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("NATS service endpoint %s: %w", e.name, err)
		}
	}
	// Every other command gets an answer too. It listens on the whole
	// prefix, in a queue group of its own, and stays silent on the
	// subjects the endpoints above answer.
	known := map[string]bool{}
	for _, e := range natsEndpoints {
		known[natsAPIPrefix+"."+e.name] = true
	}
	unknown := func(req micro.Request) {
		if known[req.Subject()] {
			return
		}
		r, ok := takeNATSRequest(req, log)
		if !ok {
			return
		}
		var names []string
		for _, e := range natsEndpoints {
			names = append(names, natsAPIPrefix+"."+e.name)
		}
		respondNATSProblem(nc, r, domain.Errorf(domain.CodeNotFound, "", "no such command: %s; the commands are %s", r.subject, strings.Join(names, ", ")), log)
	}
	if err := svc.AddEndpoint("unknown", micro.HandlerFunc(unknown), micro.WithEndpointSubject(natsAPIPrefix+".>"),
		micro.WithEndpointQueueGroup("kcledger-unknown"),
		micro.WithEndpointMetadata(map[string]string{"summary": "answers requests for commands that do not exist"})); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("NATS service: %w", err)
	}
	// Ready means the server has the subscriptions: a request sent
	// right after, on another connection, finds a responder.
	if err := nc.Flush(); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("NATS service: %w", err)
	}
	log.Info("NATS service ready", "service", natsServiceName, "subjects", natsAPIPrefix+".>")
	return svc, nil
}

// natsRequest is what a handler keeps of micro's request.
type natsRequest struct {
	subject, reply string
	data           []byte
	header         nats.Header
}

// takeNATSRequest copies what the request carries, and drops one whose
// reply goes neither to an inbox nor back through the readers' import
// (nothing else is ours to publish to).
func takeNATSRequest(req micro.Request, log *slog.Logger) (natsRequest, bool) {
	r := natsRequest{subject: req.Subject(), reply: req.Reply(), data: req.Data(), header: nats.Header(req.Headers())}
	if !strings.HasPrefix(r.reply, "_INBOX.") && !strings.HasPrefix(r.reply, "_R_.") {
		log.Warn("NATS service: request dropped: its reply subject is not an inbox", "subject", r.subject, "reply", r.reply)
		return r, false
	}
	return r, true
}

// serveNATSRequest runs one request through the HTTP handler and answers
// it with the handler's response.
func serveNATSRequest(nc *nats.Conn, req natsRequest, e natsEndpoint, handler http.Handler, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), natsAPITimeout)
	defer cancel()
	target := e.path
	var body []byte
	if e.method == http.MethodGet {
		q, err := natsQuery(req.data)
		if err != nil {
			respondNATSProblem(nc, req, err, log)
			return
		}
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
	} else {
		body = req.data
	}
	r, err := http.NewRequestWithContext(ctx, e.method, target, bytes.NewReader(body))
	if err != nil {
		respondNATSProblem(nc, req, domain.Errorf(domain.CodeMalformedRequest, "", "unusable request: %v", err), log)
		return
	}
	r.RemoteAddr = "nats"
	for _, h := range []string{"Authorization", "Idempotency-Key"} {
		if v := req.header.Get(h); v != "" {
			r.Header.Set(h, v)
		}
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, r)
	replyNATS(nc, req, w, log)
}

// replyNATS publishes an HTTP response as the request's reply: the body,
// a Status header, and for a refusal micro's error headers.
func replyNATS(nc *nats.Conn, req natsRequest, w *httptest.ResponseRecorder, log *slog.Logger) {
	m := nats.NewMsg(req.reply)
	m.Data = w.Body.Bytes()
	m.Header.Set("Status", strconv.Itoa(w.Code))
	m.Header.Set("Content-Type", w.Header().Get("Content-Type"))
	if rid := w.Header().Get("X-Request-Id"); rid != "" {
		m.Header.Set("X-Request-Id", rid)
	}
	if w.Code >= 300 {
		var p Problem
		_ = json.Unmarshal(w.Body.Bytes(), &p)
		code := string(p.Code)
		if code == "" {
			code = string(domain.CodeInternal)
		}
		m.Header.Set(micro.ErrorCodeHeader, strconv.Itoa(w.Code))
		m.Header.Set(micro.ErrorHeader, code)
	}
	if err := nc.PublishMsg(m); err != nil {
		log.Warn("NATS service: reply failed", "subject", req.subject, "err", err)
	}
}

// natsQuery turns the balance query's JSON object into URL parameters:
// strings and whole numbers only, so that the API judges them as it
// judges ?year=2025&province=01.
func natsQuery(data []byte) (url.Values, error) {
	q := url.Values{}
	if len(bytes.TrimSpace(data)) == 0 {
		return q, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, domain.Errorf(domain.CodeMalformedRequest, "", "the query must be a JSON object such as {\"year\": 2025, \"province\": \"01\"}: %v", err)
	}
	for k, raw := range obj {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			q.Set(k, s)
			continue
		}
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&n); err == nil && !strings.ContainsAny(n.String(), ".eE") {
			q.Set(k, n.String())
			continue
		}
		return nil, domain.Errorf(domain.CodeInvalidField, k, "query field %q must be a string or a whole number, not %s", k, raw)
	}
	return q, nil
}

// respondNATSProblem answers a request the HTTP handler never saw, with
// the problem the API would write.
func respondNATSProblem(nc *nats.Conn, req natsRequest, err error, log *slog.Logger) {
	w := httptest.NewRecorder()
	WriteError(w, httptest.NewRequest(http.MethodPost, "/"+req.subject, nil), log, err)
	replyNATS(nc, req, w, log)
}
