package ui

import (
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"strings"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/password"
)

// loginPage is the log-in form: the account's name and password, and a
// token (also in a cookie) that a form drawn elsewhere cannot know.
type loginPage struct {
	Name, Token, Next string
	// Failed says the name or password was wrong (never which);
	// WaitSeconds that attempts are slowed down, Locked that the account
	// is locked for that long; Ended that a session ended (disabled, or
	// its password reset) and LoggedOut that the visitor logged out.
	Failed                   bool
	WaitSeconds, WaitMinutes int
	Locked                   bool
	Ended                    bool
}

func (s *Server) drawLogin(w http.ResponseWriter, r *http.Request, v *visit, status int, p loginPage) {
	p.Token = randomToken()
	s.setCookie(w, loginCookie, p.Token, s.lifetime)
	s.render(w, r, v, status, "login", "login.title", p)
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, v *visit) {
	if _, _, _, err := s.resume(r.Context(), r); err == nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	q := r.URL.Query()
	s.drawLogin(w, r, v, http.StatusOK, loginPage{Next: localPath(q.Get("next")), Ended: q.Get("ended") != ""})
}

// logIn checks a name and password. Every failure says the same, takes as
// long whether or not the account exists, and counts towards the
// throttle's slowing down and lock of that name.
func (s *Server) logIn(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := r.ParseForm(); err != nil {
		s.badForm(w, r, v)
		return
	}
	c, err := r.Cookie(loginCookie)
	token := r.PostForm.Get("token")
	if err != nil || token == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(token)) != 1 {
		s.forbiddenForm(w, r)
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	pw := r.PostForm.Get("password")
	p := loginPage{Name: name, Next: localPath(r.PostForm.Get("next"))}
	if len(name) > domain.MaxAccountNameLen || len(pw) > password.MaxBytes {
		p.Failed = true
		s.drawLogin(w, r, v, http.StatusUnauthorized, p)
		return
	}
	verdict, done := s.throttle.Begin(name)
	if !verdict.Allowed() {
		p.WaitSeconds, p.WaitMinutes, p.Locked = int(math.Ceil(verdict.Wait.Seconds())), int(math.Ceil(verdict.Wait.Minutes())), verdict.Locked
		w.Header().Set("Retry-After", itoa(p.WaitSeconds))
		s.drawLogin(w, r, v, http.StatusTooManyRequests, p)
		return
	}
	acc, ok, err := s.checkPassword(r, name, pw)
	if err != nil {
		done(false)
		s.failed(w, r, v, err)
		return
	}
	done(ok)
	if !ok {
		s.log.Info("log-in refused", "account", name, "request_id", w.Header().Get("X-Request-Id"))
		p.Failed = true
		s.drawLogin(w, r, v, http.StatusUnauthorized, p)
		return
	}
	if err := s.openSession(r.Context(), w, &acc); err != nil {
		s.failed(w, r, v, err)
		return
	}
	s.setCookie(w, loginCookie, "", -1)
	s.log.Info("logged in", "account", acc.Name, "request_id", w.Header().Get("X-Request-Id"))
	target := p.Next
	if acc.PasswordMustChange {
		target = "/password"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// checkPassword tells whether pw is the password of the enabled account
// name. An unknown account costs the same hashing as a wrong password.
func (s *Server) checkPassword(r *http.Request, name, pw string) (domain.Account, bool, error) {
	acc, _, err := s.accounts.Account(r.Context(), name)
	if errors.Is(err, domain.ErrNotFound) || (err == nil && acc.PasswordHash == "") {
		_ = password.VerifyAbsent(pw)
		return acc, false, nil
	}
	if err != nil {
		return acc, false, err
	}
	if err := password.Verify(acc.PasswordHash, pw); err != nil {
		if errors.Is(err, password.ErrMismatch) {
			return acc, false, nil
		}
		return acc, false, err
	}
	return acc, !acc.Disabled, nil
}

func (s *Server) logOut(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := s.endSession(r.Context(), w, v); err != nil {
		s.failed(w, r, v, err)
		return
	}
	s.log.Info("logged out", "account", v.account.Name, "request_id", w.Header().Get("X-Request-Id"))
	http.Redirect(w, r, "/login?done=logged_out", http.StatusSeeOther)
}

// passwordPage is the form that changes the visitor's own password.
type passwordPage struct {
	MustChange bool
	Err        error
	MinLen     int
}

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request, v *visit) {
	s.render(w, r, v, http.StatusOK, "password", "password.title", passwordPage{MustChange: v.account.PasswordMustChange, MinLen: password.MinChars})
}

// changePassword checks the current password, then sets the new one
// through the API's own route (its policy, its hashing), and opens a new
// session: the old one ends with the old password.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, v *visit) {
	p := passwordPage{MustChange: v.account.PasswordMustChange, MinLen: password.MinChars}
	refuse := func(err error) {
		p.Err = err
		s.render(w, r, v, statusOf(domain.ErrorCode(err)), "password", "password.title", p)
	}
	current, next, confirm := r.PostForm.Get("current"), r.PostForm.Get("new"), r.PostForm.Get("confirm")
	if v.account.PasswordHash == "" || password.Verify(v.account.PasswordHash, current) != nil {
		refuse(domain.Errorf(domain.CodeInvalidField, "current", "the current password is not right"))
		return
	}
	if next != confirm {
		refuse(domain.Errorf(domain.CodeInvalidField, "confirm", "the two new passwords differ"))
		return
	}
	// The API checks the same policy; checked here first, a refusal
	// keeps its rule for a message in the visitor's language.
	if err := password.Check(v.account.Name, next); err != nil {
		refuse(err)
		return
	}
	err := s.call(r, v, request{method: http.MethodPost, path: "/v1/users/" + v.account.Name + "/password", body: api.PasswordRequest{Password: next}}, nil)
	if errors.As(err, new(*domain.Error)) {
		refuse(err)
		return
	}
	if err != nil {
		s.failed(w, r, v, err)
		return
	}
	acc, _, err := s.accounts.Account(r.Context(), v.account.Name)
	if err != nil {
		s.failed(w, r, v, err)
		return
	}
	if err := s.endSession(r.Context(), w, v); err != nil {
		s.failed(w, r, v, err)
		return
	}
	if err := s.openSession(r.Context(), w, &acc); err != nil {
		s.failed(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/?done=password_changed", http.StatusSeeOther)
}
