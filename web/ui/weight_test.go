package ui_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// maxOverviewBytes is the bound on the overview page with its
// assets.
const maxOverviewBytes = 200 << 10

// TestOverviewWeight: at a full year of the 34 provinces, both sources
// allocated and paid in every one, the overview page and every asset it
// loads weigh under 200 KB.
func TestOverviewWeight(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	for _, p := range domain.Provinces(domain.Scheme34) {
		for _, src := range []string{"national", "local"} {
			for _, b := range []map[string]any{
				{"path": apitest.PathAllocations, "amount": "12345678000", "decision": "1/QĐ-" + p.Code, "effective_date": "2025-07-15", "project": "DA-1", "project_name": "Đề án hỗ trợ máy móc thiết bị " + p.Name, "category": "machinery_technology_transfer"},
				{"path": apitest.PathDisbursements, "amount": "3456789000", "voucher": "KB-" + p.Code, "beneficiary": "HTX " + p.Name, "effective_date": "2025-09-20", "project": "DA-1"},
			} {
				path := b["path"].(string)
				delete(b, "path")
				b["fiscal_year"], b["province"], b["source"] = 2025, p.Code, src
				r := c.Post(t, path, uuid.NewString(), apitest.MustJSON(t, b))
				require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
			}
		}
	}
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)

	p := b.get("/?year=2025")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	require.Contains(t, p.Body, "839.506.104.000 ₫", "the year's plan: 68 lines of 12.345.678.000 ₫")
	total := len(p.Body)
	assets := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(p.Body, -1)
	require.NotEmpty(t, assets)
	seen := map[string]bool{}
	for _, a := range assets {
		if seen[a[1]] {
			continue
		}
		seen[a[1]] = true
		r := b.get(a[1])
		require.Equal(t, http.StatusOK, r.Status, a[1])
		total += len(r.Body)
		t.Logf("%s: %d bytes", a[1], len(r.Body))
	}
	t.Logf("the page: %d bytes; with its assets: %d bytes", len(p.Body), total)
	assert.Less(t, total, maxOverviewBytes)
}
