package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// clientTimeout bounds one API call from the CLI.
const clientTimeout = 30 * time.Second

// client calls the ledger's HTTP API.
type client struct {
	base  string
	token string
	// tokenFrom says where token came from, for a refusal's hint.
	tokenFrom string
	http      *http.Client
}

func newClient(server, token string) (*client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want a URL such as http://127.0.0.1:8080", server)
	}
	return &client{base: strings.TrimRight(server, "/"), token: token, http: &http.Client{Timeout: clientTimeout}}, nil
}

// clientFlags are the flags every API command takes.
type clientFlags struct {
	server, token, tokenFile, data *string
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	return &clientFlags{
		server:    fs.String("server", env("KCLEDGER_SERVER", "http://127.0.0.1:8080"), "ledger API URL (KCLEDGER_SERVER)"),
		token:     fs.String("token", env("KCLEDGER_TOKEN", ""), "bearer token of your account (KCLEDGER_TOKEN); prefer --token-file, which stays out of the process list"),
		tokenFile: fs.String("token-file", env("KCLEDGER_TOKEN_FILE", ""), "file holding your token, readable only by you (KCLEDGER_TOKEN_FILE); default: the first admin's token that serve wrote in --data, if it is there"),
		data:      fs.String("data", env("KCLEDGER_DATA", defaultDataDir), "on the ledger's own machine: serve's --data directory, where the first admin's token is (KCLEDGER_DATA)"),
	}
}

// defaultDataDir is serve's --data when none is given.
const defaultDataDir = "./kcledger-data"

func (f *clientFlags) client() (*client, error) {
	tok, from, err := f.resolveToken()
	if err != nil {
		return nil, err
	}
	c, err := newClient(*f.server, tok)
	if err != nil {
		return nil, err
	}
	c.tokenFrom = from
	return c, nil
}

// resolveToken finds the token: --token, then --token-file, then the
// admin token file in the data directory. from says which, or, with no
// token, which file was looked for.
func (f *clientFlags) resolveToken() (tok, from string, err error) {
	if *f.token != "" {
		return *f.token, "--token (or KCLEDGER_TOKEN)", nil
	}
	path, explicit := *f.tokenFile, true
	if path == "" {
		path, explicit = filepath.Join(*f.data, adminTokenFile), false
	}
	if _, err := os.Stat(path); err != nil && !explicit {
		// No token: the server says 401, and the CLI how to get one.
		return "", fmt.Sprintf("no token: %s, the first admin's token in --data (KCLEDGER_DATA, default %s), does not exist", path, defaultDataDir), nil
	}
	tok, err = readSecretFile(path)
	if err != nil {
		return "", "", fmt.Errorf("--token-file: %w", err)
	}
	if explicit {
		return tok, "the token file " + path + " (--token-file or KCLEDGER_TOKEN_FILE)", nil
	}
	return tok, fmt.Sprintf("the first admin's token file %s (in --data, KCLEDGER_DATA, default %s)", path, defaultDataDir), nil
}

// readSecretFile reads a secret from a file that only its owner may read.
func readSecretFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is readable by others (mode %v); run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return tok, nil
}

// apiError is a refusal from the server, decoded from problem+json.
type apiError struct {
	Status int
	webapi.Problem
	tokenFrom string
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s (%s, field %s): %s", http.StatusText(e.Status), e.Code, e.Field, e.Detail)
	}
	return fmt.Sprintf("%s (%s): %s", http.StatusText(e.Status), e.Code, e.Detail)
}

// do sends a request and decodes a 2xx JSON answer into out.
func (c *client) do(ctx context.Context, method, path string, header http.Header, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		e := &apiError{Status: resp.StatusCode, tokenFrom: c.tokenFrom}
		if json.Unmarshal(data, &e.Problem) != nil || e.Code == "" {
			e.Code = domain.CodeInternal
			e.Detail = strings.TrimSpace(string(data))
		}
		return resp.StatusCode, e
	}
	return resp.StatusCode, json.Unmarshal(data, out)
}

