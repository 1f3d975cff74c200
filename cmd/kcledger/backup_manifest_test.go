package main

import (
	"crypto/ed25519"
	"encoding/json"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

var testRoot = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

const sum0 = "0000000000000000000000000000000000000000000000000000000000000000"

// goodManifest is a manifest as backup writes it.
func goodManifest() backupManifest {
	pub := testRoot.Public().(ed25519.PublicKey)
	m := backupManifest{
		Format:  backupFormat,
		Ledger:  backupLedger{Root: domain.KeyID(pub), RootPublicKey: pub, Signer: "0123456789abcdef"},
		Created: time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC),
		Stream:  eventstore.DefaultStream,
		LastSeq: 7,
	}
	for _, d := range dataFiles {
		m.Files = append(m.Files, backupFile{Path: secretsDir + "/" + d.name, Bytes: 65, SHA256: sum0, Secret: true, What: d.what})
	}
	for _, s := range eventstore.BackupStreams("", "") {
		st := eventstore.SnapshotState{Messages: 7, FirstSeq: 1, LastSeq: 7}
		if s.Role == "checkpoints" {
			st = eventstore.SnapshotState{FirstSeq: 1}
		}
		m.Files = append(m.Files, backupFile{Path: snapshotPath(s.Name), Bytes: 1000, SHA256: sum0})
		m.Streams = append(m.Streams, backupStream{Name: s.Name, Role: s.Role, File: snapshotPath(s.Name), Config: json.RawMessage(`{"name":"` + s.Name + `"}`), State: st})
	}
	return m
}

func encodeManifest(t testing.TB, m backupManifest) []byte {
	t.Helper()
	data, err := json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	return data
}

