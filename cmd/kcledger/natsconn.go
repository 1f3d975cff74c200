package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

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

// externalNATSOptions are the connection options of kcledger's service
// connection to an external NATS server: the credentials given, TLS when
// asked, and a private reply prefix.
func externalNATSOptions(c serveConfig) []nats.Option {
	opts := []nats.Option{nats.Name("kcledger"), nats.MaxReconnects(-1), nats.CustomInboxPrefix(eventstore.ServiceInboxPrefix)}
	switch {
	case c.NATSCreds != "":
		opts = append(opts, nats.UserCredentials(c.NATSCreds))
	case c.NATSUser != "":
		opts = append(opts, nats.UserInfo(c.NATSUser, c.NATSPassword))
	case c.NATSToken != "":
		opts = append(opts, nats.Token(c.NATSToken))
	}
	if c.NATSCA != "" {
		opts = append(opts, nats.RootCAs(c.NATSCA))
	}
	return opts
}
