package api_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// successionBody moves 100 000 000 from 2025/02/national to its
// successor's line, 2025/08/national; carryOverBody moves 100 000 000
// from 2025/01/national to 2026/01/national. Both are accepted after
// apitest.BudgetYearSetup.
func successionBody() map[string]any {
	return map[string]any{"transfer_kind": "succession", "fiscal_year": 2025, "province": "02", "source": "national",
		"to_fiscal_year": 2025, "to_province": "08", "amount": "100000000", "decision": "1234/QĐ-UBND",
		"reason": "Sáp nhập tỉnh", "effective_date": "2025-07-01"}
}

func carryOverBody() map[string]any {
	return map[string]any{"transfer_kind": "carry_over", "fiscal_year": 2025, "province": "01", "source": "national",
		"to_fiscal_year": 2026, "to_province": "01", "to_source": "national", "amount": "100000000",
		"decision": "55/QĐ-UBND", "effective_date": "2026-01-15"}
}

func lapseBody() map[string]any {
	return map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "amount": "1000000000",
		"decision": "56/QĐ-UBND", "effective_date": "2026-02-01"}
}

// The bad input, for single transfers and lapses: each refused
// with a 4xx naming the field and the code, nothing appended.
func TestTransferAndLapseBadInput(t *testing.T) {
	t.Parallel()
	ta := apitest.Start(t, apitest.Options{})
	apitest.BudgetYearSetup(t, ta.Client)
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	localLine := func(kv ...any) map[string]any {
		b := map[string]any{"fiscal_year": 2025, "province": "01", "source": "local"}
		for i := 0; i < len(kv); i += 2 {
			b[kv[i].(string)] = kv[i+1]
		}
		return b
	}
	const noKey = "\x00none"
	tests := []struct {
		name   string
		path   string
		body   func() map[string]any
		set    map[string]any
		del    []string
		key    string
		status int
		code   domain.Code
		field  string
	}{
		// Successions.
		{name: "succession to a province that is not the successor", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"to_province": "01"}, status: 422, code: domain.CodeInvalidTransfer, field: "to_province"},
		{name: "succession before 1 July 2025", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"effective_date": "2025-06-30"}, status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "succession from a province that was not merged", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"province": "01", "to_province": "01"}, status: 422, code: domain.CodeInvalidTransfer, field: "province"},
		{name: "succession to another year", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"to_fiscal_year": 2026}, status: 422, code: domain.CodeInvalidTransfer, field: "to_fiscal_year"},
		// Carry-overs.
		{name: "carry-over to a year other than N+1", path: apitest.PathTransfers, body: carryOverBody,
			set: map[string]any{"to_fiscal_year": 2027}, status: 422, code: domain.CodeInvalidTransfer, field: "to_fiscal_year"},
		{name: "carry-over to the same year", path: apitest.PathTransfers, body: carryOverBody,
			set: map[string]any{"to_fiscal_year": 2025}, status: 422, code: domain.CodeInvalidTransfer, field: "to_fiscal_year"},
		{name: "carry-over before the settlement period", path: apitest.PathTransfers, body: carryOverBody,
			set: map[string]any{"effective_date": "2025-12-31"}, status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "carry-over after the settlement period", path: apitest.PathTransfers, body: carryOverBody,
			set: map[string]any{"effective_date": "2026-02-01"}, status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "carry-over to another province", path: apitest.PathTransfers, body: carryOverBody,
			set: map[string]any{"to_province": "79"}, status: 422, code: domain.CodeInvalidTransfer, field: "to_province"},
		// More than is available.
		{name: "transfer of more than the line has", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"amount": "900000001"}, status: 422, code: domain.CodeInsufficientFunds, field: "amount"},
		{name: "transfer of more than the project has", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"amount": "300000001", "project": "DA-1"}, status: 422, code: domain.CodeInsufficientFunds, field: "amount"},
		{name: "transfer of a project the line does not fund", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"project": "DA-9"}, status: 422, code: domain.CodeInsufficientFunds, field: "amount"},
		{name: "lapse of more than the line has", path: apitest.PathLapses, body: lapseBody,
			set: map[string]any{"amount": "1000000001"}, status: 422, code: domain.CodeInsufficientFunds, field: "amount"},
		{name: "lapse of more than the project has", path: apitest.PathLapses, body: lapseBody,
			set: map[string]any{"province": "02", "project": "DA-1", "amount": "300000001"}, status: 422, code: domain.CodeInsufficientFunds, field: "amount"},
		{name: "lapse of less than the line has", path: apitest.PathLapses, body: lapseBody,
			set: map[string]any{"amount": "999999999"}, status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		// Sources.
		{name: "transfer between different sources", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"to_source": "local"}, status: 422, code: domain.CodeInvalidTransfer, field: "to_source"},
		{name: "carry-over between different sources", path: apitest.PathTransfers, body: carryOverBody,
			set: map[string]any{"to_source": "local"}, status: 422, code: domain.CodeInvalidTransfer, field: "to_source"},
		// Lapse windows.
		{name: "lapse before the settlement period ends", path: apitest.PathLapses, body: lapseBody,
			set: map[string]any{"effective_date": "2026-01-31"}, status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "lapse within the fiscal year", path: apitest.PathLapses, body: lapseBody,
			set: map[string]any{"effective_date": "2025-12-31"}, status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		// A lapsed line takes refunds only.
		{name: "allocation on a lapsed line", path: apitest.PathAllocations,
			body: func() map[string]any {
				return localLine("amount", "1000", "decision", "15/QĐ-UBND", "effective_date", "2025-12-01")
			}, status: 422, code: domain.CodeLineLapsed, field: "province"},
		{name: "adjustment on a lapsed line", path: apitest.PathAdjustments,
			body: func() map[string]any {
				return localLine("delta", "1000", "decision", "15/QĐ-UBND", "reason", "bổ sung", "effective_date", "2025-12-01")
			}, status: 422, code: domain.CodeLineLapsed, field: "province"},
		{name: "disbursement on a lapsed line", path: apitest.PathDisbursements,
			body: func() map[string]any {
				return localLine("amount", "1000", "voucher", "UNC-3", "beneficiary", "HTX", "effective_date", "2026-01-10")
			}, status: 422, code: domain.CodeLineLapsed, field: "province"},
		{name: "transfer out of a lapsed line", path: apitest.PathTransfers, body: carryOverBody,
			set: map[string]any{"source": "local", "to_source": "local", "amount": "1000"}, status: 422, code: domain.CodeLineLapsed, field: "province"},
		{name: "lapse of a lapsed line", path: apitest.PathLapses, body: lapseBody,
			set: map[string]any{"source": "local", "amount": "0"}, status: 422, code: domain.CodeLineLapsed, field: "province"},
		{name: "refund larger than net disbursed on a lapsed line", path: apitest.PathRefunds,
			body: func() map[string]any {
				return localLine("amount", "40000001", "voucher", "NT-1", "reason", "Thu hồi theo kết luận kiểm toán", "effective_date", "2026-05-01")
			}, status: 422, code: domain.CodeRefundExceedsDisbursed, field: "amount"},
		// The body, as the movements' routes judge it.
		{name: "transfer with a voucher", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"voucher": "UNC-9"}, status: 400, code: domain.CodeUnknownField, field: "voucher"},
		{name: "transfer with a delta", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"delta": "1000"}, status: 400, code: domain.CodeUnknownField, field: "delta"},
		{name: "transfer with an unknown field", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"to_line": "2025/08"}, status: 400, code: domain.CodeUnknownField, field: "to_line"},
		{name: "transfer with a field in capitals", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"TO_PROVINCE": "08"}, status: 400, code: domain.CodeUnknownField, field: "TO_PROVINCE"},
		{name: "transfer without a kind", path: apitest.PathTransfers, body: successionBody,
			del: []string{"transfer_kind"}, status: 400, code: domain.CodeMissingField, field: "transfer_kind"},
		{name: "transfer of an unknown kind", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"transfer_kind": "gift"}, status: 400, code: domain.CodeInvalidField, field: "transfer_kind"},
		{name: "transfer without to_fiscal_year", path: apitest.PathTransfers, body: successionBody,
			del: []string{"to_fiscal_year"}, status: 400, code: domain.CodeMissingField, field: "to_fiscal_year"},
		{name: "transfer with to_fiscal_year as a string", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"to_fiscal_year": "2025"}, status: 400, code: domain.CodeInvalidField, field: "to_fiscal_year"},
		{name: "transfer without to_province", path: apitest.PathTransfers, body: successionBody,
			del: []string{"to_province"}, status: 400, code: domain.CodeMissingField, field: "to_province"},
		{name: "transfer to an unknown province", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"to_province": "99"}, status: 422, code: domain.CodeInvalidTransfer, field: "to_province"},
		{name: "transfer without a decision", path: apitest.PathTransfers, body: successionBody,
			del: []string{"decision"}, status: 400, code: domain.CodeMissingField, field: "decision"},
		{name: "transfer of nothing", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"amount": "0"}, status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "transfer with the amount as a JSON number", path: apitest.PathTransfers, body: successionBody,
			set: map[string]any{"amount": raw("100000000")}, status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "transfer without an Idempotency-Key", path: apitest.PathTransfers, body: successionBody,
			key: noKey, status: 400, code: domain.CodeInvalidIdempotencyKey, field: "Idempotency-Key"},
		{name: "lapse with a voucher", path: apitest.PathLapses, body: lapseBody,
			set: map[string]any{"voucher": "UNC-9"}, status: 400, code: domain.CodeInvalidField, field: "voucher"},
		{name: "lapse without a decision", path: apitest.PathLapses, body: lapseBody,
			del: []string{"decision"}, status: 400, code: domain.CodeMissingField, field: "decision"},
		{name: "lapse of a negative amount", path: apitest.PathLapses, body: lapseBody,
			set: map[string]any{"amount": "-1"}, status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "lapse with a transfer's field", path: apitest.PathLapses, body: lapseBody,
			set: map[string]any{"to_province": "08"}, status: 400, code: domain.CodeUnknownField, field: "to_province"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body()
			maps.Copy(body, tt.set)
			for _, k := range tt.del {
				delete(body, k)
			}
			header := http.Header{"Content-Type": {"application/json"}}
			if tt.key != noKey {
				header.Set("Idempotency-Key", uuid.NewString())
			}
			before := ta.StreamLastSeq(t)
			r := ta.Do(t, http.MethodPost, tt.path, header, apitest.MustJSON(t, body))
			apitest.RequireProblem(t, r, tt.status, tt.code, tt.field)
			require.Equal(t, before, ta.StreamLastSeq(t), "the refused request appended to the stream")
		})
	}

	// Each valid body is accepted, so every case above was refused for
	// the one thing it changed; and a lapsed line still takes a refund of
	// what it paid.
	for _, c := range []struct {
		path string
		body map[string]any
	}{
		{apitest.PathTransfers, successionBody()},
		{apitest.PathTransfers, carryOverBody()},
		{apitest.PathLapses, map[string]any{"fiscal_year": 2025, "province": "02", "source": "national", "project": "DA-1",
			"amount": "300000000", "decision": "57/QĐ-UBND", "effective_date": "2026-02-01"}},
		{apitest.PathRefunds, localLine("amount", "40000000", "voucher", "NT-1", "reason", "Thu hồi theo kết luận kiểm toán", "effective_date", "2026-05-01")},
	} {
		r := ta.Post(t, c.path, uuid.NewString(), apitest.MustJSON(t, c.body))
		require.Equal(t, http.StatusCreated, r.Status, "%s: %s", c.path, r.Body)
	}
}

