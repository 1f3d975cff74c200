package domain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Signatures. The hash chain shows that nothing recorded was altered or
// removed, but anyone who can publish onto a ledger subject can also
// extend a chain: the hash is no secret. Every event is therefore signed
// by the kcledger process that recorded it, with an Ed25519 key that only
// that process holds. Auditors pin the public keys (kcledger keys) and
// verify every event against them: an event from anyone else, however
// well chained, is named as a forgery.
//
// The signature covers the event's hash, as its 64-character lowercase
// hex string in ASCII, and with it every field the hash covers.

// Signer signs events.
type Signer struct {
	id  string
	key ed25519.PrivateKey
}

// NewSigner returns the signer of a private key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{id: KeyID(key.Public().(ed25519.PublicKey)), key: key}
}

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// ID is the signer's key id.
func (s *Signer) ID() string { return s.id }

// Public is the signer's public key.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Sign sets the event's signature; the event's hash must be final.
func (s *Signer) Sign(e *Event) {
	e.SignedBy = s.id
	e.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, []byte(e.Hash)))
}

// Keyring holds the public keys of the processes allowed to record.
type Keyring map[string]ed25519.PublicKey

// Add puts a public key in the keyring under its key id.
func (k Keyring) Add(pub ed25519.PublicKey) { k[KeyID(pub)] = pub }

// Verify checks that the event carries a valid signature by a key of the
// keyring. It does not check the hash itself (LineState.Apply does).
func (k Keyring) Verify(e *Event) error {
	if e.SignedBy == "" || e.Signature == "" {
		return fmt.Errorf("%w: event %s is not signed", ErrForged, e.ID)
	}
	pub, ok := k[e.SignedBy]
	if !ok {
		return fmt.Errorf("%w: event %s is signed by key %s, which is not one of the ledger's", ErrForged, e.ID, e.SignedBy)
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	if err != nil || !ed25519.Verify(pub, []byte(e.Hash), sig) {
		return fmt.Errorf("%w: event %s: its signature by key %s does not match its hash", ErrForged, e.ID, e.SignedBy)
	}
	return nil
}

// ErrForged marks an event that no kcledger process of the keyring signed.
var ErrForged = fmt.Errorf("%w: forged event", ErrCorrupt)
