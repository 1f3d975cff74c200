package password

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, account, password string
		rule                    Rule // "" when allowed
	}{
		{"twelve ASCII", "ttcp-hanoi", "abcdefghijkl", ""},
		{"eleven", "ttcp-hanoi", "abcdefghijk", RuleTooShort},
		{"empty", "ttcp-hanoi", "", RuleTooShort},
		{"twelve Vietnamese characters, more bytes", "a", "mậtkhẩuđủdài", ""},
		{"eleven Vietnamese characters", "a", "mậtkhẩuđủdà", RuleTooShort},
		{"256 bytes", "a", strings.Repeat("ab", 128), ""},
		{"257 bytes", "a", strings.Repeat("ab", 128) + "c", RuleTooLong},
		{"a megabyte", "a", strings.Repeat("ab", 1<<19), RuleTooLong},
		{"invalid UTF-8", "a", "abcdefghijkl\xff", RuleNotUTF8},
		{"one character", "a", strings.Repeat("a", 20), RuleOneChar},
		{"one Vietnamese character", "a", strings.Repeat("ệ", 20), RuleOneChar},
		{"two characters", "a", strings.Repeat("a", 19) + "b", ""},
		{"the account name", "ttcp-hanoi-01", "ttcp-hanoi-01", RuleAccountName},
		{"the account name in capitals", "ttcp-hanoi-01", "TTCP-Hanoi-01", RuleAccountName},
		{"the account name with spaces", "ttcp-hanoi-01", " ttcp-hanoi-01 ", RuleAccountName},
		{"containing the account name", "ttcp-hanoi-01", "ttcp-hanoi-01!", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.account, tc.password)
			if tc.rule == "" {
				require.NoError(t, err)
				return
			}
			var pe *PolicyError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.rule, pe.Rule)
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, domain.CodeInvalidField, de.Code)
			assert.Equal(t, "password", de.Field)
			assert.True(t, errors.Is(err, &domain.Error{Code: domain.CodeInvalidField}))
			assert.Equal(t, domain.CodeInvalidField, domain.ErrorCode(err))
			if tc.password != "" {
				assert.NotContains(t, err.Error(), tc.password[:min(len(tc.password), 12)], "a refusal never repeats the password")
			}
		})
	}
}
