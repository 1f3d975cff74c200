package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// The ledger's event log, observed, counts each event it records and
// each race it loses: a ledger whose view of a line is stale (another
// ledger appended meanwhile) loses its first append, re-decides and
// records.
func TestMetricsObservedLogCounts(t *testing.T) {
	m := newMetrics()
	log := eventstore.NewMemory()
	observed := domain.NewLedger(m.observe(log), domain.Policy{})
	other := domain.NewLedger(log, domain.Policy{})
	line := domain.LineKey{FiscalYear: 2025, Province: "01", Source: domain.SourceNational}
	now := time.Date(2026, time.June, 1, 3, 0, 0, 0, time.UTC)
	cmd := func(k domain.CommandKind, l domain.LineKey, amount int64) domain.Command {
		c := domain.Command{Kind: k, FiscalYear: l.FiscalYear, Province: l.Province, Source: l.Source,
			Amount: domain.AmountFromInt64(amount), EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 3},
			EventID: uuid.Must(uuid.NewV7()).String(), Actor: "admin", IdempotencyKey: uuid.NewString(), Now: now}
		switch k {
		case domain.Allocate:
			c.Decision = "1/QĐ-BCT"
		case domain.Disburse:
			c.Voucher, c.Beneficiary = "KB-1", "HTX"
		}
		return c
	}
	count := func(t domain.EventType, outcome string) float64 {
		return testutil.ToFloat64(m.appends.WithLabelValues(string(t), outcome))
	}

	_, err := observed.Record(t.Context(), cmd(domain.Allocate, line, 5_000_000))
	require.NoError(t, err)
	_, err = other.Record(t.Context(), cmd(domain.Disburse, line, 1_000)) // behind observed's back
	require.NoError(t, err)
	_, err = observed.Record(t.Context(), cmd(domain.Disburse, line, 2_000))
	require.NoError(t, err)

	assert.Equal(t, 1.0, count(domain.TypeAllocated, outcomeRecorded))
	assert.Equal(t, 1.0, count(domain.TypeDisbursed, outcomeRecorded), "the other ledger's is not observed")
	assert.Equal(t, 1.0, count(domain.TypeDisbursed, outcomeConflictRetry))
	assert.Equal(t, 0.0, count(domain.TypeAllocated, outcomeConflictRetry))
	assert.Equal(t, 3, histogramCount(t, m), "every append timed, the lost one too")
}

// histogramCount is the number of appends kcledger_append_duration_seconds
// has timed.
func histogramCount(t *testing.T, m *metrics) int {
	t.Helper()
	families, err := m.reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "kcledger_append_duration_seconds" {
			return int(f.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	t.Fatal("no kcledger_append_duration_seconds")
	return 0
}

// A projection's lag is the events it has not applied and the age of the
// oldest of them; a projection that holds every event lags by 0 and 0 s.
func TestMetricsProjectionLag(t *testing.T) {
	ta := newTestAPI(t)
	for i, amount := range []string{"5000000000", "7000000000"} {
		r := ta.Post(t, apitest.PathAllocations, fmt.Sprint("lag-", i), apitest.MustJSON(t, allocationBody(amount)))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	js, err := jetstream.New(ta.nc)
	require.NoError(t, err)
	last, err := ta.store.LastEventSeq(t.Context())
	require.NoError(t, err)
	s, err := js.Stream(t.Context(), ta.store.Stream())
	require.NoError(t, err)
	first, err := s.GetMsg(t.Context(), 1)
	require.NoError(t, err)
	now := first.Time.Add(90 * time.Second)

	m := newMetrics()
	m.reg.MustRegister(&streamCollector{store: ta.store, js: js, now: func() time.Time { return now },
		projections: []projection{{"behind", func() uint64 { return 0 }}, {"current", func() uint64 { return last }}}})
	families, err := m.reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			if len(s.GetLabel()) == 1 && s.GetLabel()[0].GetName() == "projection" {
				got[f.GetName()+"/"+s.GetLabel()[0].GetValue()] = s.GetGauge().GetValue()
			}
		}
	}
	assert.Equal(t, map[string]float64{
		"kcledger_projection_lag_messages/behind":  float64(last),
		"kcledger_projection_lag_seconds/behind":   90,
		"kcledger_projection_lag_messages/current": 0,
		"kcledger_projection_lag_seconds/current":  0,
	}, got)
}

// Every checkpoint save is counted: its time and size, under its name.
func TestMetricsCheckpointSaved(t *testing.T) {
	ta := newTestAPI(t)
	r := ta.Post(t, apitest.PathAllocations, "cp-1", apitest.MustJSON(t, allocationBody("5000000000")))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	last, err := ta.store.LastEventSeq(t.Context())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, ta.balances.WaitFor(ctx, last))

	m := newMetrics()
	before := time.Now()
	done, stop := context.WithCancel(t.Context())
	stop() // saveEvery saves once more as its context ends
	saveEvery(done, ta.store.Checkpoints(), "balances", time.Hour, ta.balances, m, slog.New(slog.DiscardHandler))

	data, _ := ta.balances.Checkpoint()
	assert.Equal(t, float64(len(data)), testutil.ToFloat64(m.checkpointBytes.WithLabelValues("balances")))
	at := testutil.ToFloat64(m.checkpointTime.WithLabelValues("balances"))
	assert.GreaterOrEqual(t, at, float64(before.UnixNano())/1e9)
	assert.LessOrEqual(t, at, float64(time.Now().UnixNano())/1e9)
	saved, err := ta.store.Checkpoints().Load(t.Context(), "balances")
	require.NoError(t, err)
	assert.Len(t, saved, len(data))
}
