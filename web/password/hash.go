package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// slots bounds the argon2 computations running at once to the machine's
// cores: each takes tens of MiB (up to maxMemoryKiB for a stored hash),
// so a burst of log-ins or password changes waits its turn instead of
// taking the memory of hundreds of them at once. busy and peak count
// them, for the tests.
var (
	slots = make(chan struct{}, max(1, runtime.NumCPU()))
	busy  atomic.Int64
	peak  atomic.Int64
)

// idKey is argon2.IDKey within a slot.
func idKey(password, salt []byte, t, m uint32, threads uint8, keyLen uint32) []byte {
	slots <- struct{}{}
	defer func() { <-slots }()
	n := busy.Add(1)
	defer busy.Add(-1)
	for {
		p := peak.Load()
		if n <= p || peak.CompareAndSwap(p, n) {
			break
		}
	}
	return argon2.IDKey(password, salt, t, m, threads, keyLen)
}

// Params are argon2id's cost parameters and sizes, as a PHC string
// records them.
type Params struct {
	// MemoryKiB is argon2's m, in KiB.
	MemoryKiB uint32
	// Time is argon2's t, the number of passes over the memory.
	Time uint32
	// Threads is argon2's p, the lanes hashed in parallel.
	Threads uint8
	// SaltBytes and KeyBytes are the lengths of the salt and the hash.
	SaltBytes uint32
	KeyBytes  uint32
}

// DefaultParams are those Hash uses: OWASP's first argon2id setting
// (46 MiB, 1 pass, 1 lane). On the 2-core machine the ledger runs on,
// BenchmarkHash measured 60–110 ms per hash in five runs of ten under the
// load of other work (load average 2 to 5), inside the 50–150 ms a log-in
// may spend; 64 MiB × 2 passes × 2 lanes took 117–320 ms there, and a second lane bought nothing on a busy machine
// while taking the core the ledger needs. Raise them when the machine
// grows; NeedsRehash then tells which stored hashes to renew at their next
// log-in.
var DefaultParams = Params{MemoryKiB: 46 * 1024, Time: 1, Threads: 1, SaltBytes: 16, KeyBytes: 32}

// MinParams is the weakest hash Verify accepts, with minWorkKiB: at least
// 19 MiB, 1 pass, 1 lane and 16-byte salts and hashes, and MemoryKiB×Time
// at least 19 MiB × 2, so that a hash may trade passes for memory along
// OWASP's Password Storage Cheat Sheet floor (46 MiB × 1 … 19 MiB × 2) but
// not go below it.
var MinParams = Params{MemoryKiB: 19 * 1024, Time: 1, Threads: 1, SaltBytes: 16, KeyBytes: 16}

const minWorkKiB = 19 * 1024 * 2

// Upper bounds on what a stored hash may ask of Verify, so that an edited
// store cannot make one log-in take gigabytes or minutes.
const (
	maxMemoryKiB  = 256 * 1024 // 256 MiB, 5.5 times DefaultParams
	maxTime       = 16
	maxThreads    = 16
	maxSaltBytes  = 64
	maxKeyBytes   = 64
	maxHashBytes  = 256 // the whole PHC string
	argon2Version = argon2.Version
)

// ErrMismatch is the answer to a wrong password. It says nothing more, so
// that a log-in page shows one message for a wrong name and a wrong
// password.
var ErrMismatch = errors.New("password: mismatch")

// ErrBadHash is the class of errors Verify returns for a stored hash it will
// not use: malformed, of another algorithm or version, or with parameters
// outside its bounds. Match it with errors.Is.
var ErrBadHash = errors.New("password: unusable hash")

// Hash hashes password with DefaultParams and a fresh random salt, in PHC
// string form: $argon2id$v=19$m=47104,t=1,p=1$<salt>$<hash>, salt and hash
// in unpadded standard base64. It hashes what it is given; callers check new
// passwords with Check first.
func Hash(password string) (string, error) { return hashWith(DefaultParams, password) }

func hashWith(p Params, password string) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := idKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyBytes)
	return encode(p, salt, key), nil
}

func encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password is the one encoded hashes: nil when it
// is, ErrMismatch when it is not, and an error matching ErrBadHash when
// encoded is not a hash Verify will use (see MinParams). The comparison of
// the hashes takes constant time.
func Verify(encoded, password string) error {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return err
	}
	got := idKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyBytes)
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

