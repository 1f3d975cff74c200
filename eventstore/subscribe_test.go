package eventstore_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

func TestValidateFilter(t *testing.T) {
	for _, tt := range []struct {
		filter string
		want   string // "" accepts
	}{
		{"kcledger.events.>", ""},
		{"kcledger.events.2025.>", ""},
		{"kcledger.events.*.01.>", ""},
		{"kcledger.events.2025.01.national.>", ""},
		{"kcledger.events.*.*.local.>", ""},
		{"kcledger.events.*.*.*.refunded.>", ""},
		{"kcledger.events.*.*.*.disbursed.v1", ""},
		{"kcledger.events.2025.01.national.disbursed.v1", ""},
		{"kcledger.events.2026.31.national.>", ""}, // a 34-province code
		{"kcledger.events.2024.99.>", `province "99"`},
		{"kcledger.events.2024.1.>", `province "1"`},
		{"kcledger.>", "event subjects begin with kcledger.events."},
		{"kcledger.events", "event subjects begin with kcledger.events."},
		{"kcledger.events.", "the fiscal year token is empty"},
		{"kcledger.events.2025..>", "the province token is empty"},
		{"kcledger.events.02025.>", `fiscal year "02025"`},
		{"kcledger.events.2101.>", `fiscal year "2101"`},
		{"kcledger.events.*.*.KCQG.>", `source "KCQG"`},
		{"kcledger.events.*.*.*.Disbursed.>", `kind "Disbursed"`},
		{"kcledger.events.>.>", "'>' may only be the last token"},
		{"kcledger.events.20*.>", "mixes a wildcard with text"},
		{"kcledger.events.2025.01", "it stops after the province token and matches no event"},
		{"kcledger.events.*.*.*.*.*.*", "has 5 tokens after kcledger.events, not 6"},
	} {
		t.Run(tt.filter, func(t *testing.T) {
			err := eventstore.ValidateFilter(tt.filter)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			var de *domain.Error
			if assert.ErrorAs(t, err, &de) {
				assert.Equal(t, "filter", de.Field)
				assert.Equal(t, domain.CodeInvalidField, de.Code)
				assert.Contains(t, de.Message, tt.want)
			}
		})
	}
}

func TestValidateDurable(t *testing.T) {
	for name, ok := range map[string]bool{
		"kho-bac": true, "dashboard_2025": true, "A": true, strings.Repeat("x", 64): true,
		"": false, "kho.bac": false, "kho bac": false, "kho*": false, "kho>": false, "a/b": false,
		`a\b`: false, "khobạc": false, strings.Repeat("x", 65): false, "tab\t": false,
	} {
		err := eventstore.ValidateDurable(name)
		if ok {
			assert.NoError(t, err, "%q", name)
		} else {
			assert.Error(t, err, "%q", name)
		}
	}
}

// Whatever a subscriber types, an accepted filter lies inside the stream's
// subjects and is made of whole tokens, and an event subject it names
// exactly (no wildcard) is one kcledger can publish on.
func FuzzValidateFilter(f *testing.F) {
	for _, s := range []string{"kcledger.events.>", "kcledger.events.2025.01.national.disbursed.v1", "kcledger.events.*.79.>", "kcledger.events.2025", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		if eventstore.ValidateFilter(filter) != nil {
			return
		}
		if !strings.HasPrefix(filter, "kcledger.events.") {
			t.Fatalf("accepted %q outside the stream", filter)
		}
		toks := strings.Split(filter, ".")
		if len(toks) > 7 {
			t.Fatalf("accepted %q with %d tokens", filter, len(toks))
		}
		for i, tok := range toks {
			if tok == "" || (strings.ContainsAny(tok, "*>") && len(tok) > 1) || (tok == ">" && i != len(toks)-1) {
				t.Fatalf("accepted %q with token %q", filter, tok)
			}
		}
		if !strings.ContainsAny(filter, "*>") {
			if len(toks) != 7 {
				t.Fatalf("accepted literal %q that is not a whole subject", filter)
			}
			year := 0
			for _, c := range toks[2] {
				year = year*10 + int(c-'0')
			}
			var typ domain.EventType
			for _, et := range domain.EventTypes {
				if et.Kind() == toks[5] && et.Version() == toks[6] {
					typ = et
				}
			}
			e := domain.Event{FiscalYear: year, Province: toks[3], Source: domain.Source(toks[4]), Type: typ}
			if got := eventstore.EventSubject(&e); got != filter {
				t.Fatalf("accepted %q, but that event is published on %q", filter, got)
			}
		}
	})
}
