package i18n

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

func TestReading(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		vi, en      string
		ok          bool
	}{
		{"decimal tỷ", "1,5 tỷ", "1,5 tỷ = 1.500.000.000 ₫", "1,5 tỷ = 1,500,000,000 đồng", true},
		{"grouped", "1.500.000.000", "1.500.000.000 = 1.500.000.000 ₫", "1.500.000.000 = 1,500,000,000 đồng", true},
		{"triệu đồng", "  64.710 triệu đồng ", "64.710 triệu đồng = 64.710.000.000 ₫", "64.710 triệu đồng = 64,710,000,000 đồng", true},
		{"compound", "1 tỷ 500 triệu", "1 tỷ 500 triệu = 1.500.000.000 ₫", "1 tỷ 500 triệu = 1,500,000,000 đồng", true},
		{"no diacritics", "2 ty", "2 ty = 2.000.000.000 ₫", "2 ty = 2,000,000,000 đồng", true},
		{"spaces collapse", "250\u00a0  triệu", "250 triệu = 250.000.000 ₫", "250 triệu = 250,000,000 đồng", true},
		{"empty", "   ", "Gõ số tiền, ví dụ 1.500.000.000 hoặc 1,5 tỷ.", "Type an amount, e.g. 1.500.000.000 or 1,5 tỷ.", false},
		{"ambiguous comma", "60,840 tỷ",
			"Chưa đọc được số tiền “60,840 tỷ”: dấu chấm ngăn cách hàng nghìn, dấu phẩy là dấu thập phân, ví dụ 1.500.000.000 hoặc 1,5 tỷ.",
			"Could not read the amount “60,840 tỷ”: amounts are typed the Vietnamese way, a dot between thousands and a comma as the decimal mark, e.g. 1.500.000.000 or 1,5 tỷ. In detail: amount \"60,840 tỷ\" is ambiguous: a comma followed by three digits reads as a thousands separator in English; write \"60,84 tỷ\" for the decimal or \"60.840 tỷ\" for thousands",
			false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vi, ok := Reading(Vietnamese, tc.input)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.vi, vi)
			en, ok := Reading(English, tc.input)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.en, en)
		})
	}
}

func TestReadingEcho(t *testing.T) {
	long := strings.Repeat("9", 1<<20)
	text, ok := Reading(Vietnamese, long)
	require.False(t, ok)
	assert.Contains(t, text, "“"+strings.Repeat("9", maxEchoedRunes)+"…”")
	assert.Less(t, len(text), 400)

	text, _ = Reading(Vietnamese, "1\x00\u200b\xff tỷ")
	assert.Contains(t, text, "“1\uFFFD\uFFFD\uFFFD tỷ”", "invisible and invalid characters are shown, not passed on")
	assert.Equal(t, "<b>1</b>", echo("<b>1</b>"), "escaping is the template's work")
	spaced := strings.Repeat("0 ", 1000)
	assert.Equal(t, strings.Repeat("0 ", maxEchoedRunes/2-1)+"0…", echo(spaced), "spaces count towards the cut")
	assert.LessOrEqual(t, utf8.RuneCountInString(strings.TrimSuffix(echo(spaced), "…")), maxEchoedRunes)
}

// FuzzReading: any input gives a bounded, valid text in both languages, ok
// exactly when domain.ParseHumanAmount reads it, and an understood amount
// is the one the parser returns.
func FuzzReading(f *testing.F) {
	for _, s := range []string{"1,5 tỷ", "1.500.000.000 ₫", "60,840 tỷ", "", " ", "1 tỷ 500 triệu", "-250 triệu", "\xff", "1\u00a0500", "{input}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		a, err := domain.ParseHumanAmount(input)
		for _, lang := range Langs {
			text, ok := Reading(lang, input)
			require.True(t, utf8.ValidString(text), "%q", text)
			require.Less(t, len(text), 1000, "%s", text)
			require.NotContains(t, text, "⟦")
			if strings.TrimSpace(input) == "" {
				require.False(t, ok)
				continue
			}
			require.Equal(t, err == nil, ok, "%q: %s", input, text)
			if ok {
				require.True(t, strings.HasSuffix(text, " = "+New(lang).Amount(a)), "%q: %s", input, text)
			}
		}
	})
}
