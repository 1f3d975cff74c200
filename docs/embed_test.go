package docs_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/docs"
)

// The JSON keeps the YAML's key order and exact numbers, and refuses
// what JSON cannot say.
func TestYAMLToJSON(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, json string
		err              bool
	}{
		{name: "order kept", yaml: "b: 1\na: [x, 2, true, null]\n", json: `{"b":1,"a":["x",2,true,null]}`},
		{name: "quoted numbers stay strings", yaml: "s: \"201\"\n\"200\": 3.5\n", json: `{"s":"201","200":3.5}`},
		{name: "big integers exact", yaml: "max: 18446744073709551615\n", json: `{"max":18446744073709551615}`},
		{name: "block text", yaml: "d: |\n  two\n  lines\n", json: `{"d":"two\nlines\n"}`},
		{name: "alias", yaml: "a: &x 1\nb: *x\n", err: true},
		{name: "not YAML", yaml: "a: [\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := docs.YAMLToJSON([]byte(tc.yaml))
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tc.json, string(got))
			var compact []byte
			compact, err = json.Marshal(json.RawMessage(got))
			require.NoError(t, err)
			assert.Equal(t, tc.json, string(compact), "key order")
		})
	}
}

// docs/openapi.yaml converts, and says it is OpenAPI 3.1.
func TestOpenAPIJSON(t *testing.T) {
	b, err := docs.OpenAPIJSON()
	require.NoError(t, err)
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
}
