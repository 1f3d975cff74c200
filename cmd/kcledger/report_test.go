package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

func TestReportCommand(t *testing.T) {
	ta := newTestAPI(t)
	apitest.ReportLedger(t, ta.Client)
	cliAgainst(t, ta)

	code, out, stderr := runIn("report", "--year", "2025", "--region", "north", "--unit", "ty", "--decimals", "1")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "Kế hoạch và thực hiện kinh phí khuyến công năm 2025 — 15 tỉnh phía Bắc")
	assert.Contains(t, out, "Tỷ lệ so với kế hoạch")
	assert.Contains(t, out, "Tổng cộng")
	assert.Contains(t, out, "24,29%")

	code, out, stderr = runIn("report", "--year", "2025", "--lang", "en", "--by", "category")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "% of plan")
	assert.Contains(t, out, "training")

	dir := t.TempDir()
	csvFile := filepath.Join(dir, "r.csv")
	code, _, stderr = runIn("report", "--year", "2025", "--region", "north", "--format", "csv", "--output", csvFile)
	require.Equal(t, exitOK, code, stderr)
	f, err := os.Open(csvFile)
	require.NoError(t, err)
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	require.NoError(t, err)
	assert.Contains(t, recs[0][0], "15 tỉnh phía Bắc")
	assert.Contains(t, recs[1][0], "tỷ lệ so với kế hoạch tính trên")
	assert.Equal(t, []string{"01", "Hà Nội", "7.000", "1.700", "5.300", "24,29%", "100,00%", "1", "1.500"}, recs[3])

	code, served, stderr := runIn("report", "--year", "2025", "--compare-previous-year", "--format", "json")
	require.Equal(t, exitOK, code, stderr)

	// Straight from the stream, with pinned keys: the same figures.
	code, keys, stderr := runIn("keys")
	require.Equal(t, exitOK, code, stderr)
	keysFile := filepath.Join(dir, "keys.json")
	require.NoError(t, os.WriteFile(keysFile, []byte(keys), 0o600))
	code, _, stderr = runIn("report", "--year", "2025", "--nats-url", ta.natsURL)
	require.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "--keys is required")
	code, streamed, stderr := runIn("report", "--year", "2025", "--compare-previous-year", "--format", "json", "--nats-url", ta.natsURL, "--keys", keysFile)
	require.Equal(t, exitOK, code, stderr)
	var a, b webapi.PlanReportView
	require.NoError(t, json.Unmarshal([]byte(served), &a))
	require.NoError(t, json.Unmarshal([]byte(streamed), &b))
	a.AsOfSeq, b.AsOfSeq = 0, 0 // the server's scan reads one year's subjects
	sa, err := json.Marshal(a)
	require.NoError(t, err)
	sb, err := json.Marshal(b)
	require.NoError(t, err)
	assert.JSONEq(t, string(sa), string(sb))

	for _, tc := range []struct{ args, flag string }{
		{"--year 2025 --decimals 7", "--decimals"},
		{"--year 2025 --percent-decimals 5", "--percent-decimals"},
		{"--year 2025 --unit usd", "--unit"},
		{"--year 2026 --scheme 63", "--scheme"},
		{"--year 2025 --region east", "--region"},
		{"--year 2025 --share-of region", "--share-of"},
		{"--year 2025 --percent banker", "--percent"},
		{"--year 2025 --as-of 2099-01-01T00:00:00Z", "--as-of"},
		{"--year 2025 --effective-until 2027-01-01", "--effective-until"},
		{"--year 1999", "--year"},
		{"", "--year"},
		{"--year 2025 --format pdf", "--format"},
		{"--year 2025 --lang fr", "--lang"},
	} {
		code, _, stderr := runIn(append([]string{"report"}, strings.Fields(tc.args)...)...)
		assert.Equal(t, exitUsage, code, "%s: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.flag, tc.args)
	}
}