// A transfer answers with both events and both lines' balances; a retry
// with the same key returns the same pair and appends nothing.
func TestTransferAndRetry(t *testing.T) {
	t.Parallel()
	ta := apitest.Start(t, apitest.Options{})
	apitest.BudgetYearSetup(t, ta.Client)

	body := successionBody()
	body["project"] = "DA-1"
	before := ta.StreamLastSeq(t)
	r := ta.Post(t, apitest.PathTransfers, "succession-02", apitest.MustJSON(t, body))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var res api.TransferResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	assert.False(t, res.Replayed)

	out, in := res.Out.Event, res.In.Event
	assert.Equal(t, domain.TypeTransferredOut, out.Type)
	assert.Equal(t, domain.TypeTransferredIn, in.Type)
	assert.Equal(t, domain.TransferSuccession, out.TransferKind)
	from := domain.LineKey{FiscalYear: 2025, Province: "02", Source: domain.SourceNational}
	to := domain.LineKey{FiscalYear: 2025, Province: "08", Source: domain.SourceNational}
	for _, e := range []domain.Event{out, in} {
		assert.Equal(t, from, e.FromLine)
		assert.Equal(t, to, e.ToLine)
		assert.Equal(t, out.ID, e.TransferID, "both sides name the transferred-out event")
		assert.Equal(t, "DA-1", e.Project, "a project's transfer keeps its code on both sides")
		assert.Equal(t, "admin", e.Actor)
		apitest.RequireAmount(t, "100000000", e.Amount)
	}
	assert.NotEqual(t, out.ID, in.ID)
	assert.Equal(t, from, out.Line())
	assert.Equal(t, to, in.Line())
	assert.Equal(t, res.Out.Seq+1, res.In.Seq, "the two sides are consecutive")
	assert.Greater(t, res.Out.Seq, before)
	assert.Equal(t, res.In.Seq, ta.StreamLastSeq(t))

	assert.Equal(t, from, res.Out.Line.Line)
	apitest.RequireAmount(t, "100000000", res.Out.Line.Balance.TransferredOut)
	apitest.RequireAmount(t, "800000000", res.Out.Line.Balance.Available())
	require.NotNil(t, res.Out.Project)
	apitest.RequireAmount(t, "200000000", res.Out.Project.Balance.Available())
	assert.Equal(t, to, res.In.Line.Line)
	apitest.RequireAmount(t, "100000000", res.In.Line.Balance.TransferredIn)
	apitest.RequireAmount(t, "100000000", res.In.Line.Balance.Available())
	require.NotNil(t, res.In.Project)
	apitest.RequireAmount(t, "100000000", res.In.Project.Balance.Available())
	assert.Equal(t, 1, res.In.Line.Events)

	// The retry: the original pair, 200, nothing appended.
	last := ta.StreamLastSeq(t)
	r = ta.Post(t, apitest.PathTransfers, "succession-02", apitest.MustJSON(t, body))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var again api.TransferResponse
	require.NoError(t, json.Unmarshal(r.Body, &again))
	assert.True(t, again.Replayed)
	assert.Equal(t, out.ID, again.Out.Event.ID)
	assert.Equal(t, in.ID, again.In.Event.ID)
	assert.Equal(t, out.Hash, again.Out.Event.Hash)
	assert.Equal(t, in.Hash, again.In.Event.Hash)
	assert.Equal(t, res.Out.Seq, again.Out.Seq)
	assert.Equal(t, res.In.Seq, again.In.Seq)
	assert.Equal(t, last, ta.StreamLastSeq(t))

	// The same key for another transfer is refused.
	body["amount"] = "1000"
	r = ta.Post(t, apitest.PathTransfers, "succession-02", apitest.MustJSON(t, body))
	apitest.RequireProblem(t, r, http.StatusConflict, domain.CodeIdempotencyKeyReused, "Idempotency-Key")
	assert.Equal(t, last, ta.StreamLastSeq(t))

	// The balances show both sides.
	r = ta.Get(t, "/v1/balances?year=2025&province=08")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var rep projections.Report
	require.NoError(t, json.Unmarshal(r.Body, &rep), "%s", r.Body)
	require.Len(t, rep.Lines, 1, "%s", r.Body)
	apitest.RequireAmount(t, "100000000", rep.Lines[0].Totals.Balance.TransferredIn)
}

