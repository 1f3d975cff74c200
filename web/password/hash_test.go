package password

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
)

// cheap are the cheapest parameters Verify accepts, so that tests under the
// race detector stay quick; DefaultParams are tested once.
var cheap = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltBytes: 16, KeyBytes: 32}

var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=47104,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse battery staple")
	require.NoError(t, err)
	assert.Regexp(t, phc, h)
	require.NoError(t, Verify(h, "correct horse battery staple"))
	require.ErrorIs(t, Verify(h, "correct horse battery stapl"), ErrMismatch)
	assert.False(t, NeedsRehash(h))

	h2, err := Hash("correct horse battery staple")
	require.NoError(t, err)
	assert.NotEqual(t, h, h2, "every hash has its own salt")
}

func TestVerifyCheapAndUnicode(t *testing.T) {
	for _, pw := range []string{"mật khẩu dài đủ mười hai", "correct horse", strings.Repeat("x", MaxBytes)} {
		h, err := hashWith(cheap, pw)
		require.NoError(t, err)
		require.NoError(t, Verify(h, pw))
		require.ErrorIs(t, Verify(h, pw+" "), ErrMismatch)
		assert.True(t, NeedsRehash(h), "cheap is not DefaultParams")
	}
}

// A hash made outside Hash, from the argon2 package with a known salt, is
// read back: the format is the PHC one, not something only Hash writes.
func TestVerifyForeignHash(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("pa55word pa55word"), salt, 2, 19456, 1, 32)
	b64 := base64.RawStdEncoding
	h := "$argon2id$v=19$m=19456,t=2,p=1$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
	require.NoError(t, Verify(h, "pa55word pa55word"))
	require.ErrorIs(t, Verify(h, "pa55word pa55worD"), ErrMismatch)
}

func TestVerifyRefusesHash(t *testing.T) {
	salt, key := make([]byte, 16), make([]byte, 32)
	_, _ = rand.Read(salt)
	s, k := base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)
	good := "$argon2id$v=19$m=19456,t=2,p=1$" + s + "$" + k
	for name, h := range map[string]string{
		"empty":                "",
		"argon2i":              strings.Replace(good, "argon2id", "argon2i", 1),
		"argon2d":              strings.Replace(good, "argon2id", "argon2d", 1),
		"bcrypt":               "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"old version":          strings.Replace(good, "v=19", "v=16", 1),
		"no version":           "$argon2id$m=19456,t=2,p=1$" + s + "$" + k,
		"memory below minimum": strings.Replace(good, "m=19456", "m=19455", 1),
		"one pass of 19 MiB":   strings.Replace(good, "t=2", "t=1", 1),
		"no pass":              strings.Replace(good, "t=2", "t=0", 1),
		"no lane":              strings.Replace(good, "p=1", "p=0", 1),
		"too many lanes":       strings.Replace(good, "p=1", "p=17", 1),
		"lanes beyond uint8":   strings.Replace(good, "p=1", "p=257", 1),
		"memory above bound":   strings.Replace(good, "m=19456", "m=262145", 1),
		"passes above bound":   strings.Replace(good, "t=2", "t=17", 1),
		"leading zero":         strings.Replace(good, "m=19456", "m=019456", 1),
		"plus sign":            strings.Replace(good, "t=2", "t=+2", 1),
		"order":                strings.Replace(good, "m=19456,t=2,p=1", "t=2,m=19456,p=1", 1),
		"extra parameter":      strings.Replace(good, "p=1", "p=1,keyid=x", 1),
		"missing parameter":    strings.Replace(good, ",p=1", "", 1),
		"padded salt":          strings.Replace(good, s, s+"==", 1),
		"salt not base64":      strings.Replace(good, s, "!!!!!!!!!!!!!!!!!!!!!!", 1),
		"short salt":           strings.Replace(good, s, base64.RawStdEncoding.EncodeToString(salt[:15]), 1),
		"short hash":           strings.Replace(good, k, base64.RawStdEncoding.EncodeToString(key[:15]), 1),
		"extra part":           good + "$x",
		"too long":             good + strings.Repeat("A", maxHashBytes),
	} {
		t.Run(name, func(t *testing.T) {
			err := Verify(h, "whatever password")
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrBadHash), "%v", err)
			assert.True(t, NeedsRehash(h))
		})
	}
	require.ErrorIs(t, Verify(good, "whatever password"), ErrMismatch, "the base of the table is itself usable")
}

func TestVerifyAbsent(t *testing.T) {
	require.ErrorIs(t, VerifyAbsent("anything at all"), ErrMismatch)
}
