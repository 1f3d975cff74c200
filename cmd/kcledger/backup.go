package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

const backupSummary = "back up the running ledger into a new directory: its stream, accounts, signer keys and checkpoints, and the data directory's secrets, with a signed manifest"

// backupConfig is what `kcledger backup` needs.
type backupConfig struct {
	Output, DataDir        string
	NATSURL                string
	Stream, AccountsBucket string
	// Credentials of an external server; by default the embedded
	// server's service user, with the data directory's password.
	Creds natsCredentials
}

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("backup", backupSummary+`.
Run it beside serve, with serve's --data: it reads the secrets there and
connects to serve's NATS server as its service user; with serve stopped,
it opens the data directory's store itself. The stream is taken
as it stands at one moment of the backup, whose manifest names its last
sequence; appends go on meanwhile, and the later ones are not in it. Exit 0 done,
2 usage, 3 failed (nothing is left in --output)`, stderr)
	c := backupConfig{}
	fs.StringVar(&c.Output, "output", env("KCLEDGER_BACKUP_OUTPUT", ""), "required: the backup directory to create; it must not exist, or be empty (KCLEDGER_BACKUP_OUTPUT)")
	fs.StringVar(&c.DataDir, "data", env("KCLEDGER_DATA", "./kcledger-data"), "the data directory of the serve to back up (KCLEDGER_DATA)")
	fs.StringVar(&c.NATSURL, "nats-url", env("KCLEDGER_NATS_URL", "nats://127.0.0.1:4222"), "serve's NATS server: its --nats-listen, or its --nats-url (KCLEDGER_NATS_URL)")
	fs.StringVar(&c.Stream, "stream", env("KCLEDGER_STREAM", eventstore.DefaultStream), "the stream, as given to serve (KCLEDGER_STREAM)")
	fs.StringVar(&c.AccountsBucket, "accounts-bucket", env("KCLEDGER_ACCOUNTS_BUCKET", eventstore.DefaultAccountsBucket), "the accounts bucket, as given to serve (KCLEDGER_ACCOUNTS_BUCKET)")
	fs.StringVar(&c.Creds.Creds, "nats-creds", "", "with an external server: credentials file of kcledger's NATS user (default: the embedded server's service user)")
	fs.StringVar(&c.Creds.User, "nats-user", "", "with an external server: kcledger's NATS user")
	fs.StringVar(&c.Creds.Password, "nats-password", env("KCLEDGER_BACKUP_NATS_PASSWORD", ""), "with --nats-user: its password; prefer the environment variable (KCLEDGER_BACKUP_NATS_PASSWORD)")
	fs.StringVar(&c.Creds.CA, "nats-ca", env("KCLEDGER_NATS_CA", ""), "PEM CA that signed the NATS server's certificate (KCLEDGER_NATS_CA)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := c.check(); err != nil {
		fmt.Fprintf(stderr, "kcledger backup: %v\n", err)
		return exitUsage
	}
	m, err := backup(ctx, c, terminal(stderr), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kcledger backup: %v\n", err)
		return exitFailure
	}
	var total int64
	for _, f := range m.Files {
		total += f.Bytes
	}
	fmt.Fprintf(stdout, "Backed up ledger %s into %s: stream %s up to seq %d (%s messages), %d streams, %s bytes.\n",
		m.Ledger.Root, c.Output, m.Stream, m.LastSeq, groupDigits(m.events().State.Messages), len(m.Streams), groupDigits(uint64(total)))
	fmt.Fprintf(stdout, "Its secrets (signing key, ledger root, passwords) are in %s, readable only by you: store them apart, as secret as the data directory.\n",
		filepath.Join(c.Output, secretsDir))
	fmt.Fprintf(stdout, "Restore with: kcledger restore --input %s --data NEWDIR --ledger %s\n", c.Output, m.Ledger.Root)
	return exitOK
}

