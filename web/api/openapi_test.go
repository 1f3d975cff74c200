package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/docs"
	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// openAPIDoc is docs/openapi.yaml as the server answers it.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	b, err := docs.OpenAPIJSON()
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	return doc
}

// Every route of routes.go is in docs/openapi.yaml, with its method, and
// the document has no route that routes.go lacks.
func TestOpenAPIHasEveryRoute(t *testing.T) {
	routes := api.New(api.Config{}).Routes()
	require.NotEmpty(t, routes)
	var documented []string
	for path, item := range openAPIDoc(t)["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(routes)
	sort.Strings(documented)
	assert.Equal(t, routes, documented, "routes.go against docs/openapi.yaml")
}

// Each problem response of the document lists exactly the codes that
// StatusOf maps to its status; method_not_allowed, which no operation
// of the document can answer, is checked by the test hook instead.
func TestOpenAPIProblemCodes(t *testing.T) {
	schemas := openAPIDoc(t)["components"].(map[string]any)["schemas"].(map[string]any)
	documented := map[int][]string{}
	for name, s := range schemas {
		var status int
		if _, err := fmt.Sscanf(name, "Problem%d", &status); err != nil {
			continue
		}
		props := s.(map[string]any)["allOf"].([]any)[1].(map[string]any)["properties"].(map[string]any)
		assert.EqualValues(t, status, props["status"].(map[string]any)["const"], name)
		for _, c := range props["code"].(map[string]any)["enum"].([]any) {
			documented[status] = append(documented[status], c.(string))
		}
	}
	want := map[int][]string{}
	for _, c := range domain.Codes {
		if c != domain.CodeMethodNotAllowed {
			want[api.StatusOf[c]] = append(want[api.StatusOf[c]], string(c))
		}
	}
	for _, m := range []map[int][]string{documented, want} {
		for _, codes := range m {
			sort.Strings(codes)
		}
	}
	assert.Equal(t, want, documented)
}

// GET /v1/openapi.json answers docs/openapi.yaml as JSON, to anyone: it
// describes no data. Other methods are not allowed.
func TestOpenAPIServed(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	anyone := ta.As("")
	r := anyone.Get(t, api.PathOpenAPI)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	want, err := docs.OpenAPIJSON()
	require.NoError(t, err)
	assert.Equal(t, want, r.Body)
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	assert.Contains(t, doc.Paths, api.PathOpenAPI)

	r = anyone.Do(t, http.MethodPost, api.PathOpenAPI, nil, nil)
	apitest.RequireProblem(t, r, http.StatusMethodNotAllowed, domain.CodeMethodNotAllowed, "")
	assert.Equal(t, http.MethodGet, r.Header.Get("Allow"))
}

// recordingT is a test that keeps its failures instead of failing.
type recordingT struct {
	testing.TB
	failures []string
}

func (r *recordingT) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// The test hook fails a test on an answer that drifted from the
// document, naming the request and the mismatch; and passes the answer
// the document describes.
func TestOpenAPIHookCatchesDrift(t *testing.T) {
	problem := func(status int, code domain.Code) string {
		return fmt.Sprintf(`{"type":"urn:kcledger:error:%s","title":%q,"status":%d,"detail":"x","code":%q,"request_id":"r"}`, code, http.StatusText(status), status, code)
	}
	const healthy = `{"status":"ok","applied_seq":3}`
	created := `{"account":{"name":"kiem-toan","role":"auditor","http_token":true,"nats":false,"password":false,"disabled":false,"created_at":"2026-06-01T03:00:00Z","created_by":"admin"},"token":"kcl_kiem-toan_` + strings.Repeat("ab", 32) + `"}`
	allocation := `{"fiscal_year":2025,"province":"01","source":"national","amount":"1000000000","decision":"1/QĐ","effective_date":"2025-03-01"}`
	for _, tc := range []struct {
		name        string
		method      string
		path        string
		reqHeader   http.Header
		reqBody     string
		status      int
		contentType string
		body        string
		// mismatch is what the failure says; "" is none.
		mismatch string
	}{
		{name: "as documented", method: "GET", path: "/healthz", status: 200, contentType: "application/json", body: healthy},
		{name: "a field missing", method: "GET", path: "/healthz", status: 200, contentType: "application/json",
			body: `{"status":"ok"}`, mismatch: "applied_seq"},
		{name: "a field not in the document", method: "GET", path: "/healthz", status: 200, contentType: "application/json",
			body: `{"status":"ok","applied_seq":3,"uptime":"1h"}`, mismatch: "uptime"},
		{name: "a status not in the document", method: "GET", path: "/healthz", status: 418, contentType: "application/json",
			body: healthy, mismatch: "418"},
		{name: "a field of the wrong type", method: "POST", path: "/v1/users",
			reqHeader: http.Header{"Content-Type": {"application/json"}}, reqBody: `{"name":"kiem-toan","role":"auditor"}`,
			status: 201, contentType: "application/json", body: strings.Replace(created, `"http_token":true`, `"http_token":"yes"`, 1), mismatch: "http_token"},
		{name: "a created account as documented", method: "POST", path: "/v1/users",
			reqHeader: http.Header{"Content-Type": {"application/json"}}, reqBody: `{"name":"kiem-toan","role":"auditor"}`,
			status: 201, contentType: "application/json", body: created},
		{name: "a refused request accepted", method: "POST", path: "/v1/allocations",
			reqHeader: http.Header{"Content-Type": {"application/json"}}, reqBody: allocation, // no Idempotency-Key
			status: 201, contentType: "application/json", body: `{}`, mismatch: "the document refuses the request"},
		{name: "money sent as a JSON number accepted", method: "POST", path: "/v1/allocations",
			reqHeader: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k1"}},
			reqBody:   strings.Replace(allocation, `"1000000000"`, `1000000000`, 1),
			status:    201, contentType: "application/json", body: `{}`, mismatch: "amount"},
		{name: "a problem with the wrong code for its status", method: "POST", path: "/v1/allocations",
			reqHeader: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k1"}}, reqBody: allocation,
			status: 422, contentType: "application/problem+json", body: problem(422, domain.CodeForbidden), mismatch: "code"},
		{name: "a documented refusal", method: "POST", path: "/v1/allocations",
			reqHeader: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k1"}}, reqBody: allocation,
			status: 422, contentType: "application/problem+json", body: problem(422, domain.CodeInsufficientFunds)},
		{name: "an unknown path answered", method: "GET", path: "/v1/nothing", status: 200, contentType: "application/json",
			body: healthy, mismatch: "must be 404"},
		{name: "an unknown method answered", method: "DELETE", path: "/v1/allocations", status: 404,
			contentType: "application/problem+json", body: problem(404, domain.CodeNotFound), mismatch: "must be 405"},
		{name: "an unknown method refused", method: "DELETE", path: "/v1/allocations", status: 405,
			contentType: "application/problem+json", body: problem(405, domain.CodeMethodNotAllowed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.Header().Set("X-Request-Id", "0190b6b4-0000-7000-8000-000000000000")
				if tc.status == 405 {
					w.Header().Set("Allow", "POST")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			rt := &recordingT{TB: t}
			srv := httptest.NewServer(apitest.Checked(rt, h))
			t.Cleanup(srv.Close)
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, bytes.NewReader([]byte(tc.reqBody)))
			require.NoError(t, err)
			for k, v := range tc.reqHeader {
				req.Header[k] = v
			}
			req.Header.Set("Authorization", "Bearer kcl_admin_"+strings.Repeat("ab", 32))
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			srv.Close() // the check is done once the handler returns

			// The same exchange with a server in another process, through
			// the client the process tests use: the mismatch is the error.
			plain := httptest.NewServer(h)
			t.Cleanup(plain.Close)
			req, err = http.NewRequestWithContext(t.Context(), tc.method, plain.URL+tc.path, bytes.NewReader([]byte(tc.reqBody)))
			require.NoError(t, err)
			req.Header = resp.Request.Header.Clone()
			got, clientErr := apitest.CheckedClient.Do(req)
			if clientErr == nil {
				got.Body.Close()
			}

			if tc.mismatch == "" {
				assert.Empty(t, rt.failures)
				assert.NoError(t, clientErr)
				return
			}
			require.NotEmpty(t, rt.failures, "the hook let the drift pass")
			assert.True(t, slices.ContainsFunc(rt.failures, func(f string) bool {
				return strings.Contains(f, tc.method+" "+tc.path) && strings.Contains(f, tc.mismatch)
			}), "want a failure naming %s %s and %q, got %q", tc.method, tc.path, tc.mismatch, rt.failures)
			require.Error(t, clientErr, "the checked client let the drift pass")
			assert.Contains(t, clientErr.Error(), tc.method+" "+tc.path)
			assert.Contains(t, clientErr.Error(), tc.mismatch)
		})
	}
}
