package eventstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Readers live in a NATS account of their own.
//
// In the account that holds the stream, anything a client publishes on a
// ledger subject is stored, and a client chooses where the server's
// answers go: a reader that aims the reply of a JetStream API request (or
// of a pull request on its own consumer) at kcledger.events.… makes the
// server itself publish there, and permissions on what the reader may
// publish do not apply to the server's answer. Readers therefore connect
// to ReadersAccount, which holds no stream, and reach the ledger only
// through imports of the service account's exports: the answers to their
// requests come back through the import's reply mapping, into their own
// account, where nothing stores them.
//
// Consumers are the other way a reader could change what kcledger reads:
// JetStream's create request also updates an existing consumer, and the
// service's consumers live on the same stream. Consumer creation is
// therefore imported through kcledger's consumer gate (ReaderConsumerGate)
// instead of the JetStream API itself. The gate knows, from the
// import's shared client information, which reader asks, and it lets a
// reader create or update only the consumers named after it (the user's
// name, or the name followed by an underscore and anything, which no other
// account name can produce: account names have no underscore), and only
// create, never update, any other consumer: an ordered consumer of the nats
// CLI with a random name, say. Readers may not delete or pause consumers,
// nor list them.
const (
	// ReadersAccount is the NATS account of subscribers and auditors.
	ReadersAccount = "KCLEDGER_READERS"
	// ServiceGateUser is the connection that runs the consumer gate.
	ServiceGateUser = "kcledger-gate"
	// gatePrefix is where the service account receives readers'
	// consumer-create requests.
	gatePrefix = "_KCLEDGER_GATE"
)

// ReservedUsers are the NATS user names of kcledger's own connections; no
// account may take one.
var ReservedUsers = []string{ServiceUser, ServiceAPIUser, ServiceGateUser}

// IsReservedUser says whether name is one of kcledger's own NATS users.
func IsReservedUser(name string) bool {
	for _, u := range ReservedUsers {
		if u == name {
			return true
		}
	}
	return false
}

// readerImport is one subject readers reach in the service account.
type readerImport struct {
	from, to string
	resp     server.ServiceRespType
}

// readerImports are the service account's JetStream API, acknowledgement,
// kcledger service and discovery subjects readers may use, and where each
// arrives. The consumer-create subjects go to the gate, everything else
// straight to the server.
func readerImports(stream string) []readerImport {
	api := "$JS.API."
	return []readerImport{
		{api + "INFO", api + "INFO", server.Singleton},
		{api + "STREAM.NAMES", api + "STREAM.NAMES", server.Singleton},
		{api + "STREAM.INFO." + stream, api + "STREAM.INFO." + stream, server.Singleton},
		{api + "STREAM.MSG.GET." + stream, api + "STREAM.MSG.GET." + stream, server.Singleton},
		{api + "CONSUMER.INFO." + stream + ".*", api + "CONSUMER.INFO." + stream + ".*", server.Singleton},
		{api + "CONSUMER.MSG.NEXT." + stream + ".*", api + "CONSUMER.MSG.NEXT." + stream + ".*", server.Streamed},
		{"$JS.ACK." + stream + ".>", "$JS.ACK." + stream + ".>", server.Singleton},
		{api + "CONSUMER.CREATE." + stream, gatePrefix + ".CREATE." + stream, server.Singleton},
		{api + "CONSUMER.CREATE." + stream + ".>", gatePrefix + ".CREATE." + stream + ".>", server.Singleton},
		{api + "CONSUMER.DURABLE.CREATE." + stream + ".*", gatePrefix + ".DURABLE." + stream + ".*", server.Singleton},
		{CommandSubjects, CommandSubjects, server.Singleton},
		{"$SRV.>", "$SRV.>", server.Streamed},
	}
}

