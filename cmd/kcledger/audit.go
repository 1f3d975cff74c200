package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	webapi "github.com/kcledger/kcledger/web/api"
)

// progressEvery is how often long scans report progress on stderr.
const progressEvery = 2 * time.Second

// progress reports a scan's advance on w at most every progressEvery.
type progress struct {
	w     io.Writer
	what  string
	total uint64
	last  time.Time
}

func (p *progress) at(seq uint64) {
	if p.w == nil || time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "kcledger: %s: %s of %s messages (%.0f%%)\n", p.what, groupDigits(seq), groupDigits(p.total), 100*float64(seq)/float64(max(p.total, 1)))
}

// groupDigits writes n the Vietnamese way: 1.234.567.
func groupDigits(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "." + s[i:]
	}
	return s
}

// batchGC lets the garbage collector run a quarter as often in the
// commands that read the whole stream once (verify, replay, export): they
// hold little (tens of MB for a million events) but allocate per event,
// and collecting less often is cheaper than the memory it costs.
func batchGC() { debug.SetGCPercent(400) }

// verifyReport is the JSON summary of `kcledger verify`.
type verifyReport struct {
	OK       bool                  `json:"ok"`
	Events   int                   `json:"events"`
	Lines    int                   `json:"lines"`
	LastSeq  uint64                `json:"last_seq"`
	Problems []projections.Problem `json:"problems"`
	More     int                   `json:"more_problems,omitempty"`
	// Repudiated lists the messages repudiated, each found unsound: not
	// problems, but never silent.
	Repudiated []projections.Repudiated `json:"repudiated"`
	// Served is the comparison with a running ledger's balances, when
	// --server was given.
	Served *servedCheck `json:"served,omitempty"`
}

type servedCheck struct {
	AsOfSeq uint64 `json:"as_of_seq"`
	Equal   bool   `json:"equal"`
	Detail  string `json:"detail,omitempty"`
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	batchGC()
	fs := newFlags("verify", "re-read the whole stream straight from NATS and check every event: format and rules, signature by a pinned key, hash chain, balance invariants, no missing message; optionally compare a running ledger's balances", stderr)
	nf := addReaderFlags(fs)
	keysFile := fs.String("keys", env("KCLEDGER_KEYS", ""), "the pinned public keys, saved earlier with \"kcledger keys > keys.json\" (KCLEDGER_KEYS); without it the keys are asked of --server, which means trusting it")
	server := addClientFlags(fs)
	compare := fs.Bool("compare", false, "also compare the balances served by --server with the recomputed ones")
	settle := fs.String("settlement-end-2026", env("KCLEDGER_SETTLEMENT_END_2026", "01-31"), "as given to serve (KCLEDGER_SETTLEMENT_END_2026)")
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print the report as JSON (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "kcledger verify: "+format+"\n", a...)
		return code
	}
	if err := nf.check(); err != nil {
		return fail(exitUsage, "%v", err)
	}
	settlement, err := domain.ParseMonthDay(*settle)
	if err != nil {
		return fail(exitUsage, "--settlement-end-2026: %v", err)
	}
	var c *client
	if *compare || *keysFile == "" {
		if c, err = server.client(); err != nil {
			return fail(exitUsage, "%v", err)
		}
	}
	var ring domain.Keyring
	if *keysFile != "" {
		var err error
		if ring, err = pinnedKeys(*keysFile); err != nil {
			return fail(exitUsage, "%v", err)
		}
	} else {
		var res webapi.KeysResponse
		if _, err := c.do(ctx, http.MethodGet, "/v1/keys", nil, nil, &res); err != nil {
			return exitFor(err, stderr, *server.server)
		}
		if ring, err = keyringOf(res); err != nil {
			return fail(exitFailure, "keys from %s: %v", *server.server, err)
		}
		fmt.Fprintf(stderr, "kcledger verify: trusting the %s %s serves; pin them with --keys for an independent check\n", signingKeys(len(ring)), *server.server)
	}

	nc, rd, err := nf.open(ctx, "kcledger-verify")
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	defer nc.Close()
	state, err := rd.State(ctx)
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	last := state.LastSeq

	// The served balances are read first: the scan snapshots the
	// recomputed ones at the same sequence.
	var served *projections.Report
	if *compare {
		served = &projections.Report{}
		if _, err := c.do(ctx, http.MethodGet, "/v1/balances", nil, nil, served); err != nil {
			return exitFor(err, stderr, *server.server)
		}
		last = max(last, served.AsOfSeq)
	}

	reps, err := readRepudiations(ctx, rd, last, nil, time.Time{})
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	v := projections.NewVerification(ring, domain.Policy{SettlementEndFrom2026: settlement})
	v.Repudiations(reps)
	var atServed map[domain.LineKey]*domain.LineState
	snapshot := func() {
		atServed = map[domain.LineKey]*domain.LineState{}
		for k, st := range v.Lines() {
			atServed[k] = st.Clone()
		}
	}
	if served != nil && served.AsOfSeq == 0 {
		snapshot()
	}
	pr := &progress{w: terminal(stderr), what: "verifying", total: last, last: time.Now()}
	// The signatures are checked by the scan's decoders, on every core and
	// out of order; the verification takes their findings in stream order.
	rd.CheckSignatures(ring)
	err = rd.Scan(ctx, last, func(se eventstore.StoredEvent) (bool, error) {
		v.CheckSigned(se.Seq, se.Digest(), se.Recorded, se.Err, projections.Signature{Checked: se.SignatureChecked, Err: se.Unsigned})
		if served != nil && se.Seq == served.AsOfSeq {
			snapshot()
		}
		pr.at(se.Seq)
		return true, nil
	})
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	v.Finish(last)

	rep := verifyReport{OK: v.OK(), Events: v.Events, Lines: len(v.Lines()), LastSeq: last, Problems: v.Problems, More: v.More, Repudiated: v.Repudiated}
	if rep.Problems == nil {
		rep.Problems = []projections.Problem{}
	}
	if rep.Repudiated == nil {
		rep.Repudiated = []projections.Repudiated{}
	}
	if served != nil {
		rep.Served = &servedCheck{AsOfSeq: served.AsOfSeq, Equal: true}
		if atServed == nil {
			rep.Served.Equal, rep.Served.Detail = false, fmt.Sprintf("the served balances are as of seq %d, which the stream does not hold", served.AsOfSeq)
		} else if err := projections.Compare(*served, atServed); err != nil {
			rep.Served.Equal, rep.Served.Detail = false, err.Error()
		}
		rep.OK = rep.OK && rep.Served.Equal
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printVerify(stdout, rep)
	}
	if !rep.OK {
		return exitRefused
	}
	return exitOK
}

