package eventstore

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/kcledger/kcledger/domain"
)

// NATS users of the embedded server.
//
// kcledger itself connects as ServiceUser, with a password only the
// operator holds (serve keeps it in the data directory). That user may do
// anything, and is the only one that may create, edit or delete the
// stream. Subscribers and auditors connect with the NATS credentials of
// their kcledger account and may only read the event stream: create their
// own consumers on it and read them, read its messages and its info.
// JetStream's deny-delete and deny-purge flags do not stop a client from
// deleting a whole stream; these permissions do.
const (
	ServiceUser = "kcledger"
	// ServiceAPIUser is the connection that serves kcledger's NATS
	// service (CommandSubjects), with the service password. Requesters
	// choose where its replies go, so it may publish only to _INBOX.>:
	// a reply aimed at a ledger subject or a bucket is refused by the
	// server instead of being stored (APIPermissions).
	ServiceAPIUser = "kcledger-api"
	// ServiceInboxPrefix is the reply prefix of the service's own
	// connections. Readers may subscribe to _INBOX.> for their replies;
	// the service's replies (account records among them) go elsewhere.
	ServiceInboxPrefix = "_KCLEDGER_INBOX"
)

// NATSAuth decides who may connect to the embedded server, and with what
// permissions. Its reader accounts follow the accounts bucket (Watch);
// disabling an account also closes its open connections.
type NATSAuth struct {
	serviceHash string
	stream      string
	// gatePassword is the consumer gate's, made anew by each process and
	// never written anywhere.
	gatePassword string

	mu        sync.RWMutex
	readers   map[string]natsReader
	srv       *server.Server
	readerAcc *server.Account
}

type natsReader struct {
	passwordHash string
	role         domain.Role
}

var _ server.Authentication = (*NATSAuth)(nil)

// NewNATSAuth returns the authenticator of an embedded server whose service
// password is servicePassword and whose event stream is stream.
func NewNATSAuth(servicePassword, stream string) *NATSAuth {
	if stream == "" {
		stream = DefaultStream
	}
	gate, _ := domain.NewSecret()
	return &NATSAuth{serviceHash: domain.HashSecret(servicePassword), stream: stream, gatePassword: gate, readers: map[string]natsReader{}}
}

// Check implements server.Authentication.
func (a *NATSAuth) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false
	}
	o := c.GetOpts()
	if o.Username == ServiceGateUser {
		if !domain.SecretMatches(o.Password, domain.HashSecret(a.gatePassword)) {
			return false
		}
		c.RegisterUser(&server.User{Username: ServiceGateUser, Permissions: GatePermissions(a.stream)})
		return true
	}
	if o.Username == ServiceAPIUser {
		if !domain.SecretMatches(o.Password, a.serviceHash) {
			return false
		}
		c.RegisterUser(&server.User{Username: ServiceAPIUser, Permissions: APIPermissions()})
		return true
	}
	if o.Username == ServiceUser {
		if !domain.SecretMatches(o.Password, a.serviceHash) {
			return false
		}
		c.RegisterUser(&server.User{Username: ServiceUser})
		return true
	}
	a.mu.RLock()
	r, ok := a.readers[o.Username]
	readers := a.readerAcc
	a.mu.RUnlock()
	if !ok || readers == nil {
		domain.SecretMatches(o.Password, unknownReaderHash) // same cost as a wrong password
		return false
	}
	if !domain.SecretMatches(o.Password, r.passwordHash) {
		return false
	}
	c.RegisterUser(&server.User{Username: o.Username, Account: readers, Permissions: ReaderPermissions(a.stream)})
	return true
}

var unknownReaderHash = domain.HashSecret("no such NATS user")

// SetAccount follows one account of the accounts bucket: an enabled account
// with NATS credentials may connect as a reader; any other may not, and its
// open connections are closed.
func (a *NATSAuth) SetAccount(acc domain.Account) {
	reader := !acc.Disabled && acc.NATSPasswordHash != "" && !IsReservedUser(acc.Name) &&
		(acc.Role == domain.RoleSubscriber || acc.Role == domain.RoleAuditor)
	a.mu.Lock()
	if reader {
		a.readers[acc.Name] = natsReader{passwordHash: acc.NATSPasswordHash, role: acc.Role}
	} else {
		delete(a.readers, acc.Name)
	}
	srv := a.srv
	a.mu.Unlock()
	if !reader && srv != nil && !IsReservedUser(acc.Name) {
		disconnectUser(srv, acc.Name)
	}
}

