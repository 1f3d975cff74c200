package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections/export"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// TestGoldenProjectFacts pins an allocation carrying the project facts;
// the golden events without them (event_*.json) are unchanged, which
// proves that old events hash as they did.
func TestGoldenProjectFacts(t *testing.T) {
	e := domain.Event{
		ID: "01970a6e-8000-7000-8000-000000000007", Type: domain.TypeAllocated,
		FiscalYear: goldenLine.FiscalYear, Province: goldenLine.Province, Source: goldenLine.Source,
		Project: "CCN-2025-03", Category: domain.CategoryIndustrialCluster, Amount: mustAmount(t, "19398000000"),
		Decision: "789/QĐ-BCT", ProjectName: "Hạ tầng cụm công nghiệp Phú Nghĩa", ImplementingUnit: "UBND huyện Chương Mỹ",
		Counterpart: mustAmount(t, "9500000000"), EffectiveDate: mustDate(t, "2025-03-10"),
		RecordedAt: time.Date(2025, time.March, 11, 2, 0, 0, 0, time.UTC), Actor: "officer-hanoi",
		IdempotencyKey: "golden-allocate-facts", PrevHash: domain.GenesisHash,
	}
	e.Hash = e.ComputeHash()
	domain.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))).Sign(&e)
	require.NoError(t, e.Validate(domain.Policy{}))
	got, err := json.MarshalIndent(e, "", "  ")
	require.NoError(t, err)
	checkGolden(t, "facts_allocated.json", append(got, '\n'))
	fast, err := domain.MarshalEvent(&e)
	require.NoError(t, err)
	compact, err := json.Marshal(e)
	require.NoError(t, err)
	assert.Equal(t, string(compact), string(fast))
	var back domain.Event
	require.NoError(t, domain.UnmarshalEvent(got, &back))
	assert.Equal(t, e.Hash, back.ComputeHash())
}

func TestAllocateWithProjectFacts(t *testing.T) {
	ta := newTestAPI(t)
	body := apitest.ValidBody(apitest.PathAllocations)
	body["project"], body["project_name"], body["implementing_unit"], body["counterpart"] = "CCN-1", "Cụm công nghiệp Phú Nghĩa", "UBND huyện Chương Mỹ", "9500000000"
	r := ta.Post(t, apitest.PathAllocations, "facts-1", apitest.MustJSON(t, body))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var res webapi.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	assert.Equal(t, "Cụm công nghiệp Phú Nghĩa", res.Event.ProjectName)
	assert.Equal(t, "UBND huyện Chương Mỹ", res.Event.ImplementingUnit)
	apitest.RequireAmount(t, "9500000000", res.Event.Counterpart)
	apitest.RequireAmount(t, "1000000000", res.Line.Balance.Allocated, "the counterpart is no state money")

	for _, tc := range []struct {
		name  string
		path  string
		set   map[string]any
		field string
		code  domain.Code
	}{
		{"counterpart as a number", apitest.PathAllocations, map[string]any{"project": "CCN-2", "counterpart": 95}, "counterpart", domain.CodeInvalidAmount},
		{"negative counterpart", apitest.PathAllocations, map[string]any{"project": "CCN-2", "counterpart": "-1"}, "counterpart", domain.CodeInvalidAmount},
		{"counterpart without a project", apitest.PathAllocations, map[string]any{"counterpart": "1"}, "counterpart", domain.CodeInvalidField},
		{"name with an override", apitest.PathAllocations, map[string]any{"project": "CCN-2", "project_name": "Cụm\u202eCN"}, "project_name", domain.CodeInvalidField},
		{"unit on a disbursement", apitest.PathDisbursements, map[string]any{"implementing_unit": "TTKC"}, "implementing_unit", domain.CodeInvalidField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := apitest.ValidBody(tc.path)
			for k, v := range tc.set {
				b[k] = v
			}
			p := apitest.RequireProblem(t, ta.Post(t, tc.path, "facts-bad-"+tc.name, apitest.MustJSON(t, b)), http.StatusBadRequest, tc.code, tc.field)
			_ = p
		})
	}

	cliAgainst(t, ta)
	code, out, stderr := runIn("allocate", "--year", "2025", "--province", "01", "--source", "local", "--amount", "2 tỷ",
		"--decision", "5/QĐ-UBND", "--date", "2025-03-02", "--project", "CCN-9", "--category", "industrial_cluster",
		"--project-name", "Cụm công nghiệp Ngọc Hồi", "--implementing-unit", "Trung tâm Khuyến công Hà Nội", "--counterpart", "9,5 tỷ")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "Cụm công nghiệp Ngọc Hồi")
	assert.Contains(t, out, "9.500.000.000 ₫ (vốn đối ứng, not state money)")
	code, _, stderr = runIn("allocate", "--year", "2025", "--province", "01", "--source", "local", "--amount", "2 tỷ",
		"--decision", "5/QĐ-UBND", "--date", "2025-03-02", "--project", "CCN-9", "--counterpart", "nhiều")
	require.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "--counterpart")
	code, _, stderr = runIn("allocate", "--year", "2025", "--province", "01", "--source", "local", "--amount", "2 tỷ",
		"--decision", "5/QĐ-UBND", "--date", "2025-03-02", "--counterpart", "1 tỷ")
	require.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "counterpart")

	// The movements' CSV carries the facts, in columns added at the end.
	t.Setenv("KCLEDGER_NATS_URL", ta.natsURL)
	code, out, stderr = runIn("export", "--format", "csv")
	require.Equal(t, exitOK, code, stderr)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "\uFEFF"))).ReadAll()
	require.NoError(t, err)
	col := func(name string) int { return slices.Index(export.CSVHeader, name) }
	var found bool
	for _, row := range rows[1:] {
		if row[col("project")] == "CCN-1" {
			found = true
			assert.Equal(t, "Cụm công nghiệp Phú Nghĩa", row[col("project_name")])
			assert.Equal(t, "UBND huyện Chương Mỹ", row[col("implementing_unit")])
			assert.Equal(t, "9500000000", row[col("counterpart")])
		}
	}
	assert.True(t, found, "the allocation with facts is exported: %s", out)
}