// setUpReaders makes the readers' account and wires its imports from the
// service account svc.
func setUpReaders(s *server.Server, svc *server.Account, stream string) (*server.Account, error) {
	readers, err := s.RegisterAccount(ReadersAccount)
	if err != nil {
		return nil, fmt.Errorf("eventstore: readers' NATS account: %w", err)
	}
	only := []*server.Account{readers}
	for _, im := range readerImports(stream) {
		if err := svc.AddServiceExportWithResponse(im.to, im.resp, only); err != nil {
			return nil, fmt.Errorf("eventstore: export %s to readers: %w", im.to, err)
		}
		// Share: the gate learns from the import which reader asks.
		if err := readers.AddServiceImportWithClaim(svc, im.from, im.to, &jwt.Import{Share: true}); err != nil {
			return nil, fmt.Errorf("eventstore: import %s for readers: %w", im.from, err)
		}
	}
	if err := svc.AddStreamExport(AllEvents, only); err != nil {
		return nil, fmt.Errorf("eventstore: export %s to readers: %w", AllEvents, err)
	}
	if err := readers.AddStreamImport(svc, AllEvents, ""); err != nil {
		return nil, fmt.Errorf("eventstore: import %s for readers: %w", AllEvents, err)
	}
	return readers, nil
}

// GatePermissions are the NATS permissions of ServiceGateUser: receive
// readers' consumer-create requests, pass the admissible ones on to the
// JetStream API, and answer.
func GatePermissions(stream string) *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: []string{
				"$JS.API.CONSUMER.CREATE." + stream + ".>",
				"$JS.API.CONSUMER.CREATE." + stream,
				"$JS.API.CONSUMER.DURABLE.CREATE." + stream + ".*",
			},
		},
		Subscribe: &server.SubjectPermission{
			Allow: []string{gatePrefix + ".>", ServiceInboxPrefix + ".>"},
		},
		Response: &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
	}
}

// OwnsConsumer says whether the reader user may create and update the
// consumer name: its own name, or its name, an underscore and more.
func OwnsConsumer(user, name string) bool {
	return user != "" && (name == user || strings.HasPrefix(name, user+"_"))
}

// gateRequest is what the gate reads of a JetStream consumer-create
// request; the rest of the body is passed on untouched.
type gateRequest struct {
	Config struct {
		Name          string `json:"name"`
		Durable       string `json:"durable_name"`
		DeliverSubj   string `json:"deliver_subject"`
		DeliverGroup  string `json:"deliver_group"`
		HeadersOnly   bool   `json:"headers_only"`
		FilterSubject string `json:"filter_subject"`
	} `json:"config"`
	Action string `json:"action"`
}

// errGate is a refusal of the gate, answered as a JetStream API error so
// that clients show it as they show the server's own.
type errGate struct{ description string }

func (e errGate) Error() string { return e.description }

