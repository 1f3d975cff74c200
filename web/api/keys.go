package api

import (
	"context"
	"crypto/ed25519"
	"net/http"

	"github.com/kcledger/kcledger/eventstore"
)

// SignerList is what the API needs of the signer trust.
type SignerList interface {
	Keys(ctx context.Context) (KeysResponse, error)
}

// KeysResponse is the body of GET /v1/keys, and the file format of
// `kcledger verify --keys` and `kcledger replay --keys`.
type KeysResponse struct {
	// Root is the ledger root that endorsed every key of the file; files
	// written before the root existed have none.
	Root *RootKey               `json:"root,omitempty"`
	Keys []eventstore.SignerKey `json:"keys"`
}

// RootKey is the ledger root's public key.
type RootKey struct {
	ID        string            `json:"id"`
	PublicKey ed25519.PublicKey `json:"public_key"` // base64 in JSON
}

func (a *Server) getKeys(w http.ResponseWriter, r *http.Request) {
	if err := accountOf(r).MayRead(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	res, err := a.signers.Keys(r.Context())
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
