package api_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// The setup's movements on line 2025/01/national: 1 000 000 000 allocated,
// 400 000 000 disbursed, so 600 000 000 is available.
const (
	setupAllocationKey   = "setup-allocation"
	setupDisbursementKey = "setup-disbursement"
)

func TestBadInputAppendsNothing(t *testing.T) {
	t.Parallel()
	ta := apitest.Start(t, apitest.Options{})

	r := ta.Post(t, apitest.PathAllocations, setupAllocationKey, apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	disb := apitest.ValidBody(apitest.PathDisbursements)
	disb["amount"] = "400000000"
	r = ta.Post(t, apitest.PathDisbursements, setupDisbursementKey, apitest.MustJSON(t, disb))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)

	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	const (
		noKey       = "\x00none" // send no Idempotency-Key header
		contentJSON = "application/json"
	)
	tooLarge := apitest.ValidBody(apitest.PathRefunds)
	tooLarge["reason"] = strings.Repeat("a", api.MaxBodyBytes)

	tests := []struct {
		name string
		path string
		set  map[string]any // fields replaced in validBody(path)
		del  []string       // fields removed from it
		raw  []byte         // the body verbatim, instead of validBody
		// contentType defaults to application/json; "-" sends none.
		contentType string
		key         string // defaults to a fresh UUID
		status      int
		code        domain.Code
		field       string
	}{
		// Provinces.
		{name: "unknown province", path: apitest.PathAllocations, set: map[string]any{"province": "99"},
			status: 400, code: domain.CodeUnknownProvince, field: "province"},
		{name: "province not two digits", path: apitest.PathAllocations, set: map[string]any{"province": "1"},
			status: 400, code: domain.CodeUnknownProvince, field: "province"},
		{name: "province missing", path: apitest.PathAllocations, del: []string{"province"},
			status: 400, code: domain.CodeMissingField, field: "province"},
		{name: "old province code after the merger", path: apitest.PathAllocations,
			set:    map[string]any{"province": "10", "effective_date": "2025-08-01"},
			status: 422, code: domain.CodeProvinceNotInForce, field: "province"},
		// Sources and categories.
		{name: "unknown source", path: apitest.PathDisbursements, set: map[string]any{"source": "regional"},
			status: 400, code: domain.CodeUnknownSource, field: "source"},
		{name: "source missing", path: apitest.PathDisbursements, del: []string{"source"},
			status: 400, code: domain.CodeMissingField, field: "source"},
		{name: "unknown category", path: apitest.PathAllocations, set: map[string]any{"category": "tourism"},
			status: 400, code: domain.CodeUnknownCategory, field: "category"},
		// Fiscal years.
		{name: "fiscal year 1999", path: apitest.PathAllocations, set: map[string]any{"fiscal_year": 1999},
			status: 400, code: domain.CodeInvalidYear, field: "fiscal_year"},
		{name: "fiscal year 2101", path: apitest.PathAllocations, set: map[string]any{"fiscal_year": 2101},
			status: 400, code: domain.CodeInvalidYear, field: "fiscal_year"},
		{name: "fiscal year as a string", path: apitest.PathAllocations, set: map[string]any{"fiscal_year": "2025"},
			status: 400, code: domain.CodeInvalidField, field: "fiscal_year"},
		{name: "fiscal year fractional", path: apitest.PathAllocations, set: map[string]any{"fiscal_year": raw("2025.5")},
			status: 400, code: domain.CodeInvalidField, field: "fiscal_year"},
		{name: "fiscal year missing", path: apitest.PathAllocations, del: []string{"fiscal_year"},
			status: 400, code: domain.CodeMissingField, field: "fiscal_year"},
		// Amounts.
		{name: "amount zero", path: apitest.PathDisbursements, set: map[string]any{"amount": "0"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount negative", path: apitest.PathDisbursements, set: map[string]any{"amount": "-5"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount fractional", path: apitest.PathDisbursements, set: map[string]any{"amount": "1.5"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount over the bound", path: apitest.PathAllocations, set: map[string]any{"amount": "1000000000000001"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount with grouping", path: apitest.PathAllocations, set: map[string]any{"amount": "1.500.000.000"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount with a unit", path: apitest.PathAllocations, set: map[string]any{"amount": "1,5 tỷ"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount empty string", path: apitest.PathAllocations, set: map[string]any{"amount": ""},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount with leading zeros", path: apitest.PathRefunds, set: map[string]any{"amount": "0100"},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount as a JSON number", path: apitest.PathAllocations, set: map[string]any{"amount": raw("1500000000")},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount as a JSON number with exponent", path: apitest.PathAllocations, set: map[string]any{"amount": raw("1.5e9")},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount as a JSON object", path: apitest.PathAllocations, set: map[string]any{"amount": raw(`{"value":"1"}`)},
			status: 400, code: domain.CodeInvalidAmount, field: "amount"},
		{name: "amount null", path: apitest.PathDisbursements, set: map[string]any{"amount": nil},
			status: 400, code: domain.CodeMissingField, field: "amount"},
		{name: "amount missing", path: apitest.PathRefunds, del: []string{"amount"},
			status: 400, code: domain.CodeMissingField, field: "amount"},
		{name: "delta zero", path: apitest.PathAdjustments, set: map[string]any{"delta": "0"},
			status: 400, code: domain.CodeInvalidAmount, field: "delta"},
		{name: "delta over the bound", path: apitest.PathAdjustments, set: map[string]any{"delta": "-1000000000000001"},
			status: 400, code: domain.CodeInvalidAmount, field: "delta"},
		{name: "delta as a JSON number", path: apitest.PathAdjustments, set: map[string]any{"delta": raw("-1000")},
			status: 400, code: domain.CodeInvalidAmount, field: "delta"},
		{name: "amount on an adjustment", path: apitest.PathAdjustments, set: map[string]any{"amount": "1000"},
			status: 400, code: domain.CodeUnknownField, field: "amount"},
		{name: "delta on a disbursement", path: apitest.PathDisbursements, set: map[string]any{"delta": "1000"},
			status: 400, code: domain.CodeUnknownField, field: "delta"},
		// Business rules against the line's state.
		{name: "disbursement over available", path: apitest.PathDisbursements, set: map[string]any{"amount": "600000001"},
			status: 422, code: domain.CodeInsufficientFunds, field: "amount"},
		{name: "refund over net disbursed", path: apitest.PathRefunds, set: map[string]any{"amount": "400000001"},
			status: 422, code: domain.CodeRefundExceedsDisbursed, field: "amount"},
		{name: "adjustment below net disbursed", path: apitest.PathAdjustments, set: map[string]any{"delta": "-600000001"},
			status: 422, code: domain.CodeAllocationBelowDisbursed, field: "delta"},
		// Dates.
		{name: "disbursement before the fiscal year", path: apitest.PathDisbursements, set: map[string]any{"effective_date": "2024-12-31"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "disbursement after the settlement period", path: apitest.PathDisbursements, set: map[string]any{"effective_date": "2026-02-01"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "allocation after the fiscal year", path: apitest.PathAllocations, set: map[string]any{"effective_date": "2026-01-01"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "allocation two years early", path: apitest.PathAllocations, set: map[string]any{"effective_date": "2023-12-31"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "adjustment after the fiscal year", path: apitest.PathAdjustments, set: map[string]any{"effective_date": "2026-01-01"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "refund dated tomorrow", path: apitest.PathRefunds, set: map[string]any{"effective_date": "2026-06-02"},
			status: 422, code: domain.CodeDateOutsideWindow, field: "effective_date"},
		{name: "date month 13", path: apitest.PathAllocations, set: map[string]any{"effective_date": "2025-13-01"},
			status: 400, code: domain.CodeInvalidDate, field: "effective_date"},
		{name: "date 30 February", path: apitest.PathAllocations, set: map[string]any{"effective_date": "2025-02-30"},
			status: 400, code: domain.CodeInvalidDate, field: "effective_date"},
		{name: "date in another format", path: apitest.PathAllocations, set: map[string]any{"effective_date": "01/03/2025"},
			status: 400, code: domain.CodeInvalidDate, field: "effective_date"},
		{name: "date as a JSON number", path: apitest.PathAllocations, set: map[string]any{"effective_date": raw("20250301")},
			status: 400, code: domain.CodeInvalidDate, field: "effective_date"},
		{name: "date missing", path: apitest.PathAllocations, del: []string{"effective_date"},
			status: 400, code: domain.CodeMissingField, field: "effective_date"},
		// References.
		{name: "allocation without decision", path: apitest.PathAllocations, del: []string{"decision"},
			status: 400, code: domain.CodeMissingField, field: "decision"},
		{name: "adjustment with blank decision", path: apitest.PathAdjustments, set: map[string]any{"decision": ""},
			status: 400, code: domain.CodeMissingField, field: "decision"},
		{name: "disbursement without voucher", path: apitest.PathDisbursements, del: []string{"voucher"},
			status: 400, code: domain.CodeMissingField, field: "voucher"},
		{name: "refund without voucher", path: apitest.PathRefunds, del: []string{"voucher"},
			status: 400, code: domain.CodeMissingField, field: "voucher"},
		{name: "disbursement citing a decision", path: apitest.PathDisbursements, set: map[string]any{"decision": "1/QĐ"},
			status: 400, code: domain.CodeInvalidField, field: "decision"},
		{name: "reference with control character", path: apitest.PathDisbursements, set: map[string]any{"voucher": "UNC\u0007"},
			status: 400, code: domain.CodeInvalidField, field: "voucher"},
		{name: "reference too long", path: apitest.PathDisbursements, set: map[string]any{"voucher": strings.Repeat("V", domain.MaxReferenceLen+1)},
			status: 400, code: domain.CodeInvalidField, field: "voucher"},
		// The body as a whole.
		{name: "unknown JSON field", path: apitest.PathAllocations, set: map[string]any{"memo": "x"},
			status: 400, code: domain.CodeUnknownField, field: "memo"},
		{name: "body over the size limit", path: apitest.PathRefunds, raw: apitest.MustJSON(t, tooLarge),
			status: 413, code: domain.CodeBodyTooLarge},
		{name: "invalid UTF-8", path: apitest.PathAllocations,
			raw:    []byte(`{"fiscal_year":2025,"province":"01","source":"national","amount":"1000","decision":"1/Q` + "\xff\xfe" + `","effective_date":"2025-03-01"}`),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "empty body", path: apitest.PathAllocations, raw: []byte{},
			status: 400, code: domain.CodeMalformedRequest},
		{name: "not JSON", path: apitest.PathAllocations, raw: []byte("fiscal_year=2025"),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "truncated JSON", path: apitest.PathAllocations, raw: []byte(`{"fiscal_year":2025,"province":"01"`),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "trailing garbage", path: apitest.PathAllocations, raw: append(apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)), " garbage"...),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "two objects", path: apitest.PathAllocations, raw: append(apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)), "{}"...),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "a JSON array", path: apitest.PathAllocations, raw: []byte(`[]`),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "a JSON string", path: apitest.PathAllocations, raw: []byte(`"x"`),
			status: 400, code: domain.CodeMalformedRequest},
		{name: "field name in another case", path: apitest.PathAllocations,
			raw:    []byte(`{"FISCAL_YEAR":2025,"province":"01","source":"national","amount":"1000","decision":"1/QĐ","effective_date":"2025-03-01"}`),
			status: 400, code: domain.CodeUnknownField, field: "FISCAL_YEAR"},
		{name: "field name folding to another (long s)", path: apitest.PathAllocations,
			raw:    []byte(`{"fiscal_year":2025,"province":"01","ſource":"national","amount":"1000","decision":"1/QĐ","effective_date":"2025-03-01"}`),
			status: 400, code: domain.CodeUnknownField, field: "ſource"},
		{name: "amount given twice", path: apitest.PathAllocations,
			raw:    []byte(`{"fiscal_year":2025,"province":"01","source":"national","amount":"5","amount":"7","decision":"1/QĐ","effective_date":"2025-03-01"}`),
			status: 400, code: domain.CodeMalformedRequest, field: "amount"},
		{name: "wrong content type", path: apitest.PathAllocations, contentType: "text/plain",
			status: 415, code: domain.CodeUnsupportedMediaType},
		{name: "form content type", path: apitest.PathAllocations, contentType: "application/x-www-form-urlencoded",
			status: 415, code: domain.CodeUnsupportedMediaType},
		{name: "no content type", path: apitest.PathAllocations, contentType: "-",
			status: 415, code: domain.CodeUnsupportedMediaType},
		// Idempotency keys.
		{name: "no idempotency key", path: apitest.PathAllocations, key: noKey,
			status: 400, code: domain.CodeInvalidIdempotencyKey, field: "Idempotency-Key"},
		{name: "idempotency key with a space", path: apitest.PathAllocations, key: "a key",
			status: 400, code: domain.CodeInvalidIdempotencyKey, field: "Idempotency-Key"},
		{name: "idempotency key too long", path: apitest.PathAllocations, key: strings.Repeat("k", domain.MaxIdempotencyKeyLen+1),
			status: 400, code: domain.CodeInvalidIdempotencyKey, field: "Idempotency-Key"},
		{name: "idempotency key reused for another amount", path: apitest.PathAllocations, key: setupAllocationKey,
			set:    map[string]any{"amount": "2000000000"},
			status: 409, code: domain.CodeIdempotencyKeyReused, field: "Idempotency-Key"},
		{name: "idempotency key reused on another route", path: apitest.PathDisbursements, key: setupAllocationKey,
			status: 409, code: domain.CodeIdempotencyKeyReused, field: "Idempotency-Key"},
		{name: "idempotency key reused for a refused command", path: apitest.PathDisbursements, key: setupDisbursementKey,
			set:    map[string]any{"amount": "900000000"},
			status: 409, code: domain.CodeIdempotencyKeyReused, field: "Idempotency-Key"},
	}
	require.GreaterOrEqual(t, len(tests), 25)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.raw
			if body == nil {
				b := apitest.ValidBody(tt.path)
				maps.Copy(b, tt.set)
				for _, f := range tt.del {
					delete(b, f)
				}
				body = apitest.MustJSON(t, b)
			}
			header := http.Header{"Content-Type": {contentJSON}, "Idempotency-Key": {uuid.NewString()}}
			switch tt.contentType {
			case "":
			case "-":
				header.Del("Content-Type")
			default:
				header.Set("Content-Type", tt.contentType)
			}
			switch tt.key {
			case "":
			case noKey:
				header.Del("Idempotency-Key")
			default:
				header.Set("Idempotency-Key", tt.key)
			}

			before := ta.StreamLastSeq(t)
			r := ta.Do(t, http.MethodPost, tt.path, header, body)
			apitest.RequireProblem(t, r, tt.status, tt.code, tt.field)
			require.Equal(t, before, ta.StreamLastSeq(t), "the refused request appended to the stream")
		})
	}

	// Each valid body is accepted, so every case above was refused for
	// the one thing it changed.
	for _, path := range []string{apitest.PathAllocations, apitest.PathDisbursements, apitest.PathRefunds, apitest.PathAdjustments} {
		before := ta.StreamLastSeq(t)
		r := ta.Post(t, path, uuid.NewString(), apitest.MustJSON(t, apitest.ValidBody(path)))
		require.Equal(t, http.StatusCreated, r.Status, "%s: %s", path, r.Body)
		var res api.RecordResponse
		require.NoError(t, json.Unmarshal(r.Body, &res))
		after := ta.StreamLastSeq(t)
		require.Greater(t, res.Seq, before, path)
		require.LessOrEqual(t, res.Seq, after, path)
	}
}

// recordedJSON is a recording answer decoded without the domain's types, to
// check the wire format itself.
type recordedJSON struct {
	Event struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Amount   any    `json:"amount"`
		PrevHash string `json:"prev_hash"`
		Hash     string `json:"hash"`
	} `json:"event"`
	Seq      uint64 `json:"seq"`
	Replayed bool   `json:"replayed"`
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestRecordAndReplay(t *testing.T) {
	t.Parallel()
	ta := apitest.Start(t, apitest.Options{})

	// An allocation, with a charset in the media type.
	alloc := apitest.ValidBody(apitest.PathAllocations)
	maps.Copy(alloc, map[string]any{"amount": "1500000000", "project": "KC-2025-01"})
	r := ta.Do(t, http.MethodPost, apitest.PathAllocations, http.Header{
		"Content-Type":    {"application/json; charset=utf-8"},
		"Idempotency-Key": {"alloc-1"},
	}, apitest.MustJSON(t, alloc))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))

	var wire recordedJSON
	require.NoError(t, json.Unmarshal(r.Body, &wire))
	assert.Equal(t, "1500000000", wire.Event.Amount, "amounts are JSON strings")
	assert.Equal(t, string(domain.TypeAllocated), wire.Event.Type)
	assert.Regexp(t, hexHash, wire.Event.Hash)
	assert.Equal(t, domain.GenesisHash, wire.Event.PrevHash)
	assert.False(t, wire.Replayed)

	var allocRes api.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &allocRes))
	ev := allocRes.Event
	assert.Equal(t, ev.Hash, ev.ComputeHash(), "the event's hash is its content's")
	assert.Equal(t, apitest.FirstAdmin, ev.Actor, "the actor is the token's account")
	assert.Equal(t, "alloc-1", ev.IdempotencyKey)
	assert.True(t, apitest.Now.Equal(ev.RecordedAt), "recorded at %s", ev.RecordedAt)
	assert.Equal(t, domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}, allocRes.Line.Line)
	apitest.RequireAmount(t, "1500000000", allocRes.Line.Balance.Allocated)
	apitest.RequireAmount(t, "1500000000", allocRes.Line.Balance.Available())
	assert.Equal(t, 1, allocRes.Line.Events)
	assert.Equal(t, allocRes.Seq, allocRes.Line.LastSeq)
	require.NotNil(t, allocRes.Project)
	apitest.RequireAmount(t, "1500000000", allocRes.Project.Balance.Allocated)
	assert.LessOrEqual(t, allocRes.Seq, ta.StreamLastSeq(t))

	// A disbursement links to the allocation.
	disb := apitest.ValidBody(apitest.PathDisbursements)
	maps.Copy(disb, map[string]any{"amount": "250000000", "project": "KC-2025-01"})
	r = ta.Post(t, apitest.PathDisbursements, "disb-1", apitest.MustJSON(t, disb))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var disbRes api.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &disbRes))
	assert.Equal(t, ev.Hash, disbRes.Event.PrevHash)
	assert.Regexp(t, hexHash, disbRes.Event.Hash)
	assert.False(t, disbRes.Replayed)
	apitest.RequireAmount(t, "250000000", disbRes.Line.Balance.Disbursed)
	apitest.RequireAmount(t, "1250000000", disbRes.Line.Balance.Available())
	apitest.RequireAmount(t, "1250000000", disbRes.Project.Balance.Available())
	assert.Greater(t, disbRes.Seq, allocRes.Seq)

	// The same request again is answered with the original event.
	seq := ta.StreamLastSeq(t)
	r = ta.Post(t, apitest.PathDisbursements, "disb-1", apitest.MustJSON(t, disb))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var again api.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &again))
	assert.True(t, again.Replayed)
	assert.Equal(t, disbRes.Event.ID, again.Event.ID)
	assert.Equal(t, disbRes.Event.Hash, again.Event.Hash)
	assert.Equal(t, disbRes.Seq, again.Seq)
	apitest.RequireAmount(t, "250000000", again.Line.Balance.Disbursed, "the balance counts it once")
	require.Equal(t, seq, ta.StreamLastSeq(t), "a replay appends nothing")

	// The same key for another movement is refused.
	disb["amount"] = "250000001"
	r = ta.Post(t, apitest.PathDisbursements, "disb-1", apitest.MustJSON(t, disb))
	p := apitest.RequireProblem(t, r, http.StatusConflict, domain.CodeIdempotencyKeyReused, "Idempotency-Key")
	assert.Contains(t, p.Detail, disbRes.Event.ID, "the detail names the original event")
	require.Equal(t, seq, ta.StreamLastSeq(t))

	// Reads reflect this server's writes without waiting.
	r = ta.Get(t, "/v1/balances?year=2025&province=01&source=national")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var rep projections.Report
	require.NoError(t, json.Unmarshal(r.Body, &rep))
	assert.GreaterOrEqual(t, rep.AsOfSeq, disbRes.Seq)
	require.Len(t, rep.Lines, 1)
	assert.Equal(t, allocRes.Line.Line, rep.Lines[0].Line)
	apitest.RequireAmount(t, "1500000000", rep.Lines[0].Totals.Balance.Allocated)
	apitest.RequireAmount(t, "250000000", rep.Lines[0].Totals.Balance.Disbursed)
	apitest.RequireAmount(t, "1250000000", rep.Lines[0].Totals.Balance.Available())
	assert.Equal(t, 2, rep.Lines[0].Totals.Events)
	require.Len(t, rep.Lines[0].Projects, 1)
	assert.Equal(t, "KC-2025-01", rep.Lines[0].Projects[0].Project)
	apitest.RequireAmount(t, "250000000", rep.Total.Balance.Disbursed)

	r = ta.Get(t, "/v1/balances?year=2025&source=local")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	rep = projections.Report{}
	require.NoError(t, json.Unmarshal(r.Body, &rep))
	assert.Empty(t, rep.Lines)

	for _, tc := range []struct {
		query string
		code  domain.Code
		field string
	}{
		{"year=1999", domain.CodeInvalidYear, "year"},
		{"year=2101", domain.CodeInvalidYear, "year"},
		{"year=abc", domain.CodeInvalidYear, "year"},
		{"province=99", domain.CodeUnknownProvince, "province"},
		{"source=regional", domain.CodeUnknownSource, "source"},
	} {
		apitest.RequireProblem(t, ta.Get(t, "/v1/balances?"+tc.query), http.StatusBadRequest, tc.code, tc.field)
	}

	// Provinces in force on either side of the merger.
	for _, tc := range []struct {
		date   string
		scheme domain.Scheme
		n      int
	}{
		{"2025-06-30", domain.Scheme63, 63},
		{"2025-07-01", domain.Scheme34, 34},
		{"", domain.Scheme34, 34}, // today, by the API's clock
	} {
		r = ta.Get(t, "/v1/provinces?date="+tc.date)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var pr api.ProvincesResponse
		require.NoError(t, json.Unmarshal(r.Body, &pr))
		assert.Equal(t, tc.scheme, pr.Scheme, tc.date)
		assert.Len(t, pr.Provinces, tc.n, tc.date)
		if tc.date == "" {
			assert.Equal(t, "2026-06-01", pr.Date.String())
		}
	}
	apitest.RequireProblem(t, ta.Get(t, "/v1/provinces?date=2025-02-30"), http.StatusBadRequest, domain.CodeInvalidDate, "date")

	r = ta.Get(t, "/healthz")
	require.Equal(t, http.StatusOK, r.Status)
	var health struct {
		Status     string `json:"status"`
		AppliedSeq uint64 `json:"applied_seq"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &health))
	assert.Equal(t, "ok", health.Status)
	assert.GreaterOrEqual(t, health.AppliedSeq, disbRes.Seq)

	apitest.RequireProblem(t, ta.Get(t, "/v1/nothing-here"), http.StatusNotFound, domain.CodeNotFound, "")

	r = ta.Get(t, apitest.PathAllocations)
	apitest.RequireProblem(t, r, http.StatusMethodNotAllowed, domain.CodeMethodNotAllowed, "")
	assert.Equal(t, "POST", r.Header.Get("Allow"))
	r = ta.Do(t, http.MethodPost, "/v1/balances", http.Header{"Content-Type": {"application/json"}}, []byte("{}"))
	apitest.RequireProblem(t, r, http.StatusMethodNotAllowed, domain.CodeMethodNotAllowed, "")
	assert.Equal(t, "GET", r.Header.Get("Allow"))
	require.Equal(t, seq, ta.StreamLastSeq(t))
}

// TestReusedKeyOfAnotherAccount checks that an officer who sends another
// account's idempotency key learns only that the key is taken: not the
// other province's line, nor its event, nor who recorded it. An officer
// reusing its own key is told which of its events holds it.
func TestReusedKeyOfAnotherAccount(t *testing.T) {
	t.Parallel()
	ta := apitest.Start(t, apitest.Options{})
	for _, prov := range []string{"01", "79"} {
		b := apitest.ValidBody(apitest.PathAllocations)
		b["province"] = prov
		r := ta.Post(t, apitest.PathAllocations, "alloc-"+prov, apitest.MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	hanoi := ta.As(ta.AddAccount(t, "officer-hanoi", domain.RoleOfficer, []string{"01"}, []string{"national"}))
	hcm := ta.As(ta.AddAccount(t, "officer-hcm", domain.RoleOfficer, []string{"79"}, []string{"national"}))

	const key = "shared-key"
	disb := apitest.ValidBody(apitest.PathDisbursements)
	r := hanoi.Post(t, apitest.PathDisbursements, key, apitest.MustJSON(t, disb))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var first api.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &first))
	seq := ta.StreamLastSeq(t)

	other := apitest.ValidBody(apitest.PathDisbursements)
	other["province"] = "79"
	p := apitest.RequireProblem(t, hcm.Post(t, apitest.PathDisbursements, key, apitest.MustJSON(t, other)), http.StatusConflict, domain.CodeIdempotencyKeyReused, "Idempotency-Key")
	assert.Contains(t, p.Detail, "already taken")
	for _, secret := range []string{first.Event.ID, first.Event.Line().String(), "officer-hanoi", first.Event.Hash, "Hà Nội"} {
		assert.NotContains(t, p.Detail, secret)
	}

	disb["amount"] = "100000001"
	p = apitest.RequireProblem(t, hanoi.Post(t, apitest.PathDisbursements, key, apitest.MustJSON(t, disb)), http.StatusConflict, domain.CodeIdempotencyKeyReused, "Idempotency-Key")
	assert.Contains(t, p.Detail, first.Event.ID, "its own event is named")
	require.Equal(t, seq, ta.StreamLastSeq(t), "nothing appended")
}
