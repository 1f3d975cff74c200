package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/eventstore"
)

// backupOf records an allocation on p and backs p up into a new
// directory, which it returns with the keys file pinned from p.
func backupOf(t *testing.T, p *serveProc) (dir, keys string) {
	t.Helper()
	status, _, err := post(t.Context(), p.http, "/v1/allocations", "alloc", allocationBody("5000000000"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)
	keys = pinKeys(t, p.http)
	dir = filepath.Join(t.TempDir(), "backup")
	code, _, stderr := cli(t, p.http, "backup", "--output", dir, "--data", p.data, "--nats-url", p.nats)
	require.Equal(t, 0, code, stderr)
	return dir, keys
}

// copyDir copies a backup, so that each case spoils its own.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	out, err := exec.Command("cp", "-a", src, dst).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return dst
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, at)
	require.NoError(t, err)
	b[0] ^= 0x01
	_, err = f.WriteAt(b, at)
	require.NoError(t, err)
}

// A backup that is truncated, altered, incomplete or of another ledger
// is refused before anything is written: the target stays absent, or
// empty; and a target that is not empty is refused whatever the backup.
func TestRestoreRefusesABadBackup(t *testing.T) {
	a := startServe(t)
	b := startServe(t)
	good, keys := backupOf(t, a)
	other, otherKeys := backupOf(t, b)
	events := filepath.Join(streamsDir, "KCLEDGER.snapshot")

	cases := []struct {
		name  string
		spoil func(t *testing.T, dir string)
		keys  string
		code  int
		says  string
	}{
		{"a flipped byte in the event stream", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, events), 200) }, keys, exitRefused, "streams/KCLEDGER.snapshot has SHA-256"},
		{"a flipped byte in the manifest", func(t *testing.T, dir string) {
			// In the manifest's creation time: still a manifest, whose
			// checksums all match.
			data, err := os.ReadFile(filepath.Join(dir, manifestFile))
			require.NoError(t, err)
			at := int64(len(`{"format"`))
			for i := range data {
				if string(data[i:i+len(`"created": "2`)]) == `"created": "2` {
					at = int64(i + len(`"created": "2`) + 2)
					break
				}
			}
			flipByte(t, filepath.Join(dir, manifestFile), at)
		}, keys, exitRefused, "the manifest was altered"},
		{"a flipped byte in a secret", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, secretsDir, signingKeyFile), 3) }, keys, exitRefused, "secrets/signing.key has SHA-256"},
		{"a truncated snapshot", func(t *testing.T, dir string) {
			path := filepath.Join(dir, events)
			st, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, st.Size()/2))
		}, keys, exitRefused, "it is truncated"},
		{"a missing snapshot", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, streamsDir, "KV_KCLEDGER_ACCOUNTS.snapshot")))
		}, keys, exitRefused, "KV_KCLEDGER_ACCOUNTS.snapshot"},
		{"a missing secret", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, secretsDir, ledgerRootFile)))
		}, keys, exitRefused, "ledger-root.key"},
		{"no signature", func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, manifestSigFile))) }, keys, exitRefused, manifestSigFile},
		{"no manifest", func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, manifestFile))) }, keys, exitRefused, manifestFile},
		{"another ledger's backup", func(t *testing.T, dir string) {
			require.NoError(t, os.RemoveAll(dir))
			out, err := exec.Command("cp", "-a", other, dir).CombinedOutput()
			require.NoError(t, err, "%s", out)
		}, keys, exitRefused, "not of ledger"},
		{"another ledger's event stream", func(t *testing.T, dir string) {
			data, err := os.ReadFile(filepath.Join(other, events))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, events), data, 0o600))
		}, keys, exitRefused, "streams/KCLEDGER.snapshot"},
		{"another ledger's manifest", func(t *testing.T, dir string) {
			for _, f := range []string{manifestFile, manifestSigFile} {
				data, err := os.ReadFile(filepath.Join(other, f))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o600))
			}
		}, otherKeys, exitRefused, "SHA-256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, good)
			tc.spoil(t, dir)
			for _, existing := range []bool{false, true} {
				target := filepath.Join(t.TempDir(), "restored")
				if existing {
					require.NoError(t, os.Mkdir(target, 0o700))
				}
				code, stdout, stderr := runIn("restore", "--input", dir, "--data", target, "--keys", tc.keys)
				assert.Equal(t, tc.code, code, stderr)
				assert.Empty(t, stdout)
				assert.Contains(t, stderr, tc.says)
				assert.Contains(t, stderr, "nothing was restored")
				names, err := dirNames(target)
				if existing {
					require.NoError(t, err)
					assert.Empty(t, names, "the target was written to")
				} else {
					assert.ErrorIs(t, err, os.ErrNotExist, "the target was made: %v", names)
				}
			}
		})
	}

	t.Run("a target that is not empty", func(t *testing.T) {
		target := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(target, "notes.txt"), []byte("mine"), 0o600))
		code, _, stderr := runIn("restore", "--input", good, "--data", target, "--keys", keys)
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, "not empty")
		names, err := dirNames(target)
		require.NoError(t, err)
		assert.Equal(t, []string{"notes.txt"}, names)
	})

	// backup refuses, and leaves nothing behind: an --output that is
	// not empty, a --data that is no ledger's, and the data directory of
	// one ledger with the NATS server of another.
	t.Run("backup refusals", func(t *testing.T) {
		full := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(full, "x"), nil, 0o600))
		empty := t.TempDir()
		aPassword, err := readSecretFile(filepath.Join(a.data, natsServiceFile))
		require.NoError(t, err)
		for _, tc := range []struct {
			name, output, data string
			more               []string
			code               int
			says               string
		}{
			{"output not empty", full, a.data, nil, exitUsage, "not empty"},
			{"no ledger in --data", filepath.Join(t.TempDir(), "b"), empty, nil, exitUsage, "no ledger-root.key"},
			{"another ledger's password", filepath.Join(t.TempDir(), "b"), b.data, nil, exitFailure, "Authorization Violation"},
			{"two ledgers", filepath.Join(t.TempDir(), "b"), b.data, []string{"--nats-user", eventstore.ServiceUser, "--nats-password", aPassword}, exitFailure, "not the same ledger's"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, stdout, stderr := runIn(append([]string{"backup", "--output", tc.output, "--data", tc.data, "--nats-url", a.nats}, tc.more...)...)
				assert.Equal(t, tc.code, code, stderr)
				assert.Empty(t, stdout)
				assert.Contains(t, stderr, tc.says)
				if tc.output != full {
					_, err := os.Stat(tc.output)
					assert.ErrorIs(t, err, os.ErrNotExist)
					siblings, err := dirNames(filepath.Dir(tc.output))
					require.NoError(t, err)
					assert.Empty(t, siblings, "a partial backup was left")
				}
			})
		}
	})

	t.Run("no ledger expected", func(t *testing.T) {
		code, _, stderr := runIn("restore", "--input", good, "--data", filepath.Join(t.TempDir(), "x"))
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, "--keys")
	})

	// Secrets kept apart are given back with --secrets; an empty target
	// directory is restored into.
	t.Run("secrets kept apart", func(t *testing.T) {
		dir := copyDir(t, good)
		apart := filepath.Join(t.TempDir(), "vault")
		require.NoError(t, os.Rename(filepath.Join(dir, secretsDir), apart))
		target := t.TempDir()
		code, _, stderr := runIn("restore", "--input", dir, "--data", target, "--keys", keys)
		assert.Equal(t, exitRefused, code, "restored without its secrets: %s", stderr)
		code, stdout, stderr := runIn("restore", "--input", dir, "--secrets", apart, "--data", target, "--keys", keys)
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, "up to seq 1")
		for _, f := range []string{ledgerRootFile, signingKeyFile, natsServiceFile, adminTokenFile} {
			st, err := os.Stat(filepath.Join(target, f))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
		}
		r := startServe(t, "--data", target)
		code, out, stderr := cli(t, r.http, "balances")
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, out, "5.000.000.000 ₫")
	})
}
