package apitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"
	verrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/kcledger/kcledger/docs"
	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
)

// The API's contract, docs/openapi.yaml, as the server answers it at
// GET /v1/openapi.json, compiled once per test binary. validate holds
// it while it checks an exchange: the tests that send many requests at
// once share it.
var (
	contractOnce sync.Once
	contract     validator.Validator
	contractErr  error
	validate     sync.Mutex
)

// Contract is the validator of docs/openapi.yaml.
func Contract(t testing.TB) validator.Validator {
	t.Helper()
	contractOnce.Do(func() { contract, contractErr = compileContract() })
	if contractErr != nil {
		t.Fatalf("apitest: docs/openapi.yaml: %v", contractErr)
	}
	return contract
}

func compileContract() (validator.Validator, error) {
	spec, err := docs.OpenAPIJSON()
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, err
	}
	// Strict: a field, query parameter or header that the document does
	// not name is a mismatch too, even where the document lets clients
	// meet fields it does not know (they are only ever added).
	v, errs := validator.NewValidator(doc, config.WithStrictMode(),
		config.WithBodyDecoder("application/jsonl", content.DecoderFunc(decodeJSONLines)),
		config.WithStrictIgnoredHeadersExtra("Idempotency-Key", "X-Request-Id", "Cache-Control", "Allow", "WWW-Authenticate", "Retry-After", "Content-Disposition", "X-Content-Type-Options"))
	if len(errs) > 0 {
		return nil, fmt.Errorf("%v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("not a valid OpenAPI document: %s", describe(verrs))
	}
	return v, nil
}

// decodeJSONLines reads JSON lines (GET /v1/export?format=jsonl) as
// the array of its lines, which the document's schema describes.
func decodeJSONLines(in *content.DecodeInput) (any, error) {
	lines := []any{}
	dec := json.NewDecoder(in.Body)
	dec.UseNumber()
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return nil, fmt.Errorf("JSON lines: line %d: %w", len(lines)+1, err)
		}
		lines = append(lines, v)
	}
}

// NewServer serves h on 127.0.0.1 for the test's life, and holds every
// exchange to docs/openapi.yaml (Checked).
func NewServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	Contract(t)
	srv := httptest.NewServer(Checked(t, h))
	t.Cleanup(srv.Close)
	return srv
}

// Checked is h holding every exchange to docs/openapi.yaml: a request
// that the document refuses must be refused (a 4xx, or a 503 that
// comes first), and every answer must be one the document describes
// for its request, body and headers included. Each mismatch fails t,
// naming the request, the answer and what does not match. An answer
// cut short (a panic in h) is not checked.
func Checked(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is copied as h reads it (a test may trickle it in
		// while h holds its place), and what h left unread is read after.
		var body bytes.Buffer
		sent := r.Body
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(sent, &body), sent}
		asked := r.Clone(r.Context())
		tw := &teeWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(tw, r)
		if tw.truncated {
			return
		}
		_, _ = io.Copy(&body, sent) // a body the server cut short is checked as far as it came
		for _, m := range CheckExchange(t, asked, body.Bytes(), tw.status, w.Header(), tw.body.Bytes()) {
			t.Errorf("openapi: %s %s answered %d: %s\nresponse body: %.2000s", asked.Method, asked.URL.RequestURI(), tw.status, m, tw.body.Bytes())
		}
	})
}

// CheckExchange is what of one exchange docs/openapi.yaml does not
// allow; nothing when it matches.
func CheckExchange(t testing.TB, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) []string {
	return checkExchange(Contract(t), req, reqBody, status, header, body)
}

// CheckedClient is an HTTP client, for tests of a server in another
// process, that holds every exchange to docs/openapi.yaml as Checked
// does: a mismatch is the error of the request, which names it.
var CheckedClient = &http.Client{Transport: checkedTransport{http.DefaultTransport}}

type checkedTransport struct{ next http.RoundTripper }

