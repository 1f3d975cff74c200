package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// bench-api measures what a recorded movement costs through the API, over
// HTTP and over the NATS service, side by side with the domain ledger
// itself, against one running serve and its embedded NATS server, in one
// run: the three alternate, client count by client count, round by round,
// so that the machine's drift cancels out of their ratios.
//
//   - ledger: the domain ledger in this process, as `kcledger bench`
//     records (each client on provinces of its own, 1 000 đồng
//     disbursements), on the same server and stream as serve, signed with
//     serve's own key as serve signs (serve's projections follow these
//     events too, as they follow the API's);
//   - http: POST /v1/disbursements, a bearer token and a unique
//     Idempotency-Key per request, one keep-alive connection per client;
//   - nats: the same on the NATS service's kcledger.api.v1.disbursements,
//     as a read-only NATS user of its own (requests cross from the
//     readers' account, as every reader's do).
//
// The ledger writes on the local source's lines and the API on the
// national source's, so that serve never meets a line this process
// changed behind its back.

// Limits of bench-api: every run is bounded in time and count.
const (
	maxBenchAPIRounds  = 20
	maxBenchAPIRun     = 2 * time.Minute
	benchAPIRequestMax = 30 * time.Second
	benchAPIFiscalYear = 2024
)

// benchAPICell is one transport's run at one client count.
type benchAPICell struct {
	Via       string  `json:"via"`
	Clients   int     `json:"clients"`
	Round     int     `json:"round"`
	Events    int     `json:"events"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	P50Micros int64   `json:"p50_us"`
	P99Micros int64   `json:"p99_us"`
	Errors    int     `json:"errors"`
}

// benchAPIRow is the medians of the rounds at one client count.
type benchAPIRow struct {
	Clients int                     `json:"clients"`
	Via     map[string]benchAPICell `json:"via"`
	// Ratio and P99Ratio are the medians of each round's own ratio of
	// the transport's rate (p99) to the ledger's.
	Ratio    map[string]float64 `json:"ratio"`
	P99Ratio map[string]float64 `json:"p99_ratio"`
}

func runBenchAPI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench-api", "measure recording over HTTP and the NATS service against the domain ledger, on one running serve", stderr)
	server := fs.String("server", env("KCLEDGER_SERVER", ""), "the running serve's HTTP address, e.g. http://127.0.0.1:8080 (KCLEDGER_SERVER)")
	dataDir := fs.String("data", env("KCLEDGER_DATA", ""), "the running serve's data directory: its admin token, its NATS service password and its signing key (KCLEDGER_DATA)")
	natsURL := fs.String("nats-url", env("KCLEDGER_NATS_URL", ""), "the running serve's embedded NATS server (KCLEDGER_NATS_URL)")
	clientsList := fs.String("clients", "1,8,32,64", "the client counts to measure, comma-separated")
	vias := fs.String("via", "ledger,http,nats", "what to measure, comma-separated: ledger, http, nats")
	rounds := fs.Int("rounds", 3, "rounds of every client count")
	runFor := fs.Duration("duration", 3*time.Second, "each run's length")
	count := fs.Int("count", 50000, "each run stops after this many movements if its time is not up")
	asJSON := fs.Bool("json", false, "print the rows as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var clients []int
	for _, s := range strings.Split(*clientsList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > maxBenchWriters {
			fmt.Fprintf(stderr, "kcledger bench-api: --clients %q: want counts from 1 to %d\n", *clientsList, maxBenchWriters)
			return exitUsage
		}
		clients = append(clients, n)
	}
	var via []string
	for _, v := range strings.Split(*vias, ",") {
		if v = strings.TrimSpace(v); v != "ledger" && v != "http" && v != "nats" {
			fmt.Fprintf(stderr, "kcledger bench-api: --via %q: want ledger, http or nats\n", v)
			return exitUsage
		}
		via = append(via, v)
	}
	if *server == "" || *dataDir == "" || *natsURL == "" || *rounds < 1 || *rounds > maxBenchAPIRounds ||
		*runFor <= 0 || *runFor > maxBenchAPIRun || *count < 1 || *count > maxBenchCount {
		fmt.Fprintf(stderr, "kcledger bench-api: want --server, --data and --nats-url, 1 ≤ --rounds ≤ %d, 0 < --duration ≤ %s, 1 ≤ --count ≤ %d\n", maxBenchAPIRounds, maxBenchAPIRun, maxBenchCount)
		return exitUsage
	}
	b, err := newBenchAPI(ctx, strings.TrimRight(*server, "/"), *dataDir, *natsURL, slices.Max(clients), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kcledger bench-api: %v\n", err)
		return exitFailure
	}
	defer b.close()
	var cells []benchAPICell
	for round := 1; round <= *rounds; round++ {
		for _, n := range clients {
			for _, v := range via {
				c := b.run(ctx, v, n, *count, *runFor)
				c.Round = round
				fmt.Fprintf(stderr, "round %d, %2d client(s), %-6s %7.0f/s  p50 %6.2f ms  p99 %6.2f ms  %d errors\n",
					round, n, v, c.PerSecond, float64(c.P50Micros)/1000, float64(c.P99Micros)/1000, c.Errors)
				cells = append(cells, c)
				if ctx.Err() != nil {
					return exitFailure
				}
			}
		}
	}
	rows := benchAPIRows(cells, clients, via)
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(rows)
	} else {
		printBenchAPI(stdout, rows, via)
		fmt.Fprintf(stdout, "(medians of %d rounds of %s runs; a ratio is the median of each round's own ratio to the ledger)\n", *rounds, *runFor)
	}
	for _, c := range cells {
		if c.Errors > 0 {
			return exitFailure
		}
	}
	return exitOK
}

// benchAPI holds what the runs share: the ledger, the HTTP client, the
// NATS connection and the token.
type benchAPI struct {
	server   string
	token    string
	runID    string
	client   *http.Client
	ncLedger *nats.Conn
	ncReader *nats.Conn
	store    *eventstore.JetStream
	ledger   *domain.Ledger
	seq      int
	stderr   io.Writer
}

func newBenchAPI(ctx context.Context, server, dataDir, natsURL string, maxClients int, stderr io.Writer) (*benchAPI, error) {
	token, err := readSecretFile(filepath.Join(dataDir, adminTokenFile))
	if err != nil {
		return nil, err
	}
	password, err := readSecretFile(filepath.Join(dataDir, natsServiceFile))
	if err != nil {
		return nil, err
	}
	key, err := signingKey(dataDir)
	if err != nil {
		return nil, err
	}
	b := &benchAPI{
		server: server, token: token, runID: uuid.NewString()[:8], stderr: stderr,
		client: &http.Client{Timeout: benchAPIRequestMax, Transport: &http.Transport{
			MaxIdleConns: maxClients, MaxIdleConnsPerHost: maxClients, IdleConnTimeout: time.Minute,
		}},
	}
	if b.ncLedger, err = nats.Connect(natsURL, nats.Name("kcledger-bench-api-ledger"), nats.UserInfo(eventstore.ServiceUser, password)); err != nil {
		return nil, err
	}
	if b.store, err = eventstore.Open(ctx, b.ncLedger, eventstore.StreamConfig{}); err != nil {
		b.close()
		return nil, err
	}
	b.ledger = domain.NewLedger(b.store, domain.Policy{})
	b.ledger.SignWith(domain.NewSigner(key))
	// A read-only NATS user of the bench's own, for the NATS service.
	var nu struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := b.post(ctx, "/v1/nats-users", "", map[string]string{"name": "bench-" + b.runID, "role": "subscriber"}, &nu); err != nil {
		b.close()
		return nil, fmt.Errorf("create the bench's NATS user: %w", err)
	}
	if b.ncReader, err = nats.Connect(natsURL, nats.Name("kcledger-bench-api-reader"), nats.UserInfo(nu.User, nu.Password)); err != nil {
		b.close()
		return nil, err
	}
	// Every line the runs spend on, allocated once: the ledger's on the
	// local source, the API's on the national one.
	for _, p := range domain.Provinces(domain.Scheme63) {
		if _, err := b.ledger.Record(ctx, b.command(domain.Allocate, p.Code, "bench-"+b.runID+"-alloc-"+p.Code)); err != nil {
			b.close()
			return nil, fmt.Errorf("allocate %s: %w", p.Code, err)
		}
		body := map[string]string{"fiscal_year": strconv.Itoa(benchAPIFiscalYear), "province": p.Code, "source": string(domain.SourceNational),
			"amount": domain.MaxMovement.String(), "decision": "1/QĐ-BENCH", "effective_date": "2024-03-01"}
		if err := b.post(ctx, "/v1/allocations", "bench-"+b.runID+"-alloc-national-"+p.Code, rawFiscalYear(body), nil); err != nil {
			b.close()
			return nil, fmt.Errorf("allocate %s over HTTP: %w", p.Code, err)
		}
	}
	return b, nil
}

// rawFiscalYear makes a body whose fiscal_year is a JSON number.
func rawFiscalYear(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	out["fiscal_year"] = benchAPIFiscalYear
	return out
}

func (b *benchAPI) close() {
	if b.store != nil {
		b.store.Close()
	}
	for _, nc := range []*nats.Conn{b.ncLedger, b.ncReader} {
		if nc != nil {
			nc.Close()
		}
	}
}

func (b *benchAPI) command(kind domain.CommandKind, province, key string) domain.Command {
	c := domain.Command{
		Kind: kind, FiscalYear: benchAPIFiscalYear, Province: province, Source: domain.SourceLocal,
		EffectiveDate: domain.Date{Year: benchAPIFiscalYear, Month: time.March, Day: 1},
		EventID:       uuid.Must(uuid.NewV7()).String(), Actor: "bench", IdempotencyKey: key, Now: time.Now().UTC(),
	}
	if kind == domain.Allocate {
		c.Amount, c.Decision = domain.MaxMovement, "1/QĐ-BENCH"
	} else {
		c.Amount, c.Voucher, c.Beneficiary = domain.AmountFromInt64(1000), "KB-BENCH", "Cơ sở CNNT thử tải"
	}
	return c
}

// post sends an admin's POST and decodes its answer into out, if given.
func (b *benchAPI) post(ctx context.Context, path, key string, body, out any) error {
	data, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.server+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, bytes.TrimSpace(answer))
	}
	if out != nil {
		return json.Unmarshal(answer, out)
	}
	return nil
}

// disbursement is the body of the API's disbursements on province's
// national line.
func disbursement(province string) []byte {
	return []byte(`{"fiscal_year":2024,"province":"` + province + `","source":"national","amount":"1000","voucher":"KB-BENCH","beneficiary":"Cơ sở CNNT thử tải","effective_date":"2024-03-01"}`)
}

// run measures one transport at n clients for at most d and count
// movements.
func (b *benchAPI) run(ctx context.Context, via string, n, count int, d time.Duration) benchAPICell {
	b.seq++
	prefix := fmt.Sprintf("bench-%s-%d-%s", b.runID, b.seq, via)
	provinces := domain.Provinces(domain.Scheme63)
	var once func(ctx context.Context, province, key string) error
	switch via {
	case "ledger":
		once = func(ctx context.Context, province, key string) error {
			_, err := b.ledger.Record(ctx, b.command(domain.Disburse, province, key))
			return err
		}
	case "http":
		once = func(ctx context.Context, province, key string) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.server+"/v1/disbursements", bytes.NewReader(disbursement(province)))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+b.token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := b.client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("HTTP %s", resp.Status)
			}
			return nil
		}
	case "nats":
		once = func(ctx context.Context, province, key string) error {
			m := nats.NewMsg("kcledger.api.v1.disbursements")
			m.Data = disbursement(province)
			m.Header.Set("Authorization", "Bearer "+b.token)
			m.Header.Set("Idempotency-Key", key)
			ctx, cancel := context.WithTimeout(ctx, benchAPIRequestMax)
			defer cancel()
			resp, err := b.ncReader.RequestMsgWithContext(ctx, m)
			if err != nil {
				return err
			}
			if st := resp.Header.Get("Status"); st != "201" {
				return fmt.Errorf("NATS service answered %q: %s", st, resp.Header.Get("Nats-Service-Error"))
			}
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	latencies := make([][]time.Duration, n)
	errs := make([]int, n)
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			quota := count / n
			if w < count%n {
				quota++
			}
			// Provinces of its own (w, w+n, ...), as kcledger bench's
			// writers: with up to 63 clients no two share a line.
			var mine []string
			for j := w % len(provinces); j < len(provinces); j += n {
				mine = append(mine, provinces[j].Code)
			}
			for i := 0; i < quota && ctx.Err() == nil; i++ {
				t0 := time.Now()
				if err := once(ctx, mine[i%len(mine)], fmt.Sprintf("%s-%d-%d", prefix, w, i)); err != nil {
					if ctx.Err() == nil { // not the run's end cutting a request short
						errs[w]++
						errOnce.Do(func() { firstErr = err })
					}
					continue
				}
				latencies[w] = append(latencies[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	c := benchAPICell{Via: via, Clients: n, Seconds: elapsed.Seconds()}
	var all []time.Duration
	for w := range n {
		all = append(all, latencies[w]...)
		c.Errors += errs[w]
	}
	if firstErr != nil {
		fmt.Fprintf(b.stderr, "kcledger bench-api: %s, %d clients: %d errors, the first: %v\n", via, n, c.Errors, firstErr)
	}
	c.Events = len(all)
	c.PerSecond, c.P50Micros, c.P99Micros = rate(all, elapsed)
	return c
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[(len(xs)-1)/2]
}

// benchAPIRows takes the medians of the rounds, and of each round's
// ratios to the ledger.
func benchAPIRows(cells []benchAPICell, clients []int, via []string) []benchAPIRow {
	var rows []benchAPIRow
	for _, n := range clients {
		row := benchAPIRow{Clients: n, Via: map[string]benchAPICell{}, Ratio: map[string]float64{}, P99Ratio: map[string]float64{}}
		ledgerOf := map[int]benchAPICell{}
		for _, c := range cells {
			if c.Clients == n && c.Via == "ledger" {
				ledgerOf[c.Round] = c
			}
		}
		for _, v := range via {
			var rate, p50, p99, ratio, p99ratio []float64
			var m benchAPICell
			for _, c := range cells {
				if c.Clients != n || c.Via != v {
					continue
				}
				m.Events += c.Events
				m.Errors += c.Errors
				rate = append(rate, c.PerSecond)
				p50 = append(p50, float64(c.P50Micros))
				p99 = append(p99, float64(c.P99Micros))
				if l, ok := ledgerOf[c.Round]; ok && l.PerSecond > 0 && l.P99Micros > 0 {
					ratio = append(ratio, c.PerSecond/l.PerSecond)
					p99ratio = append(p99ratio, float64(c.P99Micros)/float64(l.P99Micros))
				}
			}
			m.Via, m.Clients = v, n
			m.PerSecond, m.P50Micros, m.P99Micros = median(rate), int64(median(p50)), int64(median(p99))
			row.Via[v] = m
			if v != "ledger" && len(ratio) > 0 {
				row.Ratio[v], row.P99Ratio[v] = median(ratio), median(p99ratio)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func printBenchAPI(w io.Writer, rows []benchAPIRow, via []string) {
	fmt.Fprintf(w, "%-8s", "clients")
	for _, v := range via {
		fmt.Fprintf(w, " %28s", v+" /s, p50/p99 ms")
		if v != "ledger" {
			fmt.Fprintf(w, " %16s", v+"/ledger, p99")
		}
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "%-8d", r.Clients)
		for _, v := range via {
			c := r.Via[v]
			fmt.Fprintf(w, " %28s", fmt.Sprintf("%.0f, %.2f / %.2f", c.PerSecond, float64(c.P50Micros)/1000, float64(c.P99Micros)/1000))
			if v != "ledger" {
				if q, ok := r.Ratio[v]; ok {
					fmt.Fprintf(w, " %16s", fmt.Sprintf("%.2f, %.2f", q, r.P99Ratio[v]))
				} else {
					fmt.Fprintf(w, " %16s", "-")
				}
			}
		}
		fmt.Fprintln(w)
	}
}
