package domain_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

func sampleEventJSON(t testing.TB) []byte {
	e := domain.Event{
		ID: "01970a6e-8000-7000-8000-000000000002", Type: domain.TypeDisbursed, FiscalYear: 2025, Province: "01",
		Source: domain.SourceNational, Project: "KC-2025-01", Category: domain.CategoryTraining,
		Amount: domain.AmountFromInt64(250_000_000), Voucher: "UNC-0042", Beneficiary: "Hợp tác xã Gốm Bát Tràng",
		EffectiveDate: domain.Date{Year: 2025, Month: time.April, Day: 15},
		RecordedAt:    time.Date(2025, time.April, 15, 9, 0, 0, 123456789, time.UTC), Actor: "officer-hanoi",
		IdempotencyKey: "golden-disburse", PrevHash: domain.GenesisHash, SignedBy: "fe812c12f3ab4ce6",
		Signature: "3TGZyayE+n//2G+L+ZYEmkgdQTMQeK8vqAHmtDV/STxWWq+Vo8VHUHpMzYhdSvaSLA7uoQ/JFm/rBwXQNEY8Dg==",
	}
	e.Hash = e.ComputeHash()
	b, err := json.Marshal(&e)
	require.NoError(t, err)
	return b
}

// sameAsEncodingJSON decodes data both ways and fails unless the results,
// and the verdicts, agree.
func sameAsEncodingJSON(t testing.TB, data []byte, start domain.Event) {
	t.Helper()
	want, got := start, start
	wantErr := json.Unmarshal(data, &want)
	gotErr := domain.UnmarshalEvent(data, &got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("on %q: encoding/json says %v, UnmarshalEvent says %v", data, wantErr, gotErr)
	}
	if wantErr != nil {
		return
	}
	// Amount and time values compare by value, not representation.
	if !want.Amount.Equal(got.Amount) || !want.RecordedAt.Equal(got.RecordedAt) || want.RecordedAt.Location().String() != got.RecordedAt.Location().String() {
		t.Fatalf("on %q: amounts or times differ: %v %v / %v %v", data, want.Amount, got.Amount, want.RecordedAt, got.RecordedAt)
	}
	want.Amount, got.Amount = domain.Amount{}, domain.Amount{}
	want.RecordedAt, got.RecordedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("on %q:\nencoding/json %+v\nUnmarshalEvent %+v", data, want, got)
	}
}

func TestUnmarshalEventAgreesWithEncodingJSON(t *testing.T) {
	good := string(sampleEventJSON(t))
	for _, tt := range []struct{ name, data string }{
		{"as kcledger writes it", good},
		{"empty object", `{}`},
		{"white space around", " \n{ \"id\" : \"x\" ,\t\"fiscal_year\": 2025 }\r\n"},
		{"negative year", `{"fiscal_year": -5}`},
		{"year -0", `{"fiscal_year": -0}`},
		{"leading zero", `{"fiscal_year": 02025}`},
		{"fractional year", `{"fiscal_year": 2025.0}`},
		{"exponent year", `{"fiscal_year": 2e3}`},
		{"huge year", `{"fiscal_year": 99999999999999999999}`},
		{"year as string", `{"fiscal_year": "2025"}`},
		{"escape", `{"beneficiary": "HTX \"Gốm\""}`},
		{"unicode escape", `{"beneficiary": "H\u00e0 N\u1ed9i"}`},
		{"invalid UTF-8", "{\"beneficiary\": \"\xff\xfe\"}"},
		{"control character", "{\"reason\": \"a\tb\"}"},
		{"upper-case key", `{"ID": "x", "Fiscal_Year": 2025}`},
		{"unknown key", `{"id": "x", "colour": "red"}`},
		{"repeated key", `{"id": "x", "id": "y"}`},
		{"null string", `{"id": null}`},
		{"null amount", `{"amount": null}`},
		{"amount number", `{"amount": 5}`},
		{"amount fraction", `{"amount": "1.5"}`},
		{"amount negative", `{"amount": "-250"}`},
		{"bad date", `{"effective_date": "2025-02-30"}`},
		{"date null", `{"effective_date": null}`},
		{"time with zone", `{"recorded_at": "2025-04-15T16:00:00+07:00"}`},
		{"bad time", `{"recorded_at": "yesterday"}`},
		{"trailing garbage", `{"id": "x"} x`},
		{"trailing comma", `{"id": "x",}`},
		{"not an object", `["id"]`},
		{"truncated", good[:len(good)/2]},
		{"nothing", ``},
		{"nested value", `{"id": {"a": 1}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sameAsEncodingJSON(t, []byte(tt.data), domain.Event{})
			// Fields the JSON leaves out keep what they held.
			sameAsEncodingJSON(t, []byte(tt.data), domain.Event{Actor: "kept", FiscalYear: 7, Amount: domain.AmountFromInt64(9)})
		})
	}
	var e domain.Event
	require.NoError(t, domain.UnmarshalEvent([]byte(good), &e))
	assert.Equal(t, e.Hash, e.ComputeHash(), "the decoded event hashes as recorded")
}

// Whatever the bytes, UnmarshalEvent gives json.Unmarshal's result.
func FuzzUnmarshalEvent(f *testing.F) {
	good := sampleEventJSON(f)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"fiscal_year": 2025, "amount": "10", "beneficiary": "Hà \"Nội\""}`))
	f.Add([]byte(`{"effective_date": "2025-01-02", "recorded_at": "2025-01-02T03:04:05Z", "ID": "x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsEncodingJSON(t, data, domain.Event{})
	})
}

func BenchmarkUnmarshalEvent(b *testing.B) {
	data := sampleEventJSON(b)
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e domain.Event
			if err := json.Unmarshal(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UnmarshalEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e domain.Event
			if err := domain.UnmarshalEvent(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
