package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	webapi "github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// subLedger is the test API's embedded server and ledger, recorded into
// directly, for subscribers run in this process.
type subLedger struct {
	url    string
	nc     *nats.Conn
	stream jetstream.Stream
	ledger *domain.Ledger
	n      int
}

func newSubLedger(t *testing.T) *subLedger {
	t.Helper()
	ta := newTestAPI(t)
	js, err := jetstream.New(ta.nc)
	require.NoError(t, err)
	stream, err := js.Stream(t.Context(), eventstore.DefaultStream)
	require.NoError(t, err)
	return &subLedger{url: ta.natsURL, nc: ta.nc, stream: stream, ledger: ta.ledger}
}

// record records an allocation on province's national line the first
// time, then 1000-đồng disbursements; it returns their sequences.
func (l *subLedger) record(t *testing.T, province string, count int) []uint64 {
	t.Helper()
	var seqs []uint64
	for range count {
		l.n++
		c := domain.Command{Kind: domain.Disburse, FiscalYear: 2025, Province: province, Source: domain.SourceNational,
			Amount: domain.AmountFromInt64(1000), Voucher: fmt.Sprintf("KB-%d", l.n), Beneficiary: "HTX",
			EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 3},
			EventID:       uuid.Must(uuid.NewV7()).String(), Actor: "tester", IdempotencyKey: fmt.Sprintf("sub-%d", l.n), Now: time.Now().UTC()}
		st, err := l.ledger.State(t.Context(), c.Line())
		require.NoError(t, err)
		if st.LastSeq == 0 {
			a := c
			a.Kind, a.Amount, a.Decision, a.Voucher, a.Beneficiary = domain.Allocate, domain.AmountFromInt64(1_000_000), "1/QĐ-BCT", "", ""
			a.IdempotencyKey, a.EventID = c.IdempotencyKey+"-alloc", uuid.Must(uuid.NewV7()).String()
			res, err := l.ledger.Record(t.Context(), a)
			require.NoError(t, err)
			seqs = append(seqs, res.Recorded.Seq)
		}
		res, err := l.ledger.Record(t.Context(), c)
		require.NoError(t, err)
		seqs = append(seqs, res.Recorded.Seq)
	}
	return seqs
}

func (l *subLedger) consumers(t *testing.T) int {
	t.Helper()
	info, err := l.stream.Info(t.Context())
	require.NoError(t, err)
	return info.State.Consumers
}

func TestSubscribeRefusesBadInputBeforeCreatingAnything(t *testing.T) {
	l := newSubLedger(t)
	l.record(t, "01", 1)
	future := time.Now().Add(time.Hour).Format(time.RFC3339)
	before := l.consumers(t) // the ledger's own (its key index)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"filter outside the stream", []string{"--filter", "orders.>"}, `filter "orders.>": event subjects begin with kcledger.events.`},
		{"fiscal year out of range", []string{"--filter", "kcledger.events.1999.>"}, `fiscal year "1999": want 2000–2100`},
		{"unknown province", []string{"--filter", "kcledger.events.2025.99.>"}, `province "99" is no province code`},
		{"unknown source", []string{"--filter", "kcledger.events.2025.01.regional.>"}, `source "regional": want national or local`},
		{"unknown kind", []string{"--filter", "kcledger.events.*.*.*.paid.>"}, `kind "paid": want one of allocated, adjusted, disbursed, refunded`},
		{"unknown version", []string{"--filter", "kcledger.events.*.*.*.disbursed.v9"}, `version "v9": want v1`},
		{"'>' in the middle", []string{"--filter", "kcledger.events.>.01"}, `'>' may only be the last token`},
		{"partial wildcard", []string{"--filter", "kcledger.events.202*.>"}, `mixes a wildcard with text`},
		{"too short to match", []string{"--filter", "kcledger.events.2025"}, `matches no event`},
		{"too long", []string{"--filter", "kcledger.events.2025.01.national.disbursed.v1.x"}, `has 5 tokens after kcledger.events, not 6`},
		{"one good filter, one bad", []string{"--filter", "kcledger.events.2025.>", "--filter", "kcledger.events.2025.1.>"}, `province "1"`},
		{"durable with a dot", []string{"--durable", "kho.bac"}, `durable name "kho.bac": use 1 to 64 letters`},
		{"durable with a space", []string{"--durable", "kho bac"}, `durable name "kho bac"`},
		{"durable with a wildcard", []string{"--durable", "kho*"}, `durable name "kho*"`},
		{"durable too long", []string{"--durable", strings.Repeat("a", 65)}, `use 1 to 64`},
		{"two starts", []string{"--from-seq", "2", "--since", "2025-01-01T00:00:00Z"}, "at most one of --from-start, --from-seq and --since"},
		{"since without a zone", []string{"--since", "2025-01-01 00:00"}, `--since "2025-01-01 00:00": want a time with its zone`},
		{"since in the future", []string{"--since", future}, "is in the future"},
		{"state without durable", []string{"--state", filepath.Join(t.TempDir(), "s")}, "--state needs --durable"},
		{"no retries allowed below zero", []string{"--exec", "true", "--retries", "-1"}, "--retries must be ≥ 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"--nats-url", l.url}, tt.args...)
			code := runSubscribe(t.Context(), args, &stdout, &stderr)
			assert.Equal(t, exitUsage, code, stderr.String())
			assert.Contains(t, stderr.String(), tt.want)
			assert.Empty(t, stdout.String())
			assert.Equal(t, before, l.consumers(t), "nothing may be created on bad input")
		})
	}
}