// start sets up the readers' account on a running server and the
// consumer gate that serves it; both end with the server.
func (a *NATSAuth) start(s *server.Server) error {
	readers, err := setUpReaders(s, s.GlobalAccount(), a.stream)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.srv, a.readerAcc = s, readers
	a.mu.Unlock()
	url := strings.Replace(s.ClientURL(), "tls://", "nats://", 1)
	nc, err := nats.Connect(url, nats.InProcessServer(s), nats.Name(ServiceGateUser), nats.MaxReconnects(0),
		nats.UserInfo(ServiceGateUser, a.gatePassword), nats.CustomInboxPrefix(ServiceInboxPrefix))
	if err != nil {
		return fmt.Errorf("eventstore: connect the consumer gate: %w", err)
	}
	if _, err := RunConsumerGate(nc, a.stream); err != nil {
		nc.Close()
		return err
	}
	go func() {
		s.WaitForShutdown()
		nc.Close()
	}()
	return nil
}

// disconnectUser closes every connection of a NATS user.
func disconnectUser(s *server.Server, user string) {
	cz, err := s.Connz(&server.ConnzOptions{User: user, Username: true, Limit: 1 << 16})
	if err != nil {
		return
	}
	for _, c := range cz.Conns {
		_ = s.DisconnectClientByID(c.Cid)
	}
}

// CommandSubjects are the subjects of kcledger's NATS service
// (web/api/nats.go). Readers may send requests there; only the
// service user may listen, so nobody else sees the requests' tokens.
const CommandSubjects = "kcledger.api.>"

// APIPermissions are the NATS permissions of ServiceAPIUser: listen for
// service requests and discovery, answer to inboxes, nothing else.
func APIPermissions() *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: []string{"_INBOX.>"},
		},
		Subscribe: &server.SubjectPermission{
			Allow: []string{CommandSubjects, "$SRV.>"},
		},
		// Readers' requests arrive through their account's import, with
		// a reply subject the server made (_R_.…) that leads back into
		// the readers' account. No count: a request the catch-all
		// subscription also receives is counted once more by the server.
		Response: &server.ResponsePermission{MaxMsgs: 0, Expires: time.Minute},
	}
}

// ReaderPermissions are the NATS permissions of subscribers and auditors:
// read the event stream, create and use their own consumers on it, send
// requests to kcledger's NATS service (which judges each by its bearer
// token, as over HTTP), and nothing else. Everything not allowed is
// refused; the denials repeat the dangerous actions explicitly so that a
// later widening of the allow list cannot let them through.
func ReaderPermissions(stream string) *server.Permissions {
	api := "$JS.API."
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			// What readerImports bring into the readers' account; the
			// consumer-create subjects reach the consumer gate.
			Allow: []string{
				api + "INFO",
				api + "STREAM.NAMES",
				api + "STREAM.INFO." + stream,
				api + "STREAM.MSG.GET." + stream,
				api + "CONSUMER.CREATE." + stream,
				api + "CONSUMER.CREATE." + stream + ".>",
				api + "CONSUMER.DURABLE.CREATE." + stream + ".*",
				api + "CONSUMER.INFO." + stream + ".*",
				api + "CONSUMER.MSG.NEXT." + stream + ".*",
				"$JS.ACK." + stream + ".>",
				// kcledger's NATS service (commands and balances, each
				// request judged by its bearer token as over HTTP), and
				// its discovery (nats micro ls / info / stats).
				CommandSubjects,
				"$SRV.PING", "$SRV.PING.>", "$SRV.INFO", "$SRV.INFO.>", "$SRV.STATS", "$SRV.STATS.>",
			},
			Deny: []string{
				eventsPrefix + ".>",
				api + "STREAM.CREATE.>",
				api + "STREAM.UPDATE.>",
				api + "STREAM.DELETE.>",
				api + "STREAM.PURGE.>",
				api + "STREAM.MSG.DELETE.>",
				api + "CONSUMER.DELETE.>",
				api + "CONSUMER.PAUSE.>",
				api + "CONSUMER.UNPIN.>",
				api + "CONSUMER.LIST.>",
				api + "CONSUMER.NAMES.>",
				"$KV.>",
				gatePrefix + ".>",
			},
		},
		Subscribe: &server.SubjectPermission{
			Allow: []string{eventsPrefix + ".>", "_INBOX.>"},
			Deny:  []string{ServiceInboxPrefix + ".>", "$KV.>", "$JS.API.>", gatePrefix + ".>"},
		},
	}
}
