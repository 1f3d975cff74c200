package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/kcledger/kcledger/domain"
)

// fuzzKinds indexes the commands for the fuzzer, which cannot generate a
// CommandKind itself.
var fuzzKinds = []domain.CommandKind{domain.Allocate, domain.Adjust, domain.Disburse, domain.Refund, domain.Transfer, domain.Lapse}

// movementWire re-encodes a decoded command as a request body.
type movementWire struct {
	FiscalYear  int            `json:"fiscal_year"`
	Province    string         `json:"province"`
	Source      string         `json:"source"`
	Project     string         `json:"project"`
	Category    string         `json:"category"`
	Amount      *domain.Amount `json:"amount,omitempty"`
	Delta       *domain.Amount `json:"delta,omitempty"`
	Decision    string         `json:"decision"`
	Voucher     string         `json:"voucher,omitempty"`
	Beneficiary string         `json:"beneficiary,omitempty"`
	Reason      string         `json:"reason"`
	// The project facts, absent when empty as a client leaves them out.
	ProjectName      string         `json:"project_name,omitempty"`
	ImplementingUnit string         `json:"implementing_unit,omitempty"`
	Counterpart      *domain.Amount `json:"counterpart,omitempty"`
	EffectiveDate    domain.Date    `json:"effective_date"`
	// A transfer's kind and destination, absent on the other kinds.
	TransferKind string `json:"transfer_kind,omitempty"`
	ToFiscalYear int    `json:"to_fiscal_year,omitempty"`
	ToProvince   string `json:"to_province,omitempty"`
	ToSource     string `json:"to_source,omitempty"`
}

func encodeMovement(c domain.Command) ([]byte, error) {
	w := movementWire{
		FiscalYear: c.FiscalYear, Province: c.Province, Source: string(c.Source), Project: c.Project,
		Category: string(c.Category), Decision: c.Decision, Voucher: c.Voucher, Beneficiary: c.Beneficiary,
		Reason: c.Reason, EffectiveDate: c.EffectiveDate,
		ProjectName: c.ProjectName, ImplementingUnit: c.ImplementingUnit,
		TransferKind: string(c.TransferKind), ToFiscalYear: c.To.FiscalYear, ToProvince: c.To.Province, ToSource: string(c.To.Source),
	}
	if !c.Counterpart.IsZero() {
		counterpart := c.Counterpart
		w.Counterpart = &counterpart
	}
	amount := c.Amount
	if c.Kind == domain.Adjust {
		w.Delta = &amount
	} else {
		w.Amount = &amount
	}
	return json.Marshal(w)
}

