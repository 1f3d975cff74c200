package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	webapi "github.com/kcledger/kcledger/web/api"
	webui "github.com/kcledger/kcledger/web/ui"
)

// Outcomes of kcledger_appends_total that the event log sees; the API
// adds replayed and refused (webapi.Observer).
const (
	outcomeRecorded      = "recorded"
	outcomeConflictRetry = "conflict_retry"
)

// scrapeTimeout bounds what one scrape asks of JetStream: a scrape must
// answer, if without the stream's figures, while NATS does not.
const scrapeTimeout = 2 * time.Second

// metrics are serve's Prometheus metrics, in a registry of their own (not
// the process-wide default, which any imported package may fill).
type metrics struct {
	reg             *prometheus.Registry
	appends         *prometheus.CounterVec
	appendDuration  prometheus.Histogram
	commitMessages  prometheus.Histogram
	refusals        *prometheus.CounterVec
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	checkpointTime  *prometheus.GaugeVec
	checkpointBytes *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kcledger_appends_total",
			Help: "Events offered to the ledger, by event type and outcome: recorded, replayed (idempotency key already used), refused (by a rule; see kcledger_refusals_total), conflict_retry (the line moved on; the ledger re-decides).",
		}, []string{"type", "outcome"}),
		appendDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kcledger_append_duration_seconds",
			Help:    "Time of one append to the event stream (one message, or one atomic batch), whatever its outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		commitMessages: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kcledger_group_commit_messages",
			Help:    "Messages of each write group commit makes to the event stream: 1 for a message published alone, more for an atomic batch of appends gathered while others were in flight.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000},
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kcledger_refusals_total",
			Help: "HTTP API answers that are problems (RFC 9457), by their code.",
		}, []string{"code"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kcledger_http_requests_total",
			Help: "HTTP requests to the API and the web console's pages, by route (the pattern that matched), method and status.",
		}, []string{"route", "method", "status"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kcledger_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request to the API or a web console page, by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		checkpointTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kcledger_checkpoint_saved_timestamp_seconds",
			Help: "When this process last saved a projection's checkpoint (Unix time); its age is time() minus it. Absent until the first save.",
		}, []string{"checkpoint"}),
		checkpointBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kcledger_checkpoint_bytes",
			Help: "Size of the checkpoint this process last saved, by checkpoint.",
		}, []string{"checkpoint"}),
	}
	m.reg.MustRegister(m.appends, m.appendDuration, m.commitMessages, m.refusals, m.requests, m.requestDuration, m.checkpointTime, m.checkpointBytes,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every type and outcome from the start, at 0, so that a rate
	// over the first append is not lost.
	for _, t := range domain.EventTypes {
		for _, o := range []string{outcomeRecorded, outcomeConflictRetry, webapi.OutcomeReplayed, webapi.OutcomeRefused} {
			m.appends.WithLabelValues(string(t), o)
		}
	}
	return m
}

// Request implements webapi.Observer.
func (m *metrics) Request(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(route).Observe(d.Seconds())
}

// Refused implements webapi.Observer.
func (m *metrics) Refused(code domain.Code) { m.refusals.WithLabelValues(string(code)).Inc() }

// Command implements webapi.Observer.
func (m *metrics) Command(t domain.EventType, outcome string) {
	m.appends.WithLabelValues(string(t), outcome).Inc()
}

var (
	_ webapi.Observer    = (*metrics)(nil)
	_ webui.PageObserver = (*metrics)(nil)
)

// observedLog counts the appends of the event log the ledger decides on:
// recorded, and lost races (conflict_retry), with their latency.
type observedLog struct {
	domain.EventLog
	m *metrics
}

func (m *metrics) observe(log domain.EventLog) domain.EventLog {
	return observedLog{EventLog: log, m: m}
}

func (l observedLog) Append(ctx context.Context, p domain.Proposal) (uint64, error) {
	start := time.Now()
	seq, err := l.EventLog.Append(ctx, p)
	l.m.appendDuration.Observe(time.Since(start).Seconds())
	l.count(err, p)
	return seq, err
}

func (l observedLog) AppendAll(ctx context.Context, ps []domain.Proposal) ([]uint64, error) {
	start := time.Now()
	seqs, err := l.EventLog.AppendAll(ctx, ps)
	l.m.appendDuration.Observe(time.Since(start).Seconds())
	l.count(err, ps...)
	return seqs, err
}

// count counts each proposal of a write that landed as recorded, and of
// one refused because its line moved on as conflict_retry. Other
// outcomes are the ledger's answer (the API counts them).
func (l observedLog) count(err error, ps ...domain.Proposal) {
	outcome := ""
	switch {
	case err == nil:
		outcome = outcomeRecorded
	case errors.Is(err, domain.ErrStale):
		outcome = outcomeConflictRetry
	default:
		return
	}
	for _, p := range ps {
		l.m.appends.WithLabelValues(string(p.Event.Type), outcome).Inc()
	}
}

