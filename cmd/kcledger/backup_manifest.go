package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// A backup is a directory:
//
//	manifest.json        what was taken, up to which sequence, checksums
//	manifest.sig         the ledger root's signature of manifest.json
//	streams/NAME.snapshot  a JetStream snapshot of each stream
//	secrets/FILE         the data directory's secret files (mode 0600)
//
// The manifest is read from outside (a restore trusts nothing in the
// directory before it has checked it), so its parser bounds everything.
const (
	backupFormat    = "kcledger-backup-v1"
	manifestFile    = "manifest.json"
	manifestSigFile = "manifest.sig"
	streamsDir      = "streams"
	secretsDir      = "secrets"
	// sigMagic begins manifest.sig, and what the root signs: the root
	// signs endorsements too, and no manifest must read as one.
	sigMagic = "kcledger-backup-signature-v1\n"
)

// Limits of a manifest.
const (
	maxManifestBytes  = 1 << 20
	maxManifestSig    = 1024
	maxBackupStreams  = 16
	maxBackupFiles    = 64
	maxSecretBytes    = 64 * 1024
	maxSnapshotBytes  = 1 << 50
	maxStreamConfig   = 64 * 1024
	maxBackupNameRune = 64
)

// dataFiles are the files of a data directory that a restored serve
// needs, all secrets: what signs events, what endorses signing keys, the
// service password of the embedded NATS server, and the first admin's
// token. The first two are required: without them no backup can be
// signed, nor the restored ledger sign.
var dataFiles = []dataFile{
	{ledgerRootFile, true, "the ledger root's Ed25519 key: endorses the signing keys, signs this manifest"},
	{signingKeyFile, true, "the Ed25519 key that signs events"},
	{natsServiceFile, false, "the embedded NATS server's service password: the operator's key to the stream"},
	{adminTokenFile, false, "the first admin's API token"},
}

type dataFile struct {
	name     string
	required bool
	what     string
}

// backupManifest is manifest.json.
type backupManifest struct {
	Format string       `json:"format"`
	Ledger backupLedger `json:"ledger"`
	// Created is when the backup began.
	Created time.Time `json:"created"`
	// Stream is the event stream, and LastSeq its last sequence in the
	// backup: every event up to it is in the backup, none after it.
	Stream  string         `json:"stream"`
	LastSeq uint64         `json:"last_seq"`
	Streams []backupStream `json:"streams"`
	Files   []backupFile   `json:"files"`
}

// backupLedger is the identity of the ledger backed up.
type backupLedger struct {
	// Root is the ledger root's key id, as kcledger keys names it.
	Root          string            `json:"root"`
	RootPublicKey ed25519.PublicKey `json:"root_public_key"`
	// Signer is the key id of the data directory's signing key.
	Signer string `json:"signer"`
}

// backupStream is one stream of the backup, restored in the order of
// the manifest.
type backupStream struct {
	Name string `json:"name"`
	Role string `json:"role"`
	File string `json:"file"`
	// Config is the stream's configuration as the server gave it.
	Config json.RawMessage `json:"config"`
	// State is what restoring the snapshot gives, checked when the
	// backup was taken: a restore must give exactly that.
	State eventstore.SnapshotState `json:"state"`
}

// backupFile is one file of the backup.
type backupFile struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// Secret files may be kept apart from the rest (restore --secrets).
	Secret bool   `json:"secret"`
	What   string `json:"what"`
}

var (
	streamNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	sha256RE     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	keyIDRE      = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

var backupRoles = []string{"checkpoints", "events", "signers", "accounts"}

// errBadBackup is a backup refused: truncated, altered, incomplete or
// not of the ledger expected. Nothing is restored from it.
var errBadBackup = errors.New("the backup is refused")

func badBackup(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadBackup, fmt.Sprintf(format, args...))
}

