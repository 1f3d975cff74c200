package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/web/password"
)

// AccountStore is what the API needs of eventstore.Accounts.
type AccountStore interface {
	Account(ctx context.Context, name string) (domain.Account, uint64, error)
	Create(ctx context.Context, a domain.Account) error
	List(ctx context.Context) ([]domain.Account, error)
	Update(ctx context.Context, name string, fn func(*domain.Account) error) (domain.Account, error)
	HasAdmin(ctx context.Context) (bool, error)
}

type accountKey struct{}

// accountOf returns the authenticated account of a /v1 request.
func accountOf(r *http.Request) *domain.Account {
	a, _ := r.Context().Value(accountKey{}).(*domain.Account)
	return a
}

// unknownAccountHash keeps the time of a refusal the same whether or not
// the account exists.
var unknownAccountHash = domain.HashSecret("no such account")

// authenticate finds the account of a bearer token. Every refusal says the
// same, so that it does not tell which accounts exist.
func (a *Server) authenticate(r *http.Request) (*domain.Account, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, domain.Errorf(domain.CodeUnauthenticated, "Authorization", "this route needs an account: send Authorization: Bearer <token>")
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, domain.Errorf(domain.CodeUnauthenticated, "Authorization", "use Authorization: Bearer <token>")
	}
	refused := domain.Errorf(domain.CodeUnauthenticated, "Authorization", "the token is not valid, or its account is disabled")
	name, secret, ok := domain.ParseToken(strings.TrimSpace(tok))
	if !ok {
		return nil, refused
	}
	acc, _, err := a.accounts.Account(r.Context(), name)
	if errors.Is(err, domain.ErrNotFound) {
		domain.SecretMatches(secret, unknownAccountHash)
		return nil, refused
	}
	if err != nil {
		return nil, err
	}
	if !domain.SecretMatches(secret, acc.TokenHash) || acc.Disabled {
		return nil, refused
	}
	return &acc, nil
}

// requireAccount wraps the /v1 routes: no handler runs without an enabled
// account.
func (a *Server) requireAccount(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acc, err := a.authenticate(r)
		if err != nil {
			if domain.ErrorCode(err) == domain.CodeUnauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kcledger"`)
			}
			WriteError(w, r, a.log, err)
			return
		}
		if sw, ok := w.(*statusWriter); ok {
			sw.account = acc.Name
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accountKey{}, acc)))
	})
}

// AccountView is an account as the API shows it: never its hashes.
type AccountView struct {
	Name      string          `json:"name"`
	Role      domain.Role     `json:"role"`
	Provinces []string        `json:"provinces,omitempty"`
	Sources   []domain.Source `json:"sources,omitempty"`
	HTTPToken bool            `json:"http_token"`
	NATS      bool            `json:"nats"`
	// Password says the account has a console password;
	// PasswordMustChange that its owner must change it at the next
	// log-in (an admin set it).
	Password           bool       `json:"password"`
	PasswordMustChange bool       `json:"password_must_change,omitempty"`
	Disabled           bool       `json:"disabled"`
	CreatedAt          time.Time  `json:"created_at"`
	CreatedBy          string     `json:"created_by"`
	DisabledAt         *time.Time `json:"disabled_at,omitempty"`
	DisabledBy         string     `json:"disabled_by,omitempty"`
}

func viewOf(a domain.Account) AccountView {
	return AccountView{
		Name: a.Name, Role: a.Role, Provinces: a.Provinces, Sources: a.Sources,
		HTTPToken: a.TokenHash != "", NATS: a.NATSPasswordHash != "", Disabled: a.Disabled,
		Password: a.PasswordHash != "", PasswordMustChange: a.PasswordMustChange,
		CreatedAt: a.CreatedAt, CreatedBy: a.CreatedBy, DisabledAt: a.DisabledAt, DisabledBy: a.DisabledBy,
	}
}

// NewAccountRequest is the body of POST /v1/users.
type NewAccountRequest struct {
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Provinces []string `json:"provinces"`
	Sources   []string `json:"sources"`
}

// NewAccountResponse answers POST /v1/users.
type NewAccountResponse struct {
	Account AccountView `json:"account"`
	// Token is shown once, here, and stored only as a hash.
	Token string `json:"token"`
}