// watchNATS adds the connection's state and reconnects, read from nc at
// each scrape.
func (m *metrics) watchNATS(nc *nats.Conn) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kcledger_nats_connected",
			Help: "1 while kcledger's connection to NATS is up, 0 otherwise.",
		}, func() float64 {
			if nc.IsConnected() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "kcledger_nats_reconnects_total",
			Help: "Reconnections of kcledger's connection to NATS since start.",
		}, func() float64 { return float64(nc.Stats().Reconnects) }),
	)
}

// Projections whose lag behind the stream is measured: a bounded set.
const (
	projectionBalances = "balances"
	projectionReports  = "reports"
	projectionKeyIndex = "key_index"
)

// projection is a read model that follows the stream: applied is the
// sequence of the last event it holds.
type projection struct {
	name    string
	applied func() uint64
}

// watchStream adds the stream's size, each projection's lag behind it
// and the sizes of group commit's writes.
func (m *metrics) watchStream(store *eventstore.JetStream, js jetstream.JetStream, ps ...projection) {
	m.reg.MustRegister(&streamCollector{store: store, js: js, projections: ps, now: time.Now})
	store.OnCommit(func(n int) { m.commitMessages.Observe(float64(n)) })
	store.OnKeyIndexSaved(func(n int) { m.checkpointSaved(projectionKeyIndex, n, time.Now()) })
}

// streamCollector reads the stream's state at each scrape, within
// scrapeTimeout; when JetStream does not answer in time the scrape goes
// on without these metrics (and kcledger_nats_connected says why).
type streamCollector struct {
	store       *eventstore.JetStream
	js          jetstream.JetStream
	projections []projection
	now         func() time.Time
}

var (
	streamMessagesDesc = prometheus.NewDesc("kcledger_stream_messages",
		"Messages in the event stream.", nil, nil)
	streamBytesDesc = prometheus.NewDesc("kcledger_stream_bytes",
		"Bytes of the event stream's messages.", nil, nil)
	projectionLagDesc = prometheus.NewDesc("kcledger_projection_lag_messages",
		"Events in the stream that a projection has not applied yet: the last event's sequence minus the projection's applied sequence.", []string{"projection"}, nil)
	projectionLagSecondsDesc = prometheus.NewDesc("kcledger_projection_lag_seconds",
		"How long ago the oldest event a projection has not applied yet was stored; 0 when it holds every event.", []string{"projection"}, nil)
)

func (c *streamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- streamMessagesDesc
	ch <- streamBytesDesc
	ch <- projectionLagDesc
	ch <- projectionLagSecondsDesc
}

func (c *streamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	// Read the applied sequences first: a lag then never comes out
	// negative for a write applied between the two reads.
	applied := make([]uint64, len(c.projections))
	for i, p := range c.projections {
		applied[i] = p.applied()
	}
	s, err := c.js.Stream(ctx, c.store.Stream())
	if last, lerr := c.store.LastEventSeq(ctx); lerr == nil {
		for i, p := range c.projections {
			lag, age := uint64(0), time.Duration(0)
			if last > applied[i] {
				lag = last - applied[i]
				// The next message may be an idempotency claim or a
				// removed one: then only the count is given.
				if err == nil {
					if m, gerr := s.GetMsg(ctx, applied[i]+1); gerr == nil {
						age = max(0, c.now().Sub(m.Time))
					}
				}
			}
			ch <- prometheus.MustNewConstMetric(projectionLagDesc, prometheus.GaugeValue, float64(lag), p.name)
			ch <- prometheus.MustNewConstMetric(projectionLagSecondsDesc, prometheus.GaugeValue, age.Seconds(), p.name)
		}
	}
	if err != nil {
		return
	}
	info, err := s.Info(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(streamMessagesDesc, prometheus.GaugeValue, float64(info.State.Msgs))
	ch <- prometheus.MustNewConstMetric(streamBytesDesc, prometheus.GaugeValue, float64(info.State.Bytes))
}

// checkpointSaved records a checkpoint's save: its time and size. It is
// a no-op on a nil *metrics (no --metrics).
func (m *metrics) checkpointSaved(name string, size int, at time.Time) {
	if m == nil {
		return
	}
	m.checkpointTime.WithLabelValues(name).Set(float64(at.UnixNano()) / 1e9)
	m.checkpointBytes.WithLabelValues(name).Set(float64(size))
}

// serve serves /metrics on ln until ctx ends, over TLS when certFile
// is given (the API's certificate).
func (m *metrics) serve(ctx context.Context, ln net.Listener, certFile, keyFile string, log *slog.Logger) <-chan error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		Timeout:  2 * scrapeTimeout,
	}))
	srv := newHTTPServer(mux, log)
	errc := make(chan error, 1)
	go func() {
		var err error
		if certFile != "" {
			err = srv.ServeTLS(ln, certFile, keyFile)
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	return errc
}

// listenMetrics takes the metrics listener, if --metrics was given.
func listenMetrics(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics %s: %w", addr, err)
	}
	return ln, nil
}
