package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/eventstore"
)

// metricsLine is serve's log line naming where its metrics are served.
var metricsLine = regexp.MustCompile(`metrics=(http://127\.0\.0\.1:\d+/metrics)`)

// serve --metrics serves Prometheus metrics on a listener of its own:
// a recorded movement, its replay and a refusal each move their counter
// by one, the request is counted under its route (the pattern, not the
// path), the NATS connection is up, the balances catch up, and the real
// promtool accepts the exposition.
func TestMetricsScrapedAndChecked(t *testing.T) {
	p := startServe(t, "--metrics", "127.0.0.1:0", "--log-level", "info")
	url := metricsURL(t, p)

	before, _ := scrape(t, url)
	ctx := t.Context()
	status, body, err := post(ctx, p.http, "/v1/allocations", "metrics-alloc", allocationBody("5000000000"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status, body)
	status, body, err = post(ctx, p.http, "/v1/allocations", "metrics-alloc", allocationBody("5000000000"))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	page, err := http.Get(p.http + "/login")
	require.NoError(t, err)
	require.NoError(t, page.Body.Close())
	require.Equal(t, http.StatusOK, page.StatusCode)
	status, body, err = post(ctx, p.http, "/v1/disbursements", "metrics-disb", disbursementBody("6000000000"))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, status, body)

	// A request is counted as its handler returns, which may be a moment
	// after its client has the answer; the balances apply the movement a
	// moment after it is recorded.
	var after map[string]*dto.MetricFamily
	var text []byte
	refused := map[string]string{"route": "POST /v1/disbursements", "method": "POST", "status": "422"}
	login := map[string]string{"route": "GET /login", "method": "GET", "status": "200"}
	require.Eventually(t, func() bool {
		after, text = scrape(t, url)
		lag, ok := sample(after, "kcledger_projection_lag_messages", map[string]string{"projection": "balances"})
		was, _ := sample(before, "kcledger_http_requests_total", refused)
		now, _ := sample(after, "kcledger_http_requests_total", refused)
		loginWas, _ := sample(before, "kcledger_http_requests_total", login)
		loginNow, _ := sample(after, "kcledger_http_requests_total", login)
		return ok && lag == 0 && now == was+1 && loginNow == loginWas+1
	}, 10*time.Second, 50*time.Millisecond, "the balances' lag never came to 0, or a request was not counted")

	for _, c := range []struct {
		name   string
		labels map[string]string
		delta  float64
	}{
		{"kcledger_appends_total", map[string]string{"type": "funds.allocated.v1", "outcome": "recorded"}, 1},
		{"kcledger_appends_total", map[string]string{"type": "funds.allocated.v1", "outcome": "replayed"}, 1},
		{"kcledger_appends_total", map[string]string{"type": "funds.disbursed.v1", "outcome": "refused"}, 1},
		{"kcledger_appends_total", map[string]string{"type": "funds.disbursed.v1", "outcome": "recorded"}, 0},
		{"kcledger_appends_total", map[string]string{"type": "funds.allocated.v1", "outcome": "conflict_retry"}, 0},
		{"kcledger_refusals_total", map[string]string{"code": "insufficient_funds"}, 1},
		{"kcledger_http_requests_total", map[string]string{"route": "POST /v1/allocations", "method": "POST", "status": "201"}, 1},
		{"kcledger_http_requests_total", map[string]string{"route": "POST /v1/allocations", "method": "POST", "status": "200"}, 1},
		{"kcledger_http_requests_total", map[string]string{"route": "POST /v1/disbursements", "method": "POST", "status": "422"}, 1},
		{"kcledger_http_requests_total", map[string]string{"route": "GET /login", "method": "GET", "status": "200"}, 1},
	} {
		was, _ := sample(before, c.name, c.labels)
		now, ok := sample(after, c.name, c.labels)
		require.True(t, ok, "%s%v is not in the scrape", c.name, c.labels)
		assert.Equal(t, c.delta, now-was, "%s%v", c.name, c.labels)
	}
	// An append was timed; the route is the pattern, never the raw path.
	require.Contains(t, after, "kcledger_append_duration_seconds")
	assert.GreaterOrEqual(t, after["kcledger_append_duration_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(), uint64(1))
	// The allocation was published alone: group commit's writes of one.
	require.Contains(t, after, "kcledger_group_commit_messages")
	assert.GreaterOrEqual(t, after["kcledger_group_commit_messages"].GetMetric()[0].GetHistogram().GetBucket()[0].GetCumulativeCount(), uint64(1))
	assert.NotContains(t, string(text), `route="/v1/allocations"`)
	for _, p := range []string{"key_index", "reports"} {
		_, ok := sample(after, "kcledger_projection_lag_messages", map[string]string{"projection": p})
		assert.True(t, ok, "the %s' lag", p)
		_, ok = sample(after, "kcledger_projection_lag_seconds", map[string]string{"projection": p})
		assert.True(t, ok, "the %s' lag in seconds", p)
	}
	v, ok := sample(after, "kcledger_nats_connected", nil)
	require.True(t, ok)
	assert.Equal(t, 1.0, v)
	_, ok = sample(after, "kcledger_nats_reconnects_total", nil)
	assert.True(t, ok)
	v, ok = sample(after, "kcledger_stream_messages", nil)
	require.True(t, ok)
	assert.GreaterOrEqual(t, v, 1.0)
	v, ok = sample(after, "kcledger_stream_bytes", nil)
	require.True(t, ok)
	assert.Greater(t, v, 0.0)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		assert.Contains(t, after, name, "the Go and process collectors")
	}

	// The example alert rules name only metrics that serve exports.
	for _, rules := range alertRules(t) {
		for _, name := range kcledgerMetric.FindAllString(rules, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			_, ok := after[base]
			assert.True(t, ok, "docs/operations.md's rules name %s, which serve does not export", name)
		}
	}

	promtool := requirePromtool(t)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
}

// With the NATS server down a scrape still answers, promptly: the
// connection is 0 and the stream's figures, which JetStream would give,
// are left out rather than waited for.
func TestMetricsScrapeAnswersWithNATSDown(t *testing.T) {
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ns.Shutdown()
		}
	})
	p := startServe(t, "--nats-url", ns.ClientURL(), "--metrics", "127.0.0.1:0", "--log-level", "info")
	url := metricsURL(t, p)
	families, _ := scrape(t, url)
	_, ok := sample(families, "kcledger_stream_messages", nil)
	require.True(t, ok, "the stream's figures while NATS is up")

	ns.Shutdown()
	ns.WaitForShutdown()
	stopped = true
	require.Eventually(t, func() bool {
		families, _ = scrape(t, url)
		v, ok := sample(families, "kcledger_nats_connected", nil)
		return ok && v == 0
	}, 30*time.Second, 50*time.Millisecond, "kcledger_nats_connected never came to 0")
	start := time.Now()
	families, _ = scrape(t, url)
	took := time.Since(start)
	assert.Less(t, took, 2*scrapeTimeout+time.Second, "a scrape with NATS down took %s", took)
	_, ok = sample(families, "kcledger_stream_messages", nil)
	assert.False(t, ok, "no stream figures without JetStream")
	assert.Contains(t, families, "kcledger_appends_total", "the process's own metrics still answer")
}

