package domain_test

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

func TestTokenRoundTrip(t *testing.T) {
	secret, hash := domain.NewSecret()
	other, _ := domain.NewSecret()
	require.NotEqual(t, secret, other, "secrets are random")
	assert.Len(t, secret, 64)
	assert.NotContains(t, hash, secret)

	name, got, ok := domain.ParseToken(domain.Token("can-bo-01", secret))
	require.True(t, ok)
	assert.Equal(t, "can-bo-01", name)
	assert.Equal(t, secret, got)
	assert.True(t, domain.SecretMatches(got, hash))
	assert.False(t, domain.SecretMatches(other, hash))
	assert.False(t, domain.SecretMatches(secret, ""), "an account without a token accepts none")
}

func TestParseTokenRefuses(t *testing.T) {
	secret := strings.Repeat("ab", 32)
	for _, tok := range []string{
		"", "kcl_", "kcl__" + secret, "Bearer kcl_a_" + secret, "kcl_a_" + secret[:63], "kcl_a_" + secret + "0",
		"kcl_A_" + secret, "kcl_a.b_" + secret, "kcl_-a_" + secret, "xyz_a_" + secret,
	} {
		_, _, ok := domain.ParseToken(tok)
		assert.False(t, ok, "%q", tok)
	}
}

func FuzzParseToken(f *testing.F) {
	secret := strings.Repeat("0f", 32)
	for _, s := range []string{"kcl_admin_" + secret, "kcl_a_b_" + secret, "kcl__", "", "kcl_x-y_z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		name, secret, ok := domain.ParseToken(tok)
		if !ok {
			return
		}
		// What parses is exactly a token of that name and secret.
		if domain.Token(name, secret) != tok {
			t.Fatalf("%q parsed as %q, %q", tok, name, secret)
		}
		a := domain.Account{Name: name, Role: domain.RoleAuditor}
		if err := a.Validate(); err != nil {
			t.Fatalf("%q: the name parsed is not a valid account name: %v", tok, err)
		}
	})
}

func TestAccountPermissions(t *testing.T) {
	hanoi := domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}
	hanoiLocal := domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceLocal}
	hcm := domain.LineKey{FiscalYear: 2025, Province: "79", Source: domain.SourceNational}
	officer := &domain.Account{Name: "o", Role: domain.RoleOfficer, Provinces: []string{"01"}, Sources: []domain.Source{domain.SourceNational}}
	for _, tc := range []struct {
		acc    *domain.Account
		line   domain.LineKey
		record string // "" allowed, else the field refused
		sees   bool
	}{
		{&domain.Account{Name: "a", Role: domain.RoleAdmin}, hcm, "", true},
		{officer, hanoi, "", true},
		{officer, hanoiLocal, "source", false},
		{officer, hcm, "province", false},
		{&domain.Account{Name: "k", Role: domain.RoleAuditor}, hanoi, "-", true},
		{&domain.Account{Name: "s", Role: domain.RoleSubscriber}, hanoi, "-", false},
	} {
		err := tc.acc.MayRecord(tc.line)
		switch tc.record {
		case "":
			assert.NoError(t, err, "%s on %s", tc.acc.Role, tc.line)
		default:
			require.ErrorIs(t, err, domain.ErrForbidden, "%s on %s", tc.acc.Role, tc.line)
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			if tc.record != "-" {
				assert.Equal(t, tc.record, de.Field)
			}
		}
		assert.Equal(t, tc.sees, tc.acc.Sees(tc.line), "%s sees %s", tc.acc.Role, tc.line)
	}
	require.ErrorIs(t, (&domain.Account{Role: domain.RoleAuditor}).MayRecordAny(), domain.ErrForbidden)
	require.NoError(t, officer.MayRecordAny())
	require.ErrorIs(t, officer.MayManageAccounts(), domain.ErrForbidden)
	require.ErrorIs(t, (&domain.Account{Role: domain.RoleSubscriber}).MayRead(), domain.ErrForbidden)
}

func TestSignatures(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	signer := domain.NewSigner(key)
	ring := domain.Keyring{}
	ring.Add(signer.Public())
	e := domain.Event{ID: "e1", Hash: strings.Repeat("ab", 32)}
	require.ErrorIs(t, ring.Verify(&e), domain.ErrForged, "unsigned")
	signer.Sign(&e)
	require.NoError(t, ring.Verify(&e))
	assert.Equal(t, signer.ID(), e.SignedBy)
	assert.Len(t, e.SignedBy, 16)

	altered := e
	altered.Hash = strings.Repeat("cd", 32)
	require.ErrorIs(t, ring.Verify(&altered), domain.ErrForged, "the signature covers the hash")
	require.ErrorIs(t, ring.Verify(&altered), domain.ErrCorrupt)

	other := domain.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)))
	forged := domain.Event{ID: "e2", Hash: e.Hash}
	other.Sign(&forged)
	require.ErrorIs(t, ring.Verify(&forged), domain.ErrForged, "a key outside the keyring")
}
