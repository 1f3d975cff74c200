package main

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
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
