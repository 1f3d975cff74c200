package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kcledger/kcledger/eventstore"
	webapi "github.com/kcledger/kcledger/web/api"
)

const restoreSummary = "restore a backup into a new data directory, for serve to run on: every checksum and the manifest's signature are checked before anything is written"

// restoreConfig is what `kcledger restore` needs.
type restoreConfig struct {
	Input, DataDir string
	// Secrets is where the backup's secret files are, when they were
	// stored apart; by default Input/secrets.
	Secrets string
	// The ledger expected: a pinned keys file, or a root key id.
	Keys, Ledger string
}

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("restore", restoreSummary+`.
The target must not exist, or be empty; a backup that is truncated, altered,
incomplete or of another ledger than --keys or --ledger names is refused,
and nothing is written. Then run: kcledger serve --data NEWDIR. Exit 0
done, 1 the backup is refused, 2 usage (a target that is not empty among
them), 3 failed (the target is left as it was)`, stderr)
	c := restoreConfig{}
	fs.StringVar(&c.Input, "input", env("KCLEDGER_BACKUP_INPUT", ""), "required: the backup directory, as kcledger backup wrote it (KCLEDGER_BACKUP_INPUT)")
	fs.StringVar(&c.DataDir, "data", "", "required: the new data directory to restore into; it must not exist, or be empty")
	fs.StringVar(&c.Secrets, "secrets", env("KCLEDGER_BACKUP_SECRETS", ""), "the directory of the backup's secret files, when they were stored apart (default: the backup's secrets directory) (KCLEDGER_BACKUP_SECRETS)")
	fs.StringVar(&c.Keys, "keys", env("KCLEDGER_KEYS", ""), "the ledger's pinned keys file (kcledger keys > keys.json): the backup must be of the ledger whose root it names (KCLEDGER_KEYS)")
	fs.StringVar(&c.Ledger, "ledger", env("KCLEDGER_LEDGER", ""), "instead of --keys: the id of the ledger's root key, as kcledger backup and kcledger keys print it (KCLEDGER_LEDGER)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	want, err := c.check()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger restore: %v\n", err)
		return exitUsage
	}
	m, err := checkBackup(c.Input, c.secrets(), want)
	if err != nil {
		fmt.Fprintf(stderr, "kcledger restore: %v; nothing was restored\n", err)
		return exitRefused
	}
	if err := restore(ctx, c, m, terminal(stderr)); err != nil {
		fmt.Fprintf(stderr, "kcledger restore: %v; nothing was restored\n", err)
		if errors.Is(err, errBadBackup) {
			return exitRefused
		}
		if errors.Is(err, errNotEmpty) {
			return exitUsage
		}
		return exitFailure
	}
	fmt.Fprintf(stdout, "Restored ledger %s into %s: stream %s up to seq %d (%s messages), as backed up on %s.\n",
		m.Ledger.Root, c.DataDir, m.Stream, m.LastSeq, groupDigits(m.events().State.Messages), humanTime(m.Created))
	fmt.Fprintf(stdout, "Start it with: kcledger serve --data %s\n", c.DataDir)
	return exitOK
}

func (c restoreConfig) secrets() string {
	if c.Secrets != "" {
		return c.Secrets
	}
	return filepath.Join(c.Input, secretsDir)
}

