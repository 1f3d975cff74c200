package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/kcledger/kcledger/domain"
)

// movementRequest is the body of the recording routes. Amounts and the
// date are decoded by hand so that errors name their field. A transfer's
// body also names its kind and its destination line (transferFields).
type movementRequest struct {
	FiscalYear  int             `json:"fiscal_year"`
	Province    string          `json:"province"`
	Source      string          `json:"source"`
	Project     string          `json:"project"`
	Category    string          `json:"category"`
	Amount      json.RawMessage `json:"amount"`
	Delta       json.RawMessage `json:"delta"`
	Decision    string          `json:"decision"`
	Voucher     string          `json:"voucher"`
	Beneficiary string          `json:"beneficiary"`
	Reason      string          `json:"reason"`
	// The project facts of an allocation to a project, all optional.
	ProjectName      string          `json:"project_name"`
	ImplementingUnit string          `json:"implementing_unit"`
	Counterpart      json.RawMessage `json:"counterpart"`
	EffectiveDate    json.RawMessage `json:"effective_date"`
	// A transfer's kind and destination; to_source defaults to source.
	TransferKind string `json:"transfer_kind"`
	ToFiscalYear int    `json:"to_fiscal_year"`
	ToProvince   string `json:"to_province"`
	ToSource     string `json:"to_source"`
}

// DecodeBody reads a request body of exactly one JSON object into a T:
// valid UTF-8, only the known keys (each once), no trailing data. A
// domain error from decoding (a date) names dateField, when given.
func DecodeBody[T any](body []byte, known map[string]bool, dateField string) (T, error) {
	var req T
	if !utf8.Valid(body) {
		return req, domain.Errorf(domain.CodeMalformedRequest, "", "the request body is not valid UTF-8")
	}
	if err := checkKeysIn(body, known); err != nil {
		return req, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var de *domain.Error
		if dateField != "" && errors.As(err, &de) {
			return req, WithField(err, dateField)
		}
		return req, JSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, domain.Errorf(domain.CodeMalformedRequest, "", "the request body must hold exactly one JSON object")
	}
	return req, nil
}

// DecodeMovement reads a recording request body into a command. It
// refuses bodies over MaxBodyBytes, invalid UTF-8, unknown fields, trailing
// data and JSON numbers for money.
func DecodeMovement(kind domain.CommandKind, body []byte) (domain.Command, error) {
	if !utf8.Valid(body) {
		return domain.Command{}, domain.Errorf(domain.CodeMalformedRequest, "", "the request body is not valid UTF-8")
	}
	known := movementFields
	if kind == domain.Transfer {
		known = transferFields
	}
	req, err := DecodeBody[movementRequest](body, known, "")
	if err != nil {
		return domain.Command{}, err
	}
	cmd := domain.Command{
		Kind:        kind,
		FiscalYear:  req.FiscalYear,
		Province:    req.Province,
		Source:      domain.Source(req.Source),
		Project:     req.Project,
		Category:    domain.Category(req.Category),
		Decision:    req.Decision,
		Voucher:     req.Voucher,
		Beneficiary: req.Beneficiary,
		Reason:      req.Reason,

		ProjectName:      req.ProjectName,
		ImplementingUnit: req.ImplementingUnit,
	}
	if req.FiscalYear == 0 {
		return cmd, domain.Errorf(domain.CodeMissingField, "fiscal_year", "fiscal_year is required, e.g. 2025")
	}
	if kind == domain.Transfer {
		if req.ToFiscalYear == 0 {
			return cmd, domain.Errorf(domain.CodeMissingField, "to_fiscal_year", "to_fiscal_year is required: the destination line's fiscal year (the same for a succession, the next for a carry-over)")
		}
		cmd.TransferKind = domain.TransferKind(req.TransferKind)
		cmd.To = domain.LineKey{FiscalYear: req.ToFiscalYear, Province: req.ToProvince, Source: domain.Source(req.ToSource)}
		if req.ToSource == "" {
			cmd.To.Source = cmd.Source
		}
	}
	use, avoid := "amount", "delta"
	raw, other := req.Amount, req.Delta
	if kind == domain.Adjust {
		use, avoid = "delta", "amount"
		raw, other = req.Delta, req.Amount
	}
	if other != nil {
		return cmd, domain.Errorf(domain.CodeUnknownField, avoid, "%s takes %q, not %q", KindNoun(kind), use, avoid)
	}
	if raw == nil || string(raw) == "null" {
		return cmd, domain.Errorf(domain.CodeMissingField, use, "%s is required, as a string of whole đồng, e.g. \"1500000000\"", use)
	}
	if err := cmd.Amount.UnmarshalJSON(raw); err != nil {
		return cmd, WithField(err, use)
	}
	if req.Counterpart != nil && string(req.Counterpart) != "null" {
		if err := cmd.Counterpart.UnmarshalJSON(req.Counterpart); err != nil {
			return cmd, WithField(err, "counterpart")
		}
	}
	if req.EffectiveDate == nil || string(req.EffectiveDate) == "null" {
		return cmd, domain.Errorf(domain.CodeMissingField, "effective_date", "effective_date is required, as \"YYYY-MM-DD\"")
	}
	if err := cmd.EffectiveDate.UnmarshalJSON(req.EffectiveDate); err != nil {
		return cmd, WithField(err, "effective_date")
	}
	return cmd, nil
}

