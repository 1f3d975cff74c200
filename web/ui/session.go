package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/i18n"
)

// The console's cookies. The session cookie holds the session's secret;
// the store knows only its hash.
const (
	sessionCookie = "kcledger_session"
	// loginCookie holds the log-in form's token until a session exists.
	loginCookie = "kcledger_login"
)

// session is what the store keeps of a log-in.
type session struct {
	Account string    `json:"account"`
	CSRF    string    `json:"csrf"`
	Opened  time.Time `json:"opened"`
	Expires time.Time `json:"expires"`
	// Epoch is the account's session epoch when the session was opened:
	// a disable or a password set since ends the session.
	Epoch uint64 `json:"epoch"`
}

// visit is one request's visitor: its language, and its session and
// account when logged in.
type visit struct {
	lang    i18n.Lang
	l       *i18n.Localizer
	key     string // the session's key in the store
	session *session
	account *domain.Account
}

type visitKey struct{}

func visitOf(r *http.Request) *visit {
	v, _ := r.Context().Value(visitKey{}).(*visit)
	return v
}

// randomToken is 32 random bytes, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionKey is the store's key of a session secret.
func sessionKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// errNoSession: the request has no session, or one that has ended.
var errNoSession = errors.New("ui: no session")

// openSession logs acc in: a new session in the store, its secret in a
// cookie.
func (s *Server) openSession(ctx context.Context, w http.ResponseWriter, acc *domain.Account) error {
	secret := randomToken()
	now := s.now()
	sess := session{Account: acc.Name, CSRF: randomToken(), Opened: now, Expires: now.Add(s.lifetime), Epoch: acc.SessionEpoch}
	data, err := json.Marshal(&sess)
	if err != nil {
		return fmt.Errorf("ui: encode session: %w", err)
	}
	if err := s.sessions.Create(ctx, sessionKey(secret), data); err != nil {
		return err
	}
	s.setCookie(w, sessionCookie, secret, s.lifetime)
	return nil
}

// endSession ends the visitor's session, in the store and in the browser.
func (s *Server) endSession(ctx context.Context, w http.ResponseWriter, v *visit) error {
	s.setCookie(w, sessionCookie, "", -1)
	if v.key == "" {
		return nil
	}
	return s.sessions.Delete(ctx, v.key)
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

// resume finds the session of r's cookie and its account, as the API's
// account store has it (serve's cache, eventstore.AccountCache): a
// disabled account, a password set since the log-in, or a session past
// its lifetime ends the session there and then, at once in the process
// that disabled it or set the password, and within
// eventstore.AccountsMaxStale in every other.
func (s *Server) resume(ctx context.Context, r *http.Request) (string, *session, *domain.Account, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return "", nil, nil, errNoSession
	}
	key := sessionKey(c.Value)
	data, err := s.sessions.Get(ctx, key)
	if errors.Is(err, domain.ErrNotFound) {
		return "", nil, nil, errNoSession
	}
	if err != nil {
		return "", nil, nil, err
	}
	var sess session
	if err := json.Unmarshal(data, &sess); err != nil || sess.Account == "" {
		return key, nil, nil, errNoSession
	}
	if !s.now().Before(sess.Expires) {
		return key, nil, nil, errNoSession
	}
	acc, _, err := s.accounts.Account(ctx, sess.Account)
	if errors.Is(err, domain.ErrNotFound) {
		return key, nil, nil, errNoSession
	}
	if err != nil {
		return "", nil, nil, err
	}
	if acc.Disabled || acc.SessionEpoch != sess.Epoch {
		return key, nil, nil, errNoSession
	}
	return key, &sess, &acc, nil
}

// validCSRF tells whether a form carries its session's token.
func validCSRF(r *http.Request, sess *session) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}
