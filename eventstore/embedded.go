package eventstore

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerConfig configures the embedded nats-server.
type ServerConfig struct {
	// DataDir holds the JetStream store (in DataDir/jetstream).
	DataDir string
	// Listen is the host:port NATS clients connect to; port -1 picks a
	// free one (tests).
	Listen string
	// SyncInterval 0, the default, fsyncs every write before it is
	// acknowledged, so an acknowledged append survives a power cut. A
	// positive interval fsyncs on that period instead: faster, but
	// acknowledged writes of the last interval can be lost on a power cut
	// (nats-server issue 7564).
	SyncInterval time.Duration
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// TLSCert and TLSKey, when set, make the server speak TLS to its
	// network clients (in-process connections need none).
	TLSCert, TLSKey string
	// Auth, when set, decides who may connect (NATSAuth); nil lets every
	// client in with every permission (tests of the store alone).
	Auth *NATSAuth
}

// StartServer starts an embedded nats-server with JetStream and waits until
// it accepts connections.
func StartServer(c ServerConfig) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("eventstore: nats listen address %q: %w", c.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("eventstore: nats listen port %q: %w", portStr, err)
	}
	if port > 0 {
		// nats-server logs a port it cannot take and then waits; say it
		// at once instead.
		l, err := net.Listen("tcp", c.Listen)
		if err != nil {
			return nil, fmt.Errorf("eventstore: nats listen address %s: %w", c.Listen, err)
		}
		l.Close()
	}
	opts := &server.Options{
		ServerName: "kcledger",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(c.DataDir, "jetstream"),
		SyncAlways: c.SyncInterval == 0,
		NoSigs:     true,
		NoLog:      c.Logger == nil,
		MaxPayload: 1024 * 1024,
	}
	if c.Auth != nil {
		opts.CustomClientAuthentication = c.Auth
	}
	if c.TLSCert != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: c.TLSCert, KeyFile: c.TLSKey})
		if err != nil {
			return nil, fmt.Errorf("eventstore: NATS TLS: %w", err)
		}
		opts.TLSConfig, opts.TLS = tc, true
	}
	if c.SyncInterval > 0 {
		opts.SyncInterval = c.SyncInterval
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("eventstore: nats-server: %w", err)
	}
	if c.Logger != nil {
		s.SetLoggerV2(&serverLog{c.Logger}, false, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("eventstore: nats-server on %s did not become ready", c.Listen)
	}
	if c.Auth != nil {
		if err := c.Auth.start(s); err != nil {
			s.Shutdown()
			return nil, err
		}
	}
	return s, nil
}

// ConnectEmbedded connects to an embedded server in-process, without TCP,
// as the service user when password is set.
func ConnectEmbedded(s *server.Server, name, password string) (*nats.Conn, error) {
	opts := []nats.Option{nats.InProcessServer(s), nats.Name(name), nats.MaxReconnects(-1), nats.CustomInboxPrefix(ServiceInboxPrefix)}
	if password != "" {
		opts = append(opts, nats.UserInfo(ServiceUser, password))
	}
	// An in-process connection needs no TLS, even when network clients
	// must use it: the URL is only a label, so drop its tls:// scheme.
	url := strings.Replace(s.ClientURL(), "tls://", "nats://", 1)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("eventstore: connect to embedded server: %w", err)
	}
	return nc, nil
}

// ConnectEmbeddedAPI connects to an embedded server in-process as
// ServiceAPIUser, for kcledger's NATS service.
func ConnectEmbeddedAPI(s *server.Server, password string) (*nats.Conn, error) {
	url := strings.Replace(s.ClientURL(), "tls://", "nats://", 1)
	nc, err := nats.Connect(url, nats.InProcessServer(s), nats.Name("kcledger-api"), nats.MaxReconnects(-1),
		nats.UserInfo(ServiceAPIUser, password), nats.CustomInboxPrefix(ServiceInboxPrefix))
	if err != nil {
		return nil, fmt.Errorf("eventstore: connect to embedded server as %s: %w", ServiceAPIUser, err)
	}
	return nc, nil
}

// serverLog adapts nats-server's logger to slog.
type serverLog struct{ l *slog.Logger }

func (s *serverLog) Noticef(format string, v ...any) {
	s.l.Info(fmt.Sprintf(format, v...), "component", "nats")
}
func (s *serverLog) Warnf(format string, v ...any) {
	s.l.Warn(fmt.Sprintf(format, v...), "component", "nats")
}
func (s *serverLog) Fatalf(format string, v ...any) {
	s.l.Error(fmt.Sprintf(format, v...), "component", "nats")
}
func (s *serverLog) Errorf(format string, v ...any) {
	s.l.Error(fmt.Sprintf(format, v...), "component", "nats")
}
func (s *serverLog) Debugf(format string, v ...any) {
	s.l.Debug(fmt.Sprintf(format, v...), "component", "nats")
}
func (s *serverLog) Tracef(format string, v ...any) {}