// check refuses flags that cannot work, and returns the root key id of
// the ledger expected.
func (c restoreConfig) check() (string, error) {
	switch {
	case c.Input == "":
		return "", errors.New("--input is required: the backup directory")
	case c.DataDir == "":
		return "", errors.New("--data is required: the new data directory to restore into")
	case (c.Keys == "") == (c.Ledger == ""):
		return "", errors.New("give --keys (the ledger's pinned keys file) or --ledger (its root key id), one of them: a backup is restored only as the ledger it is expected to be")
	}
	if err := emptyOrAbsent(c.DataDir); err != nil {
		return "", fmt.Errorf("--data %s: %w: restore only into a new or empty directory", c.DataDir, err)
	}
	if c.Ledger != "" {
		if !keyIDRE.MatchString(c.Ledger) {
			return "", fmt.Errorf("--ledger %q: want a key id, 16 hex digits", c.Ledger)
		}
		return c.Ledger, nil
	}
	data, err := os.ReadFile(c.Keys)
	if err != nil {
		return "", fmt.Errorf("--keys: %w", err)
	}
	var kr webapi.KeysResponse
	if err := json.Unmarshal(data, &kr); err != nil {
		return "", fmt.Errorf("--keys %s: not a kcledger keys file: %w", c.Keys, err)
	}
	if _, err := keyringOf(kr); err != nil {
		return "", fmt.Errorf("--keys %s: %w", c.Keys, err)
	}
	if kr.Root == nil {
		return "", fmt.Errorf("--keys %s names no ledger root (it was saved before roots existed): give --ledger", c.Keys)
	}
	return kr.Root.ID, nil
}

// checkBackup reads the backup in dir (its secrets in secrets), and
// checks, before anything is written: the manifest, its signature by the
// ledger root held in the backup, that this root is the one expected,
// and the size and SHA-256 of every file.
func checkBackup(dir, secrets, wantRoot string) (backupManifest, error) {
	data, err := readLimited(filepath.Join(dir, manifestFile), maxManifestBytes)
	if err != nil {
		return backupManifest{}, badBackup("%v", err)
	}
	sig, err := readLimited(filepath.Join(dir, manifestSigFile), maxManifestSig)
	if err != nil {
		return backupManifest{}, badBackup("%v", err)
	}
	m, err := parseManifest(data)
	if err != nil {
		return m, err
	}
	if m.Ledger.Root != wantRoot {
		return m, badBackup("it is a backup of ledger %s, not of ledger %s", m.Ledger.Root, wantRoot)
	}
	if err := checkManifestSig(m.Ledger.RootPublicKey, data, sig); err != nil {
		return m, err
	}
	for _, f := range m.Files {
		if err := checkFile(fileIn(dir, secrets, f), f); err != nil {
			return m, err
		}
	}
	// The root key held in the backup is the manifest's.
	rootFile, _ := m.file(secretsDir + "/" + ledgerRootFile)
	root, err := readSeedFile(fileIn(dir, secrets, rootFile))
	if err != nil {
		return m, badBackup("%s: %v", rootFile.Path, err)
	}
	if !root.Public().(ed25519.PublicKey).Equal(m.Ledger.RootPublicKey) {
		return m, badBackup("%s holds another key than the ledger root the manifest names", rootFile.Path)
	}
	return m, nil
}

// fileIn is where a file of the backup is: its secrets may be apart.
func fileIn(dir, secrets string, f backupFile) string {
	if f.Secret {
		return filepath.Join(secrets, strings.TrimPrefix(f.Path, secretsDir+"/"))
	}
	return filepath.Join(dir, filepath.FromSlash(f.Path))
}

// checkFile checks one file's size and SHA-256.
func checkFile(path string, f backupFile) error {
	file, err := os.Open(path)
	if err != nil {
		return badBackup("%s: %v", f.Path, err)
	}
	defer file.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(file, f.Bytes+1))
	if err != nil {
		return badBackup("%s: %v", f.Path, err)
	}
	if n != f.Bytes {
		return badBackup("%s has %d bytes, the manifest says %d: it is truncated or was altered", f.Path, n, f.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return badBackup("%s has SHA-256 %s, the manifest says %s: it was altered", f.Path, got, f.SHA256)
	}
	return nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes", path, limit)
	}
	return data, nil
}