// subscribeInProcess runs the subscriber until stop is called, as Ctrl-C
// would; stop returns its exit code.
func subscribeInProcess(t *testing.T, args ...string) (out, errs *lockedBuffer, stop func() int) {
	t.Helper()
	out, errs = &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() { done <- runSubscribe(ctx, args, out, errs) }()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the subscriber did not stop within 30s of its Ctrl-C")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return out, errs, stop
}

// A durable stdout subscriber writes the events of its filter, stops
// cleanly, and resumes after the last one it wrote, with the events
// recorded meanwhile and nothing twice.
func TestSubscribeStdoutResumesWhereItStopped(t *testing.T) {
	l := newSubLedger(t)
	hanoi := l.record(t, "01", 3) // allocation + 3 disbursements
	l.record(t, "79", 2)          // not in the filter
	args := []string{"--nats-url", l.url, "--durable", "dashboard-01", "--filter", "kcledger.events.2025.01.>"}

	out, errs, stop := subscribeInProcess(t, args...)
	waitUntil(t, 10*time.Second, func() bool { return len(out.lines()) == len(hanoi) }, errs.String)
	require.Equal(t, exitOK, stop(), "%v", errs.lines())
	assert.Contains(t, strings.Join(errs.lines(), "\n"), "durable dashboard-01 (new) on KCLEDGER, filter kcledger.events.2025.01.>, from seq 1, 4 pending")

	more := l.record(t, "01", 2)
	l.record(t, "79", 1)
	out2, errs2, stop2 := subscribeInProcess(t, args...)
	waitUntil(t, 10*time.Second, func() bool { return len(out2.lines()) == len(more) }, errs2.String)
	time.Sleep(200 * time.Millisecond) // anything extra would show now
	require.Equal(t, exitOK, stop2())
	assert.Contains(t, strings.Join(errs2.lines(), "\n"), fmt.Sprintf("durable dashboard-01 on KCLEDGER, filter kcledger.events.2025.01.>, from seq %d, 2 pending", hanoi[len(hanoi)-1]+1))

	// Every line is an event of the stream, in order, on the filter's
	// line, once.
	all := append(out.lines(), out2.lines()...)
	require.Len(t, all, len(hanoi)+len(more))
	for i, seq := range append(hanoi, more...) {
		m, err := l.stream.GetMsg(t.Context(), seq)
		require.NoError(t, err)
		assert.JSONEq(t, string(m.Data), all[i], "line %d is the event at seq %d", i+1, seq)
	}

	// The durable keeps its filter and its position: another filter, or
	// a start, under its name is refused.
	var stdout, stderr bytes.Buffer
	code := runSubscribe(t.Context(), []string{"--nats-url", l.url, "--durable", "dashboard-01", "--filter", "kcledger.events.2025.79.>"}, &stdout, &stderr)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr.String(), "durable dashboard-01 reads [kcledger.events.2025.01.>], not [kcledger.events.2025.79.>]")
	stderr.Reset()
	code = runSubscribe(t.Context(), append(args, "--from-seq", "1"), &stdout, &stderr)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr.String(), "a start (seq 1) only applies to a new durable")
	assert.Empty(t, stdout.String())
}