func (c backupConfig) check() error {
	if c.Output == "" {
		return errors.New("--output is required: the backup directory to create")
	}
	if err := emptyOrAbsent(c.Output); err != nil {
		return fmt.Errorf("--output %s: %w", c.Output, err)
	}
	if n := btoi(c.Creds.Creds != "") + btoi(c.Creds.User != ""); n > 1 {
		return errors.New("give --nats-creds or --nats-user, not both")
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, ledgerRootFile)); err != nil {
		return fmt.Errorf("--data %s: no %s there (%v): give the data directory of the serve to back up", c.DataDir, ledgerRootFile, err)
	}
	return nil
}

// errNotEmpty is a target directory that already holds something.
var errNotEmpty = errors.New("it is not empty")

// emptyOrAbsent says whether dir does not exist or is an empty directory.
func emptyOrAbsent(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New("it is not a directory")
	}
	if names, _ := f.Readdirnames(1); len(names) > 0 {
		return errNotEmpty
	}
	return nil
}

// events is the manifest's events stream.
func (m *backupManifest) events() backupStream {
	for _, s := range m.Streams {
		if s.Role == "events" {
			return s
		}
	}
	return backupStream{}
}

// backup writes the backup into a directory beside c.Output, checks it,
// and renames it to c.Output only once it is whole: a backup that
// failed leaves nothing that looks like one.
func backup(ctx context.Context, c backupConfig, progress, note io.Writer) (backupManifest, error) {
	rootKey, err := readSeed(filepath.Join(c.DataDir, ledgerRootFile), "ledger root")
	if err != nil {
		return backupManifest{}, err
	}
	signKey, err := readSeed(filepath.Join(c.DataDir, signingKeyFile), "signing key")
	if err != nil {
		return backupManifest{}, err
	}
	root := domain.NewRoot(rootKey)
	m := backupManifest{
		Format:  backupFormat,
		Ledger:  backupLedger{Root: root.ID(), RootPublicKey: root.Public(), Signer: domain.KeyID(signKey.Public().(ed25519.PublicKey))},
		Created: time.Now().UTC(),
		Stream:  c.Stream,
	}
	parent := filepath.Dir(filepath.Clean(c.Output))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return m, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(c.Output)+".partial-")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(tmp) // gone once renamed
	for _, d := range []string{streamsDir, secretsDir} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o700); err != nil {
			return m, err
		}
	}
	for _, d := range dataFiles {
		f, err := copySecret(filepath.Join(c.DataDir, d.name), tmp, d.name)
		if errors.Is(err, fs.ErrNotExist) && !d.required {
			continue
		}
		if err != nil {
			return m, err
		}
		f.What = d.what
		m.Files = append(m.Files, f)
	}

	nc, stop, err := c.connectOrStart(note)
	if err != nil {
		return m, err
	}
	defer stop()
	if err := c.sameLedger(ctx, nc, root); err != nil {
		return m, err
	}
	for _, s := range eventstore.BackupStreams(c.Stream, c.AccountsBucket) {
		snap, f, err := snapshotTo(ctx, nc, s.Name, tmp, progress)
		if err != nil {
			return m, err
		}
		f.What = "JetStream snapshot of the " + s.Role + " stream " + s.Name
		m.Files = append(m.Files, f)
		m.Streams = append(m.Streams, backupStream{Name: s.Name, Role: s.Role, File: f.Path, Config: snap.Config, State: snap.State})
	}
	// A snapshot may hold a few appends made while it was written: a
	// restore says exactly what it holds, and the manifest says that.
	if err := checkRestores(ctx, tmp, &m, progress); err != nil {
		return m, err
	}
	m.LastSeq = m.events().State.LastSeq
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return m, err
	}
	data := buf.Bytes()
	if _, err := parseManifest(data); err != nil {
		return m, fmt.Errorf("the manifest written would be refused: %w", err)
	}
	if err := writeNew(filepath.Join(tmp, manifestFile), data); err != nil {
		return m, err
	}
	if err := writeNew(filepath.Join(tmp, manifestSigFile), signManifest(rootKey, data)); err != nil {
		return m, err
	}
	if err := syncDir(tmp); err != nil {
		return m, err
	}
	// An empty --output is replaced; rename refuses anything else.
	if err := os.Rename(tmp, c.Output); err != nil {
		if rmErr := os.Remove(c.Output); rmErr != nil || os.Rename(tmp, c.Output) != nil {
			return m, fmt.Errorf("--output %s: %w", c.Output, err)
		}
	}
	return m, syncDir(parent)
}

