package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kcledger user passwd sets a console password from a file or from
// standard input; an admin's must be changed by its owner; a password
// the policy refuses is refused before anything is sent (exit 2).
func TestUserPasswd(t *testing.T) {
	p := startServe(t)
	code, _, stderr := cli(t, p.http, "user", "add", "can-bo-ha-noi", "--role", "officer", "--provinces", "01", "--sources", "national")
	require.Equal(t, 0, code, stderr)

	file := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(file, []byte("mật khẩu tạm thời 2025\n"), 0o600))
	code, out, stderr := cli(t, p.http, "user", "passwd", "can-bo-ha-noi", "--password-file", file)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "must change it at the next log-in")

	// From standard input, the admin's own: no change required.
	cmd := exec.Command(binary(t), "user", "passwd", "admin")
	cmd.Env = append(os.Environ(), "KCLEDGER_SERVER="+p.http, "KCLEDGER_TOKEN=", "KCLEDGER_DATA="+os.DevNull, "KCLEDGER_TOKEN_FILE="+p.tokenFile())
	cmd.Stdin = strings.NewReader("một mật khẩu quản trị đủ dài\n")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	assert.Contains(t, string(b), "The password of admin is set.")

	code, out, stderr = cli(t, p.http, "user", "list", "--json")
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, out, "argon2")

	for _, tc := range []struct{ name, pw, says string }{
		{"too short", "ngắn\n", "password"},
		{"empty", "\n", "no password given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(file, []byte(tc.pw), 0o600))
			code, _, stderr := cli(t, p.http, "user", "passwd", "can-bo-ha-noi", "--password-file", file)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, stderr, tc.says)
		})
	}
	code, _, stderr = cli(t, p.http, "user", "passwd")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "give the account's name")
}