// A lapse of the whole line takes what is available and closes it: a
// disbursement is refused, a refund of what it paid is not.
func TestLapseClosesTheLine(t *testing.T) {
	t.Parallel()
	ta := apitest.Start(t, apitest.Options{})
	apitest.BudgetYearSetup(t, ta.Client)
	r := ta.Post(t, apitest.PathLapses, "lapse-01", apitest.MustJSON(t, lapseBody()))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var res api.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	assert.Equal(t, domain.TypeLapsed, res.Event.Type)
	apitest.RequireAmount(t, "1000000000", res.Line.Balance.Lapsed)
	apitest.RequireAmount(t, "0", res.Line.Balance.Available())

	r = ta.Post(t, apitest.PathLapses, "lapse-01", apitest.MustJSON(t, lapseBody()))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var again api.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &again))
	assert.True(t, again.Replayed)
	assert.Equal(t, res.Event.ID, again.Event.ID)

	disb := map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "amount": "1000",
		"voucher": "UNC-9", "beneficiary": "HTX", "effective_date": "2026-01-10"}
	before := ta.StreamLastSeq(t)
	apitest.RequireProblem(t, ta.Post(t, apitest.PathDisbursements, uuid.NewString(), apitest.MustJSON(t, disb)), 422, domain.CodeLineLapsed, "province")
	require.Equal(t, before, ta.StreamLastSeq(t))
}

