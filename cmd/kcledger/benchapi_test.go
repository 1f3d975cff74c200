package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The table's ratios are the medians of each round's own ratio to the
// ledger, not the ratio of the medians.
func TestBenchAPIRowsRatioPerRound(t *testing.T) {
	cells := []benchAPICell{
		{Via: "ledger", Clients: 1, Round: 1, PerSecond: 1000, P99Micros: 1000},
		{Via: "http", Clients: 1, Round: 1, PerSecond: 900, P99Micros: 1500},
		{Via: "ledger", Clients: 1, Round: 2, PerSecond: 2000, P99Micros: 2000},
		{Via: "http", Clients: 1, Round: 2, PerSecond: 1000, P99Micros: 2000},
		{Via: "ledger", Clients: 1, Round: 3, PerSecond: 500, P99Micros: 500},
		{Via: "http", Clients: 1, Round: 3, PerSecond: 400, P99Micros: 600},
	}
	rows := benchAPIRows(cells, []int{1}, []string{"ledger", "http"})
	require.Len(t, rows, 1)
	assert.InDelta(t, 0.8, rows[0].Ratio["http"], 1e-9)    // of 0.9, 0.5, 0.8
	assert.InDelta(t, 1.2, rows[0].P99Ratio["http"], 1e-9) // of 1.5, 1.0, 1.2
	assert.InDelta(t, 1000, rows[0].Via["ledger"].PerSecond, 1e-9)
	assert.InDelta(t, 900, rows[0].Via["http"].PerSecond, 1e-9)
	var out bytes.Buffer
	printBenchAPI(&out, rows, []string{"ledger", "http"})
	assert.Contains(t, out.String(), "0.80, 1.20")
}

func TestBenchAPIUsage(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, exitUsage, runBenchAPI(t.Context(), []string{"--clients", "0"}, &bytes.Buffer{}, &stderr))
	assert.Equal(t, exitUsage, runBenchAPI(t.Context(), []string{"--via", "grpc"}, &bytes.Buffer{}, &stderr))
	assert.Equal(t, exitUsage, runBenchAPI(t.Context(), nil, &bytes.Buffer{}, &stderr), "no serve named")
}
