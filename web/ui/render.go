package ui

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/i18n"
)

// pages are the console's templates: each page's file under
// templates/pages, parsed with the layout and the partials.
type pages struct {
	byName map[string]*template.Template
}

func parsePages() (*pages, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(files, "templates/layout.tmpl", "templates/partials/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("ui: templates: %w", err)
	}
	names, err := fs.Glob(files, "templates/pages/*.tmpl")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		t, err := template.Must(base.Clone()).ParseFS(files, n)
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", n, err)
		}
		p.byName[strings.TrimSuffix(path.Base(n), ".tmpl")] = t
	}
	return p, nil
}

// funcs are the templates' helpers beyond the localizer's methods.
var funcs = template.FuncMap{
	// arg names an argument of a message: {{.L.T "login.wait" (arg "seconds" 4)}}.
	"arg": i18n.N,
	// keyB64 is a public key as the keys file spells it.
	"keyB64": keyB64,
	// fieldArgs is what the "fielderror" partial needs.
	"fieldArgs": func(l *i18n.Localizer, err error, field string) fieldView {
		return fieldView{L: l, Err: err, Field: field}
	},
	// fieldError is a form's refusal when it names field, else nil:
	// shown beside that field.
	"fieldError": func(err error, field string) error {
		var de *domain.Error
		if errors.As(err, &de) && de.Field == field {
			return err
		}
		return nil
	},
	// otherError is a form's refusal when it names none of fields: shown
	// above the form.
	"otherError": func(err error, fields ...string) error {
		var de *domain.Error
		if errors.As(err, &de) && slices.Contains(fields, de.Field) {
			return nil
		}
		return err
	},
}

// fieldView is a form field's refusal, for the "fielderror" partial.
type fieldView struct {
	L     *i18n.Localizer
	Err   error
	Field string
}

// view is what every page's template gets.
type view struct {
	L    *i18n.Localizer
	Lang i18n.Lang
	// Account is nil on the log-in page.
	Account *domain.Account
	CSRF    string
	// Path is the page's own address, for the language switch to come
	// back to.
	Path string
	// Title is the page's title key in the catalogues; Nav the menu
	// entry it belongs to.
	Title, Nav string
	// MayRecord and MayManage say what the menu offers: the recording
	// forms, the accounts (the API refuses the rest anyway).
	MayRecord, MayManage bool
	// Flash is a message key shown once above the page.
	Flash     string
	RequestID string
	Page      any
}

// render draws page name with its data; a template that fails is an
// internal error, and nothing of it reaches the visitor.
func (s *Server) render(w http.ResponseWriter, r *http.Request, v *visit, status int, name, title string, data any) {
	t, ok := s.pages.byName[name]
	if !ok {
		s.failed(w, r, v, fmt.Errorf("ui: no page %q", name))
		return
	}
	vw := view{L: v.l, Lang: v.lang, Account: v.account, Path: r.URL.RequestURI(), Title: title, Nav: name,
		RequestID: w.Header().Get("X-Request-Id"), Page: data}
	if v.session != nil {
		vw.CSRF = v.session.CSRF
	}
	if v.account != nil {
		vw.MayRecord = v.account.MayRecordAny() == nil
		vw.MayManage = v.account.MayManageAccounts() == nil
	}
	if f := r.URL.Query().Get("done"); flashes[f] {
		vw.Flash = "flash." + f
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", vw); err != nil {
		s.log.Error("page failed to render", "page", name, "request_id", vw.RequestID, "err", err)
		http.Error(w, v.l.T("error.internal")+" "+vw.RequestID, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", string(v.lang))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// flashes are the messages a redirect may ask for (?done=…).
var flashes = map[string]bool{"password_changed": true, "logged_out": true}

// problemPage is the page of a refusal that no form shows: its code's
// text in the visitor's language.
type problemPage struct {
	Code domain.Code
	// Detail is the API's own words, in English, for the curious.
	Detail string
}

func (s *Server) problem(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	var de *domain.Error
	if !errors.As(err, &de) {
		s.failed(w, r, v, err)
		return
	}
	status := statusOf(de.Code)
	s.render(w, r, v, status, "problem", "error."+string(de.Code), problemPage{Code: de.Code, Detail: de.Message})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, v *visit) {
	s.problem(w, r, v, domain.Errorf(domain.CodeNotFound, "", "no such page: %s", r.URL.Path))
}

// forbiddenForm answers a form from another origin, or without its
// session's token, or with a stale one: nothing is done.
func (s *Server) forbiddenForm(w http.ResponseWriter, r *http.Request) {
	v := visitOf(r)
	if v == nil {
		v = s.newVisit(r)
	}
	s.render(w, r, v, http.StatusForbidden, "problem", "form.stale", problemPage{Code: "stale_form"})
}

func (s *Server) badForm(w http.ResponseWriter, r *http.Request, v *visit) {
	s.problem(w, r, v, domain.Errorf(domain.CodeBodyTooLarge, "", "the form could not be read, or is larger than %d bytes", maxFormBytes))
}

// failed answers an internal error: logged with the request's id, which
// the page shows, never the error's text.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	var de *domain.Error
	if errors.As(err, &de) && de.Code != domain.CodeInternal {
		s.problem(w, r, v, err)
		return
	}
	s.log.Error("page failed", "request_id", w.Header().Get("X-Request-Id"), "path", r.URL.Path, "err", err)
	s.render(w, r, v, http.StatusInternalServerError, "problem", "error.internal", problemPage{Code: domain.CodeInternal})
}

func statusOf(c domain.Code) int {
	if st, ok := api.StatusOf[c]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// static serves the embedded assets, cached for a day: their names do
// not change within a release.
func (s *Server) static() http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // embedded at build time
	}
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fsrv.ServeHTTP(w, r)
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