// exitFor maps an API call's error to an exit code, printing it.
func exitFor(err error, stderr io.Writer, server string) int {
	var ae *apiError
	if errors.As(err, &ae) {
		fmt.Fprintf(stderr, "kcledger: refused: %s\n", ae.Error())
		if ae.Code == domain.CodeUnauthenticated {
			if ae.tokenFrom != "" {
				fmt.Fprintf(stderr, "kcledger: token used: %s\n", ae.tokenFrom)
			}
			fmt.Fprintf(stderr, "kcledger: give your account's token with --token-file, KCLEDGER_TOKEN_FILE, --token or KCLEDGER_TOKEN; on the ledger's own machine the first admin's token is admin.token in serve's data directory: give it with --data DIR or KCLEDGER_DATA=DIR if serve runs with --data DIR\n")
		}
		if ae.Status >= 500 {
			if ae.RequestID != "" {
				fmt.Fprintf(stderr, "kcledger: request id %s\n", ae.RequestID)
			}
			return exitFailure
		}
		return exitRefused
	}
	fmt.Fprintf(stderr, "kcledger: could not reach the ledger at %s: %v\n", server, err)
	return exitFailure
}

// movementCommand returns the CLI of allocate, adjust, disburse, refund or
// lapse.
func movementCommand(name string) func(context.Context, []string, io.Writer, io.Writer) int {
	kind := domain.CommandKind(name)
	path := map[domain.CommandKind]string{
		domain.Allocate: "/v1/allocations", domain.Adjust: "/v1/adjustments",
		domain.Disburse: "/v1/disbursements", domain.Refund: "/v1/refunds",
		domain.Lapse: "/v1/lapses",
	}[kind]
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		summary := "record " + webapi.KindNoun(kind) + " through the ledger's API"
		yearHelp := "fiscal year, 2000–2100 (default: the year of --date)"
		provinceHelp := "province code in force on --date, e.g. 01 (Hà Nội); see \"kcledger provinces\""
		if kind == domain.Lapse {
			summary = "record a lapse (hủy dự toán) through the ledger's API: what is still available on a line\n" +
				"once its year's settlement period is over; a lapse of the whole line closes it to all but refunds"
			yearHelp = "the line's fiscal year, 2000–2100 (required: a lapse is dated after the year)"
			provinceHelp = "the line's province code, e.g. 02 (Hà Giang): a merged province's code still names its own years' lines"
		}
		fs := newFlags(name, summary, stderr)
		server := addClientFlags(fs)
		year := fs.Int("year", 0, yearHelp)
		province := fs.String("province", "", provinceHelp)
		source := fs.String("source", "", "fund source: national (KCQG) or local (KCĐP)")
		project := fs.String("project", "", "project (đề án) code within the line, optional")
		category := fs.String("category", "", "content category, optional: "+categoryList())
		var amount, decision, voucher, beneficiary, reason *string
		var projectName, implementingUnit, counterpart *string
		if kind == domain.Allocate {
			projectName = fs.String("project-name", "", "with --project: the project's name, optional")
			implementingUnit = fs.String("implementing-unit", "", "with --project: the unit that carries it out (đơn vị thực hiện), optional")
			counterpart = fs.String("counterpart", "", "with --project: counterpart money pledged (vốn đối ứng), never state money: 9,5 tỷ, 500 triệu; optional")
		}
		if kind == domain.Adjust {
			amount = fs.String("delta", "", "signed change of the allocation: -250 triệu, 1,5 tỷ, 1.500.000.000")
		} else if kind == domain.Lapse {
			amount = fs.String("amount", "", "what lapses, in đồng: everything still available on the line (or, with --project, at most the project's); 0 closes a line with nothing left")
		} else {
			amount = fs.String("amount", "", "amount in đồng: 1500000000, 1.500.000.000, 250 triệu, 1,5 tỷ")
		}
		if kind == domain.Allocate || kind == domain.Adjust || kind == domain.Lapse {
			decision = fs.String("decision", "", "the decision cited, e.g. 3536/QĐ-BCT")
		}
		if kind == domain.Disburse || kind == domain.Refund {
			voucher = fs.String("voucher", "", "the State Treasury voucher number")
		}
		if kind == domain.Disburse {
			beneficiary = fs.String("beneficiary", "", "who is paid")
		}
		if kind == domain.Adjust || kind == domain.Refund {
			reason = fs.String("reason", "", "why")
		}
		if kind == domain.Lapse {
			reason = fs.String("reason", "", "why, optional: the rule or the decision's grounds")
		}
		rf := addRecordFlags(fs, "of the decision or voucher")
		if code, ok := parseFlags(fs, args); !ok {
			return code
		}
		usageErr := usageErrorOf(name, stderr)
		c, err := server.client()
		if err != nil {
			return usageErr("%v", err)
		}
		amountFlag := "--amount"
		if kind == domain.Adjust {
			amountFlag = "--delta"
		}
		if *amount == "" {
			return usageErr("%s is required", amountFlag)
		}
		amt, err := domain.ParseHumanAmount(*amount)
		if err != nil {
			return usageErr("%s: %v", amountFlag, err)
		}
		src, err := sourceFlag("--source", *source)
		if err != nil {
			return usageErr("%v", err)
		}
		d, err := rf.effectiveDate()
		if err != nil {
			return usageErr("%v", err)
		}
		if *year == 0 && kind == domain.Lapse {
			return usageErr("--year is required")
		}
		if *year == 0 {
			*year = d.Year
		}
		cmd := domain.Command{Kind: kind, FiscalYear: *year, Province: *province, Source: src, Project: *project,
			Category: domain.Category(*category), Amount: amt, EffectiveDate: d}
		if counterpart != nil && *counterpart != "" {
			if cmd.Counterpart, err = domain.ParseHumanAmount(*counterpart); err != nil {
				return usageErr("--counterpart: %v", err)
			}
		}
		for _, f := range []struct {
			to   *string
			from *string
		}{{&cmd.Decision, decision}, {&cmd.Voucher, voucher}, {&cmd.Beneficiary, beneficiary}, {&cmd.Reason, reason},
			{&cmd.ProjectName, projectName}, {&cmd.ImplementingUnit, implementingUnit}} {
			if f.from != nil {
				*f.to = *f.from
			}
		}
		if err := inputError(cmd, *rf.id); err != nil {
			return usageErr("%s", err)
		}
		key := rf.key(stderr)
		body := map[string]any{
			"fiscal_year": *year, "province": *province, "source": src, "effective_date": d.String(),
		}
		if kind == domain.Adjust {
			body["delta"] = amt.String()
		} else {
			body["amount"] = amt.String()
		}
		for field, v := range map[string]*string{"project": project, "category": category, "decision": decision, "voucher": voucher, "beneficiary": beneficiary, "reason": reason,
			"project_name": projectName, "implementing_unit": implementingUnit} {
			if v != nil && *v != "" {
				body[field] = *v
			}
		}
		if !cmd.Counterpart.IsZero() {
			body["counterpart"] = cmd.Counterpart.String()
		}
		return recordAndPrint(ctx, c, path, key, body, *server.server, *rf.asJSON, stdout, stderr, printRecorded)
	}
}

