package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/projections/export"
)

// TestBeancountBeneficiaryAccounts checks that beneficiaries whose ASCII
// slugs agree still post to distinct accounts, that a name always gets
// the same account, that the payee keeps the real name, and that the real
// bean-check accepts the journal.
func TestBeancountBeneficiaryAccounts(t *testing.T) {
	names := []string{"Công ty Mỹ", "Công ty My", "Cong ty My", "Co\u0302ng ty My\u0303", "Cong-ty-My", "CongtyMy", "HTX"}
	seen := map[string]string{}
	for _, n := range names {
		a := export.AccountPart(n)
		require.Regexp(t, `^[A-Z0-9][A-Za-z0-9-]*$`, a, "%q", n)
		assert.Equal(t, a, export.AccountPart(n), "the same name, the same account")
		if prev, ok := seen[a]; ok {
			// Only canonically equivalent spellings (NFC and NFD of one
			// name) may share an account.
			assert.Equal(t, "Công ty Mỹ", prev, "%q and %q share account %s", prev, n, a)
			assert.Equal(t, "Co\u0302ng ty My\u0303", n)
			continue
		}
		seen[a] = n
	}
	assert.Len(t, seen, len(names)-1)
	assert.True(t, strings.HasPrefix(export.AccountPart("Công ty Mỹ"), "Cong-ty-My-"), "the slug stays readable: %s", export.AccountPart("Công ty Mỹ"))
	assert.Equal(t, "CongtyMy", export.AccountPart("CongtyMy"), "a name that is its own slug needs no hash")
	assert.Equal(t, "HTX", export.AccountPart("HTX"))

	// A journal with the three names: three accounts, three payees.
	var buf bytes.Buffer
	exp := export.NewBeancount(&buf)
	for i, n := range []string{"Công ty Mỹ", "Công ty My", "Cong ty My", "Công ty Mỹ"} {
		ev := domain.Event{
			ID: "id", Type: domain.TypeDisbursed, FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
			Amount: domain.AmountFromInt64(1_000_000), Voucher: "KB-1", Beneficiary: n,
			EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 1 + i}, Actor: "officer", Hash: strings.Repeat("a", 64),
		}
		if i == 0 {
			alloc := ev
			alloc.Type, alloc.Voucher, alloc.Beneficiary, alloc.Decision, alloc.Amount = domain.TypeAllocated, "", "", "1/QĐ-BCT", domain.AmountFromInt64(10_000_000)
			require.NoError(t, exp.Write(projections.TrailEntry{Seq: 1, Event: alloc}))
		}
		require.NoError(t, exp.Write(projections.TrailEntry{Seq: uint64(i + 2), Event: ev}))
	}
	require.NoError(t, exp.Close())
	journal := buf.String()
	opened := regexp.MustCompile(`(?m)^\S+ open (Expenses:KCQG:Y2025:P01:Beneficiary:\S+) VND$`).FindAllStringSubmatch(journal, -1)
	require.Len(t, opened, 3, "three beneficiaries, three accounts:\n%s", journal)
	for _, n := range []string{"Công ty Mỹ", "Công ty My", "Cong ty My"} {
		assert.Contains(t, journal, `* "`+n+`" `, "the payee keeps the real name")
	}
	assert.Equal(t, 2, strings.Count(journal, "  Expenses:KCQG:Y2025:P01:Beneficiary:"+export.AccountPart("Công ty Mỹ")+"  "), "the same name posts to the same account")

	beanCheck := lookTool(t, "bean-check", "apt-get install beancount; scripts/test does it")
	file := filepath.Join(t.TempDir(), "k.beancount")
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o600))
	out, err := exec.Command(beanCheck, file).CombinedOutput()
	require.NoError(t, err, "bean-check: %s\n%s", out, journal)
}
