package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// natsServiceFile is the file, in the data directory, that holds the
// password of the embedded NATS server's service user: the operator's key
// to the stream (SECURITY.md). Only its owner may read it.
const natsServiceFile = "nats-service.password"

// servicePassword reads the service password from the data directory, or
// makes one on first start.
func servicePassword(dataDir string) (string, error) {
	path := filepath.Join(dataDir, natsServiceFile)
	pw, err := readSecretFile(path)
	if err == nil {
		return pw, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("NATS service password: %w", err)
	}
	pw, _ = domain.NewSecret()
	if err := writeSecretFile(path, pw); err != nil {
		return "", fmt.Errorf("NATS service password: %w", err)
	}
	return pw, nil
}

// natsCredentials are the ways to connect to a NATS server that requires
// authentication.
type natsCredentials struct {
	Creds, User, Password, Token, CA string
}

// options returns the connection options: the credentials given, and TLS
// trust when a CA is given.
func (c natsCredentials) options(name string) []nats.Option {
	opts := []nats.Option{nats.Name(name)}
	switch {
	case c.Creds != "":
		opts = append(opts, nats.UserCredentials(c.Creds))
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	}
	if c.CA != "" {
		opts = append(opts, nats.RootCAs(c.CA))
	}
	return opts
}

// A server that hangs (paused, frozen, its packets black-holed) keeps
// its TCP connection open and answers nothing; only unanswered pings
// tell. serve pings its external server every natsPingInterval and, after
// natsMaxPingsOut unanswered, goes to another server of the cluster:
// within 15 seconds, rather than nats.go's default of 2 minutes, twice.
const (
	natsPingInterval = 5 * time.Second
	natsMaxPingsOut  = 2
)

// externalNATSOptions are the options of kcledger's service connection to
// an external NATS server: it reconnects for ever, leaves a server that
// hangs, and its replies go to a prefix readers may not listen to.
func externalNATSOptions(c serveConfig) []nats.Option {
	creds := natsCredentials{Creds: c.NATSCreds, User: c.NATSUser, Password: c.NATSPassword, Token: c.NATSToken, CA: c.NATSCA}
	return append(creds.options("kcledger"), nats.MaxReconnects(-1), nats.CustomInboxPrefix(eventstore.ServiceInboxPrefix),
		nats.PingInterval(natsPingInterval), nats.MaxPingsOutstanding(natsMaxPingsOut))
}

// readerFlags are the flags of the commands that read the stream straight
// from NATS (verify, replay), with a read-only user.
type readerFlags struct {
	url, stream *string
	creds       natsCredentials
}

func addReaderFlags(fs *flag.FlagSet) *readerFlags {
	f := &readerFlags{}
	f.url = fs.String("nats-url", env("KCLEDGER_NATS_URL", ""), "the NATS server holding the stream, e.g. nats://127.0.0.1:4222 (KCLEDGER_NATS_URL)")
	f.stream = fs.String("stream", env("KCLEDGER_STREAM", eventstore.DefaultStream), "the stream (KCLEDGER_STREAM)")
	fs.StringVar(&f.creds.User, "nats-user", env("KCLEDGER_NATS_USER", ""), "NATS user, e.g. one made by \"kcledger nats-user add NAME --role auditor\" (KCLEDGER_NATS_USER)")
	fs.StringVar(&f.creds.Password, "nats-password", env("KCLEDGER_NATS_PASSWORD", ""), "its password; prefer the environment variable (KCLEDGER_NATS_PASSWORD)")
	fs.StringVar(&f.creds.Creds, "nats-creds", env("KCLEDGER_NATS_CREDS", ""), "NATS credentials file, instead of user and password (KCLEDGER_NATS_CREDS)")
	fs.StringVar(&f.creds.CA, "nats-ca", env("KCLEDGER_NATS_CA", ""), "PEM CA that signed the server's certificate (KCLEDGER_NATS_CA)")
	return f
}

// errNoNATSURL is a reader command run without --nats-url: a usage error.
var errNoNATSURL = errors.New("--nats-url is required: the NATS server holding the stream (or KCLEDGER_NATS_URL)")

// check refuses, before anything is sent, flags that cannot work.
func (f *readerFlags) check() error {
	if *f.url == "" {
		return errNoNATSURL
	}
	return nil
}

// connect connects to the NATS server with the reader's credentials.
func (f *readerFlags) connect(name string) (*nats.Conn, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(*f.url, append(f.creds.options(name), nats.MaxReconnects(5))...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", *f.url, err)
	}
	return nc, nil
}

// open connects and opens the stream for reading.
func (f *readerFlags) open(ctx context.Context, name string) (*nats.Conn, *eventstore.Reader, error) {
	nc, err := f.connect(name)
	if err != nil {
		return nil, nil, err
	}
	r, err := eventstore.OpenReader(ctx, nc, *f.stream)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, r, nil
}