// recordFlags are the flags every recording command ends with: the
// effective date, the idempotency key and --json.
type recordFlags struct {
	date, id *string
	asJSON   *bool
}

// addRecordFlags adds them to fs; dateOf says what the date is of.
func addRecordFlags(fs *flag.FlagSet, dateOf string) recordFlags {
	return recordFlags{
		date:   fs.String("date", "", "effective date YYYY-MM-DD, "+dateOf+" (default: today in Vietnam)"),
		id:     fs.String("id", "", "idempotency key; reuse the printed key to retry safely (default: a new one)"),
		asJSON: fs.Bool("json", envBool("KCLEDGER_JSON"), "print the server's JSON answer (KCLEDGER_JSON)"),
	}
}

// effectiveDate is --date, or today in Vietnam.
func (f recordFlags) effectiveDate() (domain.Date, error) {
	if *f.date == "" {
		return domain.DateOf(time.Now().In(vietnam)), nil
	}
	d, err := domain.ParseDate(*f.date)
	if err != nil {
		return d, fmt.Errorf("--date: %v", err)
	}
	return d, nil
}

// key is --id, or a new key, printed so that a retry can reuse it.
func (f recordFlags) key(stderr io.Writer) string {
	if *f.id != "" {
		return *f.id
	}
	key := uuid.Must(uuid.NewV7()).String()
	fmt.Fprintf(stderr, "idempotency key: %s\n", key)
	return key
}

