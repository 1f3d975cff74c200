package domain_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

func TestEndorsements(t *testing.T) {
	root := domain.NewRoot(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	otherRoot := domain.NewRoot(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize)))
	signer := domain.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize)))
	stranger := domain.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{10}, ed25519.SeedSize)))
	at := time.Date(2026, 12, 1, 9, 30, 0, 123456789, time.UTC)
	reg := domain.SignerKey{ID: signer.ID(), PublicKey: signer.Public(), RegisteredAt: at}
	good := root.Endorse(reg)
	require.Equal(t, root.ID(), good.EndorsedBy)
	require.NotEmpty(t, good.Endorsement)
	require.NoError(t, good.VerifyEndorsement(root.Public()))
	// The same time in another zone is the same registration.
	inICT := good
	inICT.RegisteredAt = at.In(time.FixedZone("ICT", 7*3600))
	require.NoError(t, inICT.VerifyEndorsement(root.Public()))

	for _, tc := range []struct {
		name  string
		key   func() domain.SignerKey
		root  ed25519.PublicKey
		wants string
	}{
		{"missing endorsement", func() domain.SignerKey { return reg }, root.Public(), "without an endorsement"},
		{"endorsed by another root", func() domain.SignerKey { return otherRoot.Endorse(reg) }, root.Public(), "endorsed by root " + otherRoot.ID()},
		{"another root's endorsement claiming this root", func() domain.SignerKey {
			k := otherRoot.Endorse(reg)
			k.EndorsedBy = root.ID()
			return k
		}, root.Public(), "does not match"},
		{"a wrong root pinned", func() domain.SignerKey { return good }, otherRoot.Public(), "endorsed by root " + root.ID()},
		{"registration time altered", func() domain.SignerKey {
			k := good
			k.RegisteredAt = at.Add(time.Nanosecond)
			return k
		}, root.Public(), "does not match"},
		{"another key under the endorsed id", func() domain.SignerKey {
			k := good
			k.PublicKey = stranger.Public()
			return k
		}, root.Public(), "does not match its id"},
		{"the endorsement moved to another key", func() domain.SignerKey {
			k := good
			k.ID, k.PublicKey = stranger.ID(), stranger.Public()
			return k
		}, root.Public(), "does not match"},
		{"endorsement not base64", func() domain.SignerKey {
			k := good
			k.Endorsement = "!!"
			return k
		}, root.Public(), "does not match"},
		{"a short public key", func() domain.SignerKey {
			k := good
			k.PublicKey = k.PublicKey[:16]
			return k
		}, root.Public(), "does not match its id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.key().VerifyEndorsement(tc.root)
			require.ErrorIs(t, err, domain.ErrUnendorsed)
			require.ErrorIs(t, err, domain.ErrForged, "an event signed by an unendorsed key is a forgery")
			require.ErrorContains(t, err, tc.wants)
		})
	}
}

// BenchmarkKeyringVerify is the cost of the signature check serve,
// replay and verify make of every event: one Ed25519 verification.
func BenchmarkKeyringVerify(b *testing.B) {
	s := domain.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	ring := domain.Keyring{}
	ring.Add(s.Public())
	e := domain.Event{ID: "e", Hash: "434aceca3c9ab7e97c42a52ccc4cee5f44e8b7a455fb442abf8c1a6e8f6178fb"}
	s.Sign(&e)
	for b.Loop() {
		if err := ring.Verify(&e); err != nil {
			b.Fatal(err)
		}
	}
}

// A signer made by OnSign signs as its parent does, and tells fn the
// hash and the signature of every event it signs; the parent tells
// nobody.
func TestSignerOnSign(t *testing.T) {
	parent := domain.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{11}, ed25519.SeedSize)))
	var told [][2]string
	s := parent.OnSign(func(hash, sig string) { told = append(told, [2]string{hash, sig}) })
	require.Equal(t, parent.ID(), s.ID())
	e := domain.Event{ID: "e1", Hash: "ab"}
	s.Sign(&e)
	require.Equal(t, [][2]string{{e.Hash, e.Signature}}, told)
	same := domain.Event{ID: "e1", Hash: "ab"}
	parent.Sign(&same)
	require.Equal(t, e.Signature, same.Signature)
	require.Len(t, told, 1)
	ring := domain.Keyring{}
	ring.Add(parent.Public())
	require.NoError(t, ring.Verify(&e))
}
