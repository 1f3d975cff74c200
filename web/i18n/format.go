package i18n

import (
	"fmt"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
)

// vietnam is Vietnam's time zone, UTC+7. A fixed zone rather than
// time.LoadLocation("Asia/Ho_Chi_Minh"): Vietnam has kept UTC+7 without
// daylight saving since 1975, and the binary then needs no tz database on
// machines that may lack one.
var vietnam = time.FixedZone("UTC+7", 7*60*60)

// Vietnam returns Vietnam's time zone, in which the console shows every
// time.
func Vietnam() *time.Location { return vietnam }

// SwapSeparators turns vi-VN digits into English ones ("1.234,5" into
// "1,234.5"): dots group thousands in one, commas in the other, and the
// decimal marks swap too.
func SwapSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return ','
		case ',':
			return '.'
		}
		return r
	}, s)
}

// Amount renders a exactly: "1.500.000.000 ₫" in Vietnamese,
// "1,500,000,000 đồng" in English.
func (l *Localizer) Amount(a domain.Amount) string {
	if l.lang == English {
		return SwapSeparators(a.Grouped()) + " đồng"
	}
	return a.VND()
}

// Short renders a in the largest unit people speak of, rounded as
// domain.Amount.Short rounds (two decimals, half away from zero), so it is
// lossy: "1,5 tỷ", "250 triệu" in Vietnamese, "1.5 billion đồng",
// "250 million đồng" in English. Below a million đồng it is exact.
func (l *Localizer) Short(a domain.Amount) string {
	s := a.Short()
	if l.lang != English {
		return s
	}
	for _, u := range []struct{ vi, en string }{{" tỷ", " billion đồng"}, {" triệu", " million đồng"}, {" ₫", " đồng"}} {
		if n, ok := strings.CutSuffix(s, u.vi); ok {
			return SwapSeparators(n) + u.en
		}
	}
	panic(fmt.Sprintf("i18n: domain.Amount.Short returned %q, in no known unit", s))
}

// Millions renders a in triệu đồng for tables whose header names the
// unit, as domain.Amount.Millions does: "64.710" in Vietnamese, "64,710"
// in English.
func (l *Localizer) Millions(a domain.Amount) string {
	if l.lang == English {
		return SwapSeparators(a.Millions())
	}
	return a.Millions()
}

// Date renders a calendar date: "30/06/2025" in Vietnamese, "30 June 2025"
// in English. The zero Date renders as "".
func (l *Localizer) Date(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	if l.lang == English {
		return fmt.Sprintf("%d %s %d", d.Day, d.Month, d.Year)
	}
	return fmt.Sprintf("%02d/%02d/%04d", d.Day, int(d.Month), d.Year)
}

// DateOf returns the date of t in Vietnam.
func DateOf(t time.Time) domain.Date {
	y, m, d := t.In(vietnam).Date()
	return domain.Date{Year: y, Month: m, Day: d}
}

// Time renders the hour and minute of t in Vietnam, with the zone named:
// "14:05 (giờ Việt Nam, UTC+7)", "14:05 Vietnam time (UTC+7)".
func (l *Localizer) Time(t time.Time) string {
	return l.T("time.vietnam", N("time", t.In(vietnam).Format("15:04")))
}

// DateTime renders the date and time of t in Vietnam:
// "30/06/2025 14:05 (giờ Việt Nam, UTC+7)",
// "30 June 2025, 14:05 Vietnam time (UTC+7)".
func (l *Localizer) DateTime(t time.Time) string {
	sep := " "
	if l.lang == English {
		sep = ", "
	}
	return l.Date(DateOf(t)) + sep + l.Time(t)
}
