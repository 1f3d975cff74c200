package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
	"github.com/kcledger/kcledger/web/password"
)

// Every role against every route, with the status each must get. A
// refused write must append nothing.
func TestAccessMatrix(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	// The officer's line 2025/01/national, and two it does not own:
	// another province, another source; all funded.
	own, otherProvince, otherSource := apitest.ValidBody(apitest.PathAllocations), apitest.ValidBody(apitest.PathAllocations), apitest.ValidBody(apitest.PathAllocations)
	otherProvince["province"] = "79"
	otherSource["source"] = "local"
	for _, b := range []map[string]any{own, otherProvince, otherSource} {
		r := ta.Post(t, apitest.PathAllocations, uuid.NewString(), apitest.MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}

	tokens := map[string]string{
		"admin":      ta.Token,
		"officer":    ta.AddAccount(t, "officer-hanoi", domain.RoleOfficer, []string{"01"}, []string{"national"}),
		"auditor":    ta.AddAccount(t, "kiem-toan", domain.RoleAuditor, nil, nil),
		"subscriber": ta.AddAccount(t, "kho-bac", domain.RoleSubscriber, nil, nil),
		"disabled":   ta.AddAccount(t, "former-officer", domain.RoleOfficer, []string{"01"}, []string{"national"}),
		"none":       "",
		"bad secret": domain.Token(apitest.FirstAdmin, strings.Repeat("0", 64)),
		"no account": domain.Token("nobody", strings.Repeat("a", 64)),
		"malformed":  "let-me-in",
	}
	r := ta.Do(t, http.MethodPost, "/v1/users/former-officer/disable", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	type route struct {
		name, method, path string
		body               map[string]any
		// officerField is the field an officer's refusal names.
		officerField string
	}
	ownDisb, otherDisb := apitest.ValidBody(apitest.PathDisbursements), apitest.ValidBody(apitest.PathDisbursements)
	otherDisb["province"] = "79"
	routes := []route{
		{"allocate own line", http.MethodPost, apitest.PathAllocations, own, ""},
		{"disburse own line", http.MethodPost, apitest.PathDisbursements, ownDisb, ""},
		{"disburse other province", http.MethodPost, apitest.PathDisbursements, otherDisb, "province"},
		{"allocate other source", http.MethodPost, apitest.PathAllocations, otherSource, "source"},
		{"balances", http.MethodGet, "/v1/balances", nil, ""},
		{"balances of own province", http.MethodGet, "/v1/balances?province=01", nil, ""},
		{"balances of other province", http.MethodGet, "/v1/balances?province=79", nil, "province"},
		{"provinces", http.MethodGet, "/v1/provinces", nil, ""},
		{"list users", http.MethodGet, "/v1/users", nil, ""},
		{"add user", http.MethodPost, "/v1/users", nil, ""},
		{"disable user", http.MethodPost, "/v1/users/kiem-toan-2/disable", nil, ""},
		{"enable user", http.MethodPost, "/v1/users/kiem-toan-3/enable", nil, ""},
		{"add NATS user", http.MethodPost, "/v1/nats-users", nil, ""},
		{"signing keys", http.MethodGet, "/v1/keys", nil, ""},
		{"rebuild", http.MethodPost, "/v1/rebuild", nil, ""},
		{"unknown route", http.MethodGet, "/v1/nothing", nil, ""},
		{"health", http.MethodGet, "/healthz", nil, ""},
		// Seq 1 is a sound allocation: only an admin gets as far as
		// that refusal.
		{"repudiate", http.MethodPost, "/v1/repudiations", map[string]any{"seq": 1, "reason": "thử", "decision": "1/QĐ"}, ""},
		{"readiness", http.MethodGet, "/readyz", nil, ""},
		{"plan-execution report", http.MethodGet, api.PathPlanExecution + "?year=2025", nil, ""},
		{"report of other province", http.MethodGet, api.PathPlanExecution + "?year=2025&province=79", nil, "province"},
		// Seq 1 is the own line's allocation, seq 2 the other province's.
		{"event of own line", http.MethodGet, "/v1/events/1", nil, ""},
		{"event of other province", http.MethodGet, "/v1/events/2", nil, "province"},
	}
	const (
		ok, created, unauth, forbid, notFound, unprocessable = 200, 201, 401, 403, 404, 422
	)
	// want[role] lists the statuses, in the order of routes.
	want := map[string][]int{
		"admin":      {created, created, created, created, ok, ok, ok, ok, ok, created, ok, ok, created, ok, ok, notFound, ok, unprocessable, ok, ok, ok, ok, ok},
		"officer":    {created, created, forbid, forbid, ok, ok, forbid, ok, forbid, forbid, forbid, forbid, forbid, ok, forbid, notFound, ok, forbid, ok, ok, forbid, ok, forbid},
		"auditor":    {forbid, forbid, forbid, forbid, ok, ok, ok, ok, forbid, forbid, forbid, forbid, forbid, ok, forbid, notFound, ok, forbid, ok, ok, ok, ok, ok},
		"subscriber": {forbid, forbid, forbid, forbid, forbid, forbid, forbid, forbid, forbid, forbid, forbid, forbid, forbid, forbid, forbid, notFound, ok, forbid, ok, forbid, forbid, forbid, forbid},
	}
	for _, refused := range []string{"disabled", "none", "bad secret", "no account", "malformed"} {
		want[refused] = []int{unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, ok, unauth, ok, unauth, unauth, unauth, unauth}
	}
	for role, statuses := range want {
		require.Len(t, statuses, len(routes), role)
		for i, rt := range routes {
			t.Run(role+"/"+rt.name, func(t *testing.T) {
				if strings.HasPrefix(rt.path, "/v1/users/kiem-toan-") {
					parts := strings.Split(rt.path, "/") // "", v1, users, name, action
					name := parts[3] + "-" + strings.ReplaceAll(role, " ", "-")
					ta.AddAccount(t, name, domain.RoleAuditor, nil, nil)
					rt.path = "/v1/users/" + name + "/" + parts[4]
				}
				switch rt.name {
				case "add user":
					rt.body = map[string]any{"name": "new-" + uuid.NewString()[:8], "role": "auditor"}
				case "add NATS user":
					rt.body = map[string]any{"name": "nats-" + uuid.NewString()[:8], "role": "subscriber"}
				}
				as := ta.As(tokens[role])
				header := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {uuid.NewString()}}
				if tokens[role] == "" {
					header["Authorization"] = nil // send none
				}
				var body []byte
				if rt.body != nil {
					body = apitest.MustJSON(t, rt.body)
				}
				before := ta.StreamLastSeq(t)
				r := as.Do(t, rt.method, rt.path, header, body)
				assert.Equal(t, statuses[i], r.Status, "%s %s as %s: %s", rt.method, rt.path, role, r.Body)
				switch r.Status {
				case unauth:
					apitest.RequireProblem(t, r, unauth, domain.CodeUnauthenticated, "Authorization")
					assert.Equal(t, `Bearer realm="kcledger"`, r.Header.Get("WWW-Authenticate"))
				case forbid:
					field := ""
					if role == "officer" {
						field = rt.officerField
					}
					apitest.RequireProblem(t, r, forbid, domain.CodeForbidden, field)
				}
				if r.Status >= 400 {
					assert.Equal(t, before, ta.StreamLastSeq(t), "a refused request appended")
				}
				if tok := tokens[role]; tok != "" {
					assert.NotContains(t, string(r.Body), tok, "the token came back in the answer")
				}
			})
		}
	}
}

// The actor of an event is the account of the token; a client cannot name
// another.
func TestActorIsTheAuthenticatedAccount(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	r := ta.Post(t, apitest.PathAllocations, uuid.NewString(), apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	officer := ta.As(ta.AddAccount(t, "can-bo-ha-noi", domain.RoleOfficer, []string{"01"}, []string{"national"}))

	r = officer.Post(t, apitest.PathDisbursements, "pay-1", apitest.MustJSON(t, apitest.ValidBody(apitest.PathDisbursements)))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var res api.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	assert.Equal(t, "can-bo-ha-noi", res.Event.Actor)
	assert.Equal(t, res.Event.Hash, res.Event.ComputeHash(), "the actor is under the hash")

	before := ta.StreamLastSeq(t)
	forged := apitest.ValidBody(apitest.PathDisbursements)
	forged["actor"] = "admin"
	apitest.RequireProblem(t, officer.Post(t, apitest.PathDisbursements, "pay-2", apitest.MustJSON(t, forged)), http.StatusBadRequest, domain.CodeUnknownField, "actor")
	assert.Equal(t, before, ta.StreamLastSeq(t))
}

// Disabling an account refuses its very next request, with no restart.
func TestDisableTakesEffectAtOnce(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	auditor := ta.As(ta.AddAccount(t, "kiem-toan-vien", domain.RoleAuditor, nil, nil))
	require.Equal(t, http.StatusOK, auditor.Get(t, "/v1/balances").Status)

	r := ta.Do(t, http.MethodPost, "/v1/users/kiem-toan-vien/disable", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	apitest.RequireProblem(t, auditor.Get(t, "/v1/balances"), http.StatusUnauthorized, domain.CodeUnauthenticated, "Authorization")

	// The list shows who disabled it, and never a hash.
	r = ta.Get(t, "/v1/users")
	require.Equal(t, http.StatusOK, r.Status)
	assert.NotContains(t, string(r.Body), "hash")
	var list struct {
		Accounts []api.AccountView `json:"accounts"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &list))
	var found bool
	for _, a := range list.Accounts {
		if a.Name == "kiem-toan-vien" {
			found = true
			assert.True(t, a.Disabled)
			assert.Equal(t, apitest.FirstAdmin, a.DisabledBy)
		}
	}
	assert.True(t, found)

	apitest.RequireProblem(t, ta.Do(t, http.MethodPost, "/v1/users/"+apitest.FirstAdmin+"/disable", nil, nil), http.StatusForbidden, domain.CodeForbidden, "name")
	apitest.RequireProblem(t, ta.Do(t, http.MethodPost, "/v1/users/nobody/disable", nil, nil), http.StatusNotFound, domain.CodeNotFound, "name")
}

// Two processes share the NATS server, each with its own connection and
// account cache: a disable is refused at once by the process that made
// it, and within eventstore.AccountsMaxStale by the other (by its watch,
// in milliseconds; the bound holds even when the watch is behind:
// eventstore's TestAccountCacheBehindWatchReadsTheBucket).
func TestDisableTakesEffectOnAnotherProcessWithinTheBound(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	// Made before B starts, they are in both caches from the start.
	tokens := []string{
		ta.AddAccount(t, "kiem-toan-0", domain.RoleAuditor, nil, nil),
		ta.AddAccount(t, "kiem-toan-1", domain.RoleAuditor, nil, nil),
	}
	tb := apitest.Start(t, apitest.Options{Beside: ta})
	for round, p := range []struct {
		name          string
		disabler, far *apitest.API
	}{{"disabled on A", ta, tb}, {"disabled on B", tb, ta}} {
		name, token := fmt.Sprintf("kiem-toan-%d", round), tokens[round]
		require.Eventually(t, func() bool { return p.far.As(token).Get(t, "/v1/balances").Status == http.StatusOK }, 5*time.Second, time.Millisecond,
			"%s: the other process knows the new account", p.name)
		require.Equal(t, http.StatusOK, p.disabler.As(token).Get(t, "/v1/balances").Status)

		r := p.disabler.Do(t, http.MethodPost, "/v1/users/"+name+"/disable", nil, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		disabled := time.Now()
		apitest.RequireProblem(t, p.disabler.As(token).Get(t, "/v1/balances"), http.StatusUnauthorized, domain.CodeUnauthenticated, "Authorization")
		require.Eventually(t, func() bool { return p.far.As(token).Get(t, "/v1/balances").Status == http.StatusUnauthorized },
			eventstore.AccountsMaxStale, time.Millisecond, "%s: the other process refuses it within the bound", p.name)
		t.Logf("%s: refused by the other process %s after the disable", p.name, time.Since(disabled).Round(time.Microsecond))
		apitest.RequireProblem(t, p.far.As(token).Get(t, "/v1/balances"), http.StatusUnauthorized, domain.CodeUnauthenticated, "Authorization")
	}
}

// An officer's balances hold its own lines only.
func TestOfficerSeesOnlyItsLines(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	for _, pr := range []string{"01", "79"} {
		b := apitest.ValidBody(apitest.PathAllocations)
		b["province"] = pr
		r := ta.Post(t, apitest.PathAllocations, uuid.NewString(), apitest.MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	officer := ta.As(ta.AddAccount(t, "can-bo-hcm", domain.RoleOfficer, []string{"79"}, []string{"national", "local"}))
	r := officer.Get(t, "/v1/balances")
	require.Equal(t, http.StatusOK, r.Status)
	var rep projections.Report
	require.NoError(t, json.Unmarshal(r.Body, &rep))
	require.Len(t, rep.Lines, 1)
	assert.Equal(t, "79", rep.Lines[0].Line.Province)
	apitest.RequireAmount(t, "1000000000", rep.Total.Balance.Allocated, "the total is of its lines only")
}

func TestAddAccountRefusesBadInput(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	ta.AddAccount(t, "taken", domain.RoleAuditor, nil, nil)
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   domain.Code
		field  string
	}{
		{"bad name", `{"name":"Nguyễn Văn A","role":"auditor"}`, 400, domain.CodeInvalidField, "name"},
		{"name with a dot", `{"name":"a.b","role":"auditor"}`, 400, domain.CodeInvalidField, "name"},
		{"unknown role", `{"name":"x","role":"root"}`, 400, domain.CodeInvalidField, "role"},
		{"officer without provinces", `{"name":"x","role":"officer","sources":["local"]}`, 400, domain.CodeMissingField, "provinces"},
		{"officer without sources", `{"name":"x","role":"officer","provinces":["01"]}`, 400, domain.CodeMissingField, "sources"},
		{"officer with unknown province", `{"name":"x","role":"officer","provinces":["99"],"sources":["local"]}`, 400, domain.CodeUnknownProvince, "provinces"},
		{"auditor with provinces", `{"name":"x","role":"auditor","provinces":["01"]}`, 400, domain.CodeInvalidField, "provinces"},
		{"unknown field", `{"name":"x","role":"auditor","token_hash":"00"}`, 400, domain.CodeUnknownField, "token_hash"},
		{"name taken", `{"name":"taken","role":"auditor"}`, 409, domain.CodeAccountExists, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ta.Do(t, http.MethodPost, "/v1/users", http.Header{"Content-Type": {"application/json"}}, []byte(tc.body))
			apitest.RequireProblem(t, r, tc.status, tc.code, tc.field)
		})
	}
}

func TestAddNATSUser(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	r := ta.Do(t, http.MethodPost, "/v1/nats-users", http.Header{"Content-Type": {"application/json"}}, []byte(`{"name":"kho-bac","role":"subscriber"}`))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var res api.NewNATSUserResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	assert.Equal(t, "kho-bac", res.User)
	assert.Len(t, res.Password, 64)
	assert.True(t, res.Account.NATS)
	assert.False(t, res.Account.HTTPToken, "a NATS user has no API token")
	acc, _, err := ta.Accounts.Account(t.Context(), "kho-bac")
	require.NoError(t, err)
	assert.True(t, domain.SecretMatches(res.Password, acc.NATSPasswordHash))
	assert.NotContains(t, acc.NATSPasswordHash, res.Password)

	for _, tc := range []struct {
		name, body string
		status     int
		code       domain.Code
		field      string
	}{
		{"officer role", `{"name":"x","role":"officer"}`, 400, domain.CodeInvalidField, "role"},
		{"admin role", `{"name":"x","role":"admin"}`, 400, domain.CodeInvalidField, "role"},
		{"the service user's name", `{"name":"kcledger","role":"auditor"}`, 400, domain.CodeInvalidField, "name"},
		{"name taken", `{"name":"kho-bac","role":"auditor"}`, 409, domain.CodeAccountExists, "name"},
		{"bad name", `{"name":"kho bac","role":"auditor"}`, 400, domain.CodeInvalidField, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ta.Do(t, http.MethodPost, "/v1/nats-users", http.Header{"Content-Type": {"application/json"}}, []byte(tc.body))
			apitest.RequireProblem(t, r, tc.status, tc.code, tc.field)
		})
	}

	// With an external NATS server its operator manages the users.
	external := *ta
	a := api.New(api.Config{Accounts: ta.Accounts, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return apitest.Now }})
	srv := apitest.NewServer(t, a.Handler())
	external.Client = &apitest.Client{URL: srv.URL, HTTP: srv.Client(), Token: ta.Token}
	r = external.Do(t, http.MethodPost, "/v1/nats-users", http.Header{"Content-Type": {"application/json"}}, []byte(`{"name":"y","role":"auditor"}`))
	apitest.RequireProblem(t, r, http.StatusUnprocessableEntity, domain.CodeUnsupported, "")
}

// Past the limit of requests served at once, more are refused, not queued.
func TestConcurrentRequestLimit(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	// Rebuild the handler with a limit of one.
	limited := *ta
	a := api.New(api.Config{Accounts: ta.Accounts, Balances: projections.NewBalances(), Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return apitest.Now }, MaxInFlight: 1})
	srv := apitest.NewServer(t, a.Handler())
	limited.Client = &apitest.Client{URL: srv.URL, HTTP: srv.Client(), Token: ta.Token}

	// The first request holds its slot while its body trickles in.
	body, feed := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/users", body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+ta.Token)
	req.Header.Set("Content-Type", "application/json")
	first := make(chan int, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	_, err = feed.Write([]byte(`{"name":"slow",`))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return a.InFlight() == 1 }, 10*time.Second, 5*time.Millisecond)

	r := limited.Get(t, "/v1/provinces")
	apitest.RequireProblem(t, r, http.StatusServiceUnavailable, domain.CodeUnavailable, "")
	assert.Equal(t, "1", r.Header.Get("Retry-After"))
	require.Equal(t, http.StatusOK, limited.Get(t, "/healthz").Status, "health checks are never refused")

	_, err = feed.Write([]byte(`"role":"auditor"}`))
	require.NoError(t, err)
	require.NoError(t, feed.Close())
	require.Equal(t, http.StatusCreated, <-first)
	require.Equal(t, http.StatusOK, limited.Get(t, "/v1/provinces").Status, "the slot is free again")
}

// A console password is set by its owner, or by an admin (then it must
// be changed at the next log-in); it is stored only as its argon2id
// hash, never shown, and a password the policy refuses is refused with
// the field named and nothing stored.
func TestSetPassword(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	officerToken := ta.AddAccount(t, "can-bo-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	officer := ta.As(officerToken)
	ta.AddAccount(t, "kiem-toan", domain.RoleAuditor, nil, nil)
	body := func(pw string) []byte { return apitest.MustJSON(t, map[string]any{"password": pw}) }
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	stored := func(name string) domain.Account {
		acc, _, err := ta.Accounts.Account(t.Context(), name)
		require.NoError(t, err)
		return acc
	}

	// The admin sets the officer's: it must be changed at first log-in.
	r := ta.Do(t, http.MethodPost, "/v1/users/can-bo-hn/password", jsonHeader, body("mật khẩu tạm thời 2025"))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.NotContains(t, string(r.Body), "argon2")
	var res struct {
		Account api.AccountView `json:"account"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &res))
	assert.True(t, res.Account.Password)
	assert.True(t, res.Account.PasswordMustChange)
	acc := stored("can-bo-hn")
	require.True(t, strings.HasPrefix(acc.PasswordHash, "$argon2id$"), acc.PasswordHash)
	require.NoError(t, password.Verify(acc.PasswordHash, "mật khẩu tạm thời 2025"))
	assert.True(t, acc.PasswordMustChange)

	// The officer sets its own: no change required any more.
	r = officer.Do(t, http.MethodPost, "/v1/users/can-bo-hn/password", jsonHeader, body("mật khẩu của riêng tôi"))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	acc = stored("can-bo-hn")
	require.NoError(t, password.Verify(acc.PasswordHash, "mật khẩu của riêng tôi"))
	assert.False(t, acc.PasswordMustChange)

	// The list shows that a password exists, never its hash.
	r = ta.Get(t, "/v1/users")
	require.Equal(t, http.StatusOK, r.Status)
	assert.NotContains(t, string(r.Body), "argon2")
	var list struct {
		Accounts []api.AccountView `json:"accounts"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &list))
	for _, a := range list.Accounts {
		assert.Equal(t, a.Name == "can-bo-hn", a.Password, "%s has a password", a.Name)
	}

	before := stored("can-bo-hn").PasswordHash
	for _, tc := range []struct {
		name   string
		as     *apitest.API
		path   string
		body   []byte
		status int
		code   domain.Code
		field  string
	}{
		{"too short", officer, "/v1/users/can-bo-hn/password", body("ngắn quá"), 400, domain.CodeInvalidField, "password"},
		{"one character", officer, "/v1/users/can-bo-hn/password", body("aaaaaaaaaaaaaaaa"), 400, domain.CodeInvalidField, "password"},
		{"over 256 bytes", officer, "/v1/users/can-bo-hn/password", body(strings.Repeat("mật khẩu ", 40)), 400, domain.CodeInvalidField, "password"},
		{"another's, not an admin", officer, "/v1/users/kiem-toan/password", body("một mật khẩu đủ dài"), 403, domain.CodeForbidden, "name"},
		{"an unknown account", ta, "/v1/users/nobody/password", body("một mật khẩu đủ dài"), 404, domain.CodeNotFound, "name"},
		{"an unknown field", officer, "/v1/users/can-bo-hn/password", []byte(`{"password":"một mật khẩu đủ dài","must_change":false}`), 400, domain.CodeUnknownField, "must_change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apitest.RequireProblem(t, tc.as.Do(t, http.MethodPost, tc.path, jsonHeader, tc.body), tc.status, tc.code, tc.field)
		})
	}
	assert.Equal(t, before, stored("can-bo-hn").PasswordHash, "nothing refused was stored")
	apitest.RequireProblem(t, ta.Do(t, http.MethodGet, "/v1/users/can-bo-hn/password", nil, nil), http.StatusMethodNotAllowed, domain.CodeMethodNotAllowed, "")
}
