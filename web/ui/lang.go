package ui

import (
	"net/http"
	"time"

	"github.com/kcledger/kcledger/web/i18n"
)

// switchLang remembers a choice of language for a year, and goes back to
// the page it was made on: a link, so it works without JavaScript.
func (s *Server) switchLang(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	lang, ok := i18n.ParseLang(q.Get("to"))
	if !ok {
		s.notFound(w, r, v)
		return
	}
	s.setCookie(w, i18n.CookieName, string(lang), 365*24*time.Hour)
	http.Redirect(w, r, localPath(q.Get("back")), http.StatusSeeOther)
}
