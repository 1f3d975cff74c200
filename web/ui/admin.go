package ui

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/password"
)

// The admin pages: the accounts (list, add, disable, enable, set a
// password) and the read-only NATS users. Every one of them is the API's
// own route called as the admin (/v1/users, /v1/nats-users), which
// refuses anybody else; a page only renders its answer. A form that
// changes something redirects (303) once done, so that a refresh does not
// send it again, except those that answer with a secret shown once: the
// secret is drawn in that answer (never in a URL, never logged), with
// Cache-Control: no-store (render's).

// accountsPage is the list of accounts and the two forms that add one.
type accountsPage struct {
	Accounts  []api.AccountView
	Provinces api.ProvincesResponse
	Roles     []domain.Role
	NATSRoles []domain.Role
	Sources   []domain.Source
	// Add is the account form as sent, with its refusal; NATS the NATS
	// user form's; Action a refusal of a disable or an enable.
	Add    accountForm
	NATS   accountForm
	Action error
	// ActionSelf says the refusal is of an admin disabling its own
	// account; NATSExternal that the NATS users are an external
	// server's operator's to manage.
	ActionSelf, NATSExternal bool
	// Done is what the last form did (accounts.done.*) and to whom.
	Done, DoneName string
}

// accountForm is what an account form was sent with.
type accountForm struct {
	Name      string
	Role      string
	Provinces []string
	Sources   []string
	Err       error
}

// Checked tells whether the form chose a province or a source.
func (f accountForm) Checked(v string) bool {
	return slices.Contains(f.Provinces, v) || slices.Contains(f.Sources, v)
}

// natsRoles are the roles a NATS user may have: readers only (the API's
// CheckNewNATSUser).
var natsRoles = []domain.Role{domain.RoleSubscriber, domain.RoleAuditor}

// accountsDone are the redirects' ?done= values after an account form.
var accountsDone = map[string]bool{"disabled": true, "enabled": true, "password_set": true}

func (s *Server) accountsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	p := accountsPage{Add: accountForm{Role: string(domain.RoleOfficer)}, NATS: accountForm{Role: string(domain.RoleAuditor)}}
	if done := r.URL.Query().Get("done"); accountsDone[done] {
		p.Done, p.DoneName = done, r.URL.Query().Get("name")
	}
	s.drawAccounts(w, r, v, http.StatusOK, p)
}

// drawAccounts reads the accounts and the provinces in force from the
// API and draws the page; a refusal of the list (not an admin) is the
// problem page, with nothing of the list.
func (s *Server) drawAccounts(w http.ResponseWriter, r *http.Request, v *visit, status int, p accountsPage) {
	var list struct {
		Accounts []api.AccountView `json:"accounts"`
	}
	if err := s.call(r, v, request{method: http.MethodGet, path: "/v1/users"}, &list); err != nil {
		s.problem(w, r, v, err)
		return
	}
	if err := s.call(r, v, request{method: http.MethodGet, path: "/v1/provinces"}, &p.Provinces); err != nil {
		s.problem(w, r, v, err)
		return
	}
	p.Accounts, p.Roles, p.NATSRoles, p.Sources = list.Accounts, domain.Roles, natsRoles, domain.Sources()
	var de *domain.Error
	p.ActionSelf = errors.As(p.Action, &de) && de.Code == domain.CodeForbidden && de.Field == "name"
	p.NATSExternal = domain.ErrorCode(p.NATS.Err) == domain.CodeUnsupported
	if p.Done != "" && !slices.ContainsFunc(p.Accounts, func(a api.AccountView) bool { return a.Name == p.DoneName }) {
		p.Done = "" // a made-up link says nothing
	}
	s.render(w, r, v, status, "accounts", "accounts.title", p)
}

// refuseAccounts draws the accounts page again with a form's refusal.
// For a visitor who is no admin, the API refuses the list too: the
// problem page, with nothing of the list.
func (s *Server) refuseAccounts(w http.ResponseWriter, r *http.Request, v *visit, err error, p accountsPage) {
	if !errors.As(err, new(*domain.Error)) {
		s.failed(w, r, v, err)
		return
	}
	s.drawAccounts(w, r, v, statusOf(domain.ErrorCode(err)), p)
}

func readAccountForm(r *http.Request) accountForm {
	f := r.PostForm
	return accountForm{
		Name: strings.TrimSpace(f.Get("name")), Role: f.Get("role"),
		Provinces: f["provinces"], Sources: f["sources"],
	}
}

// secretPage shows a new account's token, or a NATS user's password,
// once.
type secretPage struct {
	Account api.AccountView
	Token   string
	NATS    *api.NewNATSUserResponse
}

// addAccount creates an account through POST /v1/users and shows its
// token, once.
func (s *Server) addAccount(w http.ResponseWriter, r *http.Request, v *visit) {
	f := readAccountForm(r)
	req := api.NewAccountRequest{Name: f.Name, Role: f.Role, Provinces: f.Provinces, Sources: f.Sources}
	var res api.NewAccountResponse
	if err := s.call(r, v, request{method: http.MethodPost, path: "/v1/users", body: req}, &res); err != nil {
		f.Err = err
		s.refuseAccounts(w, r, v, err, accountsPage{Add: f, NATS: accountForm{Role: string(domain.RoleAuditor)}})
		return
	}
	s.render(w, r, v, http.StatusCreated, "accounts_secret", "accounts.secret.title", secretPage{Account: res.Account, Token: res.Token})
}

