package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	webapi "github.com/kcledger/kcledger/web/api"
)

// filterList is a repeatable --filter.
type filterList []string

func (f *filterList) String() string { return strings.Join(*f, ",") }
func (f *filterList) Set(v string) error {
	*f = append(*f, v)
	return nil
}

const subscribeSummary = "read events as they are recorded, resuming where a durable subscriber stopped: one JSON event per line, or each event piped to a command"

const subscribeHelp = `
Each event is acknowledged only after it was written out (stdout mode) or
after --exec's command exited 0. A durable subscriber (--durable) that
stops, crashes or is killed resumes with the first event it did not
acknowledge, including events recorded while it was down; events come one
at a time, in stream order.

With --exec, the command gets the event's JSON on its standard input and
these variables: KCLEDGER_SEQ (stream sequence, increasing), KCLEDGER_SUBJECT,
KCLEDGER_EVENT_ID and KCLEDGER_EVENT_TYPE. If it fails, it is retried with a
growing delay; after --retries failures the subscriber stops with an error
and the event stays unacknowledged: nothing is ever skipped. If the
subscriber itself is killed (even kill -9) while a command runs, the
command is killed too, and the event is delivered again on restart. That
holds for a program given with plain arguments (--exec ./post.sh or
--exec "post --to kho-bac"), which runs without a shell; a command line with
shell syntax runs under /bin/sh, and programs that shell starts may outlive
a killed subscriber. A command that must never repeat an effect, whatever
happens, can remember KCLEDGER_SEQ: it only grows.

Ctrl-C (or SIGTERM) lets the event in hand finish, then stops, exit 0.

Examples:
  kcledger subscribe --nats-url nats://127.0.0.1:4222 --durable dashboard \
      --filter 'kcledger.events.2025.>' > events.jsonl
  kcledger subscribe --durable kho-bac --filter 'kcledger.events.*.*.*.disbursed.>' \
      --exec ./post-to-treasury.sh --state kho-bac.state
`