// sourceFlag reads a source flag; empty is left for the server to name.
func sourceFlag(flag, v string) (domain.Source, error) {
	if v == "" {
		return "", nil
	}
	src, err := domain.ParseSource(v)
	if err != nil {
		return src, fmt.Errorf("%s: %v", flag, err)
	}
	return src, nil
}

// usageErrorOf prints a usage error of command name and returns exit 2.
func usageErrorOf(name string, stderr io.Writer) func(format string, a ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kcledger %s: %s\n", name, fmt.Sprintf(format, a...))
		return exitUsage
	}
}

// recordAndPrint sends a recording request and prints the server's
// answer: as JSON with asJSON, else decoded and printed by print. It
// returns the exit code.
func recordAndPrint[T any](ctx context.Context, c *client, path, key string, body map[string]any, server string, asJSON bool, stdout, stderr io.Writer, print func(io.Writer, T)) int {
	raw, code := postMovement(ctx, c, path, key, body, stderr, server)
	if code != exitOK {
		return code
	}
	if asJSON {
		printAnswer(stdout, raw)
		return exitOK
	}
	var res T
	if err := json.Unmarshal(raw, &res); err != nil {
		fmt.Fprintf(stderr, "kcledger: unreadable answer: %v\n", err)
		return exitFailure
	}
	print(stdout, res)
	return exitOK
}

// printAnswer prints an API answer for --json, indented for a person to
// read (the API answers compact JSON); as it came if it is not JSON.
func printAnswer(w io.Writer, raw []byte) {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		b.Reset()
		b.Write(raw)
	}
	b.WriteByte('\n')
	_, _ = w.Write(b.Bytes())
}

// postMovement sends a recording request and returns the server's
// answer, or the exit code of its failure, printed.
func postMovement(ctx context.Context, c *client, path, key string, body map[string]any, stderr io.Writer, server string) (json.RawMessage, int) {
	var raw json.RawMessage
	_, err := c.do(ctx, http.MethodPost, path, http.Header{"Idempotency-Key": {key}}, body, &raw)
	if err != nil {
		code := exitFor(err, stderr, server)
		if code == exitFailure {
			// Unreachable, cut, timed out or failed: it may have
			// been recorded. A refusal was not; a success needs no retry.
			fmt.Fprintf(stderr, "kcledger: the outcome is unknown; to retry safely, repeat the command with --id %s\n", key)
		}
		return nil, code
	}
	return raw, exitOK
}

// inputError is what the ledger would refuse as bad input (400) in cmd,
// found before anything is sent, named by its flag. The rules that
// depend on the ledger (date windows under its settlement policy,
// provinces in force, balances) are left to it.
func inputError(cmd domain.Command, key string) error {
	if key == "" {
		key = "-" // the CLI makes one
	}
	cmd.EventID, cmd.Actor, cmd.IdempotencyKey, cmd.Now = "-", "-", key, time.Now()
	if cmd.Kind == domain.Transfer {
		cmd.InEventID = "--"
	}
	err := cmd.Validate(domain.Policy{})
	var de *domain.Error
	if !errors.As(err, &de) || webapi.StatusOf[de.Code] != http.StatusBadRequest {
		return nil
	}
	return fmt.Errorf("%s: %s", flagOfField(de.Field, cmd.Kind), de.Message)
}

