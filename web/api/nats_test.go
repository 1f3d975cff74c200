package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

func TestNATSServiceRecordsAndReadsLikeHTTP(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	c := ta.StartNATS(t)
	alloc := apitest.MustJSON(t, map[string]any{"fiscal_year": 2026, "province": "01", "source": "national", "amount": "1000000000",
		"decision": "12/QĐ-BCT", "effective_date": "2026-05-02"})
	a := c.Record(t, "allocations", "nats-alloc", alloc)
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Body)
	assert.Empty(t, a.ErrCode)

	pay := apitest.MustJSON(t, map[string]any{"fiscal_year": 2026, "province": "01", "source": "national", "amount": "250000000",
		"voucher": "UNC-1", "beneficiary": "HTX Gốm Bát Tràng", "effective_date": "2026-05-20"})
	a = c.Record(t, "disbursements", "nats-pay", pay)
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Body)
	var rec api.RecordResponse
	require.NoError(t, json.Unmarshal(a.Body, &rec))
	assert.Equal(t, "admin", rec.Event.Actor, "the actor is the token's account")
	assert.Equal(t, "750000000", rec.Line.Balance.Available().String())

	// The same key and command: the original event, nothing appended.
	before := ta.StreamLastSeq(t)
	a = c.Record(t, "disbursements", "nats-pay", pay)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	var again api.RecordResponse
	require.NoError(t, json.Unmarshal(a.Body, &again))
	assert.True(t, again.Replayed)
	assert.Equal(t, rec.Event.ID, again.Event.ID)
	assert.Equal(t, before, ta.StreamLastSeq(t))

	// And the HTTP API sees it: one ledger, two doors.
	r := ta.Post(t, apitest.PathDisbursements, "nats-pay", pay)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	a = c.Request(t, "kcledger.api.v1.balances", nil, []byte(`{"year": 2026, "province": "01"}`))
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	var rep projections.Report
	require.NoError(t, json.Unmarshal(a.Body, &rep), "%s", a.Body)
	require.Len(t, rep.Lines, 1, "%s", a.Body)
	apitest.RequireAmount(t, "250000000", rep.Lines[0].Totals.Balance.NetDisbursed())
	a = c.Request(t, "kcledger.api.v1.balances", nil, nil)
	require.Equal(t, http.StatusOK, a.Status, "an empty query is every line: %s", a.Body)
}

// Bad requests get an error reply with the stable code, and nothing is
// appended.
func TestNATSServiceRefusals(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	c := ta.StartNATS(t)
	alloc := apitest.MustJSON(t, map[string]any{"fiscal_year": 2026, "province": "01", "source": "national", "amount": "1000",
		"decision": "12/QĐ-BCT", "effective_date": "2026-05-02"})
	require.Equal(t, http.StatusCreated, c.Record(t, "allocations", "a1", alloc).Status)
	pay := func(amount any) []byte {
		return apitest.MustJSON(t, map[string]any{"fiscal_year": 2026, "province": "01", "source": "national", "amount": amount,
			"voucher": "UNC-1", "beneficiary": "HTX", "effective_date": "2026-05-20"})
	}
	for _, tt := range []struct {
		name    string
		subject string
		header  nats.Header
		body    []byte
		status  int
		code    domain.Code
		field   string
	}{
		{"malformed JSON", "disbursements", nats.Header{"Idempotency-Key": {"k1"}}, []byte(`{"fiscal_year": 2026,`), 400, domain.CodeMalformedRequest, ""},
		{"unknown command", "paychecks", nats.Header{"Idempotency-Key": {"k2"}}, pay("10"), 404, domain.CodeNotFound, ""},
		{"missing idempotency key", "disbursements", nil, pay("10"), 400, domain.CodeInvalidIdempotencyKey, "Idempotency-Key"},
		{"no token", "disbursements", nats.Header{"Idempotency-Key": {"k3"}, "Authorization": {""}}, pay("10"), 401, domain.CodeUnauthenticated, "Authorization"},
		{"money as a JSON number", "disbursements", nats.Header{"Idempotency-Key": {"k4"}}, pay(10), 400, domain.CodeInvalidAmount, "amount"},
		{"unknown field", "disbursements", nats.Header{"Idempotency-Key": {"k5"}}, []byte(`{"fiscal_year": 2026, "colour": "red"}`), 400, domain.CodeUnknownField, "colour"},
		{"overspend", "disbursements", nats.Header{"Idempotency-Key": {"k6"}}, pay("1001"), 422, domain.CodeInsufficientFunds, "amount"},
		{"key reused for another movement", "allocations", nats.Header{"Idempotency-Key": {"a1"}}, apitest.MustJSON(t, map[string]any{"fiscal_year": 2026, "province": "01", "source": "national", "amount": "2000",
			"decision": "12/QĐ-BCT", "effective_date": "2026-05-02"}), 409, domain.CodeIdempotencyKeyReused, "Idempotency-Key"},
		{"balance query not an object", "balances", nil, []byte(`[2026]`), 400, domain.CodeMalformedRequest, ""},
		{"balance query with a fraction", "balances", nil, []byte(`{"year": 2026.5}`), 400, domain.CodeInvalidField, "year"},
		{"balance query out of range", "balances", nil, []byte(`{"year": 1999}`), 400, domain.CodeInvalidYear, "year"},
		{"balance query with an unknown filter", "balances", nil, []byte(`{"colour": "red"}`), 400, domain.CodeUnknownField, "colour"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := ta.StreamLastSeq(t)
			a := c.Request(t, "kcledger.api.v1."+tt.subject, tt.header, tt.body)
			assert.Equal(t, tt.status, a.Status, "%s", a.Body)
			assert.Equal(t, string(tt.code), a.ErrCode)
			p := a.Problem(t)
			assert.Equal(t, tt.code, p.Code, "%s", p.Detail)
			assert.Equal(t, tt.field, p.Field, "%s", p.Detail)
			assert.NotEmpty(t, p.Detail)
			assert.Equal(t, before, ta.StreamLastSeq(t), "nothing appended")
		})
	}
}

