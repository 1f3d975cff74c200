package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/kcledger/kcledger/domain"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/password"
)

const userUsage = `kcledger user: manage accounts (admins only)

Usage:
  kcledger user add NAME --role admin|officer|auditor|subscriber [--provinces 01,79] [--sources national,local]
  kcledger user list [--json]
  kcledger user disable NAME
  kcledger user enable NAME
  kcledger user passwd NAME [--password-file FILE]

An officer records and reads only the provinces and sources listed on its
account. The new account's token is printed once and never stored in
clear: hand it to its owner. Disabling takes effect at once, on every
kcledger process sharing the NATS server; enabling gives the same account,
with its old token and NATS password, back its access (nothing new is
created). A console password (đăng nhập bằng mật khẩu) is stored only as
its argon2id hash; one an admin sets must be changed by its owner at the
next log-in.

Run "kcledger user <add|list|disable|enable|passwd> --help" for the flags.
`

// userCommands are the subcommands of `kcledger user`.
var userCommands = []command{
	{"add", "create an account and print its token, once", runUserAdd},
	{"list", "list the accounts", runUserList},
	{"disable", "disable an account at once", runUserDisable},
	{"enable", "enable a disabled account again: the same account and token", runUserEnable},
	{"passwd", "set an account's password for the web console (yours, or as an admin anyone's)", runUserPasswd},
}

// subcommandsOf lists the subcommands of the commands that have some.
var subcommandsOf = map[string][]command{"user": userCommands, "nats-user": natsUserCommands}

// runUser is `kcledger user add|list|disable|enable`: account management, for
// admins, through the API.
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return dispatch(ctx, "user", userUsage, userCommands, args, stdout, stderr)
}

// dispatch runs the subcommand of `kcledger name` that args begin with.
func dispatch(ctx context.Context, name, usage string, subs []command, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range subs {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "kcledger %s: unknown subcommand %q\nRun \"kcledger %s --help\" for its subcommands.\n", name, args[0], name)
	return exitUsage
}

// splitName takes the account name, which comes first, off args.
func splitName(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func runUserAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name, rest := splitName(args)
	fs := newFlags("user add", "create an account and print its token, once (usage: kcledger user add NAME --role ROLE ...)", stderr)
	server := addClientFlags(fs)
	role := fs.String("role", "", "admin, officer, auditor or subscriber")
	provinces := fs.String("provinces", "", "officers: comma-separated province codes it may record and read, e.g. 01,79")
	sources := fs.String("sources", "", "officers: national, local or national,local")
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print JSON (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	if name == "" {
		fmt.Fprintln(stderr, "kcledger user add: give the account's name: kcledger user add NAME --role ROLE")
		return exitUsage
	}
	req := webapi.NewAccountRequest{Name: name, Role: *role, Provinces: splitList(*provinces), Sources: splitList(*sources)}
	if err := checkAccountFlags(req.Name, req.Role, req.Provinces, req.Sources, webapi.CheckNewAccount); err != nil {
		fmt.Fprintf(stderr, "kcledger user add: %v\n", err)
		return exitUsage
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger user add: %v\n", err)
		return exitUsage
	}
	var res webapi.NewAccountResponse
	if _, err := c.do(ctx, http.MethodPost, "/v1/users", nil, req, &res); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(res)
		return exitOK
	}
	fmt.Fprintf(stdout, "Created %s account %s.\n", res.Account.Role, res.Account.Name)
	if len(res.Account.Provinces) > 0 {
		fmt.Fprintf(stdout, "  provinces %s · sources %s\n", strings.Join(res.Account.Provinces, ", "), joinAny(res.Account.Sources))
	}
	fmt.Fprintf(stdout, "Token (shown only now; store it in a file only its owner can read, and use --token-file):\n%s\n", res.Token)
	return exitOK
}

// checkAccountFlags runs the server's check of a new account before
// anything is sent, and names the flag at fault.
func checkAccountFlags(name, role string, provinces, sources []string, check func(domain.Account) error) error {
	r, err := domain.ParseRole(role)
	if err != nil {
		return fmt.Errorf("--role: %s", domainMessage(err))
	}
	acc := domain.Account{Name: name, Role: r, Provinces: provinces}
	for _, s := range sources {
		acc.Sources = append(acc.Sources, domain.Source(s))
	}
	if err := check(acc); err != nil {
		var de *domain.Error
		if errors.As(err, &de) && de.Field != "name" {
			return fmt.Errorf("--%s: %s", de.Field, de.Message)
		}
		return fmt.Errorf("%s", domainMessage(err))
	}
	return nil
}

