package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/kcledger/kcledger/domain"
)

// StatusOf maps every error code to its one HTTP status. A test proves
// that each domain.Code has an entry.
var StatusOf = map[domain.Code]int{
	domain.CodeMalformedRequest:         http.StatusBadRequest,
	domain.CodeUnknownField:             http.StatusBadRequest,
	domain.CodeMissingField:             http.StatusBadRequest,
	domain.CodeInvalidField:             http.StatusBadRequest,
	domain.CodeInvalidAmount:            http.StatusBadRequest,
	domain.CodeInvalidYear:              http.StatusBadRequest,
	domain.CodeInvalidDate:              http.StatusBadRequest,
	domain.CodeInvalidIdempotencyKey:    http.StatusBadRequest,
	domain.CodeUnknownProvince:          http.StatusBadRequest,
	domain.CodeUnknownSource:            http.StatusBadRequest,
	domain.CodeUnknownCategory:          http.StatusBadRequest,
	domain.CodeBodyTooLarge:             http.StatusRequestEntityTooLarge,
	domain.CodeUnsupportedMediaType:     http.StatusUnsupportedMediaType,
	domain.CodeProvinceNotInForce:       http.StatusUnprocessableEntity,
	domain.CodeDateOutsideWindow:        http.StatusUnprocessableEntity,
	domain.CodeInsufficientFunds:        http.StatusUnprocessableEntity,
	domain.CodeRefundExceedsDisbursed:   http.StatusUnprocessableEntity,
	domain.CodeAllocationBelowDisbursed: http.StatusUnprocessableEntity,
	domain.CodeNotRepudiable:            http.StatusUnprocessableEntity,
	domain.CodeTotalLimitExceeded:       http.StatusUnprocessableEntity,
	domain.CodeLineLapsed:               http.StatusUnprocessableEntity,
	domain.CodeInvalidTransfer:          http.StatusUnprocessableEntity,
	domain.CodeIdempotencyKeyReused:     http.StatusConflict,
	domain.CodeConflict:                 http.StatusConflict,
	domain.CodeNotFound:                 http.StatusNotFound,
	domain.CodeMethodNotAllowed:         http.StatusMethodNotAllowed,
	domain.CodeUnavailable:              http.StatusServiceUnavailable,
	domain.CodeInternal:                 http.StatusInternalServerError,
	domain.CodeUnauthenticated:          http.StatusUnauthorized,
	domain.CodeForbidden:                http.StatusForbidden,
	domain.CodeAccountExists:            http.StatusConflict,
	domain.CodeUnsupported:              http.StatusUnprocessableEntity,
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type      string      `json:"type"`
	Title     string      `json:"title"`
	Status    int         `json:"status"`
	Detail    string      `json:"detail"`
	Code      domain.Code `json:"code"`
	Field     string      `json:"field,omitempty"`
	RequestID string      `json:"request_id,omitempty"`
}

type ctxKey struct{}

// WithRequestID is ctx carrying a request's id, which WriteError quotes.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// requestID is the id the request was given, or "".
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ctxKey{}).(string)
	return id
}

// WriteError answers with err as problem+json. Errors that are not a
// domain *Error are internal: they are logged with the request id, and the
// client gets only that id, never the text.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var de *domain.Error
	if !errors.As(err, &de) || de.Code == domain.CodeInternal {
		log.Error("request failed", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path, "err", err)
		de = &domain.Error{Code: domain.CodeInternal, Message: "internal error; quote the request id to the operator"}
	}
	status, ok := StatusOf[de.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	p := Problem{
		Type:      "urn:kcledger:error:" + string(de.Code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    de.Message,
		Code:      de.Code,
		Field:     de.Field,
		RequestID: requestID(r),
	}
	if sw, ok := w.(*statusWriter); ok {
		sw.code = de.Code // for the request's log line
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers with v as compact JSON, one line. Indenting it
// re-scanned every answer (a quarter of encoding's cost) for nobody but a
// person reading a raw body, who has jq; the CLI indents what it prints.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
