package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Role decides what an account may do. Role names are persisted: never
// rename or reuse one.
type Role string

// The roles.
const (
	// RoleAdmin may do everything, including managing accounts.
	RoleAdmin Role = "admin"
	// RoleOfficer records movements, and reads balances, only on the
	// provinces and sources of its account.
	RoleOfficer Role = "officer"
	// RoleAuditor reads everything and records nothing.
	RoleAuditor Role = "auditor"
	// RoleSubscriber reads the event stream over NATS and nothing else.
	RoleSubscriber Role = "subscriber"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleOfficer, RoleAuditor, RoleSubscriber}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(Roles, r) {
		return r, nil
	}
	return "", Errorf(CodeInvalidField, "role", "unknown role %q: want admin, officer, auditor or subscriber", s)
}

// Limits of accounts.
const (
	MaxAccountNameLen = 64
	// tokenSecretBytes of randomness make a token secret: 256 bits, far
	// beyond guessing, which is why a plain SHA-256 is enough to store it.
	tokenSecretBytes = 32
	tokenPrefix      = "kcl_"
)

// accountName: lowercase letters, digits and hyphens, starting with a
// letter or digit. The same name is a NATS user name and a token part, so
// it holds no dot, underscore, space or wildcard.
var accountName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Account is a person or system that uses the ledger. Its secrets are
// stored only as hashes.
type Account struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Provinces and Sources bound what an officer may record and read.
	Provinces []string `json:"provinces,omitempty"`
	Sources   []Source `json:"sources,omitempty"`
	// TokenHash is the SHA-256 (hex) of the secret part of the account's
	// HTTP bearer token; empty when the account has none.
	TokenHash string `json:"token_hash,omitempty"`
	// NATSPasswordHash is the SHA-256 (hex) of the account's NATS
	// password; empty when the account may not connect to NATS.
	NATSPasswordHash string `json:"nats_password_hash,omitempty"`
	// PasswordHash is the hash of the account's console log-in password
	// (argon2id in PHC form, package web/password); empty when the
	// account has none. PasswordMustChange says an admin set it: the
	// owner must change it at the next log-in. PasswordSetAt is when it
	// was last set.
	PasswordHash       string     `json:"password_hash,omitempty"`
	PasswordMustChange bool       `json:"password_must_change,omitempty"`
	PasswordSetAt      *time.Time `json:"password_set_at,omitempty"`
	Disabled           bool       `json:"disabled"`
	CreatedAt          time.Time  `json:"created_at"`
	CreatedBy          string     `json:"created_by"`
	DisabledAt         *time.Time `json:"disabled_at,omitempty"`
	DisabledBy         string     `json:"disabled_by,omitempty"`
	// SessionEpoch counts what ended the account's console sessions: a
	// disable, a password set. A session keeps the epoch it was opened
	// in, and ends once the account's has moved on, even if an admin has
	// enabled the account again by then.
	SessionEpoch uint64 `json:"session_epoch,omitempty"`
}

// Validate checks a new account.
func (a *Account) Validate() error {
	if !accountName.MatchString(a.Name) {
		return Errorf(CodeInvalidField, "name", "account name %q: want 1 to %d lowercase letters, digits or hyphens, not starting with a hyphen", a.Name, MaxAccountNameLen)
	}
	if _, err := ParseRole(string(a.Role)); err != nil {
		return err
	}
	if a.Role != RoleOfficer {
		if len(a.Provinces) > 0 || len(a.Sources) > 0 {
			return Errorf(CodeInvalidField, "provinces", "only officers are limited to provinces and sources; a%s %s sees everything it may see", article(a.Role), a.Role)
		}
		return nil
	}
	if len(a.Provinces) == 0 {
		return Errorf(CodeMissingField, "provinces", "an officer needs at least one province code")
	}
	if len(a.Sources) == 0 {
		return Errorf(CodeMissingField, "sources", "an officer needs at least one source: national or local")
	}
	for _, p := range a.Provinces {
		if _, ok := LookupProvince(Scheme63, p); ok {
			continue
		}
		if _, ok := LookupProvince(Scheme34, p); !ok {
			return Errorf(CodeUnknownProvince, "provinces", "unknown province code %q", p)
		}
	}
	for _, s := range a.Sources {
		if _, err := ParseSource(string(s)); err != nil {
			return Errorf(CodeUnknownSource, "sources", "unknown source %q: want national or local", s)
		}
	}
	return nil
}

