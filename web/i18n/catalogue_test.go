package i18n

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/password"
)

// Both catalogues have exactly the same keys, and each message the same
// placeholders in both: a text missing in one language is a test failure,
// never a silent fallback.
func TestCataloguesMatch(t *testing.T) {
	vi, en := catalogues[Vietnamese], catalogues[English]
	require.NotEmpty(t, vi)
	viKeys, enKeys := slices.Sorted(maps.Keys(vi)), slices.Sorted(maps.Keys(en))
	for _, k := range viKeys {
		_, ok := en[k]
		assert.True(t, ok, "en.json lacks %s, a key of vi.json", k)
	}
	for _, k := range enKeys {
		_, ok := vi[k]
		assert.True(t, ok, "vi.json lacks %s, a key of en.json", k)
	}
	for _, k := range viKeys {
		if e, ok := en[k]; ok {
			assert.Equal(t, placeholders(vi[k]), placeholders(e), "placeholders of %s", k)
		}
	}
	for _, l := range Langs {
		for k, msg := range catalogues[l] {
			assert.NotEmpty(t, strings.TrimSpace(msg), "%s: %s is empty", l, k)
			assert.Equal(t, strings.Count(msg, "{"), strings.Count(msg, "}"), "%s: %s has unbalanced braces", l, k)
			assert.Equal(t, strings.Count(msg, "{"), len(placeholders(msg)), "%s: %s has a brace that is not a placeholder", l, k)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	for msg, want := range map[string][]string{
		"no braces":              nil,
		"{input} = {amount}":     {"amount", "input"},
		"{0} and {1} and {0}":    {"0", "1"},
		"{Not} { spaced } {a-b}": nil,
		"unclosed {x":            nil,
	} {
		assert.ElementsMatch(t, want, slices.Collect(maps.Keys(placeholders(msg))), msg)
	}
}

// Every key the console needs first is in the catalogues: the check is on
// the keys' lists, which grow with the domain.
func TestCataloguesCover(t *testing.T) {
	var want []string
	for _, c := range domain.Codes {
		want = append(want, "error."+string(c))
	}
	for _, f := range FormFields {
		want = append(want, "field."+f)
	}
	for _, k := range []domain.CommandKind{domain.Allocate, domain.Adjust, domain.Disburse, domain.Refund, domain.Transfer, domain.Lapse, domain.Repudiate} {
		want = append(want, "kind."+string(k))
	}
	for _, k := range []domain.TransferKind{domain.TransferSuccession, domain.TransferCarryOver} {
		want = append(want, "transfer_kind."+string(k))
	}
	for _, r := range domain.Roles {
		want = append(want, "role."+string(r))
	}
	for _, s := range domain.Sources() {
		want = append(want, "source."+string(s), "source."+string(s)+".name")
	}
	for _, r := range domain.Regions() {
		want = append(want, "region."+string(r))
	}
	for _, c := range domain.Categories() {
		want = append(want, "category."+string(c))
	}
	for _, r := range password.Rules {
		want = append(want, "password."+string(r))
	}
	for _, l := range Langs {
		want = append(want, "lang."+string(l))
	}
	for _, l := range Langs {
		for _, k := range want {
			_, ok := catalogues[l][k]
			assert.True(t, ok, "%s.json lacks %s", l, k)
		}
	}
}

// The Vietnamese names of sources and categories are the domain's own, so
// the console and the CLI's reports say the same.
func TestCataloguesAgreeWithDomain(t *testing.T) {
	l := New(Vietnamese)
	for _, s := range domain.Sources() {
		assert.Equal(t, s.Label(), l.T("source."+string(s)))
		assert.Equal(t, s.Label(), New(English).T("source."+string(s)), "KCQG and KCĐP are not translated")
	}
	for _, c := range domain.Categories() {
		assert.Equal(t, c.Label(), l.T("category."+string(c)))
	}
}
