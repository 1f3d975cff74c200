package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// randomBody is a random movement on one of a few lines and projects.
func randomBody(rng *rand.Rand) (string, map[string]any) {
	province := []string{"01", "79"}[rng.IntN(2)]
	source := []string{"national", "local"}[rng.IntN(2)]
	b := map[string]any{"fiscal_year": 2025, "province": province, "source": source}
	if rng.IntN(3) == 0 {
		b["project"] = "DA-0" + fmt.Sprint(rng.IntN(2))
	}
	amount := fmt.Sprint((rng.IntN(9) + 1) * 1_000_000)
	date := fmt.Sprintf("2025-%02d-%02d", rng.IntN(11)+1, rng.IntN(28)+1)
	switch rng.IntN(5) {
	case 0, 1:
		b["amount"], b["decision"], b["effective_date"] = amount, "1/QĐ-BCT", date
		return apitest.PathAllocations, b
	case 2:
		b["amount"], b["voucher"], b["beneficiary"], b["effective_date"] = amount, "KB-1", "HTX", date
		return apitest.PathDisbursements, b
	case 3:
		b["amount"], b["voucher"], b["reason"], b["effective_date"] = amount, "NT-1", "thu hồi", date
		return apitest.PathRefunds, b
	}
	if rng.IntN(2) == 0 {
		amount = "-" + amount
	}
	b["delta"], b["decision"], b["reason"], b["effective_date"] = amount, "2/QĐ-BCT", "điều chỉnh", date
	return apitest.PathAdjustments, b
}

func reportOf(t *testing.T, r apitest.Response) projections.Report {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var rep projections.Report
	require.NoError(t, json.Unmarshal(r.Body, &rep))
	return rep
}

// Balances at any past sequence equal those of a fresh ledger that only
// ever received the movements accepted up to it: random histories.
func TestTimeTravelEqualsAFreshLedger(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 2025))
			ta := apitest.Start(t, apitest.Options{})
			type accepted struct {
				cmd domain.Command
				seq uint64
			}
			var history []accepted
			for i := range 40 {
				path, body := randomBody(rng)
				r := ta.Post(t, path, fmt.Sprint("k-", i), apitest.MustJSON(t, body))
				if r.Status != http.StatusCreated {
					require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)
					continue
				}
				var res api.RecordResponse
				require.NoError(t, json.Unmarshal(r.Body, &res))
				cmd, err := api.DecodeMovement(map[string]domain.CommandKind{apitest.PathAllocations: domain.Allocate, apitest.PathAdjustments: domain.Adjust, apitest.PathDisbursements: domain.Disburse, apitest.PathRefunds: domain.Refund}[path], apitest.MustJSON(t, body))
				require.NoError(t, err)
				cmd.IdempotencyKey, cmd.Actor, cmd.Now = fmt.Sprint("k-", i), "fresh", apitest.Now
				history = append(history, accepted{cmd, res.Seq})
			}
			require.NotEmpty(t, history)

			for k := 1; k <= len(history); k += 1 + rng.IntN(4) {
				fresh := eventstore.NewMemory()
				ledger := domain.NewLedger(fresh, domain.Policy{})
				for _, h := range history[:k] {
					h.cmd.EventID = fmt.Sprintf("00000000-0000-7000-8000-%012d", h.seq) // a UUID, as the contract says
					_, err := ledger.Record(context.Background(), h.cmd)
					require.NoError(t, err)
				}
				want := projections.NewBalances()
				for _, r := range fresh.Events() {
					require.NoError(t, want.Apply(r))
				}
				got := reportOf(t, ta.Get(t, fmt.Sprint("/v1/balances?until_seq=", history[k-1].seq)))
				apitest.SameLines(t, want.Report(projections.Filter{}), got, fmt.Sprintf("after %d movements", k))
			}
			// The whole history is the present.
			apitest.SameLines(t, reportOf(t, ta.Get(t, "/v1/balances")), reportOf(t, ta.Get(t, fmt.Sprint("/v1/balances?until_seq=", history[len(history)-1].seq))), "the end")
		})
	}
}

