package domain_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The domain is pure: the standard library and decimal, nothing else. The
// projections build on the domain and know nothing of NATS or HTTP.
func TestDependencyBoundaries(t *testing.T) {
	for pkg, allowed := range map[string][]string{
		"github.com/kcledger/kcledger/domain":      {"github.com/shopspring/decimal"},
		"github.com/kcledger/kcledger/projections": {"github.com/shopspring/decimal", "github.com/kcledger/kcledger/domain"},
	} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
		require.NoError(t, err, "go list %s", pkg)
		for _, dep := range strings.Fields(string(out)) {
			if dep == pkg {
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || dep == a
			}
			require.True(t, ok, "%s must not depend on %s", pkg, dep)
		}
		std, err := exec.Command("go", "list", "-deps", "-f", "{{if .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
		require.NoError(t, err)
		for _, dep := range strings.Fields(string(std)) {
			for _, banned := range []string{"net/http", "log/slog", "log"} {
				require.NotEqual(t, banned, dep, "%s must not import %s", pkg, banned)
			}
		}
	}
}

// Money is never a float: decimal's float constructors are banned
// everywhere in the module.
func TestNoFloatMoney(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	banned := []string{"NewFromFloat", "NewFromFloat32", "NewFromFloatWithExponent", "decimal.DivisionPrecision", "decimal.MarshalJSONWithoutQuotes"}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "deps_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, b := range banned {
			require.NotContains(t, string(src), b, "%s uses %s", path, b)
		}
		return nil
	})
	require.NoError(t, err)
}
