// Command kcledger is the ledger of Vietnam's khuyến công funds: `serve`
// runs the ledger (an embedded JetStream server, the HTTP API and the live
// balances), and the other subcommands are its command-line client.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Exit codes, stable for scripts.
const (
	exitOK      = 0
	exitRefused = 1 // the ledger refused the request (bad input, a rule, a conflict)
	exitUsage   = 2 // bad flags or arguments
	exitFailure = 3 // the ledger could not be reached, or failed
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands []command

func init() {
	commands = []command{
		{"serve", "run the ledger: embedded JetStream, HTTP API and web console, live balances", runServe},
		{"allocate", "record an allocation (giao kế hoạch) on a budget line", movementCommand("allocate")},
		{"adjust", "record an adjustment (điều chỉnh) of a line's allocation", movementCommand("adjust")},
		{"disburse", "record a disbursement (giải ngân) to a beneficiary", movementCommand("disburse")},
		{"refund", "record a refund (nộp trả) to the state budget", movementCommand("refund")},
		{"transfer", "record a transfer between budget lines: a succession or a carry-over (chuyển nguồn)", runTransfer},
		{"lapse", "record a lapse (hủy dự toán) of what is left on a line after the settlement period", movementCommand("lapse")},
		{"balances", "show balances per line, province and year", runBalances},
		{"report", "plan against execution by region, province, source, content or project, as the ministry's tables read", runReport},
		{"audit", "list movements with who recorded them, when and why, and the totals after each", runAudit},
		{"provinces", "list the provinces in force on a date", runProvinces},
		{"user", "manage accounts: add, list, disable (admins)", runUser},
		{"nats-user", "create a read-only NATS user for a subscriber or auditor (admins)", runNATSUser},
		{"verify", "check the whole stream, straight from NATS: signatures, hash chains, invariants, gaps", runVerify},
		{"replay", "rebuild the balances from the stream in this process, at any past sequence or moment", runReplay},
		{"subscribe", "follow the events as they are recorded: JSON lines, or each piped to a command; durable and resumable", runSubscribe},
		{"export", "write the movements as CSV (Excel), JSON lines or a Beancount journal, straight from the stream", runExport},
		{"import", "nhập số liệu các năm trước: record a CSV of past movements (as export writes it), each exactly once, checked first", runImport},
		{"succession", "kết chuyển: transfer every 2025 line of a merged province to its successor, with --dry-run (admins)", runSuccession},
		{"carry-over", "chuyển nguồn: carry a line, or every line, of year N over to year N+1, with --dry-run (admins)", runCarryOver},
		{"close-year", "hủy dự toán: lapse what is left on every line of year N after its settlement period, with --dry-run (admins)", runCloseYear},
		{"repudiate", "record that a message the ledger found not sound is repudiated, so that every reader passes it over (admins)", runRepudiate},
		{"rebuild", "rebuild the running ledger's balances from the whole stream (admins)", runRebuild},
		{"backup", "back up the running ledger: stream, accounts, signer keys, checkpoints and secrets, with a signed manifest", runBackup},
		{"restore", "restore a backup into a new data directory, every checksum checked before anything is written", runRestore},
		{"keys", "print the public keys that sign events, to pin for verify", runKeys},
		{"bench", "measure append throughput and latency against a NATS server", runBench},
		{"bench-api", "measure recording over HTTP and the NATS service against the domain ledger, on a running serve", runBenchAPI},
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `kcledger: the ledger of Vietnam's khuyến công (industrial-promotion) funds.

Usage: kcledger <command> [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "kcledger <command> --help" for a command's flags. Every flag also reads
an environment variable, named on its help line (e.g. KCLEDGER_SERVER).

Exit codes: 0 done, 1 refused by the ledger, 2 usage or input error found
before anything was sent, 3 ledger unreachable or failed.
`)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "kcledger: unknown command %q\nRun \"kcledger --help\" for the commands.\n", args[0])
	return exitUsage
}

// newFlags returns a flag set whose --help prints a summary first and
// exits 0, and whose errors exit 2.
func newFlags(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kcledger "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "kcledger %s: %s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	if onNewFlags != nil {
		onNewFlags(fs)
	}
	return fs
}

// onNewFlags, when set (by tests), sees every flag set made.
var onNewFlags func(*flag.FlagSet)

// parseFlags parses args; it returns an exit code and false when the
// command should stop (help was asked for, or the flags were wrong).
// --help prints the whole help; a wrong flag prints its error and one
// line pointing to --help, not the whole help under it.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	hideSecretDefaults(fs)
	help := fs.Usage
	fs.Usage = func() {} // the flag package calls it on errors too
	err := fs.Parse(args)
	fs.Usage = help
	switch {
	case errors.Is(err, flag.ErrHelp):
		help()
		return exitOK, false
	case err != nil:
		fmt.Fprintf(fs.Output(), "Run \"%s --help\" for its flags.\n", fs.Name())
		return exitUsage, false
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments: %q\nRun \"%s --help\" for its flags.\n", fs.Name(), fs.Args(), fs.Name())
		return exitUsage, false
	}
	return 0, true
}

// secretFlag tells the flags whose value is a secret: a token or a
// password (a file that holds one is not a secret itself).
func secretFlag(name string) bool {
	if strings.HasSuffix(name, "-file") {
		return false
	}
	for _, w := range []string{"token", "password", "secret"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// hideSecretDefaults keeps secrets out of the help: the flag package
// prints each flag's default, which here comes from the environment
// (KCLEDGER_NATS_PASSWORD, KCLEDGER_TOKEN, ...). A secret flag shows no
// default at all, and a URL's password is masked.
func hideSecretDefaults(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if secretFlag(f.Name) {
			f.DefValue = ""
			return
		}
		if u, err := url.Parse(f.DefValue); err == nil && u.User != nil {
			u.User = url.User("xxxxx")
			f.DefValue = u.String()
		}
	})
}

// humanTime is how every human output of the CLI shows a moment: in
// Vietnam's zone (UTC+7), labelled. JSON keeps RFC 3339 with its offset.
func humanTime(t time.Time) string {
	return t.In(vietnam).Format("2006-01-02 15:04:05 MST")
}

// env returns the environment variable's value, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// vietnam is the zone in which "today" is judged.
var vietnam = time.FixedZone("ICT", 7*60*60)
