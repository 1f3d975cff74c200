package domain_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// The scenario of issue 13 on the domain ledger: 2 tỷ allocated to 02 Hà
// Giang in March 2025, part disbursed in May, the rest carried to its
// successor 08 Tuyên Quang by succession on 1 July, spent there, and part
// of the May disbursement refunded against 02 in November 2026.
func TestSuccessionScenario(t *testing.T) {
	ctx := context.Background()
	log := eventstore.NewMemory()
	l := domain.NewLedger(log, domain.Policy{})
	now := time.Date(2026, time.November, 20, 9, 0, 0, 0, time.UTC)
	haGiang := domain.LineKey{FiscalYear: 2025, Province: "02", Source: domain.SourceNational}
	tuyenQuang := domain.LineKey{FiscalYear: 2025, Province: "08", Source: domain.SourceNational}
	at := func(c domain.Command, d string) domain.Command {
		var err error
		c.EffectiveDate, err = domain.ParseDate(d)
		require.NoError(t, err)
		c.Now = now
		return c
	}
	record := func(c domain.Command) domain.Result {
		t.Helper()
		r, err := l.Record(ctx, c)
		require.NoError(t, err)
		return r
	}
	record(at(newCommand(domain.Allocate, haGiang, 2_000*million, "DA-01"), "2025-03-01"))
	record(at(newCommand(domain.Disburse, haGiang, 500*million, "DA-01"), "2025-05-10"))

	tr := at(newCommand(domain.Transfer, haGiang, 1_500*million, "DA-01"), "2025-07-01")
	tr.TransferKind, tr.To, tr.Decision, tr.InEventID = domain.TransferSuccession, tuyenQuang, "1234/QĐ-UBND", uuid.Must(uuid.NewV7()).String()
	res, err := l.Transfer(ctx, tr)
	require.NoError(t, err)
	assert.False(t, res.Replayed)
	assert.Equal(t, res.Out.Seq+1, res.In.Seq, "the two sides are appended together")
	assert.Equal(t, "0", res.From.Balance.Available().String())
	assert.Equal(t, "1500000000", res.To.Balance.Available().String())
	assert.Equal(t, "1500000000", res.To.Project("DA-01").Available().String(), "the project keeps its code on both sides")
	assert.Equal(t, res.Out.Event.ID, res.In.Event.TransferID)

	again := tr
	again.EventID, again.InEventID = uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	rep, err := l.Transfer(ctx, again)
	require.NoError(t, err)
	assert.True(t, rep.Replayed)
	assert.Equal(t, res.Out.Seq, rep.Out.Seq)
	assert.Equal(t, res.In.Seq, rep.In.Seq)
	assert.Len(t, log.Events(), 4, "a retry appends nothing")

	// Spending under 02 after the merger is refused; under 08 it is paid.
	_, err = l.Record(ctx, at(newCommand(domain.Disburse, haGiang, million, "DA-01"), "2025-08-01"))
	assert.ErrorIs(t, err, domain.Errorf(domain.CodeProvinceNotInForce, "", ""))
	record(at(newCommand(domain.Disburse, tuyenQuang, 1_000*million, "DA-01"), "2025-08-15"))

	// A refund years later goes to the line it was paid from.
	rf := record(at(newCommand(domain.Refund, haGiang, 100*million, "DA-01"), "2026-11-20"))
	assert.Equal(t, "400000000", rf.Line.Balance.NetDisbursed().String())
	assert.Equal(t, "100000000", rf.Line.Balance.Available().String())
}