// CheckNewAccount checks an account that POST /v1/users would create;
// the CLI runs the same check before it sends anything.
func CheckNewAccount(acc domain.Account) error {
	if err := acc.Validate(); err != nil {
		return err
	}
	return checkNotReserved(acc.Name)
}

// reservedPrefix starts every name kcledger keeps for its own NATS
// connections, today and later: an account's name is also its NATS user
// name, so an account named after one could shadow it (or, as
// kcledger-api did, get a password that cannot log in).
const reservedPrefix = eventstore.ServiceUser + "-"

func checkNotReserved(name string) error {
	if name == eventstore.ServiceUser || name == eventstore.ServiceAPIUser || strings.HasPrefix(name, reservedPrefix) {
		return domain.Errorf(domain.CodeInvalidField, "name", "account name %q is reserved: %q, %q and every name starting with %q are kcledger's own NATS users", name, eventstore.ServiceUser, eventstore.ServiceAPIUser, reservedPrefix)
	}
	return nil
}

// CheckNewNATSUser checks an account that POST /v1/nats-users would
// create: a reader only.
func CheckNewNATSUser(acc domain.Account) error {
	if acc.Role != domain.RoleSubscriber && acc.Role != domain.RoleAuditor {
		return domain.Errorf(domain.CodeInvalidField, "role", "NATS users are read-only: subscriber or auditor, not %s", acc.Role)
	}
	return CheckNewAccount(acc)
}

func (a *Server) addUser(w http.ResponseWriter, r *http.Request) {
	var req NewAccountRequest
	acc, err := a.newAccount(w, r, &req, nil)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	acc.Provinces = req.Provinces
	for _, s := range req.Sources {
		acc.Sources = append(acc.Sources, domain.Source(s))
	}
	if err := CheckNewAccount(acc); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	secret, hash := domain.NewSecret()
	acc.TokenHash = hash
	if err := a.accounts.Create(r.Context(), acc); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	a.log.Info("account created", "account", acc.Name, "role", acc.Role, "by", acc.CreatedBy)
	writeJSON(w, http.StatusCreated, NewAccountResponse{Account: viewOf(acc), Token: domain.Token(acc.Name, secret)})
}

// accountRequest is a request to create an account.
type accountRequest interface {
	accountName() string
	roleName() string
}

func (q *NewAccountRequest) accountName() string  { return q.Name }
func (q *NewAccountRequest) roleName() string     { return q.Role }
func (q *NewNATSUserRequest) accountName() string { return q.Name }
func (q *NewNATSUserRequest) roleName() string    { return q.Role }

// newAccount reads an admin's request to create an account into req and
// returns the account it asks for, with its role, creation time and
// creator. ready, when given, is checked once the caller is known to be
// an admin, before the body is read.
func (a *Server) newAccount(w http.ResponseWriter, r *http.Request, req accountRequest, ready func() error) (domain.Account, error) {
	admin := accountOf(r)
	if err := admin.MayManageAccounts(); err != nil {
		return domain.Account{}, err
	}
	if ready != nil {
		if err := ready(); err != nil {
			return domain.Account{}, err
		}
	}
	body, err := readBody(w, r)
	if err != nil {
		return domain.Account{}, err
	}
	if err := DecodeStrict(body, req); err != nil {
		return domain.Account{}, err
	}
	role, err := domain.ParseRole(req.roleName())
	if err != nil {
		return domain.Account{}, err
	}
	return domain.Account{Name: req.accountName(), Role: role, CreatedAt: a.now().UTC(), CreatedBy: admin.Name}, nil
}

// NewNATSUserRequest is the body of POST /v1/nats-users.
type NewNATSUserRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// NewNATSUserResponse answers POST /v1/nats-users.
type NewNATSUserResponse struct {
	Account AccountView `json:"account"`
	// User and Password are the NATS credentials; the password is shown
	// once, here, and stored only as a hash.
	User     string `json:"user"`
	Password string `json:"password"`
	URL      string `json:"url"`
	Stream   string `json:"stream"`
}

