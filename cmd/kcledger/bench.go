package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// Bench limits: every load loop is bounded in count and time.
const (
	maxBenchCount    = 1_000_000
	maxBenchWriters  = 256
	maxBenchDuration = 10 * time.Minute
	maxBenchFill     = 10_000_000
)

type benchResult struct {
	Writers     int     `json:"writers"`
	GroupCommit int     `json:"group_commit"`
	Events      int     `json:"events"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"per_second"`
	P50Micros   int64   `json:"p50_us"`
	P99Micros   int64   `json:"p99_us"`
	Errors      int     `json:"errors"`
	Durability  string  `json:"durability"`
	// What group commit did: messages published alone, atomic batches
	// and the messages in them.
	Singles uint64 `json:"singles"`
	Batches uint64 `json:"batches"`
	Batched uint64 `json:"batched"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench", "measure validated appends (disbursements through the domain ledger) per second and their latency", stderr)
	natsURL := fs.String("nats-url", env("KCLEDGER_NATS_URL", ""), "NATS server to measure; empty starts an embedded one in a temporary directory, fsync on every write (KCLEDGER_NATS_URL)")
	writers := fs.Int("writers", 1, "concurrent writers")
	count := fs.Int("count", 2000, "disbursements to record in all")
	limit := fs.Duration("duration", 2*time.Minute, "stop after this long even if --count is not reached")
	allowExisting := fs.Bool("allow-existing", false, "write into a stream that already holds events (never do this on a real ledger: benchmark movements are real events)")
	groupCommit := fs.Int("group-commit", eventstore.DefaultMaxBatch, "at most this many waiting appends gathered per JetStream atomic batch, as in serve; 1 is off")
	sample := fs.String("message-sample", "", "instead: write the body of a typical disbursement's message to this file, and print its headers as Name:Value lines (the line's expectation as padding of the same size), for raw benchmarks of kcledger's message size")
	fillN := fs.Int("fill", 0, "instead: fill an empty stream with this many valid, signed events, as fast as JetStream takes them, for replay and verify benchmarks (needs --nats-url, --keys-out and --data)")
	keysOut := fs.String("keys-out", "", "with --fill: where to write the signing key, for kcledger verify --keys")
	fillData := fs.String("data", "", "with --fill: the data directory of the serve that will read the stream; fill signs with its signing key, endorsed by its ledger root (both made if missing)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *sample != "" {
		if err := writeMessageSample(*sample, stdout); err != nil {
			fmt.Fprintf(stderr, "kcledger bench --message-sample: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	if *fillN > 0 {
		if *natsURL == "" || *keysOut == "" || *fillData == "" || *fillN > maxBenchFill {
			fmt.Fprintf(stderr, "kcledger bench --fill: want --nats-url, --keys-out, --data and at most %d events\n", maxBenchFill)
			return exitUsage
		}
		start := time.Now()
		if err := fill(ctx, *natsURL, *fillN, *keysOut, *fillData, stderr); err != nil {
			fmt.Fprintf(stderr, "kcledger bench --fill: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "filled %d events in %.1fs\n", *fillN, time.Since(start).Seconds())
		return exitOK
	}
	if *writers < 1 || *writers > maxBenchWriters || *count < *writers || *count > maxBenchCount || *limit <= 0 || *limit > maxBenchDuration || *groupCommit < 1 || *groupCommit > 1000 {
		fmt.Fprintf(stderr, "kcledger bench: want 1 ≤ --writers ≤ %d, --writers ≤ --count ≤ %d, 0 < --duration ≤ %s, 1 ≤ --group-commit ≤ 1000\n", maxBenchWriters, maxBenchCount, maxBenchDuration)
		return exitUsage
	}
	res, err := bench(ctx, *natsURL, *writers, *count, *groupCommit, *limit, *allowExisting, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kcledger bench: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(res)
	} else {
		fmt.Fprintf(stdout, "kcledger appends: %d writers, %d events in %.2fs: %.0f/s, p50 %.2f ms, p99 %.2f ms, %d errors (%s)\n",
			res.Writers, res.Events, res.Seconds, res.PerSecond, float64(res.P50Micros)/1000, float64(res.P99Micros)/1000, res.Errors, res.Durability)
	}
	if res.Errors > 0 {
		return exitFailure
	}
	return exitOK
}

func bench(ctx context.Context, natsURL string, writers, count, groupCommit int, limit time.Duration, allowExisting bool, progress io.Writer) (benchResult, error) {
	res := benchResult{Writers: writers, GroupCommit: groupCommit, Durability: "as configured on " + natsURL}
	var nc *nats.Conn
	if natsURL == "" {
		dir, err := os.MkdirTemp("", "kcledger-bench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		ns, err := eventstore.StartServer(eventstore.ServerConfig{DataDir: dir, Listen: "127.0.0.1:-1"})
		if err != nil {
			return res, err
		}
		defer ns.Shutdown()
		natsURL = ns.ClientURL()
		res.Durability = "embedded server, fsync on every write"
	}
	nc, err := nats.Connect(natsURL, nats.Name("kcledger-bench"))
	if err != nil {
		return res, err
	}
	defer nc.Close()
	if !allowExisting {
		js, err := jetstream.New(nc)
		if err != nil {
			return res, err
		}
		if s, err := js.Stream(ctx, eventstore.DefaultStream); err == nil && s.CachedInfo().State.Msgs > 0 {
			return res, fmt.Errorf("stream %s on %s already holds %d messages; benchmark movements would be recorded as real ones. Use a scratch server, or --allow-existing", eventstore.DefaultStream, natsURL, s.CachedInfo().State.Msgs)
		}
	}
	store, err := eventstore.Open(ctx, nc, eventstore.StreamConfig{MaxBatch: groupCommit})
	if err != nil {
		return res, err
	}
	defer store.Close()
	ledger := domain.NewLedger(store, domain.Policy{})
	provinces := domain.Provinces(domain.Scheme63)
	now := time.Now().UTC()
	run := uuid.NewString()[:8]
	cmd := func(kind domain.CommandKind, province string, key string) domain.Command {
		return benchCommand(kind, province, key, now)
	}
	for _, p := range provinces {
		if _, err := ledger.Record(ctx, cmd(domain.Allocate, p.Code, "bench-"+run+"-alloc-"+p.Code)); err != nil {
			return res, fmt.Errorf("allocate %s: %w", p.Code, err)
		}
	}
	slog.New(slog.NewTextHandler(progress, nil)).Info("bench: recording", "writers", writers, "count", count, "nats", natsURL)

	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	latencies := make([][]time.Duration, writers)
	errs := make([]int, writers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := count / writers
			if w < count%writers {
				n++
			}
			// Each writer records for provinces of its own (w, w+writers,
			// ...), as each province's officer does: with up to 63
			// writers no two share a line, so the figure is the append
			// path's, not one line's lock held by another writer.
			var mine []domain.Province
			for j := w % len(provinces); j < len(provinces); j += writers {
				mine = append(mine, provinces[j])
			}
			for i := 0; i < n && ctx.Err() == nil; i++ {
				p := mine[i%len(mine)]
				t0 := time.Now()
				_, err := ledger.Record(ctx, cmd(domain.Disburse, p.Code, fmt.Sprintf("bench-%s-%d-%d", run, w, i)))
				if err != nil {
					errs[w]++
					continue
				}
				latencies[w] = append(latencies[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := store.CommitStats()
	res.Singles, res.Batches, res.Batched = st.Singles, st.Batches, st.Batched
	var all []time.Duration
	for w := range writers {
		all = append(all, latencies[w]...)
		res.Errors += errs[w]
	}
	res.Events = len(all)
	res.Seconds = elapsed.Seconds()
	res.PerSecond, res.P50Micros, res.P99Micros = rate(all, elapsed)
	return res, nil
}

// benchCommand is a command of the benchmark on the local line of
// province in 2024: an allocation of the largest movement, or a
// disbursement of 1 000 đồng.
func benchCommand(kind domain.CommandKind, province, key string, now time.Time) domain.Command {
	const fy = 2024
	c := domain.Command{
		Kind: kind, FiscalYear: fy, Province: province, Source: domain.SourceLocal,
		EffectiveDate: domain.Date{Year: fy, Month: time.March, Day: 1},
		EventID:       uuid.Must(uuid.NewV7()).String(), Actor: "bench", IdempotencyKey: key, Now: now,
	}
	if kind == domain.Allocate {
		c.Amount, c.Decision = domain.MaxMovement, "1/QĐ-BENCH"
	} else {
		c.Amount, c.Voucher, c.Beneficiary = domain.AmountFromInt64(1000), "KB-BENCH", "Cơ sở CNNT thử tải"
	}
	return c
}

// writeMessageSample writes the body of the message of a disbursement as
// kcledger bench records it to path, and its headers to w, one Name:Value
// a line, but for the message id (a raw benchmark sets its own) and the
// line's expectation (which a raw benchmark cannot meet), written as
// padding headers of the same size.
func writeMessageSample(path string, w io.Writer) error {
	ctx := context.Background()
	ledger := domain.NewLedger(eventstore.NewMemory(), domain.Policy{})
	now := time.Now().UTC()
	if _, err := ledger.Record(ctx, benchCommand(domain.Allocate, "01", "bench-sample-alloc", now)); err != nil {
		return err
	}
	res, err := ledger.Record(ctx, benchCommand(domain.Disburse, "01", "bench-sample-0-0", now))
	if err != nil {
		return err
	}
	m, err := eventstore.NewMessage(domain.Proposal{Event: res.Recorded.Event, ExpectedSeq: 12345})
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, m.Data, 0o600); err != nil {
		return err
	}
	names := make([]string, 0, len(m.Header))
	for k := range m.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	pad := 0
	for _, k := range names {
		switch {
		case k == nats.MsgIdHdr:
		case strings.HasPrefix(k, "Nats-Expected-"):
			// "X-Pad-N" and a value: as many bytes as the expectation.
			pad++
			name := fmt.Sprintf("X-Pad-%d", pad)
			v := m.Header.Get(k)
			fmt.Fprintf(w, "%s:%s\n", name, strings.Repeat("x", len(k)+len(v)-len(name)))
		default:
			fmt.Fprintf(w, "%s:%s\n", k, m.Header.Get(k))
		}
	}
	return nil
}

// rate is how many of the latencies all (in any order; sorted here)
// went by per second of elapsed, and their median and 99th percentile
// in microseconds; zeros when there are none.
func rate(all []time.Duration, elapsed time.Duration) (perSecond float64, p50, p99 int64) {
	if len(all) == 0 {
		return 0, 0, 0
	}
	slices.Sort(all)
	return float64(len(all)) / elapsed.Seconds(), all[len(all)/2].Microseconds(), all[min(len(all)-1, len(all)*99/100)].Microseconds()
}
