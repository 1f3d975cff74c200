package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// signingKeyFile is the file, in the data directory, that holds this
// process's Ed25519 signing key (hex seed). Only its owner may read it.
const signingKeyFile = "signing.key"

// signingKey reads this process's signing key, or makes one on first
// start.
func signingKey(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, signingKeyFile)
	key, err := readSeed(path, "signing key")
	if errors.Is(err, fs.ErrNotExist) {
		key, err = newSeedFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return key, nil
}

// ledgerRootFile is the file, in the data directory, that holds the
// ledger root's Ed25519 key (hex seed): the key that endorses every signer
// key. It never leaves the data directory by kcledger's doing; a second
// process of the same ledger gets a copy of it (see SECURITY.md).
const ledgerRootFile = "ledger-root.key"

// readSeed reads a hex Ed25519 seed from a secret file.
func readSeed(path, what string) (ed25519.PrivateKey, error) {
	s, err := readSecretFile(path)
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(s)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s %s is not a hex Ed25519 seed", what, path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// newSeedFile makes a fresh key and writes its seed to a new secret file.
func newSeedFile(path string) (ed25519.PrivateKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	if err := writeSecretFile(path, hex.EncodeToString(seed)); err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ledgerRoot reads the ledger root from the data directory, or makes one
// when the directory has none and no registration in the signers bucket
// names a root: a process joining a ledger whose keys another root
// endorsed must be given that root, not make its own, or each process
// would refuse the other's events.
func ledgerRoot(dataDir string, registered []eventstore.SignerKey) (*domain.Root, error) {
	path := filepath.Join(dataDir, ledgerRootFile)
	key, err := readSeed(path, "ledger root")
	if err == nil {
		return domain.NewRoot(key), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ledger root: %w", err)
	}
	for _, k := range registered {
		if k.EndorsedBy != "" {
			return nil, fmt.Errorf("ledger root: the signers bucket holds key %s endorsed by ledger root %s, and %s has no %s: copy that file (mode 0600) from the data directory of a process of this ledger, then start again", k.ID, k.EndorsedBy, dataDir, ledgerRootFile)
		}
	}
	if key, err = newSeedFile(path); err != nil {
		return nil, fmt.Errorf("ledger root: %w", err)
	}
	return domain.NewRoot(key), nil
}

// signerBucket is what the trust needs of eventstore.Signers.
type signerBucket interface {
	List(ctx context.Context) ([]eventstore.SignerKey, error)
	Put(ctx context.Context, k eventstore.SignerKey) error
}

// signerTrust is the set of keys serve takes events from: its own, and
// every key registered in the signers bucket with a valid endorsement by
// its ledger root. A registration without one is not enough: anyone
// holding the operator's NATS credentials can write the bucket.
type signerTrust struct {
	root   *domain.Root
	bucket signerBucket
	log    *slog.Logger

	mu   sync.Mutex
	ring domain.Keyring
	// refused remembers why an untrusted key was refused and when it was
	// last looked up, so that events signed by it do not each re-read
	// the bucket.
	refused map[string]refusal

	// own is this process's signer (ownPub its public key), and signing
	// is the same key remembering in made each signature it makes: the
	// ledger signs with it, and check need not verify those signatures
	// again.
	own     *domain.Signer
	ownPub  ed25519.PublicKey
	signing *domain.Signer
	made    *ownSignatures
	// verifications counts the Ed25519 verifications check made.
	verifications atomic.Uint64
}

type refusal struct {
	at  time.Time
	err error
}

// signerRecheckEvery bounds how often the bucket is re-read for a key
// already refused.
const signerRecheckEvery = time.Second

// trustSigners makes the trust of a serve process: it reads (or makes)
// the ledger root, registers the process's own key endorsed by it (also
// endorsing, in a store from before endorsements, the registration the
// key already has), and takes in every other key the root endorsed.
func trustSigners(ctx context.Context, dataDir string, bucket signerBucket, signer *domain.Signer, now time.Time, log *slog.Logger) (*signerTrust, error) {
	registered, err := bucket.List(ctx)
	if err != nil {
		return nil, err
	}
	root, err := ledgerRoot(dataDir, registered)
	if err != nil {
		return nil, err
	}
	t := &signerTrust{root: root, bucket: bucket, log: log, ring: domain.Keyring{}, refused: map[string]refusal{},
		own: signer, ownPub: signer.Public(), made: newOwnSignatures(ownSignaturesKept)}
	t.signing = signer.OnSign(t.made.add)
	own := eventstore.SignerKey{ID: signer.ID(), PublicKey: signer.Public(), RegisteredAt: now.UTC()}
	for _, k := range registered {
		if k.ID == own.ID && k.PublicKey.Equal(own.PublicKey) {
			own.RegisteredAt = k.RegisteredAt
			if k.VerifyEndorsement(root.Public()) == nil {
				own = k
			}
		}
	}
	if own.Endorsement == "" {
		own = root.Endorse(own)
		if err := bucket.Put(ctx, own); err != nil {
			return nil, err
		}
		log.Info("registered this process's signing key, endorsed by the ledger root", "key", own.ID, "root", root.ID())
	}
	t.trust(own)
	for _, k := range registered {
		if k.ID == own.ID {
			continue
		}
		if err := k.VerifyEndorsement(root.Public()); err != nil {
			log.Warn("a registered signing key is not trusted: events it signs are refused", "key", k.ID, "problem", err)
			t.refused[k.ID] = refusal{time.Now(), err}
			continue
		}
		t.trust(k)
	}
	return t, nil
}

func (t *signerTrust) trust(k eventstore.SignerKey) {
	t.ring.Add(k.PublicKey)
	delete(t.refused, k.ID)
}

// check is serve's signature check of one event: it must be signed, by a
// key the ledger root endorsed, and the signature must match its hash. An
// error wraps domain.ErrForged and names the event's sequence. A key not
// yet known is looked up in the bucket: another process of the ledger
// may have registered it since.
func (t *signerTrust) check(ctx context.Context, r domain.Recorded) error {
	e := &r.Event
	t.mu.Lock()
	pub, known := t.ring[e.SignedBy]
	if !known && e.SignedBy != "" {
		if err := t.lookUp(ctx, e.SignedBy); err != nil {
			t.mu.Unlock()
			return fmt.Errorf("event %s at seq %d is signed by key %s, which is not trusted: %w", e.ID, r.Seq, e.SignedBy, err)
		}
		pub = t.ring[e.SignedBy]
	}
	t.mu.Unlock()
	if pub != nil && e.SignedBy == t.own.ID() && pub.Equal(t.ownPub) && t.made.has(e.Hash, e.Signature) {
		// This process's own key made this very signature of this very
		// hash (ownSignatures): verifying it would say yes.
		return nil
	}
	// The signature itself is checked outside the lock: the scans of the
	// past check on every core.
	t.verifications.Add(1)
	one := domain.Keyring{}
	if pub != nil {
		one[e.SignedBy] = pub
	}
	if err := one.Verify(e); err != nil {
		return fmt.Errorf("event at seq %d: %w", r.Seq, err)
	}
	return nil
}

// ledgerSigner is the signer the ledger signs with: this process's key,
// remembering what it signs so that check need not verify it again.
func (t *signerTrust) ledgerSigner() *domain.Signer { return t.signing }

// ownSignaturesKept bounds the signatures a process remembers having made
// (about 250 bytes each): many more than its events in flight between
// being signed and being checked by the balances' feed (at most
// checkWindow ahead) or by a decision, so that evicting the oldest costs
// only a verification of those few that come back later.
const ownSignaturesKept = 4096

// ownSignatures remembers the last signatures this process's signer made,
// each by the event hash it signs. A verification is a pure function of
// the public key, the hash and the signature, and an Ed25519 signature
// made with a key always verifies under that key's public key: so an
// event that comes back from the log signed by this process's key, with
// exactly the hash and the signature remembered, is known to pass
// Keyring.Verify without doing it. Anything else (another hash, another
// signature, another key, or one forgotten) is verified as before. The
// hash itself is checked against the event's content apart, as before.
type ownSignatures struct {
	mu   sync.Mutex
	sig  map[string]string // hash → the signature made of it
	ring []string          // the hashes in the order signed; the oldest at next once full
	next int
}

func newOwnSignatures(n int) *ownSignatures {
	return &ownSignatures{sig: make(map[string]string, n), ring: make([]string, 0, n)}
}

// add remembers that this process signed hash with sig.
func (o *ownSignatures) add(hash, sig string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.sig[hash]; ok {
		o.sig[hash] = sig // the same signature: Ed25519 signs deterministically
		return
	}
	if len(o.ring) < cap(o.ring) {
		o.ring = append(o.ring, hash)
	} else {
		delete(o.sig, o.ring[o.next])
		o.ring[o.next] = hash
		o.next = (o.next + 1) % len(o.ring)
	}
	o.sig[hash] = sig
}

// has reports whether this process signed hash with exactly sig, among
// the signatures it remembers.
func (o *ownSignatures) has(hash, sig string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.sig[hash]
	return ok && s == sig
}

// len is how many signatures are remembered.
func (o *ownSignatures) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sig)
}

