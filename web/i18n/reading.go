package i18n

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kcledger/kcledger/domain"
)

// maxEchoedRunes bounds how much of a typed amount a reading repeats.
const maxEchoedRunes = 40

// Reading tells a user typing an amount into a recording form what the
// ledger understood, in lang: "1,5 tỷ = 1.500.000.000 ₫" (ok), or why it
// could not read it (not ok). It reads input with domain.ParseHumanAmount,
// the parser the forms use, so that the reading and the recorded amount
// never differ. In English a refusal also carries the parser's own detail,
// which is written in English.
func Reading(lang Lang, input string) (text string, ok bool) {
	l := New(lang)
	shown := echo(input)
	if shown == "" {
		return l.T("reading.empty"), false
	}
	a, err := domain.ParseHumanAmount(input)
	if err != nil {
		text = l.T("reading.invalid", N("input", shown))
		var de *domain.Error
		if l.lang == English && errors.As(err, &de) {
			text += " " + l.T("reading.detail", N("detail", de.Message))
		}
		return text, false
	}
	return l.T("reading.understood", N("input", shown), N("amount", l.Amount(a))), true
}

// echo returns input as a reading repeats it: trimmed, cut at
// maxEchoedRunes, with invisible and invalid characters shown as U+FFFD
// and every run of spaces as one space.
func echo(input string) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range strings.TrimFunc(input, unicode.IsSpace) {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if r == utf8.RuneError || !unicode.IsGraphic(r) {
			r = utf8.RuneError
		}
		need := 1
		if space {
			need = 2
		}
		if n+need > maxEchoedRunes {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		n += need
	}
	return b.String()
}
