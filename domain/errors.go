package domain

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. Codes are persisted in API
// responses and client scripts depend on them: never rename or reuse one.
type Code string

// Error codes. Each has exactly one HTTP status in cmd/kcledger's table.
const (
	// Input that cannot be read at all, or fields in the wrong shape.
	CodeMalformedRequest      Code = "malformed_request"
	CodeUnknownField          Code = "unknown_field"
	CodeMissingField          Code = "missing_field"
	CodeInvalidField          Code = "invalid_field"
	CodeInvalidAmount         Code = "invalid_amount"
	CodeInvalidYear           Code = "invalid_year"
	CodeInvalidDate           Code = "invalid_date"
	CodeInvalidIdempotencyKey Code = "invalid_idempotency_key"
	CodeUnknownProvince       Code = "unknown_province"
	CodeUnknownSource         Code = "unknown_source"
	CodeUnknownCategory       Code = "unknown_category"
	CodeBodyTooLarge          Code = "body_too_large"
	CodeUnsupportedMediaType  Code = "unsupported_media_type"

	// Business rules: well-formed commands the ledger refuses.
	CodeProvinceNotInForce       Code = "province_not_in_force"
	CodeDateOutsideWindow        Code = "date_outside_window"
	CodeInsufficientFunds        Code = "insufficient_funds"
	CodeRefundExceedsDisbursed   Code = "refund_exceeds_disbursed"
	CodeAllocationBelowDisbursed Code = "allocation_below_disbursed"
	// CodeNotRepudiable: a repudiation of a message not found unsound
	// (a sound event is corrected by a movement, never repudiated).
	CodeNotRepudiable Code = "not_repudiable"
	// CodeTotalLimitExceeded: the movement would bring a total of its line
	// or project past MaxLineTotal.
	CodeTotalLimitExceeded Code = "total_limit_exceeded"
	// CodeLineLapsed: a movement other than a refund on a line whose
	// available money lapsed after its settlement period.
	CodeLineLapsed Code = "line_lapsed"
	// CodeInvalidTransfer: a transfer between lines it may not join (not
	// the successor, a province that was not merged, another year or
	// another source).
	CodeInvalidTransfer Code = "invalid_transfer"

	// Who may do what.
	CodeUnauthenticated Code = "unauthenticated"
	CodeForbidden       Code = "forbidden"
	CodeAccountExists   Code = "account_exists"
	// CodeUnsupported: the request is well formed but this deployment
	// cannot do it (e.g. NATS users on an external server).
	CodeUnsupported Code = "unsupported"

	// Concurrency and idempotency.
	CodeIdempotencyKeyReused Code = "idempotency_key_reused"
	CodeConflict             Code = "conflict"

	// Everything else.
	CodeNotFound         Code = "not_found"
	CodeMethodNotAllowed Code = "method_not_allowed"
	CodeUnavailable      Code = "unavailable"
	CodeInternal         Code = "internal"
)

// Codes lists every code, so that tests can prove each has an HTTP status.
var Codes = []Code{
	CodeMalformedRequest, CodeUnknownField, CodeMissingField, CodeInvalidField,
	CodeInvalidAmount, CodeInvalidYear, CodeInvalidDate, CodeInvalidIdempotencyKey,
	CodeUnknownProvince, CodeUnknownSource, CodeUnknownCategory, CodeBodyTooLarge,
	CodeUnsupportedMediaType, CodeProvinceNotInForce, CodeDateOutsideWindow,
	CodeInsufficientFunds, CodeRefundExceedsDisbursed, CodeAllocationBelowDisbursed, CodeTotalLimitExceeded,
	CodeIdempotencyKeyReused, CodeConflict, CodeNotFound, CodeMethodNotAllowed,
	CodeUnavailable, CodeInternal, CodeUnauthenticated, CodeForbidden, CodeAccountExists, CodeUnsupported,
	CodeNotRepudiable, CodeLineLapsed, CodeInvalidTransfer,
}

// Error is the one error type of the domain: a stable code, the offending
// field (JSON name, empty when the error is not about one field) and a message
// for people.
type Error struct {
	Code    Code
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
}

// Is matches on the code alone, so errors.Is(err, ErrInsufficientFunds) holds
// whatever the field and message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalidAmount            = &Error{Code: CodeInvalidAmount}
	ErrInsufficientFunds        = &Error{Code: CodeInsufficientFunds}
	ErrRefundExceedsDisbursed   = &Error{Code: CodeRefundExceedsDisbursed}
	ErrAllocationBelowDisbursed = &Error{Code: CodeAllocationBelowDisbursed}
	ErrTotalLimitExceeded       = &Error{Code: CodeTotalLimitExceeded}
	ErrLineLapsed               = &Error{Code: CodeLineLapsed}
	ErrInvalidTransfer          = &Error{Code: CodeInvalidTransfer}
	ErrDateOutsideWindow        = &Error{Code: CodeDateOutsideWindow}
	ErrProvinceNotInForce       = &Error{Code: CodeProvinceNotInForce}
	ErrIdempotencyKeyReused     = &Error{Code: CodeIdempotencyKeyReused}
	ErrConflict                 = &Error{Code: CodeConflict}
	ErrNotFound                 = &Error{Code: CodeNotFound}
	ErrUnavailable              = &Error{Code: CodeUnavailable}
	ErrUnauthenticated          = &Error{Code: CodeUnauthenticated}
	ErrForbidden                = &Error{Code: CodeForbidden}
	ErrAccountExists            = &Error{Code: CodeAccountExists}
)

// Errorf builds an *Error.
func Errorf(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
