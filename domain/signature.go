package domain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
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
	// signed, when set, is told of every signature Sign makes (OnSign).
	signed func(hash, signature string)
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
	if s.signed != nil {
		s.signed(e.Hash, e.Signature)
	}
}

// OnSign returns a signer with s's key that also calls fn with the hash
// and the signature of every event it signs, once the event is signed:
// a process can remember which signatures it made itself, and need not
// verify them again when the events come back from the log. fn may be
// called from several goroutines at once.
func (s *Signer) OnSign(fn func(hash, signature string)) *Signer {
	return &Signer{id: s.id, key: s.key, signed: fn}
}

// SignBytes signs msg with the signer's key (checkpoints are sealed so).
func (s *Signer) SignBytes(msg []byte) []byte { return ed25519.Sign(s.key, msg) }

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

// Endorsements. A process registers its public key in a bucket that
// anyone with the operator's NATS credentials can write, so a
// registration alone proves nothing. The ledger root, an Ed25519 key kept
// with the data directory and never sent over NATS, therefore endorses
// each signer key: it signs the key's registration (id, public key and
// registration time), and only keys with a valid endorsement by the root
// a reader trusts are taken as the ledger's.
//
// The endorsement signs the concatenation of the netstrings
// ("<byte length>:<bytes>,") of: the tag "kcledger-signer-v1", the key id,
// the public key (its 32 raw bytes) and the registration time (RFC 3339
// with nanoseconds, UTC).

// SignerKey is a signer's registration: one public key that signs events,
// and, when the ledger root endorsed it, that endorsement.
type SignerKey struct {
	ID           string            `json:"id"`
	PublicKey    ed25519.PublicKey `json:"public_key"` // base64 in JSON
	RegisteredAt time.Time         `json:"registered_at"`
	// EndorsedBy is the key id of the root that endorsed the key.
	EndorsedBy string `json:"endorsed_by,omitempty"`
	// Endorsement is the root's Ed25519 signature of the registration,
	// base64.
	Endorsement string `json:"endorsement,omitempty"`
}

func (k SignerKey) endorsed() []byte {
	var b []byte
	for _, f := range []string{"kcledger-signer-v1", k.ID, string(k.PublicKey), k.RegisteredAt.UTC().Format(time.RFC3339Nano)} {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, ',')
	}
	return b
}

// VerifyEndorsement checks that the key matches its id and carries a
// valid endorsement by root. An error wraps ErrUnendorsed.
func (k SignerKey) VerifyEndorsement(root ed25519.PublicKey) error {
	if len(k.PublicKey) != ed25519.PublicKeySize || KeyID(k.PublicKey) != k.ID {
		return fmt.Errorf("%w: key %s: its public key does not match its id", ErrUnendorsed, k.ID)
	}
	rootID := KeyID(root)
	if k.Endorsement == "" {
		return fmt.Errorf("%w: key %s is registered without an endorsement by the ledger root", ErrUnendorsed, k.ID)
	}
	if k.EndorsedBy != rootID {
		return fmt.Errorf("%w: key %s is endorsed by root %s, not by the ledger root %s", ErrUnendorsed, k.ID, k.EndorsedBy, rootID)
	}
	sig, err := base64.StdEncoding.DecodeString(k.Endorsement)
	if err != nil || !ed25519.Verify(root, k.endorsed(), sig) {
		return fmt.Errorf("%w: key %s: its endorsement does not match its registration (id, public key, time) under the ledger root %s", ErrUnendorsed, k.ID, rootID)
	}
	return nil
}

// ErrUnendorsed marks a signer key that the trusted ledger root did not
// endorse: events it signs are forgeries.
var ErrUnendorsed = fmt.Errorf("%w: signer key not endorsed by the ledger root", ErrForged)

// Root is the ledger root: the key that endorses signer keys.
type Root struct {
	id  string
	key ed25519.PrivateKey
}

// NewRoot returns the root of a private key.
func NewRoot(key ed25519.PrivateKey) *Root {
	return &Root{id: KeyID(key.Public().(ed25519.PublicKey)), key: key}
}

// ID is the root's key id.
func (r *Root) ID() string { return r.id }

// Public is the root's public key.
func (r *Root) Public() ed25519.PublicKey { return r.key.Public().(ed25519.PublicKey) }

// Endorse returns the registration k endorsed by the root.
func (r *Root) Endorse(k SignerKey) SignerKey {
	k.RegisteredAt = k.RegisteredAt.UTC()
	k.EndorsedBy = r.id
	k.Endorsement = base64.StdEncoding.EncodeToString(ed25519.Sign(r.key, k.endorsed()))
	return k
}
