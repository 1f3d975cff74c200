package ui

import (
	"encoding/base64"
	"net/http"

	"github.com/kcledger/kcledger/web/api"
)

// keysPage lists the ledger's public signing keys, for auditors to pin
// (`kcledger verify --keys`), with the file to download.
type keysPage struct {
	Keys api.KeysResponse
}

// keyB64 is a public key as the keys file spells it.
func keyB64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func (s *Server) keysPage(w http.ResponseWriter, r *http.Request, v *visit) {
	var p keysPage
	if err := s.call(r, v, request{method: http.MethodGet, path: "/v1/keys"}, &p.Keys); err != nil {
		s.problem(w, r, v, err)
		return
	}
	if r.URL.Query().Get("download") != "" {
		w.Header().Set("Content-Disposition", `attachment; filename="kcledger-keys.json"`)
		rec, err := s.do(r, v, request{method: http.MethodGet, path: "/v1/keys"})
		if err != nil {
			s.failed(w, r, v, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(rec.body.Bytes())
		return
	}
	s.render(w, r, v, http.StatusOK, "keys", "keys.title", p)
}
