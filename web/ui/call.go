package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
)

// recorder is the answer of an in-process call of the API.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// request is a call of one API route.
type request struct {
	method string
	path   string
	query  url.Values
	header http.Header
	// body is sent as JSON when not nil.
	body any
}

// do calls the API's route as the visitor's account and returns its
// answer as it is.
func (s *Server) do(r *http.Request, v *visit, q request) (*recorder, error) {
	var body io.Reader = http.NoBody
	if q.body != nil {
		b, err := json.Marshal(q.body)
		if err != nil {
			return nil, fmt.Errorf("ui: encode the body of %s %s: %w", q.method, q.path, err)
		}
		body = bytes.NewReader(b)
	}
	u := url.URL{Path: q.path, RawQuery: q.query.Encode()}
	req, err := http.NewRequestWithContext(r.Context(), q.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("ui: request %s %s: %w", q.method, q.path, err)
	}
	for k, vs := range q.header {
		req.Header[k] = vs
	}
	if q.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept-Language", string(v.lang))
	rec := newRecorder()
	s.api.ServeAs(rec, req, v.account)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec, nil
}

// call calls the API's route as the visitor's account and decodes a
// success into out (when not nil). A refusal comes back as the
// *domain.Error the API answered with: its code and field, for the page
// to show in the visitor's language beside the field.
func (s *Server) call(r *http.Request, v *visit, q request, out any) error {
	rec, err := s.do(r, v, q)
	if err != nil {
		return err
	}
	return rec.decode(q, out)
}

func (rec *recorder) decode(q request, out any) error {
	if rec.status >= 300 {
		return rec.problem(q)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("ui: decode the answer of %s %s: %w", q.method, q.path, err)
	}
	return nil
}

// problem is the refusal the API answered with, as a domain error.
func (rec *recorder) problem(q request) error {
	mt, _, _ := mime.ParseMediaType(rec.header.Get("Content-Type"))
	var p api.Problem
	if mt != "application/problem+json" || json.Unmarshal(rec.body.Bytes(), &p) != nil || p.Code == "" {
		return fmt.Errorf("ui: %s %s answered %d without a problem", q.method, q.path, rec.status)
	}
	if p.Code == domain.CodeInternal {
		// The API has logged it with the request's id.
		return fmt.Errorf("ui: %s %s failed inside the API (request %s)", q.method, q.path, p.RequestID)
	}
	return domain.Errorf(p.Code, p.Field, "%s", p.Detail)
}
