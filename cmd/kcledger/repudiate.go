package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// One bad message (one that does not decode, sits on the wrong subject,
// breaks its chain or a rule, or is forged) must not take the ledger
// down, nor may it be counted. The balances stop just before it and the
// process stays up: /readyz, the balances and every recording route answer
// 503 naming its sequence, until an admin repudiates it (POST
// /v1/repudiations, kcledger repudiate). The repudiation is an event of
// its own (domain.TypeRepudiated) recorded after the bad message; every
// reader learns of it first (a filtered read of
// eventstore.RepudiationSubject) and then passes the bad message over.
//
// The balances stop at the bad message even when the events after it are
// on other lines and sound in themselves: stopping at the first unsound
// message is simple, the same for every kind of fault (a message that
// does not decode has no line to blame), and leaves nothing for an
// operator to reason about but one sequence.

// superviseBalances runs the balances over the stream. When they stop on
// a message that is not sound (an error wrapping domain.ErrCorrupt, which
// includes domain.ErrForged), it marks h stalled at that message, logs it
// once, and waits until the message is repudiated; then the balances pass
// it over and go on. Any other error ends it, and serve.
func superviseBalances(ctx context.Context, store *eventstore.JetStream, feed projections.Feed, b follower, reps *domain.Repudiations, repsReady <-chan struct{}, h *webapi.Health, log *slog.Logger) error {
	// The repudiations in the stream at start are known before the
	// balances read a message.
	select {
	case <-repsReady:
	case <-ctx.Done():
		return nil
	}
	var logged uint64 // the stall last logged
	for {
		err := b.Run(ctx, feed)
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, domain.ErrCorrupt) {
			return err
		}
		seq, serr := badSeq(ctx, store, b, reps)
		var digest string
		if serr == nil && seq != 0 {
			digest, serr = store.Digest(ctx, seq)
		}
		if serr != nil {
			return errors.Join(err, serr)
		}
		// A repudiation passes the message over only while it is the
		// message it names (its digest), not merely its sequence.
		if seq == 0 || reps.Covers(seq, digest) {
			continue // repudiated meanwhile: read it again, passing it over
		}
		h.Set(&webapi.Stall{Seq: seq, Reason: err.Error(), Since: time.Now()})
		if seq != logged { // once, not at every recheck
			logged = seq
			if _, reports := b.(*projections.Plans); reports {
				// The balances stop on the same message and say so.
				log.Warn("the reports' model stopped before a message that is not sound; reports are rebuilt from the stream until an admin repudiates it (kcledger repudiate)",
					"seq", seq, "applied_seq", b.Applied(), "err", err)
			} else {
				log.Error("the balances stopped before a message that is not sound; they serve nothing past it until an admin repudiates it (kcledger repudiate)",
					"seq", seq, "applied_seq", b.Applied(), "err", err)
			}
		}
		// A key the trust does not know may be registered (or
		// re-registered, endorsed, by its own process on start) at
		// any time: read again now and then, rather than lead an admin
		// to repudiate a sound event.
		var recheck <-chan time.Time
		if errors.Is(err, domain.ErrUnendorsed) {
			recheck = time.After(unendorsedRecheckEvery) // collected once it fires or is dropped
		}
		retry := false
		for !retry && !reps.Covers(seq, digest) {
			changed := reps.Changed()
			if reps.Covers(seq, digest) {
				break
			}
			select {
			case <-changed:
			case <-recheck:
				retry = true
			case <-ctx.Done():
				return nil
			}
		}
		if retry {
			h.Set(nil) // set again at once if the event is still refused
			continue
		}
		rep, _ := reps.Get(seq)
		log.Warn("the message is repudiated; the balances pass it over and go on", "seq", seq, "by_seq", rep.Seq, "by", rep.Event.Actor, "reason", rep.Event.Reason)
		h.Set(nil)
	}
}

// unendorsedRecheckEvery is how often balances stopped on an event of an
// unknown or unendorsed key read it again.
const unendorsedRecheckEvery = 10 * time.Second

// follower is a read model that follows the stream: the balances, or the
// reports' live model.
type follower interface {
	Run(ctx context.Context, feed projections.Feed) error
	Applied() uint64
	PassedOver(seq uint64) bool
}

var (
	_ follower = (*projections.Balances)(nil)
	_ follower = (*projections.Plans)(nil)
)