// KindNoun names a kind of movement with its article ("an allocation"),
// as messages say it.
func KindNoun(k domain.CommandKind) string {
	switch k {
	case domain.Allocate:
		return "an allocation"
	case domain.Adjust:
		return "an adjustment"
	case domain.Disburse:
		return "a disbursement"
	case domain.Transfer:
		return "a transfer"
	case domain.Lapse:
		return "a lapse"
	}
	return "a refund"
}

// WithField names the field on a domain error that did not know it.
func WithField(err error, field string) error {
	var de *domain.Error
	if errors.As(err, &de) {
		c := *de
		c.Field = field
		return &c
	}
	return domain.Errorf(domain.CodeInvalidField, field, "%v", err)
}

// movementFields are the exact keys a recording request may carry.
var movementFields = map[string]bool{
	"fiscal_year": true, "province": true, "source": true, "project": true, "category": true,
	"amount": true, "delta": true, "decision": true, "voucher": true, "beneficiary": true,
	"reason": true, "effective_date": true,
	"project_name": true, "implementing_unit": true, "counterpart": true,
}

// transferFields are the exact keys a transfer request may carry: no
// voucher, beneficiary or project facts, and its kind and destination.
var transferFields = map[string]bool{
	"fiscal_year": true, "province": true, "source": true, "project": true, "category": true,
	"amount": true, "decision": true, "reason": true, "effective_date": true,
	"transfer_kind": true, "to_fiscal_year": true, "to_province": true, "to_source": true,
}

// checkKeys walks the top level of a JSON object and refuses keys that are
// not exactly one of movementFields, and keys given twice. encoding/json
// alone would match "AMOUNT" to amount and let the last duplicate win.
func checkKeys(body []byte) error { return checkKeysIn(body, movementFields) }

// checkKeysIn is checkKeys with the keys known.
func checkKeysIn(body []byte, known map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return JSONError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return domain.Errorf(domain.CodeMalformedRequest, "", "the request body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return JSONError(err)
		}
		key, _ := tok.(string)
		if !known[key] {
			return domain.Errorf(domain.CodeUnknownField, key, "unknown field %q", key)
		}
		if seen[key] {
			return domain.Errorf(domain.CodeMalformedRequest, key, "field %q is given twice", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return JSONError(err)
		}
	}
	return nil
}

// JSONError turns encoding/json's errors into domain errors naming the
// field where it can.
func JSONError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		de     *domain.Error
	)
	switch {
	case errors.As(err, &de):
		return de
	case errors.As(err, &syntax):
		return domain.Errorf(domain.CodeMalformedRequest, "", "the request body is not valid JSON (at byte %d): %v", syntax.Offset, err)
	case errors.As(err, &typ) && typ.Field == "":
		return domain.Errorf(domain.CodeMalformedRequest, "", "the request body must be a JSON object")
	case errors.As(err, &typ):
		return domain.Errorf(domain.CodeInvalidField, typ.Field, "%s must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.EOF):
		return domain.Errorf(domain.CodeMalformedRequest, "", "the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Errorf(domain.CodeMalformedRequest, "", "the request body ends in the middle of a JSON value")
	}
	const prefix = "json: unknown field "
	if msg := err.Error(); len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		field, _ := strconv.Unquote(msg[len(prefix):])
		return domain.Errorf(domain.CodeUnknownField, field, "unknown field %q", field)
	}
	return domain.Errorf(domain.CodeMalformedRequest, "", "the request body could not be read: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "uint64":
		return "integer"
	case "string":
		return "string"
	}
	return goKind
}

// ReadBody reads a JSON request body within MaxBodyBytes.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, domain.Errorf(domain.CodeUnsupportedMediaType, "", "send the body as Content-Type: application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, domain.Errorf(domain.CodeBodyTooLarge, "", "the request body exceeds %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return nil, domain.Errorf(domain.CodeMalformedRequest, "", "reading the request body: %v", err)
	}
	return body, nil
}

// CheckParams refuses query parameters a route does not know.
func CheckParams(q url.Values, known ...string) error {
	for k := range q {
		ok := false
		for _, n := range known {
			ok = ok || k == n
		}
		if !ok {
			return domain.Errorf(domain.CodeUnknownField, k, "unknown query parameter %q; this route takes %v", k, known)
		}
	}
	return nil
}

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 64 * 1024