func TestBalancesAsOfAndByEffectiveDate(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	ta.UseRealTime() // as_of is compared with the server's storage times
	post := func(path string, body map[string]any) {
		r := ta.Post(t, path, fmt.Sprint(time.Now().UnixNano()), apitest.MustJSON(t, body))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	line := map[string]any{"fiscal_year": 2025, "province": "01", "source": "national"}
	with := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range line {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	post(apitest.PathAllocations, with(map[string]any{"amount": "10000000", "decision": "1/QĐ", "effective_date": "2025-01-10"}))
	post(apitest.PathDisbursements, with(map[string]any{"amount": "3000000", "voucher": "KB-5", "beneficiary": "A", "effective_date": "2025-05-05"}))
	// What the ledger knew here: one allocation, one disbursement.
	time.Sleep(20 * time.Millisecond) // storage times are a clock's: leave a gap to name
	knew := time.Now()
	time.Sleep(20 * time.Millisecond)
	post(apitest.PathDisbursements, with(map[string]any{"amount": "1000000", "voucher": "KB-3", "beneficiary": "B", "effective_date": "2025-03-03"}))

	rep := reportOf(t, ta.Get(t, "/v1/balances?as_of="+url.QueryEscape(knew.Format(time.RFC3339Nano))))
	require.Len(t, rep.Lines, 1)
	apitest.RequireAmount(t, "3000000", rep.Lines[0].Totals.Balance.Disbursed, "as of the moment between")

	// By voucher date, 1 April: only the one paid on 3 March, though it
	// was recorded last.
	rep = reportOf(t, ta.Get(t, "/v1/balances?effective_until=2025-04-01"))
	apitest.RequireAmount(t, "1000000", rep.Lines[0].Totals.Balance.Disbursed, "by effective date")
	apitest.RequireAmount(t, "10000000", rep.Lines[0].Totals.Balance.Allocated)
	assert.Equal(t, 2, rep.Lines[0].Totals.Events)
}

func TestAuditTrail(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	r := ta.Post(t, apitest.PathAllocations, "a1", apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "project": "DA-1",
		"amount": "10000000", "decision": "3536/QĐ-BCT", "effective_date": "2025-01-10"}))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	r = ta.Post(t, apitest.PathAllocations, "b1", apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "79", "source": "local",
		"amount": "5000000", "decision": "9/QĐ-UBND", "effective_date": "2025-01-10"}))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	officer := ta.As(ta.AddAccount(t, "can-bo-01", domain.RoleOfficer, []string{"01"}, []string{"national"}))
	r = officer.Post(t, apitest.PathDisbursements, "p1", apitest.MustJSON(t, map[string]any{"fiscal_year": 2025, "province": "01", "source": "national", "project": "DA-1",
		"amount": "4000000", "voucher": "KB-77", "beneficiary": "HTX Gốm", "effective_date": "2025-03-03"}))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)

	page := func(as *apitest.API, query string) api.AuditResponse {
		t.Helper()
		r := as.Get(t, "/v1/audit?"+query)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var res api.AuditResponse
		require.NoError(t, json.Unmarshal(r.Body, &res))
		return res
	}
	all := page(ta, "")
	require.Len(t, all.Entries, 3)
	last := all.Entries[2]
	assert.Equal(t, "can-bo-01", last.Event.Actor, "who recorded it")
	assert.Equal(t, "KB-77", last.Event.Voucher)
	assert.Equal(t, "HTX Gốm", last.Event.Beneficiary)
	apitest.RequireAmount(t, "6000000", last.Line.Available(), "the line's available right after")
	require.NotNil(t, last.Project)
	apitest.RequireAmount(t, "4000000", last.Project.NetDisbursed())
	assert.False(t, last.Stored.IsZero())

	// Pages of one.
	p1 := page(ta, "limit=1")
	require.Len(t, p1.Entries, 1)
	require.Equal(t, p1.Entries[0].Seq, p1.NextAfterSeq)
	p2 := page(ta, fmt.Sprint("limit=1&after_seq=", p1.NextAfterSeq))
	require.Len(t, p2.Entries, 1)
	assert.Greater(t, p2.Entries[0].Seq, p1.Entries[0].Seq)
	p3 := page(ta, fmt.Sprint("limit=2&after_seq=", p2.NextAfterSeq))
	require.Len(t, p3.Entries, 1)
	assert.Zero(t, p3.NextAfterSeq, "the last page")

	// One line, one project; an officer sees only its own.
	assert.Len(t, page(ta, "province=79").Entries, 1)
	assert.Len(t, page(ta, "project=DA-1").Entries, 2)
	assert.Len(t, page(officer, "").Entries, 2)
	apitest.RequireProblem(t, officer.Get(t, "/v1/audit?province=79"), http.StatusForbidden, domain.CodeForbidden, "province")
	// The past: the trail until the second event.
	assert.Len(t, page(ta, fmt.Sprint("until_seq=", all.Entries[1].Seq)).Entries, 2)
}

func TestHistoryRefusesBadInput(t *testing.T) {
	ta := apitest.Start(t, apitest.Options{})
	r := ta.Post(t, apitest.PathAllocations, "a1", apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	for _, tc := range []struct {
		path  string
		code  domain.Code
		field string
	}{
		{"/v1/balances?as_of=yesterday", domain.CodeInvalidField, "as_of"},
		{"/v1/balances?as_of=2025-06-30", domain.CodeInvalidField, "as_of"},
		{"/v1/balances?as_of=2099-01-01T00:00:00Z", domain.CodeInvalidField, "as_of"},
		{"/v1/balances?until_seq=0", domain.CodeInvalidField, "until_seq"},
		{"/v1/balances?until_seq=-1", domain.CodeInvalidField, "until_seq"},
		{"/v1/balances?until_seq=999", domain.CodeInvalidField, "until_seq"},
		{"/v1/balances?effective_until=2025-02-30", domain.CodeInvalidDate, "effective_until"},
		{"/v1/balances?region=north", domain.CodeUnknownField, "region"},
		{"/v1/audit?limit=0", domain.CodeInvalidField, "limit"},
		{"/v1/audit?limit=5000", domain.CodeInvalidField, "limit"},
		{"/v1/audit?after_seq=x", domain.CodeInvalidField, "after_seq"},
		{"/v1/audit?project=a%20b", domain.CodeInvalidField, "project"},
		{"/v1/audit?actor=admin", domain.CodeUnknownField, "actor"},
		{"/v1/audit?year=1999", domain.CodeInvalidYear, "year"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			apitest.RequireProblem(t, ta.Get(t, tc.path), http.StatusBadRequest, tc.code, tc.field)
		})
	}
}