func runSubscribe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("subscribe", subscribeSummary, stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "kcledger subscribe: %s\n\nFlags:\n", subscribeSummary)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), subscribeHelp)
	}
	nf := addReaderFlags(fs)
	durable := fs.String("durable", env("KCLEDGER_DURABLE", ""), "name of the durable consumer that keeps this subscriber's position on the server: letters, digits, '-', '_' (KCLEDGER_DURABLE); without it nothing is remembered")
	var filters filterList
	fs.Var(&filters, "filter", "subject filter, repeatable, as in docs/events.md, e.g. 'kcledger.events.2025.>' or 'kcledger.events.*.01.>' (default: every event)")
	fromStart := fs.Bool("from-start", false, "start with the stream's first event (the default for a new subscriber)")
	fromSeq := fs.Uint64("from-seq", 0, "start with the event at this stream sequence")
	since := fs.String("since", "", "start with the events stored since this moment, e.g. 2025-06-30T17:00:00+07:00")
	command := fs.String("exec", "", "pipe each event to this shell command; acknowledge it when the command exits 0")
	retries := fs.Int("retries", 5, "with --exec: retries of a failing command before the subscriber stops")
	retryDelay := fs.Duration("retry-delay", time.Second, "with --exec: delay before the first retry; it doubles each time, up to a minute")
	timeout := fs.Duration("timeout", 5*time.Minute, "with --exec: a command running longer is killed, and counts as failed")
	ackWait := fs.Duration("ack-wait", eventstore.DefaultAckWait, "for a new durable: how long an event taken by a subscriber that died waits before it is delivered again (a running command keeps it reserved)")
	statePath := fs.String("state", env("KCLEDGER_SUBSCRIBE_STATE", ""), "file that records the last sequence handled, so that an event whose acknowledgement was lost (connection cut) is not handled twice (KCLEDGER_SUBSCRIBE_STATE)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kcledger subscribe: "+format+"\n", a...)
		return exitUsage
	}
	if err := nf.check(); err != nil {
		return usageErr("%v", err)
	}

	cfg := eventstore.SubscribeConfig{Stream: *nf.stream, Durable: *durable, Filters: filters, AckWait: *ackWait}
	for _, f := range filters {
		if err := eventstore.ValidateFilter(f); err != nil {
			return usageErr("--filter: %s", domainMessage(err))
		}
	}
	if *durable != "" {
		if err := eventstore.ValidateDurable(*durable); err != nil {
			return usageErr("--durable: %s", domainMessage(err))
		}
	}
	starts := 0
	for _, given := range []bool{*fromStart, *fromSeq > 0, *since != ""} {
		if given {
			starts++
		}
	}
	if starts > 1 {
		return usageErr("give at most one of --from-start, --from-seq and --since")
	}
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			return usageErr("--since %q: want a time with its zone, such as 2025-06-30T17:00:00+07:00", *since)
		}
		if t.After(time.Now()) {
			return usageErr("--since %s is in the future", *since)
		}
		cfg.Start.Time = t
	}
	cfg.Start.Seq = *fromSeq
	if *retries < 0 || *retryDelay <= 0 || *timeout <= 0 || *ackWait < time.Second {
		return usageErr("--retries must be ≥ 0, --retry-delay and --timeout > 0, --ack-wait at least 1s")
	}
	if *statePath != "" && *durable == "" {
		return usageErr("--state needs --durable: without a durable there is no position to keep")
	}
	var state *subscribeState
	if *statePath != "" {
		var err error
		if state, err = loadSubscribeState(*statePath, *nf.stream, *durable); err != nil {
			return usageErr("--state: %v", err)
		}
	}

	nc, err := nf.connect("kcledger-subscribe")
	if err != nil {
		fmt.Fprintf(stderr, "kcledger subscribe: %v\n", err)
		return exitFailure
	}
	defer nc.Close()

	out := bufio.NewWriter(stdout)
	stopCtx := ctx
	handler := func(ctx context.Context, d *eventstore.Delivery) error {
		if state != nil && d.Seq <= state.LastSeq {
			return nil // handled before the acknowledgement was lost
		}
		var err error
		if *command != "" {
			// ctx, the subscriber's own, ends retries at Ctrl-C; each
			// attempt runs to its end on the handler's.
			err = runHandler(ctx, stopCtx, *command, d, *retries, *retryDelay, *timeout, stdout, stderr)
		} else {
			out.Write(d.Data)
			out.WriteByte('\n')
			err = out.Flush()
		}
		if err != nil {
			return err
		}
		if state != nil {
			return state.save(d.Seq)
		}
		return nil
	}
	begin := func(info eventstore.SubscriptionInfo) {
		who := "ephemeral subscriber (nothing remembered)"
		if info.Durable != "" {
			who = "durable " + info.Durable
			if info.Created {
				who += " (new)"
			}
		}
		from := fmt.Sprintf("from seq %d", info.Resume)
		if !cfg.Start.Time.IsZero() && (info.Created || info.Durable == "") {
			from = fmt.Sprintf("from the events stored since %s (seq %d)", humanTime(cfg.Start.Time), info.Resume)
		}
		fmt.Fprintf(stderr, "kcledger subscribe: %s on %s, filter %s, %s, %s pending\n",
			who, *nf.stream, strings.Join(info.Filters, " "), from, groupDigits(info.Pending))
		if info.Unacknowledged > 0 {
			fmt.Fprintf(stderr, "kcledger subscribe: an earlier run took the event at seq %d and did not acknowledge it; it comes again within %s\n", info.Taken, info.AckWait)
		}
	}
	err = eventstore.Subscribe(ctx, nc, cfg, begin, handler)
	var stopped *stoppedError
	switch {
	case err == nil:
		fmt.Fprintln(stderr, "kcledger subscribe: stopped")
		return exitOK
	case errors.As(err, &stopped):
		fmt.Fprintf(stderr, "kcledger subscribe: stopped before retrying the event at seq %d, which is not acknowledged and comes first next time\n", stopped.seq)
		return exitOK
	case errors.Is(err, eventstore.ErrDurableMismatch):
		fmt.Fprintf(stderr, "kcledger subscribe: %v\n", err)
		return exitUsage
	case errors.As(err, new(*handlerError)):
		fmt.Fprintf(stderr, "kcledger subscribe: %v\n", err)
		return exitFailure
	default:
		var de *domain.Error
		if errors.As(err, &de) {
			return usageErr("%s", domainMessage(err))
		}
		fmt.Fprintf(stderr, "kcledger subscribe: %v\n", err)
		return exitFailure
	}
}