func article(r Role) string {
	if r == RoleAdmin || r == RoleAuditor || r == RoleOfficer {
		return "n"
	}
	return ""
}

// forbidden builds the refusal of an action to an account.
func forbidden(field, format string, args ...any) error {
	return Errorf(CodeForbidden, field, format, args...)
}

// MayRecord says whether the account may record a movement on line k.
func (a *Account) MayRecord(k LineKey) error {
	switch a.Role {
	case RoleAdmin:
		return nil
	case RoleOfficer:
		if !slices.Contains(a.Provinces, k.Province) {
			return forbidden("province", "account %s may record only for provinces %s, not %s", a.Name, strings.Join(a.Provinces, ", "), k.Province)
		}
		if !slices.Contains(a.Sources, k.Source) {
			return forbidden("source", "account %s may record only %s funds, not %s", a.Name, joinSources(a.Sources), k.Source)
		}
		return nil
	}
	return forbidden("", "account %s is a%s %s and may not record movements", a.Name, article(a.Role), a.Role)
}

// MayRecordAny refuses, before any input is read, an account whose role
// records nothing.
func (a *Account) MayRecordAny() error {
	if a.Role == RoleAdmin || a.Role == RoleOfficer {
		return nil
	}
	return a.MayRecord(LineKey{})
}

// MayRead says whether the account may read balances and reference data
// over the API. What it sees is then bounded by Sees.
func (a *Account) MayRead() error {
	if a.Role == RoleSubscriber {
		return forbidden("", "account %s is a subscriber: it reads the event stream over NATS, not the API", a.Name)
	}
	return nil
}

// Sees says whether the account may read line k.
func (a *Account) Sees(k LineKey) bool {
	switch a.Role {
	case RoleAdmin, RoleAuditor:
		return true
	case RoleOfficer:
		return slices.Contains(a.Provinces, k.Province) && slices.Contains(a.Sources, k.Source)
	}
	return false
}

// MayReadProvince refuses a read that asks for a province the account may
// not see.
func (a *Account) MayReadProvince(province string) error {
	if a.Role == RoleOfficer && !slices.Contains(a.Provinces, province) {
		return forbidden("province", "account %s may read only provinces %s, not %s", a.Name, strings.Join(a.Provinces, ", "), province)
	}
	return nil
}

// MayManageAccounts says whether the account may add, list and disable
// accounts.
func (a *Account) MayManageAccounts() error {
	if a.Role != RoleAdmin {
		return forbidden("", "only an admin manages accounts; %s is a%s %s", a.Name, article(a.Role), a.Role)
	}
	return nil
}

func joinSources(ss []Source) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, " and ")
}

// NewSecret returns a fresh random secret, in hex, and its hash.
func NewSecret() (secret, hash string) {
	b := make([]byte, tokenSecretBytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("domain: no randomness for a secret: %v", err)) // crypto/rand never fails on supported systems
	}
	secret = hex.EncodeToString(b)
	return secret, HashSecret(secret)
}

// HashSecret is how secrets are stored: SHA-256, hex.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretMatches compares a presented secret with a stored hash in
// constant time.
func SecretMatches(secret, hash string) bool {
	if hash == "" {
		return false
	}
	got := HashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}

// Token is the bearer token of an account: "kcl_<name>_<secret>".
func Token(name, secret string) string { return tokenPrefix + name + "_" + secret }

// ParseToken splits a bearer token into account name and secret.
func ParseToken(tok string) (name, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '_')
	if i <= 0 {
		return "", "", false
	}
	name, secret = rest[:i], rest[i+1:]
	if !accountName.MatchString(name) || len(secret) != 2*tokenSecretBytes {
		return "", "", false
	}
	return name, secret, true
}