// An officer transfers only between lines of its own provinces and
// sources, and records lapses only on its own lines; auditors never.
func TestTransferAndLapseScope(t *testing.T) {
	t.Parallel()
	ta := apitest.Start(t, apitest.Options{})
	apitest.BudgetYearSetup(t, ta.Client)
	onlyOld := ta.AddAccount(t, "ha-giang", domain.RoleOfficer, []string{"02"}, []string{"national"})
	both := ta.AddAccount(t, "tuyen-quang", domain.RoleOfficer, []string{"02", "08"}, []string{"national"})
	bothLocal := ta.AddAccount(t, "tuyen-quang-local", domain.RoleOfficer, []string{"02", "08"}, []string{"local"})
	onlyNew := ta.AddAccount(t, "tuyen-quang-moi", domain.RoleOfficer, []string{"08"}, []string{"national"})
	auditor := ta.AddAccount(t, "kiem-toan", domain.RoleAuditor, nil, nil)

	for _, c := range []struct {
		name, token string
		path        string
		body        map[string]any
		field       string
	}{
		{"destination out of scope", onlyOld, apitest.PathTransfers, successionBody(), "to_province"},
		{"source out of scope", onlyNew, apitest.PathTransfers, successionBody(), "province"},
		{"fund source out of scope", bothLocal, apitest.PathTransfers, successionBody(), "source"},
		{"auditor transfers", auditor, apitest.PathTransfers, successionBody(), ""},
		{"auditor lapses", auditor, apitest.PathLapses, lapseBody(), ""},
		{"lapse out of scope", both, apitest.PathLapses, lapseBody(), "province"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := ta.StreamLastSeq(t)
			r := ta.As(c.token).Post(t, c.path, uuid.NewString(), apitest.MustJSON(t, c.body))
			apitest.RequireProblem(t, r, http.StatusForbidden, domain.CodeForbidden, c.field)
			require.Equal(t, before, ta.StreamLastSeq(t))
		})
	}
	r := ta.As(both).Post(t, apitest.PathTransfers, uuid.NewString(), apitest.MustJSON(t, successionBody()))
	require.Equal(t, http.StatusCreated, r.Status, "an officer of both provinces: %s", r.Body)
	var res api.TransferResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	assert.Equal(t, "tuyen-quang", res.Out.Event.Actor)
	assert.Equal(t, "tuyen-quang", res.In.Event.Actor)
}

