package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve --log-format json writes one JSON object a line; each request's
// line names its account, status and, for a refusal, its code, and no
// line holds a token.
func TestServeLogsJSON(t *testing.T) {
	p := startServe(t, "--log-format", "json", "--log-level", "info")
	code, _, stderr := cli(t, p.http, "allocate", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "5 tỷ", "--decision", "3536/QĐ-BCT", "--date", "2025-01-10")
	require.Equal(t, 0, code, stderr)
	code, _, _ = cli(t, p.http, "disburse", "--year", "2025", "--province", "01", "--source", "national",
		"--amount", "6 tỷ", "--voucher", "KB-1", "--beneficiary", "HTX", "--date", "2025-03-03")
	require.Equal(t, exitRefused, code)

	var recorded, refused bool
	require.Eventually(t, func() bool {
		recorded, refused = false, false
		for _, l := range p.stderr.lines() {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m), "a log line that is not JSON: %s", l)
			if m["msg"] != "request" {
				continue
			}
			recorded = recorded || m["path"] == "/v1/allocations" && m["route"] == "POST /v1/allocations" && m["status"] == float64(201) && m["account"] == "admin"
			refused = refused || m["path"] == "/v1/disbursements" && m["status"] == float64(422) && m["code"] == "insufficient_funds" && m["account"] == "admin"
		}
		return recorded && refused
	}, 10*time.Second, 50*time.Millisecond, "the request lines: recorded %v, refused %v\n%s", recorded, refused, p.stderr.String())
	admin, err := readSecretFile(p.tokenFile())
	require.NoError(t, err)
	assert.NotContains(t, p.stderr.String(), admin)
	assert.False(t, strings.Contains(p.stderr.String(), strings.SplitN(admin, "_", 3)[2]), "no part of the token")
}

func TestServeRefusesAnUnknownLogFormat(t *testing.T) {
	var stderr strings.Builder
	_, code, ok := parseServeConfig([]string{"--log-format", "xml"}, &stderr)
	require.False(t, ok)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr.String(), `--log-format "xml": want text or json`)
}