// flagOfField is the flag that sets a movement's JSON field.
func flagOfField(field string, kind domain.CommandKind) string {
	switch field {
	case "fiscal_year":
		return "--year"
	case "effective_date":
		return "--date"
	case "amount", "delta":
		if kind == domain.Adjust {
			return "--delta"
		}
		return "--amount"
	case "Idempotency-Key", "idempotency_key":
		return "--id"
	case "transfer_kind":
		return "--kind"
	case "to_fiscal_year":
		return "--to-year"
	case "to_province", "to_source":
		return "--" + strings.ReplaceAll(field, "_", "-")
	}
	return "--" + field
}

func envBool(name string) bool {
	v, _ := strconv.ParseBool(env(name, "false"))
	return v
}

func categoryList() string {
	var s []string
	for _, c := range domain.Categories() {
		s = append(s, string(c))
	}
	return strings.Join(s, ", ")
}

func lineLabel(k domain.LineKey) string {
	name := k.Province
	if p, ok := domain.ProvinceName(k.Province, k.FiscalYear); ok {
		name = k.Province + " " + p.Name
	}
	return fmt.Sprintf("%d · %s · %s", k.FiscalYear, name, k.Source.Label())
}

func printRecorded(w io.Writer, res webapi.RecordResponse) {
	verb := "Recorded"
	if res.Replayed {
		verb = "Already recorded (same idempotency key, same movement); nothing new was appended:"
	}
	printEvent(w, verb, res.Event, res.Seq)
	fmt.Fprintf(w, "Line balance: %s\n", balanceText(res.Line.Balance))
	if res.Project != nil {
		fmt.Fprintf(w, "Project %s: %s\n", res.Project.Project, balanceText(res.Project.Balance))
	}
}

// printEvent prints one recorded event, after verb.
func printEvent(w io.Writer, verb string, e domain.Event, seq uint64) {
	fmt.Fprintf(w, "%s %s %s at seq %d\n", verb, e.Type, e.ID, seq)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  line\t%s\n", lineLabel(e.Line()))
	if e.TransferKind != "" {
		fmt.Fprintf(tw, "  transfer\t%s, from %s to %s\n", e.TransferKind, lineLabel(e.FromLine), lineLabel(e.ToLine))
	}
	if e.Project != "" {
		fmt.Fprintf(tw, "  project\t%s\n", e.Project)
	}
	fmt.Fprintf(tw, "  amount\t%s\n", e.Amount.VND())
	for _, f := range [][2]string{{"decision", e.Decision}, {"voucher", e.Voucher}, {"beneficiary", e.Beneficiary}, {"reason", e.Reason}, {"category", string(e.Category)},
		{"project name", e.ProjectName}, {"implementing unit", e.ImplementingUnit}} {
		if f[1] != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", f[0], f[1])
		}
	}
	if !e.Counterpart.IsZero() {
		fmt.Fprintf(tw, "  counterpart\t%s (vốn đối ứng, not state money)\n", e.Counterpart.VND())
	}
	fmt.Fprintf(tw, "  effective\t%s\n", e.EffectiveDate)
	fmt.Fprintf(tw, "  recorded\t%s by %s\n", humanTime(e.RecordedAt), e.Actor)
	_ = tw.Flush()
}

// balanceText is a balance on one line of text: allocated, net disbursed
// and available, with what moved between lines or lapsed when there is
// any.
func balanceText(b domain.Balance) string {
	s := "allocated " + b.Allocated.VND()
	for _, m := range []struct {
		name string
		a    domain.Amount
	}{{"transferred in", b.TransferredIn}, {"transferred out", b.TransferredOut}} {
		if !m.a.IsZero() {
			s += " · " + m.name + " " + m.a.VND()
		}
	}
	s += " · net disbursed " + b.NetDisbursed().VND()
	if !b.Lapsed.IsZero() {
		s += " · lapsed " + b.Lapsed.VND()
	}
	return s + " · available " + b.Available().VND()
}