// parseManifest reads and checks manifest.json: one JSON object, no
// unknown field, within the limits, every path one a backup writes,
// every stream's snapshot among the files, and the ledger root's id its
// public key's.
func parseManifest(data []byte) (backupManifest, error) {
	var m backupManifest
	if len(data) > maxManifestBytes {
		return m, badBackup("%s is over %d bytes", manifestFile, maxManifestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return backupManifest{}, badBackup("%s is not a kcledger backup manifest: %v", manifestFile, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return backupManifest{}, badBackup("%s has more than one JSON value", manifestFile)
	}
	if err := m.check(); err != nil {
		return backupManifest{}, badBackup("%s: %v", manifestFile, err)
	}
	return m, nil
}

func (m *backupManifest) check() error {
	if m.Format != backupFormat {
		return fmt.Errorf("format %q, want %q", m.Format, backupFormat)
	}
	if len(m.Ledger.RootPublicKey) != ed25519.PublicKeySize || domain.KeyID(m.Ledger.RootPublicKey) != m.Ledger.Root {
		return fmt.Errorf("ledger root %q: its public key does not match its id", m.Ledger.Root)
	}
	if !keyIDRE.MatchString(m.Ledger.Signer) {
		return fmt.Errorf("signer %q is not a key id", m.Ledger.Signer)
	}
	if m.Created.IsZero() {
		return errors.New("no creation time")
	}
	if len(m.Files) == 0 || len(m.Files) > maxBackupFiles {
		return fmt.Errorf("%d files, want 1 to %d", len(m.Files), maxBackupFiles)
	}
	files := map[string]backupFile{}
	for _, f := range m.Files {
		if err := f.check(); err != nil {
			return err
		}
		if _, dup := files[f.Path]; dup {
			return fmt.Errorf("file %s is listed twice", f.Path)
		}
		files[f.Path] = f
	}
	for _, d := range dataFiles {
		if _, ok := files[path.Join(secretsDir, d.name)]; d.required && !ok {
			return fmt.Errorf("no %s: a backup holds the data directory's %s", path.Join(secretsDir, d.name), d.name)
		}
	}
	if len(m.Streams) == 0 || len(m.Streams) > maxBackupStreams {
		return fmt.Errorf("%d streams, want 1 to %d", len(m.Streams), maxBackupStreams)
	}
	names, roles := map[string]bool{}, map[string]bool{}
	for _, s := range m.Streams {
		if !streamNameRE.MatchString(s.Name) {
			return fmt.Errorf("stream name %q", s.Name)
		}
		if !slices.Contains(backupRoles, s.Role) {
			return fmt.Errorf("stream %s: role %q, want one of %s", s.Name, s.Role, strings.Join(backupRoles, ", "))
		}
		if names[s.Name] || roles[s.Role] {
			return fmt.Errorf("stream %s (%s) is listed twice", s.Name, s.Role)
		}
		names[s.Name], roles[s.Role] = true, true
		if f, ok := files[s.File]; !ok || s.File != snapshotPath(s.Name) || f.Secret {
			return fmt.Errorf("stream %s: its snapshot %q is not among the files as %s", s.Name, s.File, snapshotPath(s.Name))
		}
		if len(s.Config) == 0 || len(s.Config) > maxStreamConfig || !json.Valid(s.Config) || s.Config[0] != '{' {
			return fmt.Errorf("stream %s: its configuration is not a JSON object of at most %d bytes", s.Name, maxStreamConfig)
		}
		if st := s.State; st.Messages > 0 && (st.FirstSeq == 0 || st.LastSeq < st.FirstSeq || st.Messages > st.LastSeq-st.FirstSeq+1) ||
			st.Messages == 0 && st.FirstSeq > st.LastSeq+1 {
			return fmt.Errorf("stream %s: state %d messages from seq %d to %d does not hold together", s.Name, s.State.Messages, s.State.FirstSeq, s.State.LastSeq)
		}
		if s.Role == "events" && (s.Name != m.Stream || s.State.LastSeq != m.LastSeq) {
			return fmt.Errorf("the events stream %s up to seq %d is not the manifest's %s up to seq %d", s.Name, s.State.LastSeq, m.Stream, m.LastSeq)
		}
	}
	if !roles["events"] {
		return errors.New("no events stream")
	}
	for _, f := range m.Files {
		if !f.Secret && !names[strings.TrimSuffix(path.Base(f.Path), ".snapshot")] {
			return fmt.Errorf("file %s is no stream's snapshot", f.Path)
		}
	}
	return nil
}

func (f backupFile) check() error {
	dir, base := path.Split(f.Path)
	switch {
	case f.Path != path.Clean(f.Path) || len(f.Path) > 2*maxBackupNameRune:
		return fmt.Errorf("file %q: not a clean path", f.Path)
	case dir == secretsDir+"/":
		if !f.Secret || !slices.ContainsFunc(dataFiles, func(d dataFile) bool { return d.name == base }) {
			return fmt.Errorf("file %s: not a secret file a backup takes", f.Path)
		}
		if f.Bytes > maxSecretBytes {
			return fmt.Errorf("file %s: %d bytes, over %d", f.Path, f.Bytes, maxSecretBytes)
		}
	case dir == streamsDir+"/":
		if f.Secret || !strings.HasSuffix(base, ".snapshot") || !streamNameRE.MatchString(strings.TrimSuffix(base, ".snapshot")) {
			return fmt.Errorf("file %s: not a stream snapshot", f.Path)
		}
	default:
		return fmt.Errorf("file %q: neither in %s/ nor in %s/", f.Path, streamsDir, secretsDir)
	}
	if f.Bytes < 0 || f.Bytes > maxSnapshotBytes {
		return fmt.Errorf("file %s: %d bytes", f.Path, f.Bytes)
	}
	if !sha256RE.MatchString(f.SHA256) {
		return fmt.Errorf("file %s: sha256 %q is not 64 lowercase hex digits", f.Path, f.SHA256)
	}
	if len(f.What) > 256 {
		return fmt.Errorf("file %s: its description is over 256 bytes", f.Path)
	}
	return nil
}

// snapshotPath is where a stream's snapshot is, in a backup.
func snapshotPath(stream string) string { return path.Join(streamsDir, stream+".snapshot") }

// file returns the manifest's entry of path p.
func (m *backupManifest) file(p string) (backupFile, bool) {
	for _, f := range m.Files {
		if f.Path == p {
			return f, true
		}
	}
	return backupFile{}, false
}

// signManifest returns manifest.sig for the bytes of manifest.json: the
// magic line, the root's key id, and its signature (base64) of the
// magic line followed by the manifest.
func signManifest(root ed25519.PrivateKey, manifest []byte) []byte {
	sig := ed25519.Sign(root, append([]byte(sigMagic), manifest...))
	id := domain.KeyID(root.Public().(ed25519.PublicKey))
	return []byte(sigMagic + id + "\n" + base64.StdEncoding.EncodeToString(sig) + "\n")
}

// checkManifestSig checks manifest.sig against the bytes of
// manifest.json and the root's public key.
func checkManifestSig(pub ed25519.PublicKey, manifest, sigFile []byte) error {
	rest, ok := bytes.CutPrefix(sigFile, []byte(sigMagic))
	if !ok || len(sigFile) > maxManifestSig {
		return badBackup("%s is not a kcledger backup signature", manifestSigFile)
	}
	id, rest, ok1 := bytes.Cut(rest, []byte("\n"))
	sig64, rest, ok2 := bytes.Cut(rest, []byte("\n"))
	sig, err := base64.StdEncoding.DecodeString(string(sig64))
	if !ok1 || !ok2 || len(rest) != 0 || err != nil {
		return badBackup("%s is malformed", manifestSigFile)
	}
	if string(id) != domain.KeyID(pub) {
		return badBackup("%s is signed by key %s, not by the ledger root %s", manifestSigFile, id, domain.KeyID(pub))
	}
	if !ed25519.Verify(pub, append([]byte(sigMagic), manifest...), sig) {
		return badBackup("the ledger root's signature in %s does not match %s: the manifest was altered", manifestSigFile, manifestFile)
	}
	return nil
}