// Over NATS and over HTTP, the same bodies get the same verdicts.
func TestNATSServiceJudgesAsHTTPDoes(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	c := ta.StartNATS(t)
	bodies := []string{
		`{}`,
		`{"fiscal_year": 2026, "province": "01", "source": "national", "amount": "5 tỷ", "decision": "1/QĐ", "effective_date": "2026-05-02"}`,
		`{"fiscal_year": 2026, "province": "01", "source": "national", "amount": "1.5", "decision": "1/QĐ", "effective_date": "2026-05-02"}`,
		`{"fiscal_year": 2026, "province": "99", "source": "national", "amount": "5", "decision": "1/QĐ", "effective_date": "2026-05-02"}`,
		`{"fiscal_year": 2026, "province": "01", "source": "regional", "amount": "5", "decision": "1/QĐ", "effective_date": "2026-05-02"}`,
		`{"fiscal_year": 2026, "province": "01", "source": "national", "amount": "5", "effective_date": "2026-05-02"}`,
		`{"fiscal_year": 2026, "province": "01", "source": "national", "amount": "5", "decision": "1/QĐ", "effective_date": "2031-05-02"}`,
		"{\"fiscal_year\": 2026, \"province\": \"01\", \"source\": \"national\", \"amount\": \"5\", \"decision\": \"\xff\", \"effective_date\": \"2026-05-02\"}",
	}
	for i, body := range bodies {
		key := uuid.NewString()
		viaHTTP := ta.Post(t, "/v1/allocations", key, []byte(body))
		require.NotEqual(t, http.StatusCreated, viaHTTP.Status, "body %d was meant to be refused: %s", i, viaHTTP.Body)
		var hp api.Problem
		require.NoError(t, json.Unmarshal(viaHTTP.Body, &hp))
		viaNATS := c.Record(t, "allocations", key, []byte(body))
		np := viaNATS.Problem(t)
		assert.Equal(t, viaHTTP.Status, viaNATS.Status, "body %d", i)
		assert.Equal(t, hp.Code, np.Code, "body %d: %s | %s", i, hp.Detail, np.Detail)
		assert.Equal(t, hp.Field, np.Field, "body %d", i)
		assert.Equal(t, hp.Detail, np.Detail, "body %d", i)
	}
}

// The service is discoverable the micro way.
func TestNATSServiceIsDiscoverable(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	c := ta.StartNATS(t)
	reply, err := c.NC.Request("$SRV.INFO.kcledger", nil, 5*time.Second)
	require.NoError(t, err)
	var info micro.Info
	require.NoError(t, json.Unmarshal(reply.Data, &info))
	assert.Equal(t, "kcledger", info.Name)
	var subjects []string
	for _, e := range info.Endpoints {
		subjects = append(subjects, e.Subject)
	}
	assert.Subset(t, subjects, []string{"kcledger.api.v1.allocations", "kcledger.api.v1.adjustments",
		"kcledger.api.v1.disbursements", "kcledger.api.v1.refunds", "kcledger.api.v1.balances"})
}

// A requester chooses the reply subject. One aimed at a ledger subject is
// dropped, and nothing is stored.
func TestNATSServiceDropsRepliesAimedAtTheLedger(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	c := ta.StartNATS(t)
	before := ta.StreamLastSeq(t)
	for _, subject := range []string{"kcledger.api.v1.nope", "kcledger.api.v1.balances", "kcledger.api.v1.disbursements"} {
		m := nats.NewMsg(subject)
		m.Reply = "kcledger.events.2026.01.national.allocated.v1"
		m.Header.Set("Authorization", "Bearer "+c.Token)
		m.Data = []byte(`{}`)
		require.NoError(t, c.NC.PublishMsg(m))
	}
	require.NoError(t, c.NC.Flush())
	// A request that is answered, after those: they were handled by then.
	a := c.Request(t, "kcledger.api.v1.balances", nil, nil)
	require.Equal(t, http.StatusOK, a.Status)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, before, ta.StreamLastSeq(t), "no reply was stored in the stream")
}