func FuzzDecodeMovement(f *testing.F) {
	seeds := []struct {
		kind uint8
		body string
	}{
		{0, `{"fiscal_year":2025,"province":"01","source":"national","amount":"1500000000","decision":"123/QĐ-BCT","effective_date":"2025-03-01"}`},
		{1, `{"fiscal_year":2025,"province":"01","source":"local","delta":"-250000000","decision":"45/QĐ-UBND","reason":"giảm","effective_date":"2025-06-15"}`},
		{2, `{"fiscal_year":2025,"province":"79","source":"national","project":"KC-2025/01","category":"training","amount":"1","voucher":"UNC-1","beneficiary":"HTX","effective_date":"2025-08-01"}`},
		{3, `{"fiscal_year":2100,"province":"01","source":"national","amount":"999999999999999","voucher":"NT-1","reason":"r","effective_date":"2200-12-31"}`},
		{0, `  {"FISCAL_YEAR":2025,"amount":"0","effective_date":"2025-01-01"}  `},
		{0, `{"fiscal_year":2025,"amount":1500000000,"effective_date":"2025-03-01"}`},
		{0, `{"fiscal_year":2025,"amount":1.5e9,"effective_date":"2025-03-01"}`},
		{0, `{"fiscal_year":2025,"amount":"1.5","effective_date":"2025-03-01"}`},
		{0, `{"fiscal_year":2025,"amount":"-0","effective_date":"2025-03-01"}`},
		{4, `{"transfer_kind":"succession","fiscal_year":2025,"province":"02","source":"national","to_fiscal_year":2025,"to_province":"08","amount":"2000000000","decision":"1234/QĐ-UBND","effective_date":"2025-07-01"}`},
		{4, `{"transfer_kind":"carry_over","fiscal_year":2025,"province":"01","source":"local","to_fiscal_year":2026,"to_province":"01","to_source":"local","project":"DA-1","amount":"1","decision":"1/QĐ","reason":"r","effective_date":"2026-01-15"}`},
		{4, `{"transfer_kind":"succession","fiscal_year":2025,"to_fiscal_year":"2025","amount":"1","effective_date":"2025-07-01"}`},
		{4, `{"fiscal_year":2025,"to_fiscal_year":2025,"amount":"1","voucher":"","effective_date":"2025-07-01"}`},
		{4, `{"fiscal_year":2025,"amount":"1","effective_date":"2025-07-01"}`},
		{5, `{"fiscal_year":2025,"province":"01","source":"national","amount":"0","decision":"56/QĐ-UBND","effective_date":"2026-02-01"}`},
		{5, `{"fiscal_year":2025,"amount":"1","to_province":"08","effective_date":"2026-02-01"}`},
		{0, `{"fiscal_year":2025,"province":"01","source":"national","project":"CCN-1","amount":"1","decision":"1/QĐ","project_name":"Cụm CN","implementing_unit":"TTKC","counterpart":"9500000000","effective_date":"2025-03-01"}`},
		{0, `{"fiscal_year":2025,"amount":"1","counterpart":95,"effective_date":"2025-03-01"}`},
		{0, `{"fiscal_year":2025,"amount":"1","counterpart":null,"effective_date":"2025-03-01"}`},
		{0, `{"fiscal_year":2025,"amount":"1","counterpart":"-0","effective_date":"2025-03-01"}`},
		{0, `{"fiscal_year":2025,"amount":"10000000000000000000","effective_date":"2025-03-01"}`},
		{0, `{"fiscal_year":2025,"amount":null,"effective_date":"2025-03-01"}`},
		{0, `{"fiscal_year":2025,"amount":"\u0031","effective_date":"2025-13-01"}`},
		{0, `{"fiscal_year":2025,"amount":"1","effective_date":20250301}`},
		{0, `{"fiscal_year":2025,"amount":"1","effective_date":null}`},
		{1, `{"fiscal_year":2025,"amount":"1","delta":"1","effective_date":"2025-03-01"}`},
		{2, `{"fiscal_year":2025,"delta":null,"effective_date":"2025-03-01"}`},
		{0, `{"fiscal_year":"2025"}`},
		{0, `{"fiscal_year":2025.0}`},
		{0, `{"fiscal_year":1e400}`},
		{0, `{"fiscal_year":2025,"memo":"x"}`},
		{0, `{"fiscal_year":2025,"province":{"code":"01"}}`},
		{0, `{"fiscal_year":2025} trailing`},
		{0, `{"fiscal_year":2025}{}`},
		{0, `{"fiscal_year":2025,"province":"\ud800"}`},
		{0, "{\"decision\":\"\xff\"}"},
		{0, `[]`},
		{0, `null`},
		{0, `"x"`},
		{0, `{`},
		{0, ``},
	}
	for _, s := range seeds {
		f.Add(s.kind, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		kind := fuzzKinds[int(k)%len(fuzzKinds)]
		cmd, err := DecodeMovement(kind, body)
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T) is not a *domain.Error", err, err)
			}
			status, ok := StatusOf[de.Code]
			if !ok || status < 400 || status > 499 {
				t.Fatalf("code %s maps to status %d (known %v), want a 4xx: %v", de.Code, status, ok, err)
			}
			if de.Message == "" {
				t.Fatalf("code %s has no message", de.Code)
			}
			return
		}
		if cmd.Kind != kind {
			t.Fatalf("decoded kind %s, want %s", cmd.Kind, kind)
		}
		if d := cmd.Amount.Decimal(); d.Exponent() != 0 || !d.IsInteger() {
			t.Fatalf("amount %s is not a whole number of đồng in canonical form (exponent %d)", cmd.Amount, d.Exponent())
		}
		if cmd.EffectiveDate.IsZero() || cmd.FiscalYear == 0 {
			t.Fatalf("decoded without a date or fiscal year: %+v", cmd)
		}

		// The decoded fields survive a round trip through the wire form.
		wire, err := encodeMovement(cmd)
		if err != nil {
			t.Fatalf("encode %+v: %v", cmd, err)
		}
		back, err := DecodeMovement(kind, wire)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", wire, err)
		}
		if !back.Amount.Equal(cmd.Amount) || !back.Counterpart.Equal(cmd.Counterpart) {
			t.Fatalf("amount %s or counterpart %s came back as %s, %s", cmd.Amount, cmd.Counterpart, back.Amount, back.Counterpart)
		}
		if back.Fingerprint() != cmd.Fingerprint() {
			t.Fatalf("round trip changed the command:\n%+v\n%+v", cmd, back)
		}
		a, b := cmd, back
		a.Amount, b.Amount = domain.Amount{}, domain.Amount{}
		a.Counterpart, b.Counterpart = domain.Amount{}, domain.Amount{}
		if a != b {
			t.Fatalf("round trip changed the command:\n%+v\n%+v", a, b)
		}
		again, err := encodeMovement(back)
		if err != nil || !bytes.Equal(again, wire) {
			t.Fatalf("the wire form is not stable: %s then %s (%v)", wire, again, err)
		}
	})
}
