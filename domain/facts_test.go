package domain_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

func factsCommand() domain.Command {
	return domain.Command{
		Kind: domain.Allocate, FiscalYear: 2025, Province: "01", Source: domain.SourceNational,
		Project: "KC-2025-01", Category: domain.CategoryIndustrialCluster, Amount: domain.AmountFromInt64(1_500_000_000),
		ProjectName: "Hạ tầng cụm công nghiệp Phú Nghĩa", ImplementingUnit: "Trung tâm Khuyến công Hà Nội",
		Counterpart: domain.AmountFromInt64(9_500_000_000),
		Decision:    "123/QĐ-BCT", EffectiveDate: domain.Date{Year: 2025, Month: time.March, Day: 1},
		EventID: "e1", Actor: "officer", IdempotencyKey: "k1", Now: time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC),
	}
}

// TestProjectFactsAreValidated: the project facts belong to an
// allocation to a project, are bounded text as the other fields, and the
// counterpart is a non-negative amount within the movement bound.
func TestProjectFactsAreValidated(t *testing.T) {
	ok := factsCommand()
	require.NoError(t, ok.Validate(domain.Policy{}))
	for _, tc := range []struct {
		name   string
		field  string
		change func(c *domain.Command)
	}{
		{"name without a project", "project_name", func(c *domain.Command) { c.Project = "" }},
		{"on a disbursement", "project_name", func(c *domain.Command) {
			c.Kind, c.Decision, c.Voucher, c.Beneficiary = domain.Disburse, "", "KB-1", "HTX"
		}},
		{"unit on an adjustment", "implementing_unit", func(c *domain.Command) {
			c.Kind, c.Reason, c.ProjectName, c.Counterpart = domain.Adjust, "lý do", "", domain.Amount{}
		}},
		{"counterpart on a refund", "counterpart", func(c *domain.Command) {
			c.Kind, c.Decision, c.Voucher, c.Reason, c.ProjectName, c.ImplementingUnit = domain.Refund, "", "KB-1", "lý do", "", ""
		}},
		{"long name", "project_name", func(c *domain.Command) { c.ProjectName = strings.Repeat("đ", domain.MaxProjectNameLen+1) }},
		{"name with a direction override", "project_name", func(c *domain.Command) { c.ProjectName = "Cụm\u202eCN" }},
		{"name with a control character", "project_name", func(c *domain.Command) { c.ProjectName = "Cụm\tCN" }},
		{"name with spaces around", "project_name", func(c *domain.Command) { c.ProjectName = " Cụm CN" }},
		{"blank name", "project_name", func(c *domain.Command) { c.ProjectName = "   " }},
		{"unit with a zero-width space", "implementing_unit", func(c *domain.Command) { c.ImplementingUnit = "Trung\u200btâm" }},
		{"long unit", "implementing_unit", func(c *domain.Command) { c.ImplementingUnit = strings.Repeat("a", domain.MaxImplementingUnitLen+1) }},
		{"negative counterpart", "counterpart", func(c *domain.Command) { c.Counterpart = domain.AmountFromInt64(-1) }},
		{"counterpart over the bound", "counterpart", func(c *domain.Command) { c.Counterpart = domain.MaxMovement.Add(domain.AmountFromInt64(1)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := factsCommand()
			tc.change(&c)
			var de *domain.Error
			require.ErrorAs(t, c.Validate(domain.Policy{}), &de)
			assert.Equal(t, tc.field, de.Field)
		})
	}
	max := factsCommand()
	max.Counterpart, max.ProjectName = domain.MaxMovement, strings.Repeat("đ", domain.MaxProjectNameLen)
	require.NoError(t, max.Validate(domain.Policy{}))
}

// TestProjectFactsInTheHash: an event without the facts hashes as before
// they existed; with them, each fact is covered.
func TestProjectFactsInTheHash(t *testing.T) {
	c := factsCommand()
	st := domain.NewLineState(c.Line())
	with, err := domain.Decide(st, c, domain.Policy{})
	require.NoError(t, err)
	require.NoError(t, with.Validate(domain.Policy{}))
	for _, change := range []func(e *domain.Event){
		func(e *domain.Event) { e.ProjectName += "x" },
		func(e *domain.Event) { e.ImplementingUnit += "x" },
		func(e *domain.Event) { e.Counterpart = e.Counterpart.Add(domain.AmountFromInt64(1)) },
		func(e *domain.Event) { e.ProjectName, e.ImplementingUnit = e.ImplementingUnit, e.ProjectName },
	} {
		e := with
		change(&e)
		assert.NotEqual(t, with.ComputeHash(), e.ComputeHash())
		assert.NotEqual(t, with.Fingerprint(), e.Fingerprint())
	}
	// The same event without facts hashes by the recipe of docs/events.md
	// as it was before they were added.
	c.ProjectName, c.ImplementingUnit, c.Counterpart = "", "", domain.Amount{}
	without, err := domain.Decide(st, c, domain.Policy{})
	require.NoError(t, err)
	assert.Equal(t, recipeBeforeFacts(&without), without.Hash)
	assert.NotEqual(t, recipeBeforeFacts(&with), with.Hash)
}

// recipeBeforeFacts is the canonical hash of a movement as docs/events.md
// gave it before the project facts.
func recipeBeforeFacts(e *domain.Event) string {
	h := sha256.New()
	for _, s := range []string{"kcledger-event-v1", e.ID, string(e.Type), strconv.Itoa(e.FiscalYear), e.Province, string(e.Source),
		e.Project, string(e.Category), e.Amount.String(), e.Decision, e.Voucher, e.Beneficiary, e.Reason,
		e.EffectiveDate.String(), e.RecordedAt.UTC().Format(time.RFC3339Nano), e.Actor, e.IdempotencyKey, e.PrevHash} {
		fmt.Fprintf(h, "%d:%s,", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}