// absentSalt is the salt VerifyAbsent hashes with; any fixed value does.
var absentSalt = make([]byte, 16)

// VerifyAbsent does the work of Verify against a hash of DefaultParams and
// returns ErrMismatch, for a log-in with an account name that does not
// exist: the answer then takes as long as a wrong password would.
func VerifyAbsent(password string) error {
	p := DefaultParams
	key := idKey([]byte(password), absentSalt, p.Time, p.MemoryKiB, p.Threads, p.KeyBytes)
	subtle.ConstantTimeCompare(key, key)
	return ErrMismatch
}

// NeedsRehash reports whether encoded was made with parameters other than
// DefaultParams (or cannot be read), so that the log-in that has just
// verified the password should store a new Hash of it.
func NeedsRehash(encoded string) bool {
	p, _, _, err := decode(encoded)
	return err != nil || p != DefaultParams
}

func badHash(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadHash, fmt.Sprintf(format, args...))
}

// decode reads a PHC string strictly: one spelling per hash, parameters in
// the order m, t, p, numbers without signs or leading zeros.
func decode(encoded string) (Params, []byte, []byte, error) {
	if len(encoded) > maxHashBytes {
		return Params{}, nil, nil, badHash("longer than %d bytes", maxHashBytes)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return Params{}, nil, nil, badHash("not a PHC string $argon2id$v=..$m=..,t=..,p=..$salt$hash")
	}
	if parts[1] != "argon2id" {
		return Params{}, nil, nil, badHash("algorithm %q, want argon2id", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2Version) {
		return Params{}, nil, nil, badHash("version %q, want v=%d", parts[2], argon2Version)
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return Params{}, nil, nil, badHash("parameters %q, want m=..,t=..,p=..", parts[3])
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || v == "" || v[0] < '1' || v[0] > '9' {
			return Params{}, nil, nil, badHash("parameter %q, want %s=<positive integer>", fields[i], name)
		}
		vals[i] = n
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return Params{}, nil, nil, badHash("salt is not unpadded base64")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return Params{}, nil, nil, badHash("hash is not unpadded base64")
	}
	if vals[2] > maxThreads {
		return Params{}, nil, nil, badHash("p=%d is above %d", vals[2], maxThreads)
	}
	p := Params{MemoryKiB: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2]), SaltBytes: uint32(len(salt)), KeyBytes: uint32(len(key))}
	if err := p.validate(); err != nil {
		return Params{}, nil, nil, err
	}
	return p, salt, key, nil
}

// validate checks p against MinParams and the upper bounds.
func (p Params) validate() error {
	m := MinParams
	switch {
	case p.MemoryKiB < m.MemoryKiB:
		return badHash("m=%d KiB is below the minimum %d", p.MemoryKiB, m.MemoryKiB)
	case p.MemoryKiB > maxMemoryKiB:
		return badHash("m=%d KiB is above %d", p.MemoryKiB, maxMemoryKiB)
	case p.Time < m.Time:
		return badHash("t=%d is below the minimum %d", p.Time, m.Time)
	case p.Time > maxTime:
		return badHash("t=%d is above %d", p.Time, maxTime)
	case uint64(p.MemoryKiB)*uint64(p.Time) < minWorkKiB:
		return badHash("m×t=%d KiB is below the minimum %d", uint64(p.MemoryKiB)*uint64(p.Time), minWorkKiB)
	case p.Threads < m.Threads || p.Threads > maxThreads:
		return badHash("p=%d is outside 1..%d", p.Threads, maxThreads)
	case p.MemoryKiB < 8*uint32(p.Threads):
		return badHash("m=%d KiB is below 8 KiB per lane", p.MemoryKiB)
	case p.SaltBytes < m.SaltBytes || p.SaltBytes > maxSaltBytes:
		return badHash("salt of %d bytes, want %d..%d", p.SaltBytes, m.SaltBytes, maxSaltBytes)
	case p.KeyBytes < m.KeyBytes || p.KeyBytes > maxKeyBytes:
		return badHash("hash of %d bytes, want %d..%d", p.KeyBytes, m.KeyBytes, maxKeyBytes)
	}
	return nil
}
