package apitest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/web/api"
)

// NATSClient is a NATS-native system in front of an API's NATS service.
type NATSClient struct {
	NC *nats.Conn
	// Token is sent as the bearer token unless a request sets its own
	// Authorization header.
	Token string
}

// StartNATS starts srv's NATS service on nc, for the test's life, and
// returns a client of it connected to natsURL that sends token.
func StartNATS(t *testing.T, srv *api.Server, nc *nats.Conn, natsURL, token string) *NATSClient {
	t.Helper()
	// Each request is served by the HTTP handler: held to the contract
	// as the HTTP tests' answers are.
	svc, err := srv.StartNATSThrough(nc, func(h http.Handler) http.Handler { return Checked(t, h) })
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Stop() })
	c, err := nats.Connect(natsURL)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return &NATSClient{NC: c, Token: token}
}

// StartNATS starts the API's NATS service and returns a client of it
// with the client's token.
func (a *API) StartNATS(t *testing.T) *NATSClient {
	t.Helper()
	return StartNATS(t, a.Server, a.NC, a.NATSURL, a.Token)
}

// NATSAnswer is a reply read in full.
type NATSAnswer struct {
	Status  int
	ErrCode string // Nats-Service-Error: the stable code
	Body    []byte
	Header  nats.Header
}

// Request sends a request on subject and reads its reply.
func (c *NATSClient) Request(t *testing.T, subject string, header nats.Header, body []byte) NATSAnswer {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	for k, v := range header {
		m.Header[k] = v
	}
	if _, set := header["Authorization"]; !set && c.Token != "" {
		m.Header.Set("Authorization", "Bearer "+c.Token)
	}
	reply, err := c.NC.RequestMsg(m, 10*time.Second)
	require.NoError(t, err)
	a := NATSAnswer{ErrCode: reply.Header.Get(micro.ErrorHeader), Body: reply.Data, Header: reply.Header}
	a.Status, err = strconv.Atoi(reply.Header.Get("Status"))
	require.NoError(t, err, "Status header of %s: %q", subject, reply.Header.Get("Status"))
	if a.ErrCode != "" {
		assert.Equal(t, reply.Header.Get("Status"), reply.Header.Get(micro.ErrorCodeHeader))
	}
	return a
}

// Record sends a recording command (what: "allocations", ...) with an
// Idempotency-Key unless key is empty.
func (c *NATSClient) Record(t *testing.T, what, key string, body []byte) NATSAnswer {
	t.Helper()
	h := nats.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	return c.Request(t, "kcledger.api.v1."+what, h, body)
}

// Problem is the answer's problem details body.
func (a NATSAnswer) Problem(t *testing.T) api.Problem {
	t.Helper()
	var p api.Problem
	require.NoError(t, json.Unmarshal(a.Body, &p), "%s", a.Body)
	return p
}
