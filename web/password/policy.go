package password

import (
	"strings"
	"unicode/utf8"

	"github.com/kcledger/kcledger/domain"
)

// Limits of the policy on new passwords.
const (
	// MinChars is the fewest characters (Unicode code points) a password
	// has: NIST SP 800-63B asks at least 8 and recommends more; 12 makes a
	// typed phrase the easy way through.
	MinChars = 12
	// MaxBytes bounds the bytes hashed, so that no request makes argon2
	// read megabytes, and leaves room for long passphrases in any script.
	MaxBytes = 256
)

// Rule names the policy rule a password breaks. Rules are stable, like
// error codes: the console looks up its message by "password." + Rule.
type Rule string

// The rules of Check.
const (
	RuleTooShort    Rule = "too_short"
	RuleTooLong     Rule = "too_long"
	RuleNotUTF8     Rule = "not_utf8"
	RuleOneChar     Rule = "one_character"
	RuleAccountName Rule = "account_name"
)

// Rules lists every rule, so that tests can prove each has a message.
var Rules = []Rule{RuleTooShort, RuleTooLong, RuleNotUTF8, RuleOneChar, RuleAccountName}

// PolicyError is Check's error: a *domain.Error (CodeInvalidField, field
// "password", an English message) that also names the rule broken, for a
// message in the user's language. errors.As finds the *domain.Error in it,
// and errors.Is(err, &domain.Error{Code: domain.CodeInvalidField}) holds.
type PolicyError struct {
	Rule Rule
	Err  *domain.Error
}

func (e *PolicyError) Error() string { return e.Err.Error() }

// Unwrap returns the domain error.
func (e *PolicyError) Unwrap() error { return e.Err }

func policyError(r Rule, format string, args ...any) error {
	return &PolicyError{Rule: r, Err: domain.Errorf(domain.CodeInvalidField, "password", format, args...)}
}

// Check tells whether password may be set for the account named account.
// It checks length and the two mistakes a policy can see without a list of
// breached passwords: a password of one repeated character, and the
// account's own name (compared without regard to case or surrounding
// spaces). It does not ask for character classes, which NIST SP 800-63B
// advises against. Errors are *PolicyError.
func Check(account, password string) error {
	switch {
	case len(password) > MaxBytes:
		return policyError(RuleTooLong, "the password is too long: at most %d bytes", MaxBytes)
	case !utf8.ValidString(password):
		return policyError(RuleNotUTF8, "the password is not valid UTF-8 text")
	case utf8.RuneCountInString(password) < MinChars:
		return policyError(RuleTooShort, "the password is too short: at least %d characters", MinChars)
	case oneChar(password):
		return policyError(RuleOneChar, "the password repeats one character: choose a phrase")
	case account != "" && strings.EqualFold(strings.TrimSpace(password), strings.TrimSpace(account)):
		return policyError(RuleAccountName, "the password is the account name")
	}
	return nil
}

func oneChar(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	for _, r := range s {
		if r != first {
			return false
		}
	}
	return true
}