// addNATSUser creates a read-only NATS user of the embedded server for a
// subscriber or an auditor.
func (a *Server) addNATSUser(w http.ResponseWriter, r *http.Request) {
	var req NewNATSUserRequest
	acc, err := a.newAccount(w, r, &req, func() error {
		if a.natsUsers == nil {
			return domain.Errorf(domain.CodeUnsupported, "", "kcledger uses an external NATS server; its operator manages its users (SECURITY.md lists the permissions a reader needs)")
		}
		return nil
	})
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if err := CheckNewNATSUser(acc); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	secret, hash := domain.NewSecret()
	acc.NATSPasswordHash = hash
	if err := a.accounts.Create(r.Context(), acc); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	a.natsUsers.SetAccount(acc) // it may connect as soon as this answer arrives
	a.log.Info("NATS user created", "account", acc.Name, "role", acc.Role, "by", acc.CreatedBy)
	writeJSON(w, http.StatusCreated, NewNATSUserResponse{Account: viewOf(acc), User: acc.Name, Password: secret, URL: a.natsURL, Stream: a.stream})
}

func (a *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	if err := accountOf(r).MayManageAccounts(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	all, err := a.accounts.List(r.Context())
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	out := make([]AccountView, len(all))
	for i, acc := range all {
		out[i] = viewOf(acc)
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": out})
}

func (a *Server) disableUser(w http.ResponseWriter, r *http.Request) {
	admin := accountOf(r)
	if err := admin.MayManageAccounts(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	name := r.PathValue("name")
	if name == admin.Name {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeForbidden, "name", "an admin cannot disable its own account; another admin can"))
		return
	}
	at := a.now().UTC()
	acc, err := a.accounts.Update(r.Context(), name, func(acc *domain.Account) error {
		if !acc.Disabled {
			acc.Disabled, acc.DisabledAt, acc.DisabledBy = true, &at, admin.Name
			acc.SessionEpoch++ // its console sessions end, for good
		}
		return nil
	})
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if a.natsUsers != nil {
		a.natsUsers.SetAccount(acc) // refused, and its connections closed, before this answer
	}
	a.log.Info("account disabled", "account", name, "by", admin.Name)
	writeJSON(w, http.StatusOK, map[string]any{"account": viewOf(acc)})
}

// PasswordRequest is the body of POST /v1/users/{name}/password.
type PasswordRequest struct {
	Password string `json:"password"`
}

var passwordFields = map[string]bool{"password": true}

// setPassword sets an account's console password, stored only as its
// argon2id hash (web/password). An account sets its own; an admin sets
// anyone's, and then its owner must change it at the next log-in. The
// password must pass password.Check.
func (a *Server) setPassword(w http.ResponseWriter, r *http.Request) {
	caller := accountOf(r)
	name := r.PathValue("name")
	if name != caller.Name {
		if err := caller.MayManageAccounts(); err != nil {
			WriteError(w, r, a.log, domain.Errorf(domain.CodeForbidden, "name", "an account sets its own password; only an admin sets another's, and %s is not one", caller.Name))
			return
		}
	}
	body, err := readBody(w, r)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	req, err := decodeBody[PasswordRequest](body, passwordFields, "")
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if err := password.Check(name, req.Password); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	hash, err := password.Hash(req.Password)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	at := a.now().UTC()
	acc, err := a.accounts.Update(r.Context(), name, func(acc *domain.Account) error {
		acc.PasswordHash, acc.PasswordMustChange, acc.PasswordSetAt = hash, name != caller.Name, &at
		acc.SessionEpoch++ // the sessions opened with the old password end
		return nil
	})
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	a.log.Info("password set", "account", name, "by", caller.Name, "must_change", acc.PasswordMustChange)
	writeJSON(w, http.StatusOK, map[string]any{"account": viewOf(acc)})
}

// enableUser lifts a disable: the same account, with the same token and
// NATS password, is accepted again. Nothing is created.
func (a *Server) enableUser(w http.ResponseWriter, r *http.Request) {
	admin := accountOf(r)
	if err := admin.MayManageAccounts(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	name := r.PathValue("name")
	acc, err := a.accounts.Update(r.Context(), name, func(acc *domain.Account) error {
		acc.Disabled, acc.DisabledAt, acc.DisabledBy = false, nil, ""
		return nil
	})
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if a.natsUsers != nil {
		a.natsUsers.SetAccount(acc) // its NATS user may connect again
	}
	a.log.Info("account enabled", "account", name, "by", admin.Name)
	writeJSON(w, http.StatusOK, map[string]any{"account": viewOf(acc)})
}

// DecodeStrict decodes one JSON object with no unknown fields.
func DecodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return domain.Errorf(domain.CodeMalformedRequest, "", "the request body must hold exactly one JSON object")
	}
	return nil
}