// verify is check of an event read outside the balances' feed (the
// repudiations serve follows).
func (t *signerTrust) verify(ctx context.Context, e *domain.Event) error {
	return t.check(ctx, domain.Recorded{Event: *e})
}

// verifyEvent is verify for the scans of the past (views of the past,
// the audit trail), which decode on every core with no context of their
// own; a key not yet known is looked up within the store's timeout.
func (t *signerTrust) verifyEvent(e *domain.Event) error {
	return t.verify(context.Background(), e)
}

// lookUp re-reads the bucket for a key id, and trusts the key if the root
// endorsed it. It returns why not otherwise.
func (t *signerTrust) lookUp(ctx context.Context, id string) error {
	if r, ok := t.refused[id]; ok && time.Since(r.at) < signerRecheckEvery {
		return r.err
	}
	registered, err := t.bucket.List(ctx)
	if err != nil {
		return err
	}
	for _, k := range registered {
		if k.ID != id {
			continue
		}
		if err := k.VerifyEndorsement(t.root.Public()); err != nil {
			t.refused[id] = refusal{time.Now(), err}
			t.log.Warn("a registered signing key is not trusted: events it signs are refused", "key", id, "problem", err)
			return err
		}
		t.log.Info("trusting a new signing key endorsed by the ledger root", "key", id, "root", t.root.ID())
		t.trust(k)
		return nil
	}
	err = fmt.Errorf("%w: key %s is not registered", domain.ErrUnendorsed, id)
	t.refused[id] = refusal{time.Now(), err}
	t.log.Warn("an event is signed by a key that is not registered: events it signs are refused", "key", id)
	return err
}