// connectOrStart connects to serve's NATS server, or, when no serve
// holds the data directory and it has an embedded store, starts the
// embedded server on it in this process, as serve would, holding the
// directory's lock until stop: a backup runs whether serve is up or not.
func (c backupConfig) connectOrStart(note io.Writer) (nc *nats.Conn, stop func(), err error) {
	// Where flock is missing (datalock_other.go), the lock says nothing
	// of a running serve.
	noLocks := runtime.GOOS == "windows" || runtime.GOOS == "plan9"
	if c.Creds.Creds != "" || c.Creds.User != "" || noLocks {
		nc, err := c.connect()
		return nc, func() { closeConn(nc) }, err
	}
	unlock, err := lockDataDir(c.DataDir, "backup", time.Now())
	if errors.Is(err, errDataDirInUse) {
		nc, err := c.connect()
		return nc, func() { closeConn(nc) }, err
	}
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "jetstream")); err != nil {
		unlock() // no embedded store: serve ran on an external server
		nc, err := c.connect()
		return nc, func() { closeConn(nc) }, err
	}
	fail := func(err error) (*nats.Conn, func(), error) {
		unlock()
		return nil, nil, err
	}
	pw, err := readSecretFile(filepath.Join(c.DataDir, natsServiceFile))
	if err != nil {
		return fail(fmt.Errorf("the embedded server's service password: %w", err))
	}
	fmt.Fprintf(note, "kcledger backup: no serve holds %s: backing up its store with an embedded server of this process\n", c.DataDir)
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: c.DataDir, Listen: "127.0.0.1:-1", Auth: eventstore.NewNATSAuth(pw, c.Stream)})
	if err != nil {
		return fail(err)
	}
	nc, err = eventstore.ConnectEmbedded(ns, "kcledger-backup", pw)
	if err != nil {
		shutdown(ns)
		return fail(err)
	}
	return nc, func() { nc.Close(); shutdown(ns); unlock() }, nil
}

func closeConn(nc *nats.Conn) {
	if nc != nil {
		nc.Close()
	}
}

// connect connects to serve's NATS server: as its service user, with
// the data directory's password, unless credentials were given.
func (c backupConfig) connect() (*nats.Conn, error) {
	creds := c.Creds
	if creds.Creds == "" && creds.User == "" {
		pw, err := readSecretFile(filepath.Join(c.DataDir, natsServiceFile))
		if err != nil {
			return nil, fmt.Errorf("the embedded server's service password: %w (with an external server, give --nats-creds or --nats-user)", err)
		}
		creds.User, creds.Password = eventstore.ServiceUser, pw
	}
	opts := append(creds.options("kcledger-backup"), nats.MaxReconnects(5), nats.CustomInboxPrefix(eventstore.ServiceInboxPrefix))
	nc, err := nats.Connect(c.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w (is serve running there? give its NATS address with --nats-url)", c.NATSURL, err)
	}
	return nc, nil
}

// sameLedger refuses a data directory whose ledger root endorsed none of
// the keys registered on the NATS server: --data and --nats-url name
// two ledgers.
func (c backupConfig) sameLedger(ctx context.Context, nc *nats.Conn, root *domain.Root) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	signers, err := eventstore.RegisteredSigners(ctx, js)
	if err != nil {
		return fmt.Errorf("%s: %w (has serve run there?)", c.NATSURL, err)
	}
	for _, k := range signers {
		if k.VerifyEndorsement(root.Public()) == nil {
			return nil
		}
	}
	return fmt.Errorf("the ledger root of --data %s (%s) endorsed no signing key registered on %s: they are not the same ledger's", c.DataDir, root.ID(), c.NATSURL)
}

