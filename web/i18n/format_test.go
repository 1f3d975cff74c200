package i18n

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/password"
)

func amount(t *testing.T, s string) domain.Amount {
	t.Helper()
	a, err := domain.ParseAmount(s)
	require.NoError(t, err)
	return a
}

func TestAmounts(t *testing.T) {
	vi, en := New(Vietnamese), New(English)
	for _, tc := range []struct {
		amount                   string
		vi, viShort, en, enShort string
		viMillions, enMillions   string
	}{
		{"1500000000", "1.500.000.000 ₫", "1,5 tỷ", "1,500,000,000 đồng", "1.5 billion đồng", "1.500", "1,500"},
		{"250000000", "250.000.000 ₫", "250 triệu", "250,000,000 đồng", "250 million đồng", "250", "250"},
		{"170400000000", "170.400.000.000 ₫", "170,4 tỷ", "170,400,000,000 đồng", "170.4 billion đồng", "170.400", "170,400"},
		{"1500000000000", "1.500.000.000.000 ₫", "1.500 tỷ", "1,500,000,000,000 đồng", "1,500 billion đồng", "1.500.000", "1,500,000"},
		{"1234567", "1.234.567 ₫", "1,23 triệu", "1,234,567 đồng", "1.23 million đồng", "1,235", "1.235"},
		{"-2500000000", "-2.500.000.000 ₫", "-2,5 tỷ", "-2,500,000,000 đồng", "-2.5 billion đồng", "-2.500", "-2,500"},
		{"500000", "500.000 ₫", "500.000 ₫", "500,000 đồng", "500,000 đồng", "0,5", "0.5"},
		{"0", "0 ₫", "0 ₫", "0 đồng", "0 đồng", "0", "0"},
	} {
		t.Run(tc.amount, func(t *testing.T) {
			a := amount(t, tc.amount)
			assert.Equal(t, tc.vi, vi.Amount(a))
			assert.Equal(t, tc.viShort, vi.Short(a))
			assert.Equal(t, tc.en, en.Amount(a))
			assert.Equal(t, tc.enShort, en.Short(a))
			assert.Equal(t, tc.viMillions, vi.Millions(a))
			assert.Equal(t, tc.enMillions, en.Millions(a))
			back, err := domain.ParseHumanAmount(vi.Amount(a))
			require.NoError(t, err)
			assert.True(t, back.Equal(a), "the Vietnamese form reads back")
		})
	}
}

func TestDatesAndTimes(t *testing.T) {
	vi, en := New(Vietnamese), New(English)
	for _, tc := range []struct {
		date   domain.Date
		vi, en string
	}{
		{domain.Date{Year: 2025, Month: time.June, Day: 30}, "30/06/2025", "30 June 2025"},
		{domain.Date{Year: 2025, Month: time.July, Day: 1}, "01/07/2025", "1 July 2025"},
		{domain.Date{}, "", ""},
	} {
		assert.Equal(t, tc.vi, vi.Date(tc.date))
		assert.Equal(t, tc.en, en.Date(tc.date))
	}
	for _, tc := range []struct {
		name           string
		at             time.Time
		viTime, enTime string
		viFull, enFull string
	}{
		{"UTC morning", time.Date(2025, 6, 30, 7, 5, 0, 0, time.UTC),
			"14:05 (giờ Việt Nam, UTC+7)", "14:05 Vietnam time (UTC+7)",
			"30/06/2025 14:05 (giờ Việt Nam, UTC+7)", "30 June 2025, 14:05 Vietnam time (UTC+7)"},
		{"the day turns in Vietnam first", time.Date(2025, 6, 30, 17, 30, 59, 0, time.UTC),
			"00:30 (giờ Việt Nam, UTC+7)", "00:30 Vietnam time (UTC+7)",
			"01/07/2025 00:30 (giờ Việt Nam, UTC+7)", "1 July 2025, 00:30 Vietnam time (UTC+7)"},
		{"another zone", time.Date(2025, 12, 31, 20, 0, 0, 0, time.FixedZone("CET", 3600)),
			"02:00 (giờ Việt Nam, UTC+7)", "02:00 Vietnam time (UTC+7)",
			"01/01/2026 02:00 (giờ Việt Nam, UTC+7)", "1 January 2026, 02:00 Vietnam time (UTC+7)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.viTime, vi.Time(tc.at))
			assert.Equal(t, tc.enTime, en.Time(tc.at))
			assert.Equal(t, tc.viFull, vi.DateTime(tc.at))
			assert.Equal(t, tc.enFull, en.DateTime(tc.at))
		})
	}
}

func TestError(t *testing.T) {
	vi, en := New(Vietnamese), New(English)
	overspend := domain.Errorf(domain.CodeInsufficientFunds, "amount", "disbursement of 2000 exceeds available 1000")
	assert.Equal(t, "Không đủ kinh phí: số tiền lớn hơn số còn lại của dòng ngân sách.", vi.Error(overspend))
	assert.Equal(t, "Insufficient funds: the amount is more than the line has available.", en.Error(fmt.Errorf("record: %w", overspend)))
	assert.Equal(t, en.Code(domain.CodeInternal), en.Error(errors.New("nats: connection closed")), "other errors say nothing of themselves")

	short := password.Check("ttcp-hanoi", "short")
	assert.Equal(t, "Mật khẩu cần ít nhất 12 ký tự; một câu dễ nhớ là cách dễ nhất.", vi.Error(short))
	assert.Equal(t, "The password needs at least 12 characters; a phrase you remember is the easy way.", en.Error(short))
	for _, l := range []*Localizer{vi, en} {
		assert.NotContains(t, l.Error(password.Check("a", string(make([]byte, 300)))), "{")
		assert.Equal(t, l.T("field.amount"), l.Field("amount"))
	}
	for _, c := range domain.Codes {
		assert.NotContains(t, vi.Code(c), "{", "%s: no message of a code needs an argument", c)
	}
}