// Keys is what GET /v1/keys serves: the ledger root and the keys it
// endorsed (a key the root did not endorse is not the ledger's, and is
// not offered for pinning).
func (t *signerTrust) Keys(ctx context.Context) (webapi.KeysResponse, error) {
	registered, err := t.bucket.List(ctx)
	if err != nil {
		return webapi.KeysResponse{}, err
	}
	res := webapi.KeysResponse{Root: &webapi.RootKey{ID: t.root.ID(), PublicKey: t.root.Public()}, Keys: []eventstore.SignerKey{}}
	for _, k := range registered {
		if k.VerifyEndorsement(t.root.Public()) == nil {
			res.Keys = append(res.Keys, k)
		}
	}
	return res, nil
}

// checked returns feed with every event it delivers checked first: an
// event that fails the check is never handed to fn, and its error ends
// the feed as a broken hash chain does.
func (t *signerTrust) checked(feed projections.Feed) projections.Feed {
	return checkedFeed{feed: feed, check: t.check}
}

// checkedFeed is a feed whose events pass check before fn sees them.
type checkedFeed struct {
	feed  projections.Feed
	check func(context.Context, domain.Recorded) error
}

// Follow checks the events on every core, ahead of fn, which sees them
// in order: one Ed25519 verification an event is most of what a replay
// costs, and serve's feed would otherwise make it on one core. fn's first
// error, or a check's, ends the feed and is returned.
func (f checkedFeed) Follow(parent context.Context, after uint64, fn func(domain.Recorded) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	type job struct {
		r    domain.Recorded
		err  error
		done chan struct{}
	}
	jobs := make(chan *job, checkWindow)
	ordered := make(chan *job, checkWindow)
	for range checkWorkers {
		go func() {
			for j := range jobs {
				if !j.r.Repudiated { // passed over: no event to check
					j.err = f.check(ctx, j.r)
				}
				close(j.done)
			}
		}()
	}
	applied := make(chan error, 1)
	go func() {
		var err error
		for j := range ordered {
			if err != nil {
				continue // drain what is queued
			}
			select {
			case <-j.done:
			case <-ctx.Done():
				err = ctx.Err()
				continue
			}
			if err = j.err; err == nil {
				err = fn(j.r)
			}
			if err != nil {
				cancel()
			}
		}
		applied <- err
	}()
	ferr := f.feed.Follow(ctx, after, func(r domain.Recorded) error {
		j := &job{r: r, done: make(chan struct{})}
		select {
		case ordered <- j:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	})
	close(jobs)
	close(ordered)
	aerr := <-applied
	switch {
	case parent.Err() != nil:
		return nil // stopped, as a feed stops
	case aerr != nil:
		return aerr
	}
	return ferr
}

// Follow checks checkWindow events ahead at most, on checkWorkers cores.
const checkWindow = 1024

var checkWorkers = max(runtime.GOMAXPROCS(0), 2)

// decidedOn returns the event log the domain ledger decides new
// movements on, with every event it loads, or finds under an idempotency
// key, checked first: a forged allocation must not raise what a line may
// spend, nor a forged event take an honest command's key.
func (t *signerTrust) decidedOn(log domain.EventLog) domain.EventLog {
	return checkedLog{EventLog: log, check: t.check}
}

// checkedLog is an event log whose loaded events pass check.
type checkedLog struct {
	domain.EventLog
	check func(context.Context, domain.Recorded) error
}

func (l checkedLog) Load(ctx context.Context, k domain.LineKey, after uint64) ([]domain.Recorded, error) {
	recs, err := l.EventLog.Load(ctx, k, after)
	if err != nil {
		return nil, err
	}
	if k == (domain.LineKey{}) {
		// The repudiations' own line: one that is not sound counts for
		// nothing (as followRepudiations judges them), and must not stop
		// an admin from recording the repudiation of a bad message.
		// It is passed over: the line moves past it (the next append's
		// expectation), and the next repudiation links to the last sound
		// one.
		for i, r := range recs {
			if !r.Repudiated && (l.check(ctx, r) != nil || !r.HashChecked && r.Event.Hash != r.Event.ComputeHash()) {
				recs[i] = domain.Recorded{Seq: r.Seq, Repudiated: true}
			}
		}
		return recs, nil
	}
	for _, r := range recs {
		if r.Repudiated {
			continue // passed over: no event to check
		}
		if err := l.check(ctx, r); err != nil {
			return nil, fmt.Errorf("line %s: %w", k, err)
		}
	}
	return recs, nil
}

func (l checkedLog) Claim(ctx context.Context, key string) (domain.IdempotencyClaim, bool, error) {
	c, ok, err := l.EventLog.Claim(ctx, key)
	if err != nil || !ok {
		return c, ok, err
	}
	if err := l.check(ctx, c.Recorded); err != nil {
		return domain.IdempotencyClaim{}, false, err
	}
	return c, true, nil
}

// pinnedKeys reads the keys file an auditor pinned (--keys); its errors
// name the flag.
func pinnedKeys(path string) (domain.Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--keys: %w", err)
	}
	defer f.Close()
	ring, err := keyring(f)
	if err != nil {
		return nil, fmt.Errorf("--keys %s: %w", path, err)
	}
	return ring, nil
}

