package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/projections"
)

// The API answers compact JSON; --json prints it indented for a person,
// as the API's answers were before.
func TestPrintAnswerIndents(t *testing.T) {
	for _, tc := range []struct{ name, raw, want string }{
		{"compact", `{"a":"1","b":[1,2]}`, "{\n  \"a\": \"1\",\n  \"b\": [\n    1,\n    2\n  ]\n}\n"},
		{"already indented", "{\n  \"a\": \"1\"\n}", "{\n  \"a\": \"1\"\n}\n"},
		{"not JSON", `{"a":`, "{\"a\":\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			printAnswer(&out, []byte(tc.raw))
			assert.Equal(t, tc.want, out.String())
		})
	}
}

// decodeAnswer decodes the JSON value that s holds into v: an API answer,
// or the output of a tool that prints one on a line of its own after
// lines of its own (nats request). Tests decode answers rather than look
// for their text, whose layout is not the API's contract.
func decodeAnswer(s string, v any) error {
	if !strings.HasPrefix(s, "{") && !strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "\n{"); i >= 0 {
			s = s[i+1:]
		}
	}
	return json.NewDecoder(strings.NewReader(s)).Decode(v)
}

// reportIn is the balances report that s holds (decodeAnswer).
func reportIn(t *testing.T, s string) projections.Report {
	t.Helper()
	var rep projections.Report
	require.NoError(t, decodeAnswer(s, &rep), "%s", s)
	return rep
}

// reportLine is the line of a report in a province, or nil.
func reportLine(rep projections.Report, province string) *projections.LineBalance {
	for i := range rep.Lines {
		if rep.Lines[i].Line.Province == province {
			return &rep.Lines[i]
		}
	}
	return nil
}
