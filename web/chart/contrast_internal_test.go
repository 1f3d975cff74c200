package chart

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contrast is the WCAG 2 contrast ratio of a #rrggbb colour against white.
func contrast(t *testing.T, hex string) float64 {
	t.Helper()
	require.Len(t, hex, 7)
	lum := 0.0
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		require.NoError(t, err)
		c := float64(v) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += w * c
	}
	return 1.05 / (lum + 0.05)
}

func TestDefaultColoursContrast(t *testing.T) {
	for _, tc := range []struct {
		name, colour string
		min          float64
	}{
		// Text on white: WCAG AA, 4.5:1.
		{"label", colourText, 4.5},
		{"figures", colourFigure, 4.5},
		{"negative figures", colourNeg, 4.5},
		{"gridline figures", colourTick, 4.5},
		// Marks that carry meaning: WCAG 1.4.11, 3:1.
		{"executed bar", colourExec, 3},
		{"over plan bar", colourOver, 3},
		{"plan outline", colourPlanLine, 3},
		{"running total", colourCum, 3},
		{"negative month", colourNeg, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.GreaterOrEqual(t, contrast(t, tc.colour), tc.min, "%s on white", tc.colour)
		})
	}
	// The executed bar stands out of the plan bar it is drawn on.
	assert.GreaterOrEqual(t, contrast(t, colourExec)/contrast(t, colourPlanFill), 3.0)
	assert.GreaterOrEqual(t, contrast(t, colourOver)/contrast(t, colourPlanFill), 3.0)
}