// badSeq is the message the balances stopped on: the first after the
// last applied that they did not pass over, or the first sequence the
// stream lacks (a message removed from it), which may be repudiated too.
func badSeq(ctx context.Context, store *eventstore.JetStream, b follower, reps *domain.Repudiations) (uint64, error) {
	after := b.Applied()
	for {
		seq, err := store.NextSeq(ctx, after)
		if err != nil || seq == 0 {
			return seq, err
		}
		for missing := after + 1; missing < seq; missing++ {
			if !reps.Covers(missing, "") {
				return missing, nil
			}
		}
		if !b.PassedOver(seq) {
			return seq, nil
		}
		after = seq
	}
}

// followRepudiations keeps reps up to date with the sound repudiations of
// the stream, those at start first (ready is closed once they are in),
// then new ones, recorded by this process or another. A repudiation that
// does not decode, breaks a rule or its own hash, or is forged counts
// for nothing. One whose key is not (yet) trusted, or that could not be
// checked, is judged again every repudiationRecheckEvery: its process
// may register its key later. Repudiations are judged one by one (each
// is signed), not by their chain: processes that trust different keys
// for a while would otherwise each refuse the other's later ones.
func followRepudiations(ctx context.Context, store *eventstore.JetStream, reps *domain.Repudiations, verify func(context.Context, *domain.Event) error, ready chan<- struct{}, log *slog.Logger) {
	last, err := store.LastRepudiationSeq(ctx)
	if err != nil {
		log.Error("reading the repudiations failed; bad messages repudiated earlier will stop the balances", "err", err)
		close(ready)
		return
	}
	once := sync.OnceFunc(func() { close(ready) })
	if last == 0 {
		once()
	}
	var mu sync.Mutex
	pending := map[uint64]domain.Recorded{}
	go func() {
		t := time.NewTicker(repudiationRecheckEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			mu.Lock()
			for seq, r := range pending {
				err := checkRepudiation(ctx, seq, r, verify)
				if err == nil {
					reps.Add(r)
					log.Info("a repudiation not judged before is sound now", "seq", seq, "repudiated_seq", r.Event.RepudiatedSeq)
				}
				if err == nil || !mayPass(err) {
					delete(pending, seq)
				}
			}
			mu.Unlock()
		}
	}()
	// A consumer that fails is replaced: the repudiations are read again
	// from the start (Add keeps the first of each), after a pause that
	// grows to 30 s.
	for attempt := 0; ; attempt++ {
		err = store.FollowRepudiations(ctx, func(seq uint64, digest string, r domain.Recorded, err error) error {
			defer func() {
				if seq >= last {
					once()
				}
			}()
			if reps.Has(seq) && reps.Covers(seq, digest) {
				return nil // itself repudiated, as what it is
			}
			if err == nil {
				err = checkRepudiation(ctx, seq, r, verify)
			}
			switch {
			case err == nil:
				reps.Add(r)
			case mayPass(err):
				log.Warn("a repudiation is not judged yet; it is judged again now and then", "seq", seq, "err", err)
				mu.Lock()
				pending[seq] = r
				mu.Unlock()
			default:
				log.Warn("a message on the repudiations' subject is not a sound repudiation; it counts for nothing", "seq", seq, "err", err)
			}
			return nil
		})
		once()
		if ctx.Err() != nil {
			return
		}
		log.Error("following the repudiations failed; reading them again", "err", err, "attempt", attempt+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(time.Duration(attempt+1)*time.Second, 30*time.Second)):
		}
	}
}

// repudiationRecheckEvery is how often repudiations not judged yet are
// judged again.
const repudiationRecheckEvery = 10 * time.Second

// mayPass says whether a repudiation's refusal may not last: its key is
// not (yet) registered or endorsed, or the check could not be made.
func mayPass(err error) bool {
	return errors.Is(err, domain.ErrUnendorsed) || !errors.Is(err, domain.ErrCorrupt)
}

// checkRepudiation judges a message of the repudiations' subject: a
// repudiation, of an earlier sequence, that keeps the rules, whose hash
// is its content's, signed by a key verify trusts.
func checkRepudiation(ctx context.Context, seq uint64, r domain.Recorded, verify func(context.Context, *domain.Event) error) error {
	e := &r.Event
	switch {
	case e.Type != domain.TypeRepudiated:
		return fmt.Errorf("%w: event %s at seq %d has type %q", domain.ErrCorrupt, e.ID, seq, e.Type)
	case e.RepudiatedSeq >= seq:
		return fmt.Errorf("%w: repudiation %s at seq %d names seq %d, which is not before it", domain.ErrCorrupt, e.ID, seq, e.RepudiatedSeq)
	}
	if err := e.Validate(domain.Policy{}); err != nil {
		return fmt.Errorf("%w: repudiation %s at seq %d: %v", domain.ErrCorrupt, e.ID, seq, err)
	}
	if !r.HashChecked && e.Hash != e.ComputeHash() {
		return fmt.Errorf("%w: repudiation %s at seq %d: its hash is not its content's", domain.ErrCorrupt, e.ID, seq)
	}
	return verify(ctx, e)
}