func runBalances(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("balances", "show balances per budget line, province and fiscal year", stderr)
	server := addClientFlags(fs)
	year := fs.Int("year", 0, "only this fiscal year")
	province := fs.String("province", "", "only this province code")
	source := fs.String("source", "", "only this source: national (KCQG) or local (KCĐP)")
	projects := fs.Bool("projects", false, "also list each line's projects")
	past := addPastFlags(fs)
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print JSON (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger balances: %v\n", err)
		return exitUsage
	}
	q, err := lineQuery(*year, *province, *source)
	if err != nil {
		fmt.Fprintf(stderr, "kcledger balances: %v\n", err)
		return exitUsage
	}
	if err := past.set(q); err != nil {
		fmt.Fprintf(stderr, "kcledger balances: %v\n", err)
		return exitUsage
	}
	var raw json.RawMessage
	if _, err := c.do(ctx, http.MethodGet, "/v1/balances?"+q.Encode(), nil, nil, &raw); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	if *asJSON {
		printAnswer(stdout, raw)
		return exitOK
	}
	var r projections.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		fmt.Fprintf(stderr, "kcledger: unreadable answer: %v\n", err)
		return exitFailure
	}
	printReport(stdout, r, *projects)
	printCut(stdout, past.at, *past.effectiveUntil)
	return exitOK
}

// lineQuery is ?year=&province=&source= of the flags given.
func lineQuery(year int, province, source string) (url.Values, error) {
	q := url.Values{}
	if year != 0 {
		q.Set("year", strconv.Itoa(year))
	}
	if province != "" {
		q.Set("province", province)
	}
	if source != "" {
		src, err := domain.ParseSource(source)
		if err != nil {
			return nil, fmt.Errorf("--source: %w", err)
		}
		q.Set("source", string(src))
	}
	return q, nil
}

// pastFlags choose a moment in the past (web/api/balances.go on the server).
type pastFlags struct {
	asOf, effectiveUntil *string
	untilSeq             *uint64
	at                   time.Time // --as-of, parsed by set
}

func addPastFlags(fs *flag.FlagSet) *pastFlags {
	return &pastFlags{
		asOf:           fs.String("as-of", "", "as the ledger knew it at this moment, e.g. 2025-06-30T17:00:00+07:00"),
		untilSeq:       fs.Uint64("until-seq", 0, "as it stood after this stream sequence"),
		effectiveUntil: fs.String("effective-until", "", "only movements whose decision or voucher is dated on or before YYYY-MM-DD"),
	}
}

// set adds the flags given to q; a flag that the server would refuse
// is refused here, before anything is sent.
func (p *pastFlags) set(q url.Values) error {
	if *p.asOf != "" {
		t, err := time.Parse(time.RFC3339Nano, *p.asOf)
		if err != nil {
			return fmt.Errorf("--as-of %q: want a time with its zone, such as 2025-06-30T17:00:00+07:00", *p.asOf)
		}
		if t.After(time.Now()) {
			return fmt.Errorf("--as-of %s is in the future", *p.asOf)
		}
		q.Set("as_of", *p.asOf)
		p.at = t
	}
	if *p.untilSeq != 0 {
		q.Set("until_seq", strconv.FormatUint(*p.untilSeq, 10))
	}
	if *p.effectiveUntil != "" {
		if _, err := domain.ParseDate(*p.effectiveUntil); err != nil {
			return fmt.Errorf("--effective-until: %s", domainMessage(err))
		}
		q.Set("effective_until", *p.effectiveUntil)
	}
	return nil
}

// printCut says which past a report shows, when it is not the present.
func printCut(w io.Writer, asOf time.Time, effectiveUntil string) {
	if !asOf.IsZero() {
		fmt.Fprintf(w, "As the ledger knew it at %s.\n", humanTime(asOf))
	}
	if effectiveUntil != "" {
		fmt.Fprintf(w, "Counting only movements dated on or before %s.\n", effectiveUntil)
	}
}

