package eventstore_test

import (
	"context"
	"encoding/json"
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
			durable, err := js.CreateConsumer(ctx, eventstore.DefaultStream, jetstream.ConsumerConfig{Durable: name + "_durable", AckPolicy: jetstream.AckExplicitPolicy})
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
				{"delete a consumer", "$JS.API.CONSUMER.DELETE." + stream, func(ctx context.Context) error { return js.DeleteConsumer(ctx, stream, name+"_durable") }},
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
			_, err = ss.service.Consumer(context.Background(), eventstore.DefaultStream, name+"_durable")
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

// A reader may create and change only consumers named after it; it can
// neither change, delete nor pause kcledger's own consumers or another
// reader's, whatever name or action it gives.
func TestNATSReaderConsumers(t *testing.T) {
	ss := startSecured(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := eventstore.DefaultStream
	all := jetstream.ConsumerConfig{FilterSubject: "kcledger.events.>", AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: time.Hour}
	named := func(name string, durable bool) jetstream.ConsumerConfig {
		c := all
		c.Name = name
		if durable {
			c.Durable, c.InactiveThreshold = name, 0
			c.AckPolicy = jetstream.AckExplicitPolicy
		}
		return c
	}
	// kcledger's own: an ephemeral as its followers use, and a durable.
	_, err := ss.service.CreateConsumer(ctx, stream, named("Svc7fHq2", false))
	require.NoError(t, err)
	_, err = ss.service.CreateConsumer(ctx, stream, named("kcledger", true))
	require.NoError(t, err)

	kho := ss.reader("kho", domain.RoleSubscriber)
	khoBac := ss.reader("kho-bac", domain.RoleSubscriber)
	ncBac, bacErrs, err := connectAs(t, ss.srv, "kho-bac", khoBac)
	require.NoError(t, err)
	bac, err := jetstream.New(ncBac)
	require.NoError(t, err)
	// kho-bac's own consumers: created, then changed.
	_, err = bac.CreateConsumer(ctx, stream, named("kho-bac", true))
	require.NoError(t, err, "a durable named after the reader")
	_, err = bac.CreateConsumer(ctx, stream, named("kho-bac_treasury", true))
	require.NoError(t, err, "a durable under the reader's prefix")
	mine := named("kho-bac_treasury", true)
	mine.FilterSubject = "kcledger.events.2025.>"
	_, err = bac.UpdateConsumer(ctx, stream, mine)
	require.NoError(t, err, "a reader changes its own consumer")
	_, err = bac.CreateConsumer(ctx, stream, named("Rnd0mOrdered", false))
	require.NoError(t, err, "a new consumer of any other name, as the nats CLI's ordered consumers are")

	ncKho, khoErrs, err := connectAs(t, ss.srv, "kho", kho)
	require.NoError(t, err)
	other, err := jetstream.New(ncKho)
	require.NoError(t, err)

	narrow := func(c jetstream.ConsumerConfig) jetstream.ConsumerConfig {
		c.FilterSubject = "kcledger.events.2099.>"
		return c
	}
	headersOnly := func(c jetstream.ConsumerConfig) jetstream.ConsumerConfig {
		c.HeadersOnly = true
		return c
	}
	for _, tc := range []struct {
		what   string
		target jetstream.ConsumerConfig
		try    func(ctx context.Context, js jetstream.JetStream, c jetstream.ConsumerConfig) error
		change func(jetstream.ConsumerConfig) jetstream.ConsumerConfig
	}{
		{"update kcledger's ephemeral", named("Svc7fHq2", false), updateConsumer, narrow},
		{"create-or-update kcledger's ephemeral", named("Svc7fHq2", false), createOrUpdateConsumer, narrow},
		{"make kcledger's ephemeral headers-only", named("Svc7fHq2", false), createOrUpdateConsumer, headersOnly},
		{"create kcledger's ephemeral again, changed", named("Svc7fHq2", false), createConsumer, narrow},
		{"update kcledger's durable", named("kcledger", true), updateConsumer, narrow},
		{"create-or-update kcledger's durable", named("kcledger", true), createOrUpdateConsumer, headersOnly},
		{"update another reader's durable, by its name", named("kho-bac", true), updateConsumer, narrow},
		{"create-or-update another reader's durable, by its name", named("kho-bac", true), createOrUpdateConsumer, narrow},
		{"a reader whose name is a prefix of another's, on that one's durable", named("kho-bac_treasury", true), createOrUpdateConsumer, narrow},
		{"update another reader's ephemeral", named("Rnd0mOrdered", false), updateConsumer, narrow},
		{"create-or-update another reader's ephemeral", named("Rnd0mOrdered", false), createOrUpdateConsumer, headersOnly},
		{"legacy durable create on another's name", named("kho-bac", true), legacyDurableCreate, narrow},
	} {
		t.Run(tc.what, func(t *testing.T) {
			before, err := ss.service.Consumer(ctx, stream, tc.target.Name)
			require.NoError(t, err)
			err = tc.try(ctx, other, tc.change(tc.target))
			require.Error(t, err, "%s was accepted", tc.what)
			after, err := ss.service.Consumer(ctx, stream, tc.target.Name)
			require.NoError(t, err)
			assert.Equal(t, before.CachedInfo().Config, after.CachedInfo().Config, "the consumer changed")
			assert.Equal(t, before.CachedInfo().Created, after.CachedInfo().Created, "the consumer was replaced")
		})
	}
	// Durables of their own only: another name is refused, even new.
	_, err = other.CreateConsumer(ctx, stream, named("kho-bac_new", true))
	require.Error(t, err, "a durable under another reader's prefix")
	_, err = other.CreateConsumer(ctx, stream, named("shared", true))
	require.Error(t, err, "a durable not named after the reader")

	// Delete, pause, list: refused by permission, on any consumer.
	for _, tc := range []struct {
		what, subject string
		try           func(ctx context.Context) error
	}{
		{"delete kcledger's consumer", "$JS.API.CONSUMER.DELETE." + stream, func(ctx context.Context) error { return other.DeleteConsumer(ctx, stream, "kcledger") }},
		{"delete another reader's consumer", "$JS.API.CONSUMER.DELETE." + stream, func(ctx context.Context) error { return other.DeleteConsumer(ctx, stream, "kho-bac") }},
		{"delete its own consumer", "$JS.API.CONSUMER.DELETE." + stream, func(ctx context.Context) error { return bac.DeleteConsumer(ctx, stream, "kho-bac") }},
		{"pause kcledger's consumer", "$JS.API.CONSUMER.PAUSE." + stream, func(ctx context.Context) error {
			_, err := other.PauseConsumer(ctx, stream, "Svc7fHq2", time.Now().Add(time.Hour))
			return err
		}},
		{"pause another reader's consumer", "$JS.API.CONSUMER.PAUSE." + stream, func(ctx context.Context) error {
			_, err := other.PauseConsumer(ctx, stream, "kho-bac", time.Now().Add(time.Hour))
			return err
		}},
		{"list the consumers (and learn kcledger's names)", "$JS.API.CONSUMER.NAMES." + stream, func(ctx context.Context) error {
			_, err := ncKho.RequestWithContext(ctx, "$JS.API.CONSUMER.NAMES."+stream, nil)
			return err
		}},
		{"list the consumers' configurations", "$JS.API.CONSUMER.LIST." + stream, func(ctx context.Context) error {
			_, err := ncKho.RequestWithContext(ctx, "$JS.API.CONSUMER.LIST."+stream, nil)
			return err
		}},
		{"call the consumer gate directly", "_KCLEDGER_GATE", func(ctx context.Context) error {
			_, err := ncKho.RequestWithContext(ctx, "_KCLEDGER_GATE.CREATE."+stream+".kcledger", []byte(`{"config":{"durable_name":"kcledger"}}`))
			return err
		}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			for _, errs := range []<-chan error{khoErrs, bacErrs} {
				for len(errs) > 0 {
					<-errs
				}
			}
			ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_ = tc.try(ctx)
			select {
			case err := <-khoErrs:
				require.ErrorIs(t, err, nats.ErrPermissionViolation)
				assert.Contains(t, err.Error(), tc.subject)
			case err := <-bacErrs:
				require.ErrorIs(t, err, nats.ErrPermissionViolation)
				assert.Contains(t, err.Error(), tc.subject)
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no permissions violation", tc.what)
			}
		})
	}
	for _, name := range []string{"Svc7fHq2", "kcledger", "kho-bac", "kho-bac_treasury", "Rnd0mOrdered"} {
		c, err := ss.service.Consumer(ctx, stream, name)
		require.NoError(t, err, "consumer %s is still there", name)
		assert.False(t, c.CachedInfo().Paused, "consumer %s is paused", name)
	}
}

func createConsumer(ctx context.Context, js jetstream.JetStream, c jetstream.ConsumerConfig) error {
	_, err := js.CreateConsumer(ctx, eventstore.DefaultStream, c)
	return err
}

func updateConsumer(ctx context.Context, js jetstream.JetStream, c jetstream.ConsumerConfig) error {
	_, err := js.UpdateConsumer(ctx, eventstore.DefaultStream, c)
	return err
}

func createOrUpdateConsumer(ctx context.Context, js jetstream.JetStream, c jetstream.ConsumerConfig) error {
	_, err := js.CreateOrUpdateConsumer(ctx, eventstore.DefaultStream, c)
	return err
}

// legacyDurableCreate uses the JetStream API's older durable subject.
func legacyDurableCreate(ctx context.Context, js jetstream.JetStream, c jetstream.ConsumerConfig) error {
	body, err := json.Marshal(map[string]any{"stream_name": eventstore.DefaultStream, "config": c})
	if err != nil {
		return err
	}
	m, err := js.Conn().RequestWithContext(ctx, "$JS.API.CONSUMER.DURABLE.CREATE."+eventstore.DefaultStream+"."+c.Durable, body)
	if err != nil {
		return err
	}
	var resp struct {
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return err
	}
	if resp.Error != nil {
		return resp.Error
	}
	return nil
}

// A reader chooses where the server's answers go. Aimed at a ledger
// subject, an answer of the JetStream API, or the messages of a pull
// request on the reader's own consumer, would be stored as ledger
// messages if readers shared the stream's account; in their own account
// the answer goes nowhere.
func TestNATSReaderRepliesNeverReachTheStream(t *testing.T) {
	ss := startSecured(t)
	nc, _, err := connectAs(t, ss.srv, "kho-bac", ss.reader("kho-bac", domain.RoleSubscriber))
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateConsumer(ctx, eventstore.DefaultStream, jetstream.ConsumerConfig{Durable: "kho-bac", AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)
	before := ss.lastSeq(t)
	ledger := "kcledger.events.2025.02.national.allocated.v1"
	// A pull request's messages delivered to a ledger subject: event 1,
	// whose expectation (no earlier event on its line) also holds on the
	// empty line 2025/02.
	for _, subject := range []string{
		"$JS.API.STREAM.INFO." + eventstore.DefaultStream,
		"$JS.API.INFO",
		"$JS.API.STREAM.MSG.GET." + eventstore.DefaultStream,
		"$JS.API.CONSUMER.INFO." + eventstore.DefaultStream + ".kho-bac",
		"$JS.API.CONSUMER.MSG.NEXT." + eventstore.DefaultStream + ".kho-bac",
		"$JS.API.CONSUMER.CREATE." + eventstore.DefaultStream + ".kho-bac_x",
		"kcledger.api.v1.balances",
		"$SRV.PING",
	} {
		m := nats.NewMsg(subject)
		m.Reply = ledger
		switch {
		case strings.Contains(subject, "MSG.GET"):
			m.Data = []byte(`{"seq":1}`)
		case strings.Contains(subject, "MSG.NEXT"):
			m.Data = []byte(`{"batch":1,"expires":1000000000}`)
		case strings.Contains(subject, "CONSUMER.CREATE"):
			m.Data = []byte(`{"stream_name":"KCLEDGER","config":{"durable_name":"kho-bac_x","ack_policy":"explicit"}}`)
		}
		require.NoError(t, nc.PublishMsg(m), subject)
	}
	require.NoError(t, nc.Flush())
	// The answers have had their chance: a request sent after them is
	// answered after them.
	_, err = js.Stream(ctx, eventstore.DefaultStream)
	require.NoError(t, err)
	_, err = nc.Request("$JS.API.CONSUMER.MSG.NEXT."+eventstore.DefaultStream+".kho-bac", []byte(`{"batch":1,"no_wait":true}`), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, before, ss.lastSeq(t), "an answer aimed at a ledger subject was stored")
}
