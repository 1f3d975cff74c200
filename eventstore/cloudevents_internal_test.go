package eventstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"funds.allocated.v1": "funds.allocated.v1",
		"2025/01/national":   "2025/01/national",
		"a b":                "a%20b",
		`say "hi"`:           "say%20%22hi%22",
		"100%":               "100%25",
		"Hà Nội":             "H%C3%A0%20N%E1%BB%99i",
		"tab\there":          "tab%09here",
		"del\x7f":            "del%7F",
	} {
		assert.Equal(t, want, percentEncode(in), "%q", in)
	}
}
