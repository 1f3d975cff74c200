package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	webapi "github.com/kcledger/kcledger/web/api"
)

// adminTokenFile is the file, in the data directory, where serve writes the
// first admin's token. Only its owner may read it.
const adminTokenFile = "admin.token"

// firstAdmin is the name of the account serve creates on first start.
const firstAdmin = "admin"

// accountStore is what the API needs of eventstore.Accounts.
type accountStore interface {
	Account(ctx context.Context, name string) (domain.Account, uint64, error)
	Create(ctx context.Context, a domain.Account) error
	List(ctx context.Context) ([]domain.Account, error)
	Update(ctx context.Context, name string, fn func(*domain.Account) error) (domain.Account, error)
	HasAdmin(ctx context.Context) (bool, error)
}

// ensureAdmin creates the first admin account when there is no enabled
// admin, and writes its token to dataDir/admin.token, readable only by its
// owner. Several processes starting at once create at most one: the store
// refuses a second account of the same name.
func ensureAdmin(ctx context.Context, accounts accountStore, dataDir string, now time.Time, log *slog.Logger) error {
	ok, err := accounts.HasAdmin(ctx)
	if err != nil || ok {
		return err
	}
	secret, hash := domain.NewSecret()
	a := domain.Account{Name: firstAdmin, Role: domain.RoleAdmin, TokenHash: hash, CreatedAt: now, CreatedBy: "kcledger serve (first start)"}
	if err := accounts.Create(ctx, a); err != nil {
		if errors.Is(err, domain.ErrAccountExists) {
			// Another process made it, or it exists disabled: an admin
			// must then be restored by hand (SECURITY.md).
			log.Warn("no enabled admin account, and the name is taken; see SECURITY.md, 'Lost admin token'", "account", firstAdmin)
			return nil
		}
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dataDir, adminTokenFile)
	if err := writeSecretFile(path, domain.Token(firstAdmin, secret)); err != nil {
		return fmt.Errorf("writing the admin token: %w", err)
	}
	log.Info("created the first admin account; its token is in a file only you can read", "account", firstAdmin, "token_file", path)
	return nil
}

// writeSecretFile replaces path with secret, mode 0600, never readable by
// others even for a moment.
func writeSecretFile(path, secret string) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
func (a *api) authenticate(r *http.Request) (*domain.Account, error) {
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
func (a *api) requireAccount(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acc, err := a.authenticate(r)
		if err != nil {
			if domain.ErrorCode(err) == domain.CodeUnauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kcledger"`)
			}
			webapi.WriteError(w, r, a.log, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accountKey{}, acc)))
	})
}

// accountView is an account as the API shows it: never its hashes.
type accountView struct {
	Name       string          `json:"name"`
	Role       domain.Role     `json:"role"`
	Provinces  []string        `json:"provinces,omitempty"`
	Sources    []domain.Source `json:"sources,omitempty"`
	HTTPToken  bool            `json:"http_token"`
	NATS       bool            `json:"nats"`
	Disabled   bool            `json:"disabled"`
	CreatedAt  time.Time       `json:"created_at"`
	CreatedBy  string          `json:"created_by"`
	DisabledAt *time.Time      `json:"disabled_at,omitempty"`
	DisabledBy string          `json:"disabled_by,omitempty"`
}

func viewOf(a domain.Account) accountView {
	return accountView{
		Name: a.Name, Role: a.Role, Provinces: a.Provinces, Sources: a.Sources,
		HTTPToken: a.TokenHash != "", NATS: a.NATSPasswordHash != "", Disabled: a.Disabled,
		CreatedAt: a.CreatedAt, CreatedBy: a.CreatedBy, DisabledAt: a.DisabledAt, DisabledBy: a.DisabledBy,
	}
}

// newAccountRequest is the body of POST /v1/users.
type newAccountRequest struct {
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Provinces []string `json:"provinces"`
	Sources   []string `json:"sources"`
}

type newAccountResponse struct {
	Account accountView `json:"account"`
	// Token is shown once, here, and stored only as a hash.
	Token string `json:"token"`
}

