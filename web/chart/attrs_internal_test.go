package chart

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAttrsRefuseWhatIsNotNumbersAndNames(t *testing.T) {
	assert.Equal(t, `x="1.5" class="chart-exec chart-over" fill="#1f4e79"`,
		string(attrs("x", "1.5", "class", "chart-exec chart-over", "fill", "#1f4e79")))
	for _, kv := range [][2]string{
		{"x", `1" onload="alert(1)`},
		{"x", "1>"},
		{"x", "&amp;"},
		{"x", "1'"},
		{`x="1" y`, "2"},
		{"", "2"},
		{"x", "é"},
	} {
		assert.Panics(t, func() { attrs(kv[0], kv[1]) }, "%q=%q", kv[0], kv[1])
	}
}
