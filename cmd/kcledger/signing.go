package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// signingKeyFile is the file, in the data directory, that holds this
// process's Ed25519 signing key (hex seed). Only its owner may read it.
const signingKeyFile = "signing.key"

// signingKey reads this process's signing key, or makes one on first
// start.
func signingKey(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, signingKeyFile)
	s, err := readSecretFile(path)
	if err == nil {
		seed, err := hex.DecodeString(s)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("signing key %s is not a hex Ed25519 seed", path)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	if err := writeSecretFile(path, hex.EncodeToString(seed)); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// signerList is what the API needs of eventstore.Signers.
type signerList interface {
	List(ctx context.Context) ([]eventstore.SignerKey, error)
}

// keysResponse is the body of GET /v1/keys, and the file format of
// `kcledger verify --keys`.
type keysResponse struct {
	Keys []eventstore.SignerKey `json:"keys"`
}

func (a *api) getKeys(w http.ResponseWriter, r *http.Request) {
	if err := accountOf(r).MayRead(); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	keys, err := a.signers.List(r.Context())
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if keys == nil {
		keys = []eventstore.SignerKey{}
	}
	writeJSON(w, http.StatusOK, keysResponse{Keys: keys})
}

// keyring reads a keys file as written by `kcledger keys`.
func keyring(r io.Reader) (domain.Keyring, error) {
	var kr keysResponse
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kr); err != nil {
		return nil, fmt.Errorf("not a kcledger keys file: %w", err)
	}
	return kr.keyring()
}

// keyring checks each key against its id and returns them as a keyring.
func (kr keysResponse) keyring() (domain.Keyring, error) {
	ring := domain.Keyring{}
	for _, k := range kr.Keys {
		if len(k.PublicKey) != ed25519.PublicKeySize || domain.KeyID(k.PublicKey) != k.ID {
			return nil, fmt.Errorf("key %q: its public key does not match its id", k.ID)
		}
		ring.Add(k.PublicKey)
	}
	if len(ring) == 0 {
		return nil, errors.New("the keys file holds no key")
	}
	return ring, nil
}

// runKeys is `kcledger keys`: the public keys that sign events, to pin.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keys", "print the public keys that sign the ledger's events, as JSON to save and pin: kcledger keys > keys.json, then kcledger verify --keys keys.json", stderr)
	server := addClientFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger keys: %v\n", err)
		return exitUsage
	}
	var res keysResponse
	if _, err := c.do(ctx, http.MethodGet, "/v1/keys", nil, nil, &res); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
	return exitOK
}