func TestParseManifest(t *testing.T) {
	_, err := parseManifest(encodeManifest(t, goodManifest()))
	require.NoError(t, err)

	cases := []struct {
		name  string
		spoil func(*backupManifest)
		raw   func([]byte) []byte
		says  string
	}{
		{name: "another format", spoil: func(m *backupManifest) { m.Format = "kcledger-backup-v0" }, says: "format"},
		{name: "a root id not its key's", spoil: func(m *backupManifest) { m.Ledger.Root = "0123456789abcdef" }, says: "does not match its id"},
		{name: "a short root key", spoil: func(m *backupManifest) { m.Ledger.RootPublicKey = m.Ledger.RootPublicKey[:8] }, says: "does not match its id"},
		{name: "no ledger root file", spoil: func(m *backupManifest) { m.Files = m.Files[1:] }, says: "ledger-root.key"},
		{name: "a path out of the backup", spoil: func(m *backupManifest) { m.Files[0].Path = "secrets/../../etc/passwd" }, says: "not a clean path"},
		{name: "an absolute path", spoil: func(m *backupManifest) { m.Files[0].Path = "/etc/passwd" }, says: "neither in"},
		{name: "a secret the backup does not take", spoil: func(m *backupManifest) { m.Files[1].Path = "secrets/LOCK" }, says: "not a secret file"},
		{name: "a secret not marked one", spoil: func(m *backupManifest) { m.Files[0].Secret = false }, says: "not a secret file"},
		{name: "a snapshot marked secret", spoil: func(m *backupManifest) { m.Files[len(m.Files)-1].Secret = true }, says: "not a stream snapshot"},
		{name: "a file listed twice", spoil: func(m *backupManifest) { m.Files = append(m.Files, m.Files[0]) }, says: "listed twice"},
		{name: "a bad checksum", spoil: func(m *backupManifest) { m.Files[0].SHA256 = strings.ToUpper(sum0[:63]) + "A" }, says: "sha256"},
		{name: "negative bytes", spoil: func(m *backupManifest) { m.Files[4].Bytes = -1 }, says: "bytes"},
		{name: "a huge secret", spoil: func(m *backupManifest) { m.Files[0].Bytes = 1 << 30 }, says: "over"},
		{name: "a stream without its snapshot", spoil: func(m *backupManifest) { m.Streams[1].File = "streams/OTHER.snapshot" }, says: "not among the files"},
		{name: "a snapshot of no stream", spoil: func(m *backupManifest) {
			m.Files = append(m.Files, backupFile{Path: "streams/EXTRA.snapshot", SHA256: sum0})
		}, says: "no stream's snapshot"},
		{name: "a stream name with a slash", spoil: func(m *backupManifest) { m.Streams[0].Name = "A/B" }, says: "stream name"},
		{name: "an unknown role", spoil: func(m *backupManifest) { m.Streams[0].Role = "sessions" }, says: "role"},
		{name: "two event streams", spoil: func(m *backupManifest) { m.Streams[0].Role = "events" }, says: "is not the manifest's"},
		{name: "a role twice", spoil: func(m *backupManifest) { m.Streams[3].Role = "signers" }, says: "listed twice"},
		{name: "no event stream", spoil: func(m *backupManifest) { m.Streams = m.Streams[:1] }, says: "no events stream"},
		{name: "a last sequence not the stream's", spoil: func(m *backupManifest) { m.LastSeq = 8 }, says: "is not the manifest's"},
		{name: "a state that does not hold", spoil: func(m *backupManifest) { m.Streams[1].State.Messages = 9 }, says: "does not hold together"},
		{name: "a configuration not an object", spoil: func(m *backupManifest) { m.Streams[1].Config = json.RawMessage(`[1]`) }, says: "configuration"},
		{name: "an unknown field", raw: func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"format"`, `"extra": 1, "format"`, 1))
		}, says: "unknown field"},
		{name: "two JSON values", raw: func(b []byte) []byte { return append(b, "{}"...) }, says: "more than one"},
		{name: "not JSON", raw: func(b []byte) []byte { return b[:len(b)/2] }, says: "not a kcledger backup manifest"},
		{name: "too big", raw: func(b []byte) []byte { return append(b, strings.Repeat(" ", maxManifestBytes)...) }, says: "over"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := goodManifest()
			if tc.spoil != nil {
				tc.spoil(&m)
			}
			data := encodeManifest(t, m)
			if tc.raw != nil {
				data = tc.raw(data)
			}
			_, err := parseManifest(data)
			require.ErrorIs(t, err, errBadBackup)
			assert.Contains(t, err.Error(), tc.says)
		})
	}
}

// The signature covers every byte of the manifest, and only the ledger
// root's counts.
func TestManifestSignature(t *testing.T) {
	data := encodeManifest(t, goodManifest())
	sig := signManifest(testRoot, data)
	pub := testRoot.Public().(ed25519.PublicKey)
	require.NoError(t, checkManifestSig(pub, data, sig))

	altered := append([]byte(nil), data...)
	altered[len(altered)/2] ^= 1
	assert.ErrorContains(t, checkManifestSig(pub, altered, sig), "altered")
	other := ed25519.NewKeyFromSeed([]byte(strings.Repeat("k", ed25519.SeedSize)))
	assert.ErrorContains(t, checkManifestSig(pub, data, signManifest(other, data)), "not by the ledger root")
	assert.ErrorContains(t, checkManifestSig(pub, data, sig[:len(sig)-3]), "malformed")
	assert.ErrorContains(t, checkManifestSig(pub, data, []byte("hello")), "not a kcledger backup signature")
}

// Whatever manifest.json holds, the parser neither panics nor accepts a
// path outside the backup's two directories.
func FuzzParseManifest(f *testing.F) {
	good := encodeManifest(f, goodManifest())
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(strings.Replace(string(good), "secrets/signing.key", "secrets/../signing.key", 1)))
	f.Add([]byte(strings.Replace(string(good), `"last_seq": 7`, `"last_seq": 18446744073709551615`, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err != nil {
			require.ErrorIs(t, err, errBadBackup)
			return
		}
		for _, file := range m.Files {
			dir, base := path.Split(file.Path)
			require.True(t, dir == secretsDir+"/" || dir == streamsDir+"/", file.Path)
			require.NotContains(t, []string{"", ".", ".."}, base, file.Path)
		}
		again, err := parseManifest(encodeManifest(t, m))
		require.NoError(t, err, "a manifest accepted once is refused once written again")
		require.Equal(t, m.LastSeq, again.LastSeq)
	})
}