// --from-seq and --since choose where a new subscriber starts.
func TestSubscribeStarts(t *testing.T) {
	l := newSubLedger(t)
	first := l.record(t, "01", 2)
	time.Sleep(20 * time.Millisecond)
	mark := time.Now()
	time.Sleep(20 * time.Millisecond)
	later := l.record(t, "01", 2)
	for _, tt := range []struct {
		name string
		args []string
		want []uint64
	}{
		{"from start", []string{"--from-start"}, append(append([]uint64{}, first...), later...)},
		{"from seq", []string{"--from-seq", strconv.FormatUint(first[2], 10)}, append([]uint64{first[2]}, later...)},
		{"since", []string{"--since", mark.Format(time.RFC3339Nano)}, later},
		{"durable from seq", []string{"--durable", "from-seq", "--from-seq", strconv.FormatUint(later[0], 10)}, later},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, stop := subscribeInProcess(t, append([]string{"--nats-url", l.url}, tt.args...)...)
			waitUntil(t, 10*time.Second, func() bool { return len(out.lines()) >= len(tt.want) }, errs.String)
			time.Sleep(100 * time.Millisecond)
			require.Equal(t, exitOK, stop())
			got := out.lines()
			require.Len(t, got, len(tt.want))
			for i, seq := range tt.want {
				m, err := l.stream.GetMsg(t.Context(), seq)
				require.NoError(t, err)
				assert.JSONEq(t, string(m.Data), got[i])
			}
		})
	}
}

// A command that keeps failing stops the subscriber with an error naming
// the event, which stays unacknowledged: the next run starts with it.
func TestSubscribeStopsRatherThanSkipping(t *testing.T) {
	l := newSubLedger(t)
	seqs := l.record(t, "01", 2)
	var stdout, stderr bytes.Buffer
	code := runSubscribe(t.Context(), []string{"--nats-url", l.url, "--durable", "picky",
		"--exec", "exit 3", "--retries", "2", "--retry-delay", "10ms"}, &stdout, &stderr)
	require.Equal(t, exitFailure, code, stderr.String())
	assert.Contains(t, stderr.String(), fmt.Sprintf("--exec failed on the event at seq %d, 3 times (last: exit status 3); it is not acknowledged", seqs[0]))
	assert.Equal(t, 2, strings.Count(stderr.String(), "retry "), "two retries: %s", stderr.String())

	got := filepath.Join(t.TempDir(), "got")
	out, errs, stop := subscribeInProcess(t, "--nats-url", l.url, "--durable", "picky", "--exec", `printf '%s\n' "$KCLEDGER_SEQ" >> `+got)
	waitUntil(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(got)
		return strings.Count(string(b), "\n") == len(seqs)
	}, errs.String)
	require.Equal(t, exitOK, stop())
	assert.Empty(t, out.lines())
	b, err := os.ReadFile(got)
	require.NoError(t, err)
	var want strings.Builder
	for _, s := range seqs {
		fmt.Fprintf(&want, "%d\n", s)
	}
	assert.Equal(t, want.String(), string(b), "the refused event first, then the rest")
}

// The --exec command's contract: the event on standard input, the
// variables, and a Ctrl-C during a retry's wait that stops cleanly.
func TestSubscribeExecContract(t *testing.T) {
	l := newSubLedger(t)
	seqs := l.record(t, "01", 1)
	dir := t.TempDir()
	script := `cat > "` + dir + `/in.$KCLEDGER_SEQ"; printf '%s|%s|%s|%s\n' "$KCLEDGER_SEQ" "$KCLEDGER_SUBJECT" "$KCLEDGER_EVENT_ID" "$KCLEDGER_EVENT_TYPE" >> "` + dir + `/env"`
	_, errs, stop := subscribeInProcess(t, "--nats-url", l.url, "--exec", script)
	waitUntil(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "env"))
		return strings.Count(string(b), "\n") == len(seqs)
	}, errs.String)
	require.Equal(t, exitOK, stop())
	m, err := l.stream.GetMsg(t.Context(), seqs[1])
	require.NoError(t, err)
	in, err := os.ReadFile(filepath.Join(dir, "in."+strconv.FormatUint(seqs[1], 10)))
	require.NoError(t, err)
	assert.Equal(t, string(m.Data)+"\n", string(in))
	envs, err := os.ReadFile(filepath.Join(dir, "env"))
	require.NoError(t, err)
	assert.Contains(t, string(envs), fmt.Sprintf("%d|kcledger.events.2025.01.national.disbursed.v1|%s|funds.disbursed.v1\n", seqs[1], m.Header.Get("ce-id")))

	// Ctrl-C while a failed command waits for its retry: exit 0, and the
	// event is not acknowledged.
	failing, ferrs, fstop := subscribeInProcess(t, "--nats-url", l.url, "--durable", "ctrl-c", "--exec", "exit 1", "--retry-delay", "1m")
	require.Eventually(t, func() bool { return strings.Contains(strings.Join(ferrs.lines(), "\n"), "retry 1 of 5 in 1m0s") }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, exitOK, fstop())
	assert.Empty(t, failing.lines())
	assert.Contains(t, strings.Join(ferrs.lines(), "\n"), fmt.Sprintf("stopped before retrying the event at seq %d, which is not acknowledged", seqs[0]))
	cons, err := l.stream.Consumer(t.Context(), "ctrl-c")
	require.NoError(t, err)
	assert.Zero(t, cons.CachedInfo().AckFloor.Stream)
}