// totalLabels name what a year's total adds up: one province or all
// provinces, one source or all sources, as the year's lines show.
func totalLabels(lines []projections.LineBalance, year int) (province, source string) {
	province, source = "all provinces", "all sources"
	provs, srcs := map[string]bool{}, map[domain.Source]bool{}
	var one domain.LineKey
	for _, l := range lines {
		if l.Line.FiscalYear == year {
			provs[l.Line.Province], srcs[l.Line.Source], one = true, true, l.Line
		}
	}
	if len(provs) == 1 {
		province = one.Province
		if p, ok := domain.ProvinceName(one.Province, year); ok {
			province += " " + p.Name
		}
	}
	if len(srcs) == 1 {
		source = one.Source.Label()
	}
	return province, source
}

func printReport(w io.Writer, r projections.Report, projects bool) {
	if len(r.Lines) == 0 {
		fmt.Fprintln(w, "No movements recorded for this selection.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Transfers and lapses have their columns when there are some.
	t := r.Total.Balance
	moved := !t.TransferredIn.IsZero() || !t.TransferredOut.IsZero() || !t.Lapsed.IsZero()
	if moved {
		fmt.Fprintln(tw, "Year\tProvince\tSource\tAllocated\tDisbursed\tRefunded\tNet disbursed\tTransferred in\tTransferred out\tLapsed\tAvailable\tEvents\t")
	} else {
		fmt.Fprintln(tw, "Year\tProvince\tSource\tAllocated\tDisbursed\tRefunded\tNet disbursed\tAvailable\tEvents\t")
	}
	row := func(year, prov, src string, b domain.Balance, events int) {
		moves := ""
		if moved {
			moves = b.TransferredIn.VND() + "\t" + b.TransferredOut.VND() + "\t" + b.Lapsed.VND() + "\t"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s%s\t%d\t\n", year, prov, src,
			b.Allocated.VND(), b.Disbursed.VND(), b.Refunded.VND(), b.NetDisbursed().VND(), moves, b.Available().VND(), events)
	}
	for _, l := range r.Lines {
		name := l.Line.Province
		if p, ok := domain.ProvinceName(l.Line.Province, l.Line.FiscalYear); ok {
			name += " " + p.Name
		}
		src := l.Line.Source.Label()
		if l.Closed {
			src += " (lapsed)"
		}
		row(strconv.Itoa(l.Line.FiscalYear), name, src, l.Totals.Balance, l.Totals.Events)
		if projects {
			for _, p := range l.Projects {
				row("", "  đề án "+p.Project, "", p.Balance, 0)
			}
		}
	}
	if len(r.Years) > 1 || len(r.Lines) > 1 {
		for _, y := range r.Years {
			prov, src := totalLabels(r.Lines, y.FiscalYear)
			row(strconv.Itoa(y.FiscalYear), prov, src, y.Totals.Balance, y.Totals.Events)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "As of stream sequence %d.\n", r.AsOfSeq)
}

func runProvinces(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("provinces", "list the provinces in force on a date, with their regions", stderr)
	server := addClientFlags(fs)
	date := fs.String("date", "", "YYYY-MM-DD (default: today in Vietnam)")
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print JSON (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger provinces: %v\n", err)
		return exitUsage
	}
	path := "/v1/provinces"
	if *date != "" {
		path += "?date=" + url.QueryEscape(*date)
	}
	var raw json.RawMessage
	if _, err := c.do(ctx, http.MethodGet, path, nil, nil, &raw); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	if *asJSON {
		printAnswer(stdout, raw)
		return exitOK
	}
	var r webapi.ProvincesResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		fmt.Fprintf(stderr, "kcledger: unreadable answer: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%d provinces in force on %s (scheme %s):\n", len(r.Provinces), r.Date, r.Scheme)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, p := range r.Provinces {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Code, p.Name, p.Region)
	}
	_ = tw.Flush()
	return exitOK
}
