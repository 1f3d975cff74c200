package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/kcledger/kcledger/web/i18n"
)

// routes is every page of the console, in one place. A member page needs
// a session; every form that changes something is a POST that carries its
// session's token (and comes from the console's own origin: console()).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", s.static())
	// login.go
	mux.HandleFunc("GET /login", s.visitor(s.loginPage))
	mux.HandleFunc("POST /login", s.visitor(s.logIn))
	mux.HandleFunc("POST /logout", s.member(s.logOut))
	mux.HandleFunc("GET /password", s.member(s.passwordPage))
	mux.HandleFunc("POST /password", s.member(s.changePassword))
	// lang.go
	mux.HandleFunc("GET /lang", s.visitor(s.switchLang))
	// overview.go
	mux.HandleFunc("GET /{$}", s.member(s.overview))
	// lines.go
	mux.HandleFunc("GET /provinces", s.member(s.provincesPage))
	mux.HandleFunc("GET /provinces/{code}", s.member(s.provincePage))
	mux.HandleFunc("GET /lines/{year}/{province}/{source}", s.member(s.linePage))
	mux.HandleFunc("GET /events/{seq}", s.member(s.eventPage))
	// reports.go
	mux.HandleFunc("GET /reports", s.member(s.reportsPage))
	mux.HandleFunc("GET /reports.xlsx", s.member(s.reportsWorkbook))
	// keys.go
	mux.HandleFunc("GET /keys", s.member(s.keysPage))
	// record.go
	mux.HandleFunc("GET /record", s.member(s.recordList))
	mux.HandleFunc("GET /record/{kind}", s.member(s.recordForm))
	mux.HandleFunc("POST /record/{kind}", s.member(s.recordPost))
	mux.HandleFunc("GET /record/done/{seq}", s.member(s.recordDone))
	mux.HandleFunc("GET /reading", s.member(s.reading))
	// admin.go
	mux.HandleFunc("GET /admin/accounts", s.member(s.accountsPage))
	mux.HandleFunc("POST /admin/accounts", s.member(s.addAccount))
	mux.HandleFunc("POST /admin/accounts/{name}/disable", s.member(s.disableAccount))
	mux.HandleFunc("POST /admin/accounts/{name}/enable", s.member(s.enableAccount))
	mux.HandleFunc("GET /admin/accounts/{name}/password", s.member(s.accountPasswordForm))
	mux.HandleFunc("POST /admin/accounts/{name}/password", s.member(s.setAccountPassword))
	mux.HandleFunc("POST /admin/nats-users", s.member(s.addNATSUser))
	// exports.go
	mux.HandleFunc("GET /exports", s.member(s.exportsPage))
	mux.HandleFunc("GET /exports/download", s.member(s.downloadExport))
	mux.HandleFunc("/", s.visitor(s.notFound))
	return mux
}

// page is a console handler, given its visitor.
type page func(w http.ResponseWriter, r *http.Request, v *visit)

// maxFormBytes bounds a form's body: the API's own limits on each field
// are far below it, and it keeps a form from holding memory.
const maxFormBytes = 64 << 10

// visitor runs h with the request's language, logged in or not.
func (s *Server) visitor(h page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := s.newVisit(r)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		h(w, r, v)
	}
}

func (s *Server) newVisit(r *http.Request) *visit {
	var cookie string
	if c, err := r.Cookie(i18n.CookieName); err == nil {
		cookie = c.Value
	}
	lang := i18n.Negotiate(cookie, r.Header.Get("Accept-Language"))
	return &visit{lang: lang, l: i18n.New(lang)}
}

// member runs h for a logged-in visitor whose account is enabled now;
// anybody else is sent to the log-in page. An account whose password an
// admin set may only change it (or log out). A POST must carry the
// session's form token.
func (s *Server) member(h page) http.HandlerFunc {
	return s.visitor(func(w http.ResponseWriter, r *http.Request, v *visit) {
		key, sess, acc, err := s.resume(r.Context(), r)
		if errors.Is(err, errNoSession) {
			if key != "" {
				_ = s.sessions.Delete(r.Context(), key) // ended: forget it
			}
			s.setCookie(w, sessionCookie, "", -1)
			s.toLogin(w, r)
			return
		}
		if err != nil {
			s.failed(w, r, v, err)
			return
		}
		v.key, v.session, v.account = key, sess, acc
		if sw, ok := w.(*statusWriter); ok {
			sw.account = acc.Name
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				s.badForm(w, r, v)
				return
			}
			if !validCSRF(r, sess) {
				s.forbiddenForm(w, r)
				return
			}
		}
		if acc.PasswordMustChange && r.URL.Path != "/password" && r.URL.Path != "/logout" {
			http.Redirect(w, r, "/password", http.StatusSeeOther)
			return
		}
		h(w, r, v)
	})
}

// toLogin sends a visitor without a session to the log-in page, and back
// to where it was going once logged in.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	} else if r.Method != http.MethodGet {
		target += "?ended=1"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath is p when it is a path of this console, else "/": a log-in or
// a language switch never sends anybody to another host.
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return p
}
