package ui

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
)

// Every field of a form is one its API body takes: the API's own decoder
// knows each of them for that kind.
func TestRecordFormsFieldsAreTheAPIs(t *testing.T) {
	for name, k := range recordKinds {
		for _, f := range k.fields {
			var v any = "x"
			if yearFields[f] {
				v = 2025
			}
			body, err := json.Marshal(map[string]any{f: v})
			require.NoError(t, err)
			_, err = api.DecodeMovement(k.kind, body)
			assert.NotEqual(t, domain.CodeUnknownField, domain.ErrorCode(err), "%s: the API does not take %s: %v", name, f, err)
		}
		assert.Contains(t, k.fields, amountField(k.kind), name)
	}
}
