// Package password keeps the console's log-in passwords: it hashes them
// with argon2id into PHC strings, verifies them in constant time, checks a
// new password against the policy, and throttles failed log-ins.
//
// It is not wired to the account store or to HTTP; the console's log-in
// handler is meant to use it like this:
//
//	// Setting a password (kcledger user passwd, the admin page):
//	if err := password.Check(account.Name, typed); err != nil {
//		return err // a *domain.Error, field "password", CodeInvalidField
//	}
//	encoded, err := password.Hash(typed) // store encoded, never typed
//
//	// Logging in:
//	v, done := throttle.Begin(name) // name as typed
//	if !v.Allowed() {
//		// answer "try again in v.Wait" (v.Locked: the account is locked)
//		// without looking the account up or verifying anything
//	}
//	err := password.VerifyAbsent(typed) // when no such account exists
//	// or: err := password.Verify(account.PasswordHash, typed)
//	done(err == nil)
//	if errors.Is(err, password.ErrMismatch) { /* the one "wrong name or password" */ }
//	if err == nil && password.NeedsRehash(account.PasswordHash) { /* hash again */ }
//
// Begin comes before the account is looked up, and VerifyAbsent costs what
// Verify costs, so that neither the throttle nor the time of an answer tells
// whether an account exists. done must be called exactly once for every
// allowed attempt (defer it), or the attempt stays pending and holds one of
// the account's free attempts.
//
// The throttle is keyed by the name typed, not by the client's address, so
// that an attacker spreading guesses over many addresses gains nothing;
// the price is that anyone who knows an account's name can keep it locked
// by failing on purpose, which is why DefaultThrottle locks for minutes,
// not hours, and why an admin should be able to see failures in the logs.
// The state is per process and lost at restart: a restart gives every
// account its free attempts again.
//
// A hash whose parameters are unknown, or weaker than MinParams, is refused
// by Verify rather than accepted, so that an edited or downgraded store does
// not make passwords cheap to guess. Parameters larger than the current
// ones are accepted up to a bound that keeps one verification from taking
// the machine's memory.
package password