// metricsURL is where p serves its metrics, as its log says.
func metricsURL(t *testing.T, p *serveProc) string {
	t.Helper()
	var url string
	require.Eventually(t, func() bool {
		m := metricsLine.FindStringSubmatch(p.stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 10*time.Second, 20*time.Millisecond, "no metrics line in:\n%s", p.stderr.String())
	return url
}

// docs/operations.md's example alert rules are rules promtool accepts.
func TestMetricsAlertRulesChecked(t *testing.T) {
	blocks := alertRules(t)
	require.NotEmpty(t, blocks, "no yaml block in docs/operations.md")
	promtool := requirePromtool(t)
	for i, rules := range blocks {
		file := filepath.Join(t.TempDir(), fmt.Sprintf("rules-%d.yaml", i))
		require.NoError(t, os.WriteFile(file, []byte(rules), 0o600))
		out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
		require.NoError(t, err, "promtool check rules on block %d of docs/operations.md:\n%s\n%s", i, out, rules)
	}
}

var (
	yamlBlock      = regexp.MustCompile("(?s)```yaml\n(.*?)```")
	kcledgerMetric = regexp.MustCompile(`\bkcledger_[a-z_]+`)
)

// alertRules are the yaml blocks of docs/operations.md.
func alertRules(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	require.NoError(t, err)
	var blocks []string
	for _, m := range yamlBlock.FindAllStringSubmatch(string(doc), -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// requirePromtool is the path of promtool (Debian package prometheus);
// the test is skipped without it, or fails with KCLEDGER_REQUIRE_TOOLS=1.
func requirePromtool(t *testing.T) string {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("KCLEDGER_REQUIRE_TOOLS") == "1" {
			t.Fatal("promtool is not installed (Debian package prometheus), and KCLEDGER_REQUIRE_TOOLS=1")
		}
		t.Skip("promtool is not installed (Debian package prometheus): install it with apt-get install prometheus")
	}
	return promtool
}

// A metrics address beyond loopback needs TLS or --insecure, as --http.
func TestMetricsBeyondLoopbackNeedsTLSOrInsecure(t *testing.T) {
	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--metrics", "0.0.0.0:9464"}, false},
		{[]string{"--metrics", "0.0.0.0:9464", "--insecure"}, true},
		{[]string{"--metrics", "127.0.0.1:9464"}, true},
		{[]string{"--metrics", "localhost:9464"}, true},
		{[]string{"--metrics", "9464"}, false},
	} {
		var stderr strings.Builder
		_, _, ok := parseServeConfig(append([]string{"--data", t.TempDir()}, c.args...), &stderr)
		assert.Equal(t, c.ok, ok, "%v: %s", c.args, stderr.String())
		if !c.ok {
			assert.Contains(t, stderr.String(), "--metrics", c.args)
		}
	}
}

// scrape returns the parsed families and the text of one scrape.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	text, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	require.NoError(t, err, "%s", text)
	return families, text
}

// sample is the value of the counter or gauge name with exactly labels.
func sample(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := families[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetUntyped() != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}
