package api

import (
	"net/http"

	"github.com/kcledger/kcledger/docs"
)

// PathOpenAPI is the route of the API's description: docs/openapi.yaml
// as JSON. It needs no account, like /healthz: it describes no data.
const PathOpenAPI = "/v1/openapi.json"

func (a *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	doc, err := docs.OpenAPIJSON()
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
}

// Routes are the API's routes, "METHOD /path" as its ServeMux patterns
// say them: those of docs/openapi.yaml.
func (a *Server) Routes() []string {
	a.Handler()
	return append([]string(nil), a.patterns...)
}
