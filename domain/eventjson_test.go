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
	if !want.Counterpart.Equal(got.Counterpart) {
		t.Fatalf("on %q: counterparts differ: %v / %v", data, want.Counterpart, got.Counterpart)
	}
	want.Amount, got.Amount = domain.Amount{}, domain.Amount{}
	want.Counterpart, got.Counterpart = domain.Amount{}, domain.Amount{}
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
		{"repudiated seq", `{"type": "ledger.repudiated.v1", "repudiated_seq": 42}`},
		{"repudiated seq 0", `{"repudiated_seq": 0}`},
		{"repudiated seq largest", `{"repudiated_seq": 18446744073709551615}`},
		{"repudiated seq overflow", `{"repudiated_seq": 18446744073709551616}`},
		{"repudiated seq negative", `{"repudiated_seq": -1}`},
		{"repudiated seq leading zero", `{"repudiated_seq": 042}`},
		{"repudiated seq fraction", `{"repudiated_seq": 4.0}`},
		{"repudiated seq exponent", `{"repudiated_seq": 4e1}`},
		{"repudiated seq string", `{"repudiated_seq": "42"}`},
		{"repudiated seq null", `{"repudiated_seq": null}`},
		{"project facts", `{"project": "KC-1", "project_name": "Cụm công nghiệp Phú Nghĩa", "implementing_unit": "Trung tâm Khuyến công", "counterpart": "9500000000"}`},
		{"counterpart number", `{"counterpart": 95}`},
		{"counterpart null", `{"counterpart": null}`},
		{"counterpart fraction", `{"counterpart": "1.5"}`},
		{"counterpart negative", `{"counterpart": "-1"}`},
		{"repeated counterpart", `{"counterpart": "1", "counterpart": "2"}`},
		{"project name escaped", `{"project_name": "Cụm \"A\""}`},
		{"upper-case project name", `{"Project_Name": "x"}`},
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
	f.Add([]byte(`{"project_name": "Cụm CN", "implementing_unit": "TTKC", "counterpart": "9500000000"}`))
	f.Add([]byte(`{"actor": "so-cong-thuong-ha-noi", "imported_by": "admin", "idempotency_key": "k"}`))
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

func sampleEvent(t testing.TB) domain.Event {
	var e domain.Event
	require.NoError(t, json.Unmarshal(sampleEventJSON(t), &e))
	return e
}

// sameEncodingAsEncodingJSON fails unless MarshalEvent writes e as
// json.Marshal does, byte for byte, or both refuse it.
func sameEncodingAsEncodingJSON(t testing.TB, e domain.Event) {
	t.Helper()
	want, wantErr := json.Marshal(&e)
	got, gotErr := domain.MarshalEvent(&e)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("on %+v: encoding/json says %v, MarshalEvent says %v", e, wantErr, gotErr)
	}
	if string(want) != string(got) {
		t.Fatalf("on %+v:\nencoding/json %s\nMarshalEvent  %s", e, want, got)
	}
}

