// Package i18n holds the console's texts in one message catalogue per
// language (vi.json, en.json, embedded in the binary), chooses the
// language of a request, and renders amounts, dates and times as people
// read them in that language: Vietnamese by default, English on request.
//
// The catalogues have exactly the same keys and the same placeholders (a
// test proves it), so no text silently falls back to another language. A
// key in neither catalogue renders as ⟦key⟧, which handler tests can look
// for. Amounts are rendered from domain.Amount's exact vi-VN forms; the
// English forms swap the separators and spell the unit out.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
)

// Lang is a language the console speaks, as its BCP 47 primary subtag.
type Lang string

// The languages.
const (
	Vietnamese Lang = "vi"
	English    Lang = "en"
)

// Langs lists the languages, the default first.
var Langs = []Lang{Vietnamese, English}

// CookieName is the cookie that remembers a user's choice of language.
const CookieName = "kcledger_lang"

//go:embed vi.json en.json
var files embed.FS

// catalogues maps each language to its messages by key.
var catalogues = map[Lang]map[string]string{}

func init() {
	for _, l := range Langs {
		b, err := files.ReadFile(string(l) + ".json")
		if err != nil {
			panic(fmt.Sprintf("i18n: catalogue %s is not embedded: %v", l, err))
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("i18n: catalogue %s.json: %v", l, err))
		}
		catalogues[l] = m
	}
}

// ParseLang reads a language exactly as Lang spells it ("vi", "en").
func ParseLang(s string) (Lang, bool) {
	for _, l := range Langs {
		if s == string(l) {
			return l, true
		}
	}
	return "", false
}

// Limits on the Accept-Language header, which comes from outside.
const (
	maxAcceptLanguageBytes  = 1024
	maxAcceptLanguageRanges = 32
)

// Negotiate chooses the language of a request: the remembered choice (the
// value of the CookieName cookie) when it names a language, else the
// Accept-Language header's preferred language among Langs (the first of
// those with the highest q), else Vietnamese.
func Negotiate(cookie, acceptLanguage string) Lang {
	if l, ok := ParseLang(cookie); ok {
		return l
	}
	if len(acceptLanguage) > maxAcceptLanguageBytes {
		acceptLanguage = acceptLanguage[:maxAcceptLanguageBytes]
	}
	best, bestQ := Vietnamese, 0.0
	for i, r := range strings.Split(acceptLanguage, ",") {
		if i == maxAcceptLanguageRanges {
			break
		}
		tag, params, _ := strings.Cut(r, ";")
		q, ok := parseQ(params)
		if !ok || q <= bestQ {
			continue
		}
		primary, _, _ := strings.Cut(strings.TrimSpace(tag), "-")
		if l, ok := ParseLang(strings.ToLower(primary)); ok {
			best, bestQ = l, q
		}
	}
	return best
}

// parseQ reads the weight in an Accept-Language range's parameters
// (RFC 9110 §12.4.2): 1 when absent, else 0 to 1 with up to three
// decimals. ok is false for a malformed weight, so the range is ignored.
func parseQ(params string) (float64, bool) {
	params = strings.TrimSpace(params)
	if params == "" {
		return 1, true
	}
	v, ok := strings.CutPrefix(strings.ToLower(params), "q=")
	if !ok || len(v) == 0 || len(v) > 5 || (v[0] != '0' && v[0] != '1') || len(v) > 1 && v[1] != '.' {
		return 0, false
	}
	q, err := strconv.ParseFloat(v, 64)
	if err != nil || q < 0 || q > 1 {
		return 0, false
	}
	return q, true
}

// Localizer renders the texts, amounts and dates of one language.
type Localizer struct {
	lang Lang
	cat  map[string]string
}

// New returns the localizer of lang, or of Vietnamese for a language the
// console does not speak.
func New(lang Lang) *Localizer {
	if _, ok := catalogues[lang]; !ok {
		lang = Vietnamese
	}
	return &Localizer{lang: lang, cat: catalogues[lang]}
}

// Lang returns the localizer's language.
func (l *Localizer) Lang() Lang { return l.lang }

// Arg is a named argument of T, filling the placeholder {Name}.
type Arg struct {
	Name  string
	Value any
}

// N names an argument of T: l.T("login.wait", i18n.N("seconds", 4)).
func N(name string, value any) Arg { return Arg{Name: name, Value: value} }

// T returns the message key in l's language with its placeholders
// filled: {name} by the Arg of that name, {0}, {1}, … by the other
// arguments in order. Amounts, dates and times are rendered as Amount,
// Date and DateTime render them. A placeholder without an argument stays
// as written; a key in no catalogue renders as ⟦key⟧.
func (l *Localizer) T(key string, args ...any) string {
	msg, ok := l.cat[key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	if len(args) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	named := map[string]any{}
	var positional []any
	for _, a := range args {
		if n, ok := a.(Arg); ok {
			named[n.Name] = n.Value
		} else {
			positional = append(positional, a)
		}
	}
	var b strings.Builder
	for {
		start := strings.IndexByte(msg, '{')
		if start < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := strings.IndexByte(msg[start:], '}')
		if end < 0 {
			b.WriteString(msg)
			return b.String()
		}
		name := msg[start+1 : start+end]
		b.WriteString(msg[:start])
		v, found := named[name]
		if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < len(positional) && isPlaceholder(name) {
			v, found = positional[i], true
		}
		if found {
			b.WriteString(l.value(v))
		} else {
			b.WriteString(msg[start : start+end+1])
		}
		msg = msg[start+end+1:]
	}
}

// isPlaceholder tells whether name may stand between braces: lowercase
// ASCII letters, digits and underscores.
func isPlaceholder(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// placeholders returns the placeholders of msg, for the catalogue tests.
func placeholders(msg string) map[string]bool {
	out := map[string]bool{}
	for {
		start := strings.IndexByte(msg, '{')
		if start < 0 {
			return out
		}
		end := strings.IndexByte(msg[start:], '}')
		if end < 0 {
			return out
		}
		if name := msg[start+1 : start+end]; isPlaceholder(name) {
			out[name] = true
		}
		msg = msg[start+end+1:]
	}
}

func (l *Localizer) value(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case domain.Amount:
		return l.Amount(v)
	case domain.Date:
		return l.Date(v)
	case time.Time:
		return l.DateTime(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}