func joinAny[T ~string](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

func runUserList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("user list", "list the accounts", stderr)
	server := addClientFlags(fs)
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print JSON (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger user list: %v\n", err)
		return exitUsage
	}
	var res struct {
		Accounts []webapi.AccountView `json:"accounts"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/users", nil, nil, &res); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(res)
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  Name\tRole\tProvinces\tSources\tHTTP\tNATS\tStatus\tCreated")
	for _, a := range res.Accounts {
		status := "enabled"
		if a.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s by %s\n", a.Name, a.Role, orAll(strings.Join(a.Provinces, ",")), orAll(joinAny(a.Sources)),
			yesNo(a.HTTPToken), yesNo(a.NATS), status, humanTime(a.CreatedAt), a.CreatedBy)
	}
	_ = tw.Flush()
	return exitOK
}

func orAll(s string) string {
	if s == "" {
		return "all"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func runUserDisable(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name, rest := splitName(args)
	fs := newFlags("user disable", "disable an account at once (usage: kcledger user disable NAME)", stderr)
	server := addClientFlags(fs)
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	if name == "" {
		fmt.Fprintln(stderr, "kcledger user disable: give the account's name: kcledger user disable NAME")
		return exitUsage
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger user disable: %v\n", err)
		return exitUsage
	}
	var res struct {
		Account webapi.AccountView `json:"account"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/v1/users/"+url.PathEscape(name)+"/disable", nil, nil, &res); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	fmt.Fprintf(stdout, "Account %s is disabled; its token is refused from now on.\n", res.Account.Name)
	return exitOK
}

const natsUserUsage = `kcledger nats-user: read-only NATS users of the embedded server (admins only)

Usage:
  kcledger nats-user add NAME --role subscriber|auditor

The user may read the event stream (subscribe, create its own consumers,
read messages and stream info) and nothing else: no publishing on ledger
subjects, no deleting or purging, no editing the stream. Its password is
printed once. "kcledger user disable NAME" refuses it and closes its
connections at once; "kcledger user list" shows it.

Run "kcledger nats-user add --help" for the flags.
`

// natsUserCommands are the subcommands of `kcledger nats-user`.
var natsUserCommands = []command{
	{"add", "create a read-only NATS user and print its credentials, once", runNATSUserAdd},
}

func runUserEnable(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name, rest := splitName(args)
	fs := newFlags("user enable", "enable a disabled account again, with its old token and NATS password (usage: kcledger user enable NAME)", stderr)
	server := addClientFlags(fs)
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	if name == "" {
		fmt.Fprintln(stderr, "kcledger user enable: give the account's name: kcledger user enable NAME")
		return exitUsage
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger user enable: %v\n", err)
		return exitUsage
	}
	var res struct {
		Account webapi.AccountView `json:"account"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/v1/users/"+url.PathEscape(name)+"/enable", nil, nil, &res); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	fmt.Fprintf(stdout, "Account %s is enabled; its token is accepted again.\n", res.Account.Name)
	return exitOK
}

// runNATSUser is `kcledger nats-user add`: read-only NATS users of the
// embedded server, for subscribers and auditors.
func runNATSUser(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return dispatch(ctx, "nats-user", natsUserUsage, natsUserCommands, args, stdout, stderr)
}

func runNATSUserAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name, rest := splitName(args)
	fs := newFlags("nats-user add", "create a read-only NATS user and print its credentials, once (usage: kcledger nats-user add NAME --role subscriber|auditor)", stderr)
	server := addClientFlags(fs)
	role := fs.String("role", "subscriber", "subscriber or auditor")
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print JSON (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	if name == "" {
		fmt.Fprintln(stderr, "kcledger nats-user add: give the user's name: kcledger nats-user add NAME --role subscriber")
		return exitUsage
	}
	if err := checkAccountFlags(name, *role, nil, nil, webapi.CheckNewNATSUser); err != nil {
		fmt.Fprintf(stderr, "kcledger nats-user add: %v\n", err)
		return exitUsage
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger nats-user add: %v\n", err)
		return exitUsage
	}
	var res webapi.NewNATSUserResponse
	if _, err := c.do(ctx, http.MethodPost, "/v1/nats-users", nil, webapi.NewNATSUserRequest{Name: name, Role: *role}, &res); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(res)
		return exitOK
	}
	fmt.Fprintf(stdout, "Created read-only NATS %s %s. The password is shown only now:\n", res.Account.Role, res.User)
	fmt.Fprintf(stdout, "  url       %s\n  user      %s\n  password  %s\n  stream    %s\n", res.URL, res.User, res.Password, res.Stream)
	fmt.Fprintf(stdout, "Try: nats --server %s --user %s --password '<password>' stream info %s\n", res.URL, res.User, res.Stream)
	return exitOK
}

func runUserPasswd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name, rest := splitName(args)
	fs := newFlags("user passwd", "đặt mật khẩu: set an account's password for the web console, read from --password-file, from standard input, or asked for twice on a terminal (not echoed); at least 12 characters. Your own, or, as an admin, anyone's, which its owner must then change at the next log-in (usage: kcledger user passwd NAME)", stderr)
	server := addClientFlags(fs)
	file := fs.String("password-file", "", "read the password from the first line of this file")
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	if name == "" {
		fmt.Fprintln(stderr, "kcledger user passwd: give the account's name: kcledger user passwd NAME")
		return exitUsage
	}
	pw, err := readNewPassword(*file, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kcledger user passwd: %v\n", err)
		return exitUsage
	}
	if err := password.Check(name, pw); err != nil {
		fmt.Fprintf(stderr, "kcledger user passwd: %s\n", domainMessage(err))
		return exitUsage
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger user passwd: %v\n", err)
		return exitUsage
	}
	var res struct {
		Account webapi.AccountView `json:"account"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/v1/users/"+url.PathEscape(name)+"/password", nil, webapi.PasswordRequest{Password: pw}, &res); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	if res.Account.PasswordMustChange {
		fmt.Fprintf(stdout, "The password of %s is set; its owner must change it at the next log-in.\n", res.Account.Name)
	} else {
		fmt.Fprintf(stdout, "The password of %s is set.\n", res.Account.Name)
	}
	return exitOK
}

// readNewPassword reads a new password: the first line of file, or of
// standard input, or, on a terminal, typed twice without echo.
func readNewPassword(file string, stderr io.Writer) (string, error) {
	firstLine := func(r io.Reader) (string, error) {
		line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", errors.New("no password given")
		}
		return line, nil
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		return firstLine(f)
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return firstLine(os.Stdin)
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		return string(b), err
	}
	pw, err := ask("Mật khẩu mới (new password): ")
	if err != nil {
		return "", err
	}
	again, err := ask("Nhập lại (again): ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the two passwords differ")
	}
	return pw, nil
}
