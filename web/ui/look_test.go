package ui_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// TestLookAtReportPages writes the overview and the reports page, their
// stylesheet inlined, to KCLEDGER_LOOK_DIR for a person to look at in a
// browser. Skipped unless KCLEDGER_LOOK=1.
func TestLookAtReportPages(t *testing.T) {
	if os.Getenv("KCLEDGER_LOOK") != "1" {
		t.Skip("KCLEDGER_LOOK=1 writes the pages to look at")
	}
	dir := os.Getenv("KCLEDGER_LOOK_DIR")
	require.NotEmpty(t, dir)
	c := startConsole(t, consoleOptions{})
	apitest.ReportLedger(t, c.Client)
	hostileProjects(t, c)
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	css := b.get("/static/app.css").Body
	for name, path := range map[string]string{
		"overview": "/?year=2025", "reports": "/reports?year=2025", "reports-project": "/reports?year=2025&by=project&events=true",
		"reports-refused": "/reports?year=1990",
	} {
		p := b.get(path)
		html := strings.Replace(p.Body, `<link rel="stylesheet" href="/static/app.css">`, "<style>"+css+"</style>", 1)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".html"), []byte(html), 0o644))
	}
}