func TestMarshalEventAgreesWithEncodingJSON(t *testing.T) {
	hanoi := time.FixedZone("ICT", 7*60*60)
	for _, tt := range []struct {
		name   string
		change func(e *domain.Event)
	}{
		{"as kcledger writes it", func(*domain.Event) {}},
		{"every optional field empty", func(e *domain.Event) {
			e.Project, e.Category, e.Decision, e.Voucher, e.Beneficiary, e.Reason, e.SignedBy, e.Signature = "", "", "", "", "", "", "", ""
		}},
		{"every field", func(e *domain.Event) { e.Decision, e.Reason = "3536/QĐ-BCT", "điều chỉnh" }},
		{"zero event", func(e *domain.Event) { *e = domain.Event{} }},
		{"negative amount", func(e *domain.Event) { e.Amount = domain.AmountFromInt64(-250_000_000) }},
		{"zero amount", func(e *domain.Event) { e.Amount = domain.Amount{} }},
		{"negative year", func(e *domain.Event) { e.FiscalYear = -3 }},
		{"time in Hà Nội", func(e *domain.Event) { e.RecordedAt = e.RecordedAt.In(hanoi) }},
		{"time without fraction", func(e *domain.Event) { e.RecordedAt = time.Date(2025, 4, 15, 9, 0, 0, 0, time.UTC) }},
		{"time beyond 9999", func(e *domain.Event) { e.RecordedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"zero time", func(e *domain.Event) { e.RecordedAt = time.Time{} }},
		{"invalid date", func(e *domain.Event) { e.EffectiveDate = domain.Date{Year: 2025, Month: 2, Day: 30} }},
		{"quote", func(e *domain.Event) { e.Beneficiary = `HTX "Gốm"` }},
		{"backslash", func(e *domain.Event) { e.Reason = `a\b` }},
		{"html characters", func(e *domain.Event) { e.Decision = "<b>&</b>" }},
		{"control character", func(e *domain.Event) { e.Reason = "a\tb" }},
		{"invalid UTF-8", func(e *domain.Event) { e.Beneficiary = "\xff\xfe" }},
		{"line separator", func(e *domain.Event) { e.Beneficiary = "a\u2028b\u2029" }},
		{"escape in a required field", func(e *domain.Event) { e.Actor = "o\"fficer" }},
		{"repudiation", func(e *domain.Event) {
			e.Type, e.FiscalYear, e.Province, e.Source, e.Amount = domain.TypeRepudiated, 0, "", "", domain.Amount{}
			e.Project, e.Category, e.Voucher, e.Beneficiary = "", "", "", ""
			e.RepudiatedSeq, e.Decision, e.Reason = 18446744073709551615, "12/QĐ-TTKC", "tin nhắn giả"
		}},
		{"repudiated seq on a movement", func(e *domain.Event) { e.RepudiatedSeq = 7 }},
		{"project facts", func(e *domain.Event) {
			e.Type, e.Voucher, e.Beneficiary, e.Decision = domain.TypeAllocated, "", "", "3536/QĐ-BCT"
			e.ProjectName, e.ImplementingUnit, e.Counterpart = "Cụm công nghiệp Phú Nghĩa", "Trung tâm Khuyến công Hà Nội", domain.AmountFromInt64(9_500_000_000)
		}},
		{"project name escaped", func(e *domain.Event) { e.ProjectName = `Cụm "A" & <B>` }},
		{"negative counterpart", func(e *domain.Event) { e.Counterpart = domain.AmountFromInt64(-1) }},
		{"transfer out", func(e *domain.Event) {
			e.Type, e.Voucher, e.Beneficiary, e.Decision = domain.TypeTransferredOut, "", "", "1234/QĐ-UBND"
			e.TransferKind, e.TransferID = domain.TransferSuccession, e.ID
			e.FromLine, e.ToLine = e.Line(), domain.LineKey{FiscalYear: 2025, Province: "08", Source: domain.SourceNational}
		}},
		{"transfer in, carried over", func(e *domain.Event) {
			e.Type, e.Voucher, e.Beneficiary, e.Decision = domain.TypeTransferredIn, "", "", "163/QĐ-UBND"
			e.TransferKind, e.TransferID = domain.TransferCarryOver, "01970a6e-8000-7000-8000-000000000009"
			e.FromLine, e.ToLine = domain.LineKey{FiscalYear: 2024, Province: e.Province, Source: e.Source}, e.Line()
		}},
		{"one line only", func(e *domain.Event) { e.ToLine = domain.LineKey{Province: "08"} }},
		{"line escaped", func(e *domain.Event) { e.FromLine = domain.LineKey{FiscalYear: -1, Province: `"<&>`, Source: "\xff"} }},
		{"lapse of nothing", func(e *domain.Event) {
			e.Type, e.Amount, e.Voucher, e.Beneficiary, e.Decision = domain.TypeLapsed, domain.Amount{}, "", "", "Luật NSNN 83/2015"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := sampleEvent(t)
			tt.change(&e)
			sameEncodingAsEncodingJSON(t, e)
		})
	}
}

// Whatever the event, MarshalEvent writes json.Marshal's bytes.
func FuzzMarshalEvent(f *testing.F) {
	f.Add("HTX Gốm", "UNC-0042", "officer", int64(250_000_000), 2025, 4, 15, int64(1744707600123456789), 0)
	f.Add(`a"b`, "<&>", "\xff", int64(-1), -1, 13, 0, int64(-62135596800000000000/1000), 7*3600)
	f.Add("a\u2028", "\x00", "", int64(0), 0, 0, 0, int64(0), -3600+1)
	f.Fuzz(func(t *testing.T, beneficiary, voucher, actor string, amount int64, year, month, day int, unixNano int64, offset int) {
		e := sampleEvent(t)
		e.Beneficiary, e.Voucher, e.Actor, e.Reason = beneficiary, voucher, actor, beneficiary+voucher
		e.ProjectName, e.ImplementingUnit, e.ImportedBy = voucher, beneficiary, actor+voucher
		e.Amount = domain.AmountFromInt64(amount)
		e.Counterpart = domain.AmountFromInt64(amount / 3)
		e.ToLine = domain.LineKey{FiscalYear: year + 1, Province: voucher, Source: domain.Source(actor)}
		e.FiscalYear = year
		e.EffectiveDate = domain.Date{Year: year, Month: time.Month(month), Day: day}
		e.RecordedAt = time.Unix(0, unixNano).In(time.FixedZone("z", offset%(100*3600)))
		sameEncodingAsEncodingJSON(t, e)
	})
}

func BenchmarkMarshalEvent(b *testing.B) {
	e := sampleEvent(b)
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MarshalEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := domain.MarshalEvent(&e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