// The subscriber as its users run it: a process with a read-only NATS
// user, killed with SIGKILL while its command handles an event, restarted
// after more events were recorded. The command sees every event exactly
// once, in order: the one it was handling when the subscriber died is
// handled again from the start (the command died with the subscriber),
// and none of those it finished comes back.
func TestSubscribeExecExactlyOnceAcrossKill(t *testing.T) {
	p := startServe(t)
	record := func(province string, n int) {
		for range n {
			body := disbursementBody("1000")
			body["province"] = province
			code, resp, err := post(t.Context(), p.http, apitest.PathDisbursements, uuid.NewString(), body)
			require.NoError(t, err)
			require.Equal(t, 201, code, "%v", resp)
		}
	}
	for _, province := range []string{"01", "79"} {
		body := allocationBody("1000000")
		body["province"] = province
		code, resp, err := post(t.Context(), p.http, apitest.PathAllocations, uuid.NewString(), body)
		require.NoError(t, err)
		require.Equal(t, 201, code, "%v", resp)
	}
	record("01", 4)
	record("79", 2)
	code, out, stderr := cli(t, p.http, "nats-user", "add", "kho-bac", "--role", "subscriber", "--json")
	require.Equal(t, 0, code, stderr)
	var creds webapi.NewNATSUserResponse
	require.NoError(t, json.Unmarshal([]byte(out), &creds))

	dir := t.TempDir()
	// The command records each disbursement's sequence and id once done;
	// the one at seq 5 blocks until the test lets it go.
	handler := filepath.Join(dir, "handle.sh")
	require.NoError(t, os.WriteFile(handler, []byte(`#!/bin/sh
if [ "$KCLEDGER_SEQ" = 5 ] && [ ! -e "`+dir+`/go" ]; then
  touch "`+dir+`/blocked"
  while [ ! -e "`+dir+`/go" ]; do sleep 0.02; done
fi
id=$(cat | sed -e 's/.*"id":"\([^"]*\)".*/\1/')
printf '%s %s\n' "$KCLEDGER_SEQ" "$id" >> "`+dir+`/handled"
`), 0o755))
	subscriber := func() (*exec.Cmd, *lockedBuffer) {
		cmd := exec.Command(binary(t), "subscribe", "--nats-url", creds.URL, "--durable", "kho-bac",
			"--filter", "kcledger.events.*.*.*.disbursed.>", "--exec", handler, "--state", filepath.Join(dir, "state"), "--ack-wait", "1s")
		cmd.Env = append(os.Environ(), "KCLEDGER_NATS_USER="+creds.User, "KCLEDGER_NATS_PASSWORD="+creds.Password)
		errs := &lockedBuffer{}
		cmd.Stderr = errs
		cmd.WaitDelay = 2 * time.Second // an orphaned command may hold stderr
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, errs
	}
	exists := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	handled := func() []string {
		b, _ := os.ReadFile(filepath.Join(dir, "handled"))
		return strings.Fields(strings.ReplaceAll(string(b), "\n", " "))
	}

	first, errs := subscriber()
	waitUntil(t, 20*time.Second, func() bool { return exists("blocked") }, errs.String)
	require.Equal(t, "3", handled()[0], "seq 3, the first disbursement, was done before the kill")
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	// Were the command still alive (an orphan), letting it go would make
	// it record seq 5 a second time.
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go"), nil, 0o644))
	time.Sleep(200 * time.Millisecond)

	record("01", 2) // while the subscriber is down
	record("79", 1)

	second, errs2 := subscriber()
	var want []string
	r, err := eventstore.OpenReader(t.Context(), mustConnect(t, creds), "")
	require.NoError(t, err)
	st, err := r.State(t.Context())
	require.NoError(t, err)
	require.NoError(t, r.Scan(t.Context(), st.LastSeq, func(se eventstore.StoredEvent) (bool, error) {
		if se.Recorded.Event.Type == domain.TypeDisbursed {
			want = append(want, strconv.FormatUint(se.Seq, 10), se.Recorded.Event.ID)
		}
		return true, nil
	}))
	require.Len(t, want, 2*9)
	waitUntil(t, 20*time.Second, func() bool { return len(handled()) >= len(want) }, func() string {
		return fmt.Sprintf("first: %v\nsecond: %v\nhandled: %v", errs.lines(), errs2.lines(), handled())
	})
	time.Sleep(300 * time.Millisecond) // a duplicate would show now
	require.NoError(t, second.Process.Signal(syscall.SIGINT))
	require.NoError(t, second.Wait(), "Ctrl-C stops cleanly: %v", errs2.lines())
	assert.Equal(t, want, handled(), "every disbursement once, in stream order")
	assert.Contains(t, strings.Join(errs2.lines(), "\n"), "durable kho-bac on KCLEDGER, filter kcledger.events.*.*.*.disbursed.>, from seq 5")
	assert.Contains(t, strings.Join(errs2.lines(), "\n"), "an earlier run took the event at seq 5 and did not acknowledge it; it comes again within 1s")
}