// copySecret copies a secret file of the data directory into the
// backup's secrets, mode 0600, and returns its entry.
func copySecret(src, dir, name string) (backupFile, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return backupFile{}, err
	}
	if len(data) > maxSecretBytes {
		return backupFile{}, fmt.Errorf("%s: over %d bytes", src, maxSecretBytes)
	}
	rel := secretsDir + "/" + name
	if err := writeNew(filepath.Join(dir, rel), data); err != nil {
		return backupFile{}, err
	}
	sum := sha256.Sum256(data)
	return backupFile{Path: rel, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Secret: true}, nil
}

// writeNew writes a new file, mode 0600, and syncs it.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// snapshotTo writes stream name's snapshot into the backup directory.
func snapshotTo(ctx context.Context, nc *nats.Conn, name, dir string, progress io.Writer) (eventstore.Snapshot, backupFile, error) {
	rel := snapshotPath(name)
	f, err := os.OpenFile(filepath.Join(dir, rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return eventstore.Snapshot{}, backupFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	p := byteProgress{w: progress, what: "backing up " + name, last: time.Now()}
	snap, err := eventstore.SnapshotStream(ctx, nc, name, io.MultiWriter(f, h), p.at)
	if err != nil {
		return snap, backupFile{}, err
	}
	if err := f.Sync(); err != nil {
		return snap, backupFile{}, err
	}
	st, err := f.Stat()
	if err != nil {
		return snap, backupFile{}, err
	}
	return snap, backupFile{Path: rel, Bytes: st.Size(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// checkRestores restores every snapshot onto a scratch server inside
// the backup directory, and records in the manifest the state each
// restore gives: the backup is known to restore before it is kept, and
// its manifest names exactly what it holds.
func checkRestores(ctx context.Context, dir string, m *backupManifest, progress io.Writer) error {
	scratch := filepath.Join(dir, ".check")
	defer os.RemoveAll(scratch)
	ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: scratch, Listen: "127.0.0.1:-1"})
	if err != nil {
		return err
	}
	defer shutdown(ns)
	nc, err := nats.Connect(ns.ClientURL(), nats.InProcessServer(ns), nats.Name("kcledger-backup-check"))
	if err != nil {
		return err
	}
	defer nc.Close()
	for i, s := range m.Streams {
		f, err := os.Open(filepath.Join(dir, s.File))
		if err != nil {
			return err
		}
		f0, _ := m.file(s.File)
		p := byteProgress{w: progress, what: "checking " + s.Name, total: f0.Bytes, last: time.Now()}
		config, err := eventstore.WithReplicas(s.Config, 1)
		if err != nil {
			f.Close()
			return err
		}
		state, err := eventstore.RestoreStream(ctx, nc, s.Name, eventstore.Snapshot{Config: config, State: s.State}, f, p.at)
		f.Close()
		if err != nil {
			return fmt.Errorf("the backup of %s does not restore: %w", s.Name, err)
		}
		if state.LastSeq < s.State.LastSeq || state.Messages < s.State.Messages || s.State.Messages > 0 && state.FirstSeq != s.State.FirstSeq {
			return fmt.Errorf("the backup of %s restores seq %d to %d, the stream held %d to %d when it was taken", s.Name, state.FirstSeq, state.LastSeq, s.State.FirstSeq, s.State.LastSeq)
		}
		m.Streams[i].State = state
	}
	return nil
}

// shutdown stops an embedded server and waits until its store is closed.
func shutdown(ns *server.Server) {
	ns.Shutdown()
	ns.WaitForShutdown()
}

// byteProgress reports a copy's advance on w at most every
// progressEvery, against total when it is known; w nil reports nothing.
type byteProgress struct {
	w     io.Writer
	what  string
	total int64
	last  time.Time
}

func (p *byteProgress) at(n int64) {
	if p.w == nil || time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	if p.total > 0 {
		fmt.Fprintf(p.w, "kcledger: %s: %s of %s bytes (%.0f%%)\n", p.what, groupDigits(uint64(n)), groupDigits(uint64(p.total)), 100*float64(n)/float64(p.total))
		return
	}
	fmt.Fprintf(p.w, "kcledger: %s: %s bytes\n", p.what, groupDigits(uint64(n)))
}
