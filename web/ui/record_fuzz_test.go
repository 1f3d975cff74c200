package ui

import (
	"errors"
	"net/url"
	"testing"

	"github.com/kcledger/kcledger/domain"
)

// FuzzRecordBody: whatever is typed in a form's amount and year, the body
// posted holds the domain's own reading of it, in the machine form the
// API takes, or nothing is posted and the refusal names the field typed
// in. The page reads no amount itself: this checks it hands the typed
// text to the domain's parser and back out unchanged.
func FuzzRecordBody(f *testing.F) {
	for _, s := range []string{"1,5 tỷ", "1.500.000.000", "200 triệu", "-250 triệu", "60,840 tỷ", "0", "", "abc", "1 tỷ 500 triệu", "+100 triệu"} {
		f.Add(s, "2025")
	}
	f.Add("1", "năm nay")
	f.Fuzz(func(t *testing.T, amount, year string) {
		for name, k := range recordKinds {
			field := amountField(k.kind)
			body, err := recordBody(k, url.Values{field: {amount}, "fiscal_year": {year}})
			want, perr := domain.ParseHumanAmount(amount)
			if amount == "" {
				if err != nil || body[field] != nil {
					t.Fatalf("%s: an empty amount is left to the API: %v, %v", name, body, err)
				}
				continue
			}
			if perr != nil {
				var de *domain.Error
				if !errors.As(err, &de) || de.Code != domain.CodeInvalidAmount || de.Field != field {
					t.Fatalf("%s: %q: want invalid_amount on %s, got %v", name, amount, field, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %q read by the domain, refused by the form: %v", name, amount, err)
			}
			got, _ := body[field].(string)
			back, err := domain.ParseAmount(got)
			if err != nil || !back.Equal(want) {
				t.Fatalf("%s: %q: body has %q, the domain reads %s", name, amount, got, want)
			}
			if y, ok := body["fiscal_year"].(int); year != "" && (!ok || y == 0) {
				t.Fatalf("%s: year %q posted as %v", name, year, body["fiscal_year"])
			}
		}
	})
}