// domainMessage is a domain error's message without the package prefix.
func domainMessage(err error) string {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return err.Error()
}

// handlerError is a command that kept failing: the subscriber stops.
type handlerError struct {
	seq      uint64
	attempts int
	err      error
}

func (e *handlerError) Error() string {
	return fmt.Sprintf("--exec failed on the event at seq %d, %d times (last: %v); it is not acknowledged, and a restart begins with it", e.seq, e.attempts, e.err)
}

// stoppedError is a stop asked for (Ctrl-C) while a failed command waited
// for its retry.
type stoppedError struct{ seq uint64 }

func (e *stoppedError) Error() string { return fmt.Sprintf("stopped before retrying seq %d", e.seq) }

// runHandler pipes d to command until it exits 0, retrying with a growing
// delay. Attempts run on ctx; stop ends the waits between them.
func runHandler(ctx, stop context.Context, command string, d *eventstore.Delivery, retries int, delay, timeout time.Duration, stdout, stderr io.Writer) error {
	var last error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			fmt.Fprintf(stderr, "kcledger subscribe: seq %d: %v; retry %d of %d in %s\n", d.Seq, last, attempt, retries, delay)
			wait := time.NewTimer(delay)
			select {
			case <-wait.C:
			case <-stop.Done():
				wait.Stop()
				return &stoppedError{seq: d.Seq}
			}
			delay = min(2*delay, time.Minute)
		}
		// eventstore.Subscribe keeps the event reserved meanwhile.
		last = runOnce(ctx, command, d, timeout, stdout, stderr)
		if last == nil {
			return nil
		}
	}
	return &handlerError{seq: d.Seq, attempts: retries + 1, err: last}
}

func runOnce(ctx context.Context, command string, d *eventstore.Delivery, timeout time.Duration, stdout, stderr io.Writer) error {
	// The command dies with the thread that started it (isolate), so
	// that thread must live until the command ends.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	if words, ok := plainWords(command); ok {
		// No shell in between: the program itself dies with the
		// subscriber (isolate), not only a shell that forked it.
		cmd = exec.CommandContext(ctx, words[0], words[1:]...)
	}
	cmd.Stdin = bytes.NewReader(append(append([]byte(nil), d.Data...), '\n'))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(),
		"KCLEDGER_SEQ="+strconv.FormatUint(d.Seq, 10),
		"KCLEDGER_SUBJECT="+d.Subject,
		"KCLEDGER_EVENT_ID="+d.Header.Get(eventstore.HeaderID),
		"KCLEDGER_EVENT_TYPE="+d.Header.Get(eventstore.HeaderType),
	)
	isolate(cmd)
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("ran longer than --timeout %s", timeout)
	}
	return err
}

// plainWords splits a command made only of plain words (a program and
// its arguments, nothing a shell would interpret) into them.
func plainWords(command string) ([]string, bool) {
	if strings.ContainsAny(command, "|&;<>()$`\\\"'*?[]{}#~=%!\n") {
		return nil, false
	}
	words := strings.Fields(command)
	if len(words) == 0 {
		return nil, false
	}
	if _, err := exec.LookPath(words[0]); err != nil {
		return nil, false // a shell builtin such as exit, or a typo the shell reports
	}
	return words, true
}

// subscribeState is the --state file: the durable it belongs to and the
// last sequence handled.
type subscribeState struct {
	path    string
	Stream  string `json:"stream"`
	Durable string `json:"durable"`
	LastSeq uint64 `json:"last_seq"`
}

func loadSubscribeState(path, stream, durable string) (*subscribeState, error) {
	s := &subscribeState{path: path, Stream: stream, Durable: durable}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := webapi.DecodeStrict(data, s); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if s.Durable != durable || s.Stream != stream {
		return nil, fmt.Errorf("%s belongs to durable %q on stream %s, not %q on %s", path, s.Durable, s.Stream, durable, stream)
	}
	return s, nil
}

// save records seq, atomically and durably, before the event is
// acknowledged.
func (s *subscribeState) save(seq uint64) error {
	s.LastSeq = seq
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".kcledger-subscribe-*")
	if err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("--state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("--state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	return nil
}

var _ flag.Value = (*filterList)(nil)