// admitConsumer decides a reader's consumer-create request on subject
// (the gate's subject: CREATE.<stream>[.<name>[.<filter>]] or
// DURABLE.<stream>.<name>) and returns the JetStream API subject and body
// to send on.
func admitConsumer(user, stream, subject string, body []byte) (string, []byte, error) {
	if user == "" {
		return "", nil, errGate{"kcledger: the request does not say which reader sends it"}
	}
	rest, ok := strings.CutPrefix(subject, gatePrefix+".")
	if !ok {
		return "", nil, errGate{"kcledger: not a consumer request"}
	}
	var name, target string
	switch {
	case rest == "CREATE."+stream:
		target = "$JS.API.CONSUMER.CREATE." + stream
	case strings.HasPrefix(rest, "CREATE."+stream+"."):
		tail := strings.TrimPrefix(rest, "CREATE."+stream+".")
		name, _, _ = strings.Cut(tail, ".")
		target = "$JS.API.CONSUMER.CREATE." + stream + "." + tail
	case strings.HasPrefix(rest, "DURABLE."+stream+"."):
		name = strings.TrimPrefix(rest, "DURABLE."+stream+".")
		target = "$JS.API.CONSUMER.DURABLE.CREATE." + stream + "." + name
	default:
		return "", nil, errGate{"kcledger: not a consumer request on stream " + stream}
	}
	var req gateRequest
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return "", nil, errGate{"kcledger: the consumer request is not JSON: " + err.Error()}
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return "", nil, errGate{"kcledger: the consumer request is not a JSON object"}
	}
	if req.Config.Durable != "" {
		if name == "" {
			name = req.Config.Durable
		}
		if req.Config.Durable != name {
			return "", nil, errGate{fmt.Sprintf("kcledger: the durable name %q is not the consumer name %q of the subject", req.Config.Durable, name)}
		}
	}
	if req.Config.Name != "" && name != "" && req.Config.Name != name {
		return "", nil, errGate{fmt.Sprintf("kcledger: the consumer name %q is not the name %q of the subject", req.Config.Name, name)}
	}
	if name == "" {
		name = req.Config.Name
	}
	if req.Config.DeliverSubj != "" || req.Config.DeliverGroup != "" {
		return "", nil, errGate{"kcledger: readers use pull consumers: push consumers (deliver_subject) deliver inside kcledger's own NATS account, not to readers"}
	}
	if OwnsConsumer(user, name) {
		return target, body, nil
	}
	if req.Config.Durable != "" || rest != "CREATE."+stream && strings.HasPrefix(rest, "DURABLE.") {
		return "", nil, errGate{fmt.Sprintf("kcledger: reader %s may create durable consumers only named %s or %s_…", user, user, user)}
	}
	// Any other name: create it if it is new, never change an existing
	// one (another reader's, or kcledger's own).
	if req.Action != "" && req.Action != "create" {
		return "", nil, errGate{fmt.Sprintf("kcledger: reader %s may %s only consumers named %s or %s_…", user, req.Action, user, user)}
	}
	raw["action"] = json.RawMessage(`"create"`)
	out, err := json.Marshal(raw)
	if err != nil {
		return "", nil, err
	}
	return target, out, nil
}

// RunConsumerGate serves the readers' consumer-create requests on nc (a
// connection as ServiceGateUser) until the subscription is drained or nc
// closes.
func RunConsumerGate(nc *nats.Conn, stream string) (*nats.Subscription, error) {
	if stream == "" {
		stream = DefaultStream
	}
	sub, err := nc.Subscribe(gatePrefix+".>", func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		user := requestUser(m.Header)
		target, body, err := admitConsumer(user, stream, m.Subject, m.Data)
		if err != nil {
			var ge errGate
			if !errors.As(err, &ge) {
				ge = errGate{err.Error()}
			}
			_ = m.Respond(gateRefusal(ge.description))
			return
		}
		resp, err := nc.RequestMsg(&nats.Msg{Subject: target, Data: body}, 10*time.Second)
		if err != nil {
			_ = m.Respond(gateRefusal("kcledger: the JetStream API did not answer: " + err.Error()))
			return
		}
		_ = m.RespondMsg(&nats.Msg{Data: resp.Data, Header: resp.Header})
	})
	if err != nil {
		return nil, fmt.Errorf("eventstore: consumer gate: %w", err)
	}
	return sub, nil
}

// requestUser is the reader's user name from the server's shared client
// information (Nats-Request-Info), set by the import; a client cannot set
// it, since the server replaces the header.
func requestUser(h nats.Header) string {
	var ci struct {
		Account string `json:"acc"`
		User    string `json:"user"`
	}
	if err := json.Unmarshal([]byte(h.Get("Nats-Request-Info")), &ci); err != nil || ci.Account != ReadersAccount {
		return ""
	}
	return ci.User
}

// gateRefusal is a JetStream API error body (code 403, err_code 10000 +
// nothing the server uses) so that nats.go returns it as an APIError.
func gateRefusal(description string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type":  "io.nats.jetstream.api.v1.consumer_create_response",
		"error": map[string]any{"code": 403, "err_code": 10999, "description": description},
	})
	return b
}
