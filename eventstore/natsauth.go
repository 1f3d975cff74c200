package eventstore

import (
	"sync"

	"github.com/nats-io/nats-server/v2/server"

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

	mu      sync.RWMutex
	readers map[string]natsReader
	srv     *server.Server
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
	return &NATSAuth{serviceHash: domain.HashSecret(servicePassword), stream: stream, readers: map[string]natsReader{}}
}

// Check implements server.Authentication.
func (a *NATSAuth) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false
	}
	o := c.GetOpts()
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
	a.mu.RUnlock()
	if !ok {
		domain.SecretMatches(o.Password, unknownReaderHash) // same cost as a wrong password
		return false
	}
	if !domain.SecretMatches(o.Password, r.passwordHash) {
		return false
	}
	c.RegisterUser(&server.User{Username: o.Username, Permissions: ReaderPermissions(a.stream)})
	return true
}

var unknownReaderHash = domain.HashSecret("no such NATS user")

// SetAccount follows one account of the accounts bucket: an enabled account
// with NATS credentials may connect as a reader; any other may not, and its
// open connections are closed.
func (a *NATSAuth) SetAccount(acc domain.Account) {
	reader := !acc.Disabled && acc.NATSPasswordHash != "" &&
		(acc.Role == domain.RoleSubscriber || acc.Role == domain.RoleAuditor)
	a.mu.Lock()
	if reader {
		a.readers[acc.Name] = natsReader{passwordHash: acc.NATSPasswordHash, role: acc.Role}
	} else {
		delete(a.readers, acc.Name)
	}
	srv := a.srv
	a.mu.Unlock()
	if !reader && srv != nil && acc.Name != ServiceUser {
		disconnectUser(srv, acc.Name)
	}
}

func (a *NATSAuth) attach(s *server.Server) {
	a.mu.Lock()
	a.srv = s
	a.mu.Unlock()
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
// (cmd/kcledger/natsapi.go). Readers may send requests there; only the
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
			Allow: []string{
				api + "INFO",
				api + "STREAM.NAMES",
				api + "STREAM.LIST",
				api + "STREAM.INFO." + stream,
				api + "STREAM.MSG.GET." + stream,
				api + "DIRECT.GET." + stream,
				api + "DIRECT.GET." + stream + ".>",
				api + "CONSUMER.CREATE." + stream,
				api + "CONSUMER.CREATE." + stream + ".>",
				api + "CONSUMER.DURABLE.CREATE." + stream + ".>",
				api + "CONSUMER.INFO." + stream + ".>",
				api + "CONSUMER.NAMES." + stream,
				api + "CONSUMER.LIST." + stream,
				api + "CONSUMER.MSG.NEXT." + stream + ".>",
				"$JS.ACK." + stream + ".>",
				"$JS.FC." + stream + ".>",
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
				"$KV.>",
			},
		},
		Subscribe: &server.SubjectPermission{
			Allow: []string{eventsPrefix + ".>", "_INBOX.>"},
			Deny:  []string{ServiceInboxPrefix + ".>", "$KV.>", "$JS.API.>"},
		},
	}
}
