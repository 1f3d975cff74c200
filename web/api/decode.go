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

// decodeBody reads a request body of exactly one JSON object into a T:
// valid UTF-8, only the known keys (each once), no trailing data. A
// domain error from decoding (a date) names dateField, when given.
func decodeBody[T any](body []byte, known map[string]bool, dateField string) (T, error) {
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
			return req, withField(err, dateField)
		}
		return req, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, domain.Errorf(domain.CodeMalformedRequest, "", "the request body must hold exactly one JSON object")
	}
	return req, nil
}

// withField names the field on a domain error that did not know it.
func withField(err error, field string) error {
	var de *domain.Error
	if errors.As(err, &de) {
		c := *de
		c.Field = field
		return &c
	}
	return domain.Errorf(domain.CodeInvalidField, field, "%v", err)
}

// checkKeysIn is checkKeys with the keys known.
func checkKeysIn(body []byte, known map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return domain.Errorf(domain.CodeMalformedRequest, "", "the request body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
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
			return jsonError(err)
		}
	}
	return nil
}

// jsonError turns encoding/json's errors into domain errors naming the
// field where it can.
func jsonError(err error) error {
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

// readBody reads a JSON request body within MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
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

// checkParams refuses query parameters a route does not know.
func checkParams(q url.Values, known ...string) error {
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