// addNATSUser creates a read-only NATS user through POST /v1/nats-users
// and shows its password, once. With an external NATS server the API
// answers unsupported, shown beside the form.
func (s *Server) addNATSUser(w http.ResponseWriter, r *http.Request, v *visit) {
	f := readAccountForm(r)
	req := api.NewNATSUserRequest{Name: f.Name, Role: f.Role}
	var res api.NewNATSUserResponse
	if err := s.call(r, v, request{method: http.MethodPost, path: "/v1/nats-users", body: req}, &res); err != nil {
		f.Err = err
		s.refuseAccounts(w, r, v, err, accountsPage{Add: accountForm{Role: string(domain.RoleOfficer)}, NATS: f})
		return
	}
	s.render(w, r, v, http.StatusCreated, "accounts_secret", "accounts.secret.nats_title", secretPage{Account: res.Account, NATS: &res})
}

// disableAccount and enableAccount call the API's routes; an admin's
// refusal (its own account) is shown above the list.
func (s *Server) disableAccount(w http.ResponseWriter, r *http.Request, v *visit) {
	s.accountAction(w, r, v, "disable", "disabled")
}

func (s *Server) enableAccount(w http.ResponseWriter, r *http.Request, v *visit) {
	s.accountAction(w, r, v, "enable", "enabled")
}

func (s *Server) accountAction(w http.ResponseWriter, r *http.Request, v *visit, action, done string) {
	name := r.PathValue("name")
	if err := s.call(r, v, request{method: http.MethodPost, path: "/v1/users/" + url.PathEscape(name) + "/" + action}, nil); err != nil {
		s.refuseAccounts(w, r, v, err, accountsPage{Add: accountForm{Role: string(domain.RoleOfficer)}, NATS: accountForm{Role: string(domain.RoleAuditor)}, Action: err})
		return
	}
	http.Redirect(w, r, "/admin/accounts?"+url.Values{"done": {done}, "name": {name}}.Encode(), http.StatusSeeOther)
}

// accountPasswordPage is the form with which an admin sets another
// account's password.
type accountPasswordPage struct {
	Name   string
	MinLen int
	Err    error
}

// mayManage lets only an admin reach the password form. The API's
// password route lets an account set its own password without its
// current one (a token stands for it), so the admin path must not be the
// way round /password's check for anybody else; the rule is the
// domain's, as the API applies it to other accounts.
func (s *Server) mayManage(w http.ResponseWriter, r *http.Request, v *visit) bool {
	if err := v.account.MayManageAccounts(); err != nil {
		s.problem(w, r, v, err)
		return false
	}
	return true
}

func (s *Server) accountPasswordForm(w http.ResponseWriter, r *http.Request, v *visit) {
	if !s.mayManage(w, r, v) {
		return
	}
	name := r.PathValue("name")
	if name == v.account.Name {
		http.Redirect(w, r, "/password", http.StatusSeeOther) // its own, with its current password
		return
	}
	var list struct {
		Accounts []api.AccountView `json:"accounts"`
	}
	if err := s.call(r, v, request{method: http.MethodGet, path: "/v1/users"}, &list); err != nil {
		s.problem(w, r, v, err)
		return
	}
	if !slices.ContainsFunc(list.Accounts, func(a api.AccountView) bool { return a.Name == name }) {
		s.problem(w, r, v, domain.Errorf(domain.CodeNotFound, "name", "no account %q", name))
		return
	}
	s.render(w, r, v, http.StatusOK, "accounts_password", "accounts.password.title", accountPasswordPage{Name: name, MinLen: password.MinChars})
}

// setAccountPassword sets another account's password through the API;
// its owner must change it at the next log-in (the API marks it so), and
// its sessions end. The policy is checked here first, as /password does,
// so that a refusal keeps its rule for a message in the admin's language.
func (s *Server) setAccountPassword(w http.ResponseWriter, r *http.Request, v *visit) {
	if !s.mayManage(w, r, v) {
		return
	}
	name := r.PathValue("name")
	if name == v.account.Name {
		http.Redirect(w, r, "/password", http.StatusSeeOther)
		return
	}
	p := accountPasswordPage{Name: name, MinLen: password.MinChars}
	refuse := func(err error) {
		p.Err = err
		s.render(w, r, v, statusOf(domain.ErrorCode(err)), "accounts_password", "accounts.password.title", p)
	}
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	if err := password.Check(name, pw); err != nil {
		refuse(err)
		return
	}
	if pw != confirm {
		refuse(domain.Errorf(domain.CodeInvalidField, "confirm", "the two passwords differ"))
		return
	}
	err := s.call(r, v, request{method: http.MethodPost, path: "/v1/users/" + url.PathEscape(name) + "/password", body: api.PasswordRequest{Password: pw}}, nil)
	if c := domain.ErrorCode(err); c == domain.CodeNotFound || c == domain.CodeForbidden {
		s.problem(w, r, v, err)
		return
	}
	if errors.As(err, new(*domain.Error)) {
		refuse(err)
		return
	}
	if err != nil {
		s.failed(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/admin/accounts?"+url.Values{"done": {"password_set"}, "name": {name}}.Encode(), http.StatusSeeOther)
}