// signingKeys is "1 signing key", "2 signing keys".
func signingKeys(n int) string {
	if n == 1 {
		return "1 signing key"
	}
	return fmt.Sprintf("%d signing keys", n)
}

func printVerify(w io.Writer, rep verifyReport) {
	lines := "budget lines"
	if rep.Lines == 1 {
		lines = "budget line"
	}
	fmt.Fprintf(w, "Checked %s events on %d %s, up to seq %s.\n", groupDigits(uint64(rep.Events)), rep.Lines, lines, groupDigits(rep.LastSeq))
	if rep.Served != nil {
		if rep.Served.Equal {
			fmt.Fprintf(w, "The ledger's served balances (as of seq %s) equal those recomputed from the stream.\n", groupDigits(rep.Served.AsOfSeq))
		} else {
			fmt.Fprintf(w, "MISMATCH: the ledger's served balances (as of seq %s) differ from the stream:\n  %s\n", groupDigits(rep.Served.AsOfSeq), rep.Served.Detail)
		}
	}
	for _, r := range rep.Repudiated {
		fmt.Fprintf(w, "REPUDIATED: seq %d, by seq %d (%s, %s): %s; found: %s\n", r.Seq, r.BySeq, r.Actor, r.Decision, r.Reason, r.Found)
	}
	if len(rep.Problems) == 0 {
		if rep.OK && len(rep.Repudiated) > 0 {
			fmt.Fprintf(w, "No problem found but the %d repudiated messages above, which count for nothing: every other event is well formed, signed by a pinned key, chained, and keeps every invariant; no message is missing.\n", len(rep.Repudiated))
		} else if rep.OK {
			fmt.Fprintln(w, "No problem found: every event is well formed, signed by a pinned key, chained, and keeps every invariant; no message is missing.")
		}
		return
	}
	fmt.Fprintf(w, "%d PROBLEMS; the first at seq %d:\n", len(rep.Problems)+rep.More, rep.Problems[0].Seq)
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  seq %d: %s\n", p.Seq, p.Detail)
	}
	if rep.More > 0 {
		fmt.Fprintf(w, "  … and %d more\n", rep.More)
	}
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	batchGC()
	fs := newFlags("replay", "rebuild the balances in this process straight from the stream, with no kcledger server: the auditor's own copy of the truth", stderr)
	nf := addReaderFlags(fs)
	untilSeq := fs.Uint64("until-seq", 0, "stop after this stream sequence (default: the end)")
	asOf := fs.String("as-of", "", "what the ledger knew at this moment: only messages the server had stored by then, e.g. 2025-06-30T17:00:00+07:00")
	effectiveUntil := fs.String("effective-until", "", "only movements whose decision or voucher is dated on or before YYYY-MM-DD, as balances --effective-until")
	year := fs.Int("year", 0, "only this fiscal year")
	province := fs.String("province", "", "only this province code")
	source := fs.String("source", "", "only this source: national (KCQG) or local (KCĐP)")
	projects := fs.Bool("projects", false, "also list each line's projects")
	keysFile := fs.String("keys", env("KCLEDGER_KEYS", ""), "required: the pinned public keys, saved earlier with: kcledger keys > keys.json (KCLEDGER_KEYS); every event must be signed by one of them")
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print JSON (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "kcledger replay: "+format+"\n", a...)
		return code
	}
	if err := nf.check(); err != nil {
		return fail(exitUsage, "%v", err)
	}
	var cutoff time.Time
	if *asOf != "" {
		t, err := time.Parse(time.RFC3339, *asOf)
		if err != nil {
			return fail(exitUsage, "--as-of %q: want a time with its zone, such as 2025-06-30T17:00:00+07:00", *asOf)
		}
		if t.After(time.Now()) {
			return fail(exitUsage, "--as-of %s is in the future", *asOf)
		}
		cutoff = t
	}
	var until domain.Date
	if *effectiveUntil != "" {
		d, err := domain.ParseDate(*effectiveUntil)
		if err != nil {
			return fail(exitUsage, "--effective-until: %s", domainMessage(err))
		}
		until = d
	}
	var src domain.Source
	if *source != "" {
		s, err := domain.ParseSource(*source)
		if err != nil {
			return fail(exitUsage, "--source: %s", domainMessage(err))
		}
		src = s
	}
	// The keys come from the auditor alone: the signers bucket is
	// written by whoever holds the operator's NATS credentials, and a
	// server could hand out any key.
	if *keysFile == "" {
		return fail(exitUsage, "--keys is required: the public keys you pinned earlier with kcledger keys > keys.json; every event must be signed by one of them")
	}
	ring, err := pinnedKeys(*keysFile)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	nc, rd, err := nf.open(ctx, "kcledger-replay")
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	defer nc.Close()
	state, err := rd.State(ctx)
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	last := state.LastSeq
	if *untilSeq > 0 {
		if *untilSeq > state.LastSeq {
			return fail(exitUsage, "--until-seq %d is beyond the stream, which ends at %d", *untilSeq, state.LastSeq)
		}
		last = *untilSeq
	}
	reps, err := readRepudiations(ctx, rd, last, ring, cutoff)
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	// Every event up to the cut is applied, rules checked, whatever the
	// dates kept: a stream that is not sound shows no balance. The view
	// is the same Cut the server's balances use.
	b := projections.NewBalances()
	past := projections.NewPast(projections.Cut{AsOf: cutoff, EffectiveUntil: until})
	pr := &progress{w: terminal(stderr), what: "replaying", total: last, last: time.Now()}
	rd.CheckSignatures(ring)
	next := uint64(1)
	// One more message is read, and taken only when it is the
	// transferred-in side of a transfer out at the cut: a cut never ends
	// inside a write (projections.Cut.EndsAt).
	var prev domain.Recorded
	err = rd.Scan(ctx, min(last+1, state.LastSeq), func(se eventstore.StoredEvent) (bool, error) {
		if (!cutoff.IsZero() && se.Stored.After(cutoff) || se.Seq > last) && !projections.IsOtherSide(se.At(), prev) {
			return false, nil
		}
		prev = se.At()
		for ; se.Seq > next && reps.Covers(next, ""); next++ {
			// A removed message, repudiated.
			rep, _ := reps.Get(next)
			fmt.Fprintf(stderr, "kcledger replay: the stream has no message at seq %d: repudiated by seq %d (%s, %s): %s\n",
				next, rep.Seq, rep.Event.Actor, rep.Event.Decision, rep.Event.Reason)
			if err := b.Apply(domain.Recorded{Seq: next, Repudiated: true}); err != nil {
				return false, err
			}
		}
		if se.Seq != next {
			return false, fmt.Errorf("%w: the stream has no message at seq %d (the next is seq %d): a message was removed", domain.ErrCorrupt, next, se.Seq)
		}
		next = se.Seq + 1
		if rep, ok := reps.Get(se.Seq); ok && rep.Event.RepudiatedDigest == se.Digest() {
			fmt.Fprintf(stderr, "kcledger replay: skipped the message at seq %d: repudiated by seq %d (%s, %s): %s\n",
				se.Seq, rep.Seq, rep.Event.Actor, rep.Event.Decision, rep.Event.Reason)
			return true, b.Apply(domain.Recorded{Seq: se.Seq, Repudiated: true})
		}
		if se.Err != nil {
			return false, se.Err
		}
		if se.Unsigned != nil {
			return false, fmt.Errorf("event at seq %d: %w", se.Seq, se.Unsigned)
		}
		pr.at(se.Seq)
		if until.IsZero() {
			return true, b.Apply(se.Recorded)
		}
		if err := b.Apply(se.Recorded); err != nil {
			return false, err
		}
		return past.Add(se.Recorded, se.Stored)
	})
	if err != nil {
		if errors.Is(err, domain.ErrCorrupt) {
			return fail(exitRefused, "the stream is not sound, so no balance is shown (run kcledger verify): %v", err)
		}
		return fail(exitFailure, "%v", err)
	}
	f := projections.Filter{FiscalYear: *year, Province: *province, Source: src}
	rep := b.Report(f)
	if !until.IsZero() {
		rep = past.Report(f)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return exitOK
	}
	printReport(stdout, rep, *projects)
	printCut(stdout, cutoff, *effectiveUntil)
	return exitOK
}