// keyring reads a keys file as written by `kcledger keys`.
func keyring(r io.Reader) (domain.Keyring, error) {
	var kr webapi.KeysResponse
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kr); err != nil {
		return nil, fmt.Errorf("not a kcledger keys file: %w", err)
	}
	return keyringOf(kr)
}

// keyringOf checks each key of kr against its id, and, when the file names a
// root, against the root's endorsement, and returns them as a keyring.
func keyringOf(kr webapi.KeysResponse) (domain.Keyring, error) {
	if kr.Root != nil && (len(kr.Root.PublicKey) != ed25519.PublicKeySize || domain.KeyID(kr.Root.PublicKey) != kr.Root.ID) {
		return nil, fmt.Errorf("root %q: its public key does not match its id", kr.Root.ID)
	}
	ring := domain.Keyring{}
	for _, k := range kr.Keys {
		if len(k.PublicKey) != ed25519.PublicKeySize || domain.KeyID(k.PublicKey) != k.ID {
			return nil, fmt.Errorf("key %q: its public key does not match its id", k.ID)
		}
		if kr.Root != nil {
			if err := k.VerifyEndorsement(kr.Root.PublicKey); err != nil {
				return nil, err
			}
		}
		ring.Add(k.PublicKey)
	}
	if len(ring) == 0 {
		return nil, errors.New("the keys file holds no key")
	}
	return ring, nil
}