// The NATS service takes transfers and lapses as the HTTP API does.
func TestNATSServiceTransfersAndLapses(t *testing.T) {
	t.Parallel()
	ta := apitest.Start(t, apitest.Options{})
	apitest.BudgetYearSetup(t, ta.Client)
	c := ta.StartNATS(t)

	a := c.Record(t, "transfers", "nats-succession", apitest.MustJSON(t, successionBody()))
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Body)
	var res api.TransferResponse
	require.NoError(t, json.Unmarshal(a.Body, &res))
	assert.Equal(t, domain.TypeTransferredOut, res.Out.Event.Type)
	apitest.RequireAmount(t, "100000000", res.In.Line.Balance.Available())

	// The same transfer over HTTP is the retry: the same pair.
	r := ta.Post(t, apitest.PathTransfers, "nats-succession", apitest.MustJSON(t, successionBody()))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var again api.TransferResponse
	require.NoError(t, json.Unmarshal(r.Body, &again))
	assert.Equal(t, res.Out.Event.ID, again.Out.Event.ID)
	assert.Equal(t, res.In.Event.ID, again.In.Event.ID)

	bad := successionBody()
	bad["to_province"] = "01"
	before := ta.StreamLastSeq(t)
	a = c.Record(t, "transfers", "nats-bad", apitest.MustJSON(t, bad))
	require.Equal(t, http.StatusUnprocessableEntity, a.Status, "%s", a.Body)
	assert.Equal(t, string(domain.CodeInvalidTransfer), a.ErrCode)
	assert.Equal(t, "to_province", a.Problem(t).Field)
	assert.Equal(t, before, ta.StreamLastSeq(t))

	reply, err := c.NC.Request("$SRV.INFO.kcledger", nil, 5*time.Second)
	require.NoError(t, err)
	var info micro.Info
	require.NoError(t, json.Unmarshal(reply.Data, &info))
	var subjects []string
	for _, e := range info.Endpoints {
		subjects = append(subjects, e.Subject)
	}
	assert.Subset(t, subjects, []string{"kcledger.api.v1.transfers", "kcledger.api.v1.lapses"}, "discoverable with nats micro info")

	a = c.Record(t, "lapses", "nats-lapse", apitest.MustJSON(t, lapseBody()))
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Body)
	var lapse api.RecordResponse
	require.NoError(t, json.Unmarshal(a.Body, &lapse))
	assert.Equal(t, domain.TypeLapsed, lapse.Event.Type)
}