// runRepudiate is `kcledger repudiate`.
func runRepudiate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("repudiate", "record that the message at a sequence, which the ledger found not sound, is repudiated: every reader then passes it over (admins). History is not edited: the message stays in the stream, and verify reports it", stderr)
	server := addClientFlags(fs)
	seq := fs.Uint64("seq", 0, "the stream sequence of the bad message, as /readyz and the log name it")
	reason := fs.String("reason", "", "why it is repudiated")
	decision := fs.String("decision", "", "the decision (quyết định) or authority that orders it, e.g. 12/QĐ-TTKC")
	date := fs.String("date", "", "the decision's date YYYY-MM-DD (default: today in Vietnam)")
	id := fs.String("id", "", "idempotency key; reuse the printed key to retry safely (default: a new one)")
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print the server's JSON answer (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kcledger repudiate: %s\n", fmt.Sprintf(format, a...))
		return exitUsage
	}
	if *seq == 0 {
		return usageErr("--seq is required")
	}
	if *reason == "" || *decision == "" {
		return usageErr("--reason and --decision are required")
	}
	body := map[string]any{"seq": *seq, "reason": *reason, "decision": *decision}
	if *date != "" {
		d, err := domain.ParseDate(*date)
		if err != nil {
			return usageErr("--date: %v", err)
		}
		body["effective_date"] = d.String()
	}
	c, err := server.client()
	if err != nil {
		return usageErr("%v", err)
	}
	key := *id
	if key == "" {
		key = uuid.Must(uuid.NewV7()).String()
		fmt.Fprintf(stderr, "idempotency key: %s (to retry safely, repeat the command with --id %s)\n", key, key)
	}
	var raw json.RawMessage
	if _, err := c.do(ctx, http.MethodPost, "/v1/repudiations", http.Header{"Idempotency-Key": {key}}, body, &raw); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	if *asJSON {
		printAnswer(stdout, raw)
		return exitOK
	}
	var res webapi.RepudiationResponse
	if err := json.Unmarshal(raw, &res); err != nil {
		fmt.Fprintf(stderr, "kcledger: unreadable answer: %v\n", err)
		return exitFailure
	}
	if res.Replayed {
		fmt.Fprintf(stdout, "Already recorded: the message at seq %d was repudiated at seq %d (event %s).\n", res.Event.RepudiatedSeq, res.Seq, res.Event.ID)
		return exitOK
	}
	fmt.Fprintf(stdout, "Repudiated the message at seq %d: recorded at seq %d (event %s, by %s, %s). The balances pass it over from now on.\n",
		res.Event.RepudiatedSeq, res.Seq, res.Event.ID, res.Event.Actor, res.Event.Decision)
	return exitOK
}

// readRepudiations reads the repudiations of the stream up to last, for
// the readers that then scan the whole stream (verify, replay, export).
// With keys (replay's pinned keys), only sound ones count, as serve
// judges them: a repudiation signed by one of the keys, with its hash,
// stored by cutoff (when set: a view
// of what the ledger knew then). Without keys, each that decodes is
// taken, whoever signed it (verify judges them; an export lists them).
func readRepudiations(ctx context.Context, rd *eventstore.Reader, last uint64, keys domain.Keyring, cutoff time.Time) (*domain.Repudiations, error) {
	reps := domain.NewRepudiations()
	verify := func(_ context.Context, e *domain.Event) error { return keys.Verify(e) }
	err := rd.ScanFilter(ctx, eventstore.RepudiationSubject, last, func(se eventstore.StoredEvent) (bool, error) {
		if !cutoff.IsZero() && se.Stored.After(cutoff) {
			return false, nil
		}
		if se.Err != nil {
			return true, nil
		}
		if keys != nil {
			if checkRepudiation(ctx, se.Seq, se.Recorded, verify) != nil {
				return true, nil // not sound: it repudiates nothing
			}
		} else if se.Recorded.Event.RepudiatedSeq >= se.Seq {
			return true, nil
		}
		reps.Add(se.Recorded)
		return true, nil
	})
	return reps, err
}