// runKeys is `kcledger keys`: the public keys that sign events, to pin.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keys", "print the public keys that sign the ledger's events, with the ledger root that endorsed them, as JSON to save and pin: kcledger keys > keys.json, then kcledger verify --keys keys.json and kcledger replay --keys keys.json", stderr)
	server := addClientFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger keys: %v\n", err)
		return exitUsage
	}
	var res webapi.KeysResponse
	if _, err := c.do(ctx, http.MethodGet, "/v1/keys", nil, nil, &res); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
	return exitOK
}

// checkpointSeal seals the checkpoints serve saves with its signing key,
// and trusts a checkpoint only under the signature of a key the ledger
// root endorsed (a checkpoint of another process of the ledger resumes
// too). The object store that holds them can be written with the
// operator's NATS credentials alone.
type checkpointSeal struct {
	trust  *signerTrust
	signer *domain.Signer
}

// sealMagic begins a sealed checkpoint: the magic line, the signing key's
// id, the signature (base64) of sealedWhat, then the data.
const sealMagic = "kcledger-sealed-checkpoint-v1\n"

// sealedWhat is what a checkpoint's signature covers: its name and the
// SHA-256 of its data.
func sealedWhat(name string, data []byte) []byte {
	sum := sha256.Sum256(data)
	return []byte(sealMagic + name + "\n" + hex.EncodeToString(sum[:]))
}

func (s checkpointSeal) Seal(name string, data []byte) ([]byte, error) {
	sig := base64.StdEncoding.EncodeToString(s.signer.SignBytes(sealedWhat(name, data)))
	out := make([]byte, 0, len(sealMagic)+len(s.signer.ID())+len(sig)+2+len(data))
	out = append(out, sealMagic...)
	out = append(out, s.signer.ID()...)
	out = append(out, '\n')
	out = append(out, sig...)
	out = append(out, '\n')
	return append(out, data...), nil
}

func (s checkpointSeal) Unseal(ctx context.Context, name string, sealed []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(sealed, []byte(sealMagic))
	if !ok {
		return nil, errors.New("it is not sealed (saved before checkpoints were, or by someone else)")
	}
	id, rest, ok1 := bytes.Cut(rest, []byte("\n"))
	sig64, data, ok2 := bytes.Cut(rest, []byte("\n"))
	sig, err := base64.StdEncoding.DecodeString(string(sig64))
	if !ok1 || !ok2 || err != nil {
		return nil, errors.New("its seal is malformed")
	}
	pub, err := s.trust.publicKey(ctx, string(id))
	if err != nil {
		return nil, fmt.Errorf("sealed by key %s: %w", id, err)
	}
	if !ed25519.Verify(pub, sealedWhat(name, data), sig) {
		return nil, fmt.Errorf("its seal by key %s does not match its content", id)
	}
	return data, nil
}

// publicKey is the public key of a trusted signer, looked up in the
// bucket if not yet known.
func (t *signerTrust) publicKey(ctx context.Context, id string) (ed25519.PublicKey, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pub, ok := t.ring[id]; ok {
		return pub, nil
	}
	if err := t.lookUp(ctx, id); err != nil {
		return nil, err
	}
	return t.ring[id], nil
}