// checkNewAccount checks an account that POST /v1/users would create;
// the CLI runs the same check before it sends anything.
func checkNewAccount(acc domain.Account) error {
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

// checkNewNATSUser checks an account that POST /v1/nats-users would
// create: a reader only.
func checkNewNATSUser(acc domain.Account) error {
	if acc.Role != domain.RoleSubscriber && acc.Role != domain.RoleAuditor {
		return domain.Errorf(domain.CodeInvalidField, "role", "NATS users are read-only: subscriber or auditor, not %s", acc.Role)
	}
	return checkNewAccount(acc)
}

func (a *api) addUser(w http.ResponseWriter, r *http.Request) {
	admin := accountOf(r)
	if err := admin.MayManageAccounts(); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	body, err := webapi.ReadBody(w, r)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	var req newAccountRequest
	if err := decodeStrict(body, &req); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	role, err := domain.ParseRole(req.Role)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	acc := domain.Account{Name: req.Name, Role: role, Provinces: req.Provinces, CreatedAt: a.now().UTC(), CreatedBy: admin.Name}
	for _, s := range req.Sources {
		acc.Sources = append(acc.Sources, domain.Source(s))
	}
	if err := checkNewAccount(acc); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	secret, hash := domain.NewSecret()
	acc.TokenHash = hash
	if err := a.accounts.Create(r.Context(), acc); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	a.log.Info("account created", "account", acc.Name, "role", acc.Role, "by", admin.Name)
	webapi.WriteJSON(w, http.StatusCreated, newAccountResponse{Account: viewOf(acc), Token: domain.Token(acc.Name, secret)})
}

// newNATSUserRequest is the body of POST /v1/nats-users.
type newNATSUserRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

type newNATSUserResponse struct {
	Account accountView `json:"account"`
	// User and Password are the NATS credentials; the password is shown
	// once, here, and stored only as a hash.
	User     string `json:"user"`
	Password string `json:"password"`
	URL      string `json:"url"`
	Stream   string `json:"stream"`
}

// addNATSUser creates a read-only NATS user of the embedded server for a
// subscriber or an auditor.
func (a *api) addNATSUser(w http.ResponseWriter, r *http.Request) {
	admin := accountOf(r)
	if err := admin.MayManageAccounts(); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	if a.natsUsers == nil {
		webapi.WriteError(w, r, a.log, domain.Errorf(domain.CodeUnsupported, "", "kcledger uses an external NATS server; its operator manages its users (SECURITY.md lists the permissions a reader needs)"))
		return
	}
	body, err := webapi.ReadBody(w, r)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	var req newNATSUserRequest
	if err := decodeStrict(body, &req); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	role, err := domain.ParseRole(req.Role)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	acc := domain.Account{Name: req.Name, Role: role, CreatedAt: a.now().UTC(), CreatedBy: admin.Name}
	if err := checkNewNATSUser(acc); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	password, hash := domain.NewSecret()
	acc.NATSPasswordHash = hash
	if err := a.accounts.Create(r.Context(), acc); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	a.natsUsers.SetAccount(acc) // it may connect as soon as this answer arrives
	a.log.Info("NATS user created", "account", acc.Name, "role", acc.Role, "by", admin.Name)
	webapi.WriteJSON(w, http.StatusCreated, newNATSUserResponse{Account: viewOf(acc), User: acc.Name, Password: password, URL: a.natsURL, Stream: a.stream})
}

func (a *api) listUsers(w http.ResponseWriter, r *http.Request) {
	if err := accountOf(r).MayManageAccounts(); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	all, err := a.accounts.List(r.Context())
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	out := make([]accountView, len(all))
	for i, acc := range all {
		out[i] = viewOf(acc)
	}
	webapi.WriteJSON(w, http.StatusOK, map[string]any{"accounts": out})
}

func (a *api) disableUser(w http.ResponseWriter, r *http.Request) {
	admin := accountOf(r)
	if err := admin.MayManageAccounts(); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	name := r.PathValue("name")
	if name == admin.Name {
		webapi.WriteError(w, r, a.log, domain.Errorf(domain.CodeForbidden, "name", "an admin cannot disable its own account; another admin can"))
		return
	}
	at := a.now().UTC()
	acc, err := a.accounts.Update(r.Context(), name, func(acc *domain.Account) error {
		if !acc.Disabled {
			acc.Disabled, acc.DisabledAt, acc.DisabledBy = true, &at, admin.Name
		}
		return nil
	})
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	if a.natsUsers != nil {
		a.natsUsers.SetAccount(acc) // refused, and its connections closed, before this answer
	}
	a.log.Info("account disabled", "account", name, "by", admin.Name)
	webapi.WriteJSON(w, http.StatusOK, map[string]any{"account": viewOf(acc)})
}

// enableUser lifts a disable: the same account, with the same token and
// NATS password, is accepted again. Nothing is created.
func (a *api) enableUser(w http.ResponseWriter, r *http.Request) {
	admin := accountOf(r)
	if err := admin.MayManageAccounts(); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	name := r.PathValue("name")
	acc, err := a.accounts.Update(r.Context(), name, func(acc *domain.Account) error {
		acc.Disabled, acc.DisabledAt, acc.DisabledBy = false, nil, ""
		return nil
	})
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	if a.natsUsers != nil {
		a.natsUsers.SetAccount(acc) // its NATS user may connect again
	}
	a.log.Info("account enabled", "account", name, "by", admin.Name)
	webapi.WriteJSON(w, http.StatusOK, map[string]any{"account": viewOf(acc)})
}

// decodeStrict decodes one JSON object with no unknown fields.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return webapi.JSONError(err)
	}
	if dec.More() {
		return domain.Errorf(domain.CodeMalformedRequest, "", "the request body must hold exactly one JSON object")
	}
	return nil
}