// readSeedFile reads a hex Ed25519 seed file of the backup.
func readSeedFile(path string) (ed25519.PrivateKey, error) {
	data, err := readLimited(path, maxSecretBytes)
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("not a hex Ed25519 seed")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// restore writes the checked backup m into c.DataDir: its secret files,
// then each stream restored onto an embedded server on that directory.
// On any failure the target is left as it was found.
func restore(ctx context.Context, c restoreConfig, m backupManifest, progress io.Writer) (err error) {
	_, statErr := os.Stat(c.DataDir)
	created := errors.Is(statErr, fs.ErrNotExist)
	unlock, err := lockDataDir(c.DataDir, "restore", time.Now())
	if err != nil {
		return err
	}
	defer func() {
		unlock()
		if err != nil {
			clearDir(c.DataDir, created)
		}
	}()
	// The lock is ours; anything else there came meanwhile.
	if names, _ := dirNames(c.DataDir); len(names) != 1 || names[0] != dataLockFile {
		return fmt.Errorf("--data %s: %w", c.DataDir, errNotEmpty)
	}
	secrets := c.secrets()
	var password string
	for _, f := range m.Files {
		if !f.Secret {
			continue
		}
		name := strings.TrimPrefix(f.Path, secretsDir+"/")
		data, err := readLimited(fileIn(c.Input, secrets, f), maxSecretBytes)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			return badBackup("%s changed since it was checked", f.Path)
		}
		if err := writeNew(filepath.Join(c.DataDir, name), data); err != nil {
			return err
		}
		if name == natsServiceFile {
			password = strings.TrimSpace(string(data))
		}
	}
	cfg := eventstore.ServerConfig{DataDir: c.DataDir, Listen: "127.0.0.1:-1"}
	if password != "" {
		cfg.Auth = eventstore.NewNATSAuth(password, m.Stream)
	}
	ns, err := eventstore.StartServer(cfg)
	if err != nil {
		return err
	}
	defer shutdown(ns)
	nc, err := eventstore.ConnectEmbedded(ns, "kcledger-restore", password)
	if err != nil {
		return err
	}
	defer nc.Close()
	for _, s := range m.Streams {
		if err := restoreOne(ctx, nc, c.Input, s, m, progress); err != nil {
			return err
		}
	}
	nc.Close()
	shutdown(ns)
	return syncDir(c.DataDir)
}

// restoreOne restores one stream, its bytes checked again as they are
// sent, and checks that the stream holds what the manifest says.
func restoreOne(ctx context.Context, nc *nats.Conn, dir string, s backupStream, m backupManifest, progress io.Writer) error {
	f, _ := m.file(s.File)
	file, err := os.Open(filepath.Join(dir, filepath.FromSlash(s.File)))
	if err != nil {
		return err
	}
	defer file.Close()
	h := sha256.New()
	p := byteProgress{w: progress, what: "restoring " + s.Name, total: f.Bytes, last: time.Now()}
	r := &checkedReader{r: io.LimitReader(file, f.Bytes), h: h}
	// The embedded server is a single node, whatever the stream was on.
	config, err := eventstore.WithReplicas(s.Config, 1)
	if err != nil {
		return err
	}
	state, err := eventstore.RestoreStream(ctx, nc, s.Name, eventstore.Snapshot{Config: config, State: s.State}, r, p.at)
	if got := hex.EncodeToString(h.Sum(nil)); r.n != f.Bytes || got != f.SHA256 {
		return badBackup("%s changed since it was checked", f.Path)
	}
	if err != nil {
		return err
	}
	if !state.Same(s.State) {
		return badBackup("stream %s restored holds %d messages, seq %d to %d; the manifest says %d, seq %d to %d",
			s.Name, state.Messages, state.FirstSeq, state.LastSeq, s.State.Messages, s.State.FirstSeq, s.State.LastSeq)
	}
	return nil
}

// checkedReader hashes what it reads.
type checkedReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func dirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// clearDir removes what a failed restore wrote: everything in dir, and
// dir itself when the restore created it.
func clearDir(dir string, created bool) {
	if created {
		_ = os.RemoveAll(dir)
		return
	}
	names, _ := dirNames(dir)
	for _, n := range names {
		_ = os.RemoveAll(filepath.Join(dir, n))
	}
}
