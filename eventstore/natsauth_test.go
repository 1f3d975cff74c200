package eventstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

const servicePassword = "service-secret-for-tests"

// securedServer is an embedded server with kcledger's authentication, the
// event stream holding one event, and the accounts bucket.
type securedServer struct {
	srv     *server.Server
	auth    *eventstore.NATSAuth
	service jetstream.JetStream
	stream  jetstream.Stream
}

func startSecured(t *testing.T) *securedServer {
	t.Helper()
	auth := eventstore.NewNATSAuth(servicePassword, "")
	s, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1", Auth: auth})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown)
	nc, err := eventstore.ConnectEmbedded(s, "service", servicePassword)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	log, err := eventstore.Open(context.Background(), nc, eventstore.StreamConfig{})
	require.NoError(t, err)
	t.Cleanup(log.Close)
	line := domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}
	_, err = log.Append(context.Background(), domain.Proposal{Event: eventstoretest.Event(line, "k1", 1)})
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = eventstore.OpenAccounts(context.Background(), js, "", 1)
	require.NoError(t, err)
	st, err := js.Stream(context.Background(), eventstore.DefaultStream)
	require.NoError(t, err)
	return &securedServer{srv: s, auth: auth, service: js, stream: st}
}

// reader adds a NATS reader account and returns its password.
func (ss *securedServer) reader(name string, role domain.Role) string {
	pw, hash := domain.NewSecret()
	ss.auth.SetAccount(domain.Account{Name: name, Role: role, NATSPasswordHash: hash})
	return pw
}

func (ss *securedServer) lastSeq(t *testing.T) uint64 {
	t.Helper()
	info, err := ss.stream.Info(context.Background())
	require.NoError(t, err)
	return info.State.LastSeq
}

// connectAs connects over TCP and collects the server's asynchronous
// permission errors.
func connectAs(t *testing.T, s *server.Server, user, password string) (*nats.Conn, <-chan error, error) {
	t.Helper()
	errs := make(chan error, 64)
	opts := []nats.Option{nats.MaxReconnects(0), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	})}
	if user != "" {
		opts = append(opts, nats.UserInfo(user, password))
	}
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, errs, err
}

func TestNATSConnectRequiresCredentials(t *testing.T) {
	ss := startSecured(t)
	pw := ss.reader("kho-bac", domain.RoleSubscriber)
	for _, tc := range []struct {
		name, user, password string
	}{
		{"no credentials", "", ""},
		{"wrong password", "kho-bac", "nope"},
		{"unknown user", "nobody", pw},
		{"service user, wrong password", eventstore.ServiceUser, pw},
		{"officer account has no NATS access", "officer", pw},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := connectAs(t, ss.srv, tc.user, tc.password)
			require.ErrorIs(t, err, nats.ErrAuthorization)
		})
	}
	_, _, err := connectAs(t, ss.srv, "kho-bac", pw)
	require.NoError(t, err)
	_, _, err = connectAs(t, ss.srv, eventstore.ServiceUser, servicePassword)
	require.NoError(t, err)
}

