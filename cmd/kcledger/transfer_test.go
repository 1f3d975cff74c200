package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/web/api/apitest"
)

// The CLI: transfer and lapse print both events and both lines'
// balances, take Vietnamese amounts, and exit as the other movements.
func TestTransferAndLapseCLI(t *testing.T) {
	ta := newTestAPI(t)
	apitest.BudgetYearSetup(t, ta.Client)
	cliAgainst(t, ta)
	succession := []string{"transfer", "--kind", "succession", "--year", "2025", "--province", "02", "--source", "national",
		"--to-year", "2025", "--to-province", "08", "--amount", "100 triệu", "--decision", "1234/QĐ-UBND", "--date", "2025-07-01",
		"--project", "DA-1", "--reason", "Sáp nhập tỉnh", "--id", "cli-succession"}
	code, stdout, stderr := runIn(succession...)
	require.Equal(t, exitOK, code, stderr)
	for _, want := range []string{
		"Recorded funds.transferred_out.v1 ", "Recorded funds.transferred_in.v1 ",
		"transfer   succession, from 2025 · 02 Hà Giang · KCQG to 2025 · 08 Tuyên Quang · KCQG",
		"amount     100.000.000 ₫", "project    DA-1", "decision   1234/QĐ-UBND",
		"Source line 2025 · 02 Hà Giang · KCQG: allocated 1.000.000.000 ₫ · transferred out 100.000.000 ₫ · net disbursed 100.000.000 ₫ · available 800.000.000 ₫",
		"Destination line 2025 · 08 Tuyên Quang · KCQG: allocated 0 ₫ · transferred in 100.000.000 ₫ · net disbursed 0 ₫ · available 100.000.000 ₫",
		"  project DA-1: allocated 300.000.000 ₫ · transferred out 100.000.000 ₫ · net disbursed 0 ₫ · available 200.000.000 ₫",
	} {
		assert.Contains(t, stdout, want)
	}

	// The retry with the same --id: the same pair, said so.
	code, again, stderr := runIn(succession...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, again, "Already recorded (same idempotency key, same transfer)")
	assert.Equal(t, strings.Count(again, "funds.transferred_"), 2)

	// Refused by the ledger: exit 1, the field named by its flag's field.
	code, stdout, stderr = runIn("transfer", "--kind", "succession", "--year", "2025", "--province", "02", "--source", "national",
		"--to-year", "2025", "--to-province", "01", "--amount", "1 triệu", "--decision", "1/QĐ", "--date", "2025-07-01")
	assert.Equal(t, exitRefused, code, stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "invalid_transfer, field to_province")

	code, stdout, stderr = runIn("transfer", "--kind", "carry_over", "--year", "2025", "--province", "01", "--source", "national",
		"--to-year", "2026", "--to-province", "01", "--amount", "1,5 tỷ", "--decision", "1/QĐ", "--date", "2026-01-15")
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "insufficient_funds, field amount")

	code, stdout, stderr = runIn("transfer", "--kind", "carry_over", "--year", "2025", "--province", "01", "--source", "national",
		"--to-year", "2026", "--to-province", "01", "--amount", "250 triệu", "--decision", "55/QĐ-UBND", "--date", "2026-01-15")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "Destination line 2026 · 01 Hà Nội · KCQG: allocated 0 ₫ · transferred in 250.000.000 ₫")
	assert.Contains(t, stderr, "idempotency key: ", "the key made is printed for a retry")

	code, stdout, stderr = runIn("lapse", "--year", "2025", "--province", "01", "--source", "national", "--amount", "750 triệu",
		"--decision", "56/QĐ-UBND", "--reason", "Hết thời gian chỉnh lý quyết toán", "--date", "2026-02-01")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "Recorded funds.lapsed.v1 ")
	assert.Contains(t, stdout, "Line balance: allocated 1.000.000.000 ₫ · transferred out 250.000.000 ₫ · net disbursed 0 ₫ · lapsed 750.000.000 ₫ · available 0 ₫")

	code, _, stderr = runIn("lapse", "--year", "2025", "--province", "02", "--source", "national", "--amount", "1 tỷ",
		"--decision", "56/QĐ-UBND", "--date", "2026-01-31")
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "date_outside_window, field effective_date")
}

// Input errors of transfer and lapse exit 2 before anything is sent.
func TestTransferAndLapseInputErrors(t *testing.T) {
	s := newSilentLedger(t)
	cliTestEnv(t, s)
	transfer := []string{"transfer", "--kind", "succession", "--year", "2025", "--province", "02", "--source", "national",
		"--to-year", "2025", "--to-province", "08", "--amount", "100 triệu", "--decision", "1234/QĐ-UBND", "--date", "2025-07-01"}
	lapse := []string{"lapse", "--year", "2025", "--province", "02", "--source", "national", "--amount", "0",
		"--decision", "56/QĐ-UBND", "--date", "2026-02-01"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"transfer without --kind", without(transfer, "--kind"), "--kind is required"},
		{"transfer --kind bad", with(without(transfer, "--kind"), "--kind", "gift"), "--kind"},
		{"transfer without --year", without(transfer, "--year"), "--year is required"},
		{"transfer without --to-year", without(transfer, "--to-year"), "--to-year is required"},
		{"transfer without --to-province", without(transfer, "--to-province"), "--to-province"},
		{"transfer --to-source bad", with(transfer, "--to-source", "bogus"), "--to-source"},
		{"transfer without --amount", without(transfer, "--amount"), "--amount is required"},
		{"transfer --amount 1.5", with(without(transfer, "--amount"), "--amount", "1.5"), "--amount"},
		{"transfer --amount 0", with(without(transfer, "--amount"), "--amount", "0"), "--amount"},
		{"transfer without --decision", without(transfer, "--decision"), "--decision"},
		{"transfer --date bad", with(without(transfer, "--date"), "--date", "1/7/2025"), "--date"},
		{"transfer --id with a space", with(transfer, "--id", "a b"), "--id"},
		{"lapse without --year", without(lapse, "--year"), "--year is required"},
		{"lapse without --decision", without(lapse, "--decision"), "--decision"},
		{"lapse --amount negative", with(without(lapse, "--amount"), "--amount", "-1 triệu"), "--amount"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.conns.Store(0)
			code, stdout, stderr := runIn(c.args...)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, c.want)
			assert.Zero(t, s.conns.Load(), "something was sent")
		})
	}
}