func mustConnect(t *testing.T, creds webapi.NewNATSUserResponse) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(creds.URL, nats.UserInfo(creds.User, creds.Password))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// slowLines is lockedBuffer whose first write blocks for a while, as a
// pipe to a slow reader does.
type slowLines struct {
	lockedBuffer
	once  sync.Once
	delay time.Duration
}

func (s *slowLines) Write(p []byte) (int, error) {
	s.once.Do(func() { time.Sleep(s.delay) })
	return s.lockedBuffer.Write(p)
}

// Output that blocks for longer than the ack wait neither loses the event
// nor writes it twice. This is the property as a user sees it; it does
// not single out the heartbeat or the skip of copies: with one message
// per pull, nats.go asks for no message while the handler runs, so the
// server had no copy to send (removing both still passed, 2026-12-01).
func TestSubscribeSlowOutputWritesEachEventOnce(t *testing.T) {
	l := newSubLedger(t)
	seqs := l.record(t, "01", 2)
	out := &slowLines{delay: 2500 * time.Millisecond}
	errs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() {
		done <- runSubscribe(ctx, []string{"--nats-url", l.url, "--durable", "slow", "--ack-wait", "1s"}, out, errs)
	}()
	waitUntil(t, 15*time.Second, func() bool { return len(out.lines()) >= len(seqs) }, errs.String)
	time.Sleep(1500 * time.Millisecond) // past another ack wait: a duplicate would show now
	cancel()
	require.Equal(t, exitOK, <-done, "%v", errs.lines())
	got := out.lines()
	require.Len(t, got, len(seqs), "each event once")
	for i, seq := range seqs {
		m, err := l.stream.GetMsg(t.Context(), seq)
		require.NoError(t, err)
		assert.JSONEq(t, string(m.Data), got[i])
	}
}

// A durable someone else made (here: no acknowledgements) cannot keep the
// order and the exactly-once promises: it is refused.
func TestSubscribeRefusesAForeignDurable(t *testing.T) {
	l := newSubLedger(t)
	l.record(t, "01", 1)
	_, err := l.stream.CreateConsumer(t.Context(), jetstream.ConsumerConfig{Durable: "foreign", AckPolicy: jetstream.AckNonePolicy, FilterSubjects: []string{"kcledger.events.>"}})
	require.NoError(t, err)
	var stdout, stderr bytes.Buffer
	code := runSubscribe(t.Context(), []string{"--nats-url", l.url, "--durable", "foreign"}, &stdout, &stderr)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr.String(), "durable foreign was not made by kcledger subscribe")
	assert.Empty(t, stdout.String())
}
