package i18n

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/kcledger/kcledger/domain"
)

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		name, cookie, accept string
		want                 Lang
	}{
		{"nothing", "", "", Vietnamese},
		{"remembered English", "en", "vi", English},
		{"remembered Vietnamese", "vi", "en-US,en;q=0.9", Vietnamese},
		{"a cookie that names no language", "fr", "en", English},
		{"a cookie in capitals is not a choice we wrote", "EN", "", Vietnamese},
		{"English browser", "", "en-US,en;q=0.9", English},
		{"Vietnamese browser", "", "vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7", Vietnamese},
		{"English preferred by q", "", "vi;q=0.5, en;q=0.8", English},
		{"first of equal q", "", "en;q=0.8, vi;q=0.8", English},
		{"unknown languages only", "", "fr-FR,fr;q=0.9,de;q=0.8", Vietnamese},
		{"unknown first, English after", "", "fr-FR,fr;q=0.9,en;q=0.5", English},
		{"q=0 means not acceptable", "", "en;q=0", Vietnamese},
		{"malformed q is ignored", "", "en;q=2, en;q=abc, en;q=.5", Vietnamese},
		{"wildcard", "", "*", Vietnamese},
		{"case of the tag", "", "EN-gb", English},
		{"spaces", "", "  en ; q=0.7 ", English},
		{"a huge header", "", strings.Repeat("fr,", 2000) + "en", Vietnamese},
		{"beyond the ranges read", "", strings.Repeat("x,", maxAcceptLanguageRanges) + "en", Vietnamese},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Negotiate(tc.cookie, tc.accept))
		})
	}
}

func TestT(t *testing.T) {
	vi, en := New(Vietnamese), New(English)
	for _, tc := range []struct {
		name string
		l    *Localizer
		key  string
		args []any
		want string
	}{
		{"plain", vi, "field.amount", nil, "Số tiền"},
		{"plain English", en, "field.amount", nil, "Amount"},
		{"named", en, "login.wait", []any{N("seconds", 4)}, "Too many failed log-ins; try again in 4 seconds."},
		{"named Vietnamese", vi, "login.wait", []any{N("seconds", 4)}, "Đã đăng nhập sai nhiều lần; hãy thử lại sau 4 giây."},
		{"amount argument", vi, "reading.understood", []any{N("input", "1,5 tỷ"), N("amount", domain.AmountFromInt64(1_500_000_000))}, "1,5 tỷ = 1.500.000.000 ₫"},
		{"amount argument in English", en, "reading.understood", []any{N("input", "1,5 tỷ"), N("amount", domain.AmountFromInt64(1_500_000_000))}, "1,5 tỷ = 1,500,000,000 đồng"},
		{"missing argument stays visible", en, "login.wait", nil, "Too many failed log-ins; try again in {seconds} seconds."},
		{"missing key", vi, "no.such.key", nil, "⟦no.such.key⟧"},
		{"argument text is not expanded again", en, "reading.detail", []any{N("detail", "{detail} {0}")}, "In detail: {detail} {0}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.l.T(tc.key, tc.args...))
		})
	}
	cat := map[string]string{"k": "{1} before {0}, {x}"}
	l := &Localizer{lang: English, cat: cat}
	assert.Equal(t, "b before a, c", l.T("k", "a", N("x", "c"), "b"), "positional arguments skip the named ones")
	assert.Equal(t, "30 June 2025, 14:05 Vietnam time (UTC+7)", en.value(time.Date(2025, 6, 30, 7, 5, 0, 0, time.UTC)))
	assert.Equal(t, "30/06/2025", vi.value(domain.Date{Year: 2025, Month: time.June, Day: 30}))
}

func TestNewUnknownLanguage(t *testing.T) {
	assert.Equal(t, Vietnamese, New("fr").Lang())
	assert.Equal(t, English, New(English).Lang())
}