// What a subscriber or auditor may and may not do on NATS.
func TestNATSReaderPermissions(t *testing.T) {
	ss := startSecured(t)
	for _, role := range []domain.Role{domain.RoleSubscriber, domain.RoleAuditor} {
		t.Run(string(role), func(t *testing.T) {
			name := "reader-" + string(role)
			nc, asyncErrs, err := connectAs(t, ss.srv, name, ss.reader(name, role))
			require.NoError(t, err)
			js, err := jetstream.New(nc)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			// Allowed: read the stream, through consumers of its own.
			st, err := js.Stream(ctx, eventstore.DefaultStream)
			require.NoError(t, err, "stream info")
			m, err := st.GetMsg(ctx, 1)
			require.NoError(t, err, "get a message")
			assert.Contains(t, string(m.Data), `"idempotency_key":"k1"`)
			oc, err := js.OrderedConsumer(ctx, eventstore.DefaultStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"kcledger.events.2025.>"}})
			require.NoError(t, err, "ordered consumer")
			got, err := oc.Next(jetstream.FetchMaxWait(5 * time.Second))
			require.NoError(t, err, "read through the ordered consumer")
			assert.Equal(t, "kcledger.events.2025.01.national.allocated.v1", got.Subject())
			durable, err := js.CreateConsumer(ctx, eventstore.DefaultStream, jetstream.ConsumerConfig{Durable: name + "-durable", AckPolicy: jetstream.AckExplicitPolicy})
			require.NoError(t, err, "durable consumer")
			dm, err := durable.Next(jetstream.FetchMaxWait(5 * time.Second))
			require.NoError(t, err)
			require.NoError(t, dm.Ack(), "ack")
			sub, err := nc.SubscribeSync("kcledger.events.>")
			require.NoError(t, err, "core subscription to ledger subjects")
			require.NoError(t, sub.Unsubscribe())

			// Refused: anything that writes, deletes or reads secrets. The
			// server answers a forbidden subject with an asynchronous
			// permissions violation naming it; a request then times out.
			before := ss.lastSeq(t)
			stream, kv := eventstore.DefaultStream, eventstore.DefaultAccountsBucket
			for _, tc := range []struct {
				what, subject string
				try           func(ctx context.Context) error
			}{
				{"publish onto a ledger subject", "Publish to \"kcledger.events.2025.01.national.disbursed.v1\"", func(ctx context.Context) error {
					_, err := js.Publish(ctx, "kcledger.events.2025.01.national.disbursed.v1", []byte(`{"forged":true}`))
					return err
				}},
				{"core publish onto a ledger subject", "Publish to \"kcledger.events.2025.01.local.refunded.v1\"", func(context.Context) error {
					if err := nc.Publish("kcledger.events.2025.01.local.refunded.v1", []byte("x")); err != nil {
						return err
					}
					return nc.Flush()
				}},
				{"delete a message", "$JS.API.STREAM.MSG.DELETE." + stream, func(ctx context.Context) error { return st.DeleteMsg(ctx, 1) }},
				{"purge the stream", "$JS.API.STREAM.PURGE." + stream, func(ctx context.Context) error { return st.Purge(ctx) }},
				{"delete the stream", "$JS.API.STREAM.DELETE." + stream, func(ctx context.Context) error { return js.DeleteStream(ctx, stream) }},
				{"edit the stream", "$JS.API.STREAM.UPDATE." + stream, func(ctx context.Context) error {
					_, err := js.UpdateStream(ctx, eventstore.StreamSettings(eventstore.StreamConfig{DuplicateWindow: time.Second}))
					return err
				}},
				{"create a stream", "$JS.API.STREAM.CREATE.MINE", func(ctx context.Context) error {
					_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "MINE", Subjects: []string{"mine.>"}})
					return err
				}},
				{"delete a consumer", "$JS.API.CONSUMER.DELETE." + stream, func(ctx context.Context) error { return js.DeleteConsumer(ctx, stream, name+"-durable") }},
				{"read the accounts bucket", "$JS.API.STREAM.INFO.KV_" + kv, func(ctx context.Context) error { _, err := js.KeyValue(ctx, kv); return err }},
				{"read an account entry", "$JS.API.DIRECT.GET.KV_" + kv, func(ctx context.Context) error {
					_, err := nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET.KV_"+kv+".$KV."+kv+".admin", nil)
					return err
				}},
				{"listen to the commands others send (and their tokens)", "Subscription to \"kcledger.api.>\"", func(context.Context) error {
					if _, err := nc.SubscribeSync("kcledger.api.>"); err != nil {
						return err
					}
					return nc.Flush()
				}},
				{"answer commands in the service's place", "Subscription to \"kcledger.api.v1.disbursements\"", func(context.Context) error {
					if _, err := nc.QueueSubscribeSync("kcledger.api.v1.disbursements", "q"); err != nil {
						return err
					}
					return nc.Flush()
				}},
				{"listen to the service's replies", "Subscription to \"" + eventstore.ServiceInboxPrefix, func(context.Context) error {
					if _, err := nc.SubscribeSync(eventstore.ServiceInboxPrefix + ".>"); err != nil {
						return err
					}
					return nc.Flush()
				}},
			} {
				t.Run(tc.what, func(t *testing.T) {
					for len(asyncErrs) > 0 {
						<-asyncErrs
					}
					ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
					defer cancel()
					_ = tc.try(ctx) // fails by timeout, or not at all: the verdict is the violation
					select {
					case err := <-asyncErrs:
						require.ErrorIs(t, err, nats.ErrPermissionViolation)
						assert.Contains(t, err.Error(), tc.subject)
					case <-time.After(5 * time.Second):
						t.Fatalf("%s as %s: no permissions violation", tc.what, role)
					}
					assert.Equal(t, before, ss.lastSeq(t), "%s as %s changed the stream", tc.what, role)
				})
			}
			_, err = ss.stream.Info(context.Background())
			require.NoError(t, err, "the stream is still there")
			_, err = ss.service.Consumer(context.Background(), eventstore.DefaultStream, name+"-durable")
			require.NoError(t, err, "the consumer is still there")
		})
	}
}