func (c checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	contractOnce.Do(func() { contract, contractErr = compileContract() })
	if contractErr != nil {
		return nil, fmt.Errorf("apitest: docs/openapi.yaml: %w", contractErr)
	}
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	sent := resp.Body
	body, err := io.ReadAll(io.LimitReader(sent, maxCheckedBytes+1))
	if err != nil {
		_ = sent.Close()
		return nil, err
	}
	if len(body) > maxCheckedBytes {
		// Too long to hold: passed on unchecked, as Checked does.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), sent), sent}
		return resp, nil
	}
	_ = sent.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if ms := checkExchange(contract, req, reqBody, resp.StatusCode, resp.Header, body); len(ms) > 0 {
		return nil, fmt.Errorf("openapi: %s %s answered %d: %s\nresponse body: %.2000s", req.Method, req.URL.RequestURI(), resp.StatusCode, strings.Join(ms, "; "), body)
	}
	return resp, nil
}

func checkExchange(v validator.Validator, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) []string {
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	resp := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: req}

	validate.Lock()
	defer validate.Unlock()
	reqOK, reqErrs := v.ValidateHttpRequestSync(req)
	for _, e := range reqErrs {
		if e.IsPathMissingError() || e.IsOperationMissingError() {
			return checkUnrouted(req, e.IsOperationMissingError(), status, header, body)
		}
	}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	var out []string
	if !reqOK && (status < 400 || status >= 500) && status != http.StatusServiceUnavailable {
		out = append(out, fmt.Sprintf("the document refuses the request (%s), and the server did not", describe(reqErrs)))
	}
	if ok, errs := v.ValidateHttpResponse(req, resp); !ok {
		out = append(out, "the answer is not one the document describes: "+describe(errs))
	}
	return out
}

// checkUnrouted checks the answer to a path or a method that the
// document does not have: 404 not_found, or 405 method_not_allowed with
// its Allow header, as problem details; under /v1/, a request without a
// valid token learns only that it needs one (401 unauthenticated); and
// the limit of requests served at once comes first (503 unavailable).
func checkUnrouted(req *http.Request, methodMissing bool, status int, header http.Header, body []byte) []string {
	want, code := http.StatusNotFound, domain.CodeNotFound
	if methodMissing {
		want, code = http.StatusMethodNotAllowed, domain.CodeMethodNotAllowed
	}
	var out []string
	switch {
	case status == want:
	case status == http.StatusUnauthorized && strings.HasPrefix(req.URL.Path, "/v1/"):
		want, code = status, domain.CodeUnauthenticated
	case status == http.StatusServiceUnavailable:
		want, code = status, domain.CodeUnavailable
	default:
		out = append(out, fmt.Sprintf("the document has no such %s, so the answer must be %d, not %d", map[bool]string{false: "path", true: "method on this path"}[methodMissing], want, status))
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/problem+json" {
		out = append(out, fmt.Sprintf("Content-Type %q, not application/problem+json", header.Get("Content-Type")))
	}
	var p api.Problem
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return append(out, fmt.Sprintf("not a problem details body: %v", err))
	}
	if p.Code != code || p.Status != status || p.Type != "urn:kcledger:error:"+string(code) || p.Detail == "" || p.RequestID == "" {
		out = append(out, fmt.Sprintf("problem %+v: want code %s, status %d, its type, a detail and a request id", p, code, status))
	}
	if want == http.StatusMethodNotAllowed && header.Get("Allow") == "" {
		out = append(out, "a 405 without an Allow header")
	}
	return out
}

// describe says what each validation error found, with where.
func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s)", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, " [%s at %s]", f.Reason, f.FieldPath)
		}
	}
	return b.String()
}

// teeWriter passes an answer on and keeps a copy, up to maxCheckedBytes.
type teeWriter struct {
	http.ResponseWriter
	status    int
	body      bytes.Buffer
	truncated bool
}

// maxCheckedBytes bounds the copy of an answer kept to be checked.
const maxCheckedBytes = 64 << 20

func (w *teeWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(p []byte) (int, error) {
	if w.body.Len()+len(p) > maxCheckedBytes {
		w.truncated = true
	} else {
		w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}