// Disabling a reader closes its connection and refuses it from then on.
func TestNATSDisabledReaderIsCutOff(t *testing.T) {
	ss := startSecured(t)
	pw, hash := domain.NewSecret()
	acc := domain.Account{Name: "dashboard", Role: domain.RoleSubscriber, NATSPasswordHash: hash}
	ss.auth.SetAccount(acc)
	closed := make(chan struct{})
	nc, err := nats.Connect(ss.srv.ClientURL(), nats.UserInfo("dashboard", pw), nats.MaxReconnects(0),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	require.NoError(t, err)
	defer nc.Close()

	acc.Disabled = true
	ss.auth.SetAccount(acc)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the disabled reader's connection stayed open")
	}
	_, _, err = connectAs(t, ss.srv, "dashboard", pw)
	require.ErrorIs(t, err, nats.ErrAuthorization)
}

// The service user, and only it, may still manage the stream.
func TestNATSServiceUserManagesTheStream(t *testing.T) {
	ss := startSecured(t)
	nc, _, err := connectAs(t, ss.srv, eventstore.ServiceUser, servicePassword)
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	err = js.DeleteStream(context.Background(), eventstore.DefaultStream)
	require.NoError(t, err)
	_, err = ss.stream.Info(context.Background())
	require.True(t, errors.Is(err, jetstream.ErrStreamNotFound) || strings.Contains(err.Error(), "not found"), "%v", err)
}

// With a certificate, the embedded server speaks TLS to network clients
// and refuses plain ones; in-process connections need none.
func TestNATSTLS(t *testing.T) {
	cert, key := eventstoretest.SelfSignedCert(t)
	auth := eventstore.NewNATSAuth(servicePassword, "")
	s, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1", Auth: auth, TLSCert: cert, TLSKey: key})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown)

	in, err := eventstore.ConnectEmbedded(s, "service", servicePassword)
	require.NoError(t, err, "in-process")
	in.Close()

	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(eventstore.ServiceUser, servicePassword), nats.RootCAs(cert), nats.MaxReconnects(0))
	require.NoError(t, err, "TLS client trusting the certificate")
	assert.True(t, nc.TLSRequired())
	nc.Close()

	_, err = nats.Connect(s.ClientURL(), nats.UserInfo(eventstore.ServiceUser, servicePassword), nats.MaxReconnects(0))
	require.Error(t, err, "a client that does not trust the certificate")
}
