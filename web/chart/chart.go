package chart

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/kcledger/kcledger/domain"
)

// Limits on what comes from outside.
const (
	// MaxItems bounds the rows of one Bars chart: the 63 provinces of the
	// old scheme, with room for projects.
	MaxItems = 1000
	// maxTextRunes bounds every text the chart repeats (names in <title>,
	// formatted figures, the description), so that a hostile name of a
	// megabyte does not become a megabyte of SVG. Longer texts end in "…".
	maxTextRunes = 300
	// maxDescRunes bounds the caller's description.
	maxDescRunes = 2000
	// maxIDBytes bounds the id prefix.
	maxIDBytes = 64
	// coordinateDecimals is how many decimals a coordinate keeps: far below
	// a pixel at any size a page draws the chart.
	coordinateDecimals = 3
	// ratioDecimals is the precision of a ratio before it scales a length.
	ratioDecimals = 12
)

// NotComparable is the percentage shown when the plan is zero (or
// negative): there is no percentage of nothing.
const NotComparable = "—"

// Default colours, as presentation attributes; a stylesheet overrides them
// through the classes. Text colours keep at least 4.5:1 against white (WCAG
// AA), marks at least 3:1 (WCAG 1.4.11), except the plan bar's light fill,
// whose outline carries the contrast. A test checks the ratios.
const (
	colourText     = "#1a1a1a"
	colourFigure   = "#3d3d3d"
	colourPlanFill = "#cfdcea"
	colourPlanLine = "#4f7299"
	colourExec     = "#1f4e79"
	colourOver     = "#a63d00"
	colourNeg      = "#a1262b"
	colourGrid     = "#8c8c8c"
	colourTick     = "#4d4d4d"
	colourCum      = "#a63d00"
	colourMarker   = "#ffffff"
	fontFamily     = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"
)

//go:embed templates/bars.svg templates/columns.svg
var templateFiles embed.FS

// templates are parsed once, with the layout's constants written into
// their text: an action costs far more than a literal (BenchmarkBars63).
var templates = parseTemplates()

func parseTemplates() *template.Template {
	constants := strings.NewReplacer(
		"@font@", fontFamily, "@text@", colourText, "@planfill@", colourPlanFill,
		"@planline@", colourPlanLine, "@marker@", colourMarker, "@grid@", colourGrid,
		"@tick@", colourTick, "@cum@", colourCum,
		"@labelfont@", itoa(barsLabelFont), "@figurefont@", itoa(barsFigureFont),
		"@planheight@", itoa(barsPlanHeight), "@columnsfont@", itoa(colsFont),
	)
	t := template.New("")
	for _, name := range []string{"bars.svg", "columns.svg"} {
		b, err := templateFiles.ReadFile("templates/" + name)
		if err != nil {
			panic(fmt.Sprintf("chart: template %s is not embedded: %v", name, err))
		}
		text := constants.Replace(string(b))
		if strings.Contains(text, "@") {
			panic(fmt.Sprintf("chart: template %s has a constant without a value", name))
		}
		template.Must(t.New(name).Parse(text))
	}
	return t
}

// attrs writes attributes whose names and values this package made from
// numbers and its own class names and colours, as one trusted piece of a
// tag: one template action instead of one per attribute. It panics on any
// other character, which would mean outside text reached it.
func attrs(kv ...string) template.HTMLAttr {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if !safeAttr(kv[i], false) || !safeAttr(kv[i+1], true) {
			panic(fmt.Sprintf("chart: attribute %q=%q is not made of numbers and names", kv[i], kv[i+1]))
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		b.WriteString(kv[i+1])
		b.WriteByte('"')
	}
	// Only names, digits and the characters above, checked.
	return template.HTMLAttr(b.String()) //nolint:gosec // checked by safeAttr
}

// safeAttr reports whether s is made only of letters, digits and '-' (a
// name) or also of spaces, '.', ',' and '#' (a value): nothing that can end
// an attribute or a tag, or start an entity.
func safeAttr(s string, value bool) bool {
	if s == "" {
		return value
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		case value && (c == ' ' || c == '.' || c == ',' || c == '#'):
		default:
			return false
		}
	}
	return true
}

var idPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

func checkID(id string) error {
	if len(id) > maxIDBytes || !idPattern.MatchString(id) {
		return fmt.Errorf("chart: id prefix %q: want a letter then letters, digits, '-' or '_', at most %d bytes", clip(id, 40), maxIDBytes)
	}
	return nil
}

// render executes the named template into w through a buffer, so that a
// failure writes nothing.
func render(w io.Writer, name string, data any) error {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("chart: render %s: %w", name, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("chart: write %s: %w", name, err)
	}
	return nil
}

func renderHTML(name string, data any) (template.HTML, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("chart: render %s: %w", name, err)
	}
	// The template escaped every text it put in.
	return template.HTML(buf.String()), nil //nolint:gosec // escaped by html/template
}

// clean makes outside text safe to put in XML as text: invalid UTF-8 and
// characters XML 1.0 forbids (controls, U+FFFE, U+FFFF) become U+FFFD,
// runs of white space (newlines included) become one space, and the text is
// cut to max runes with "…". Escaping is the template's job.
func clean(s string, max int) string {
	var b strings.Builder
	n := 0
	space := false
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				r = unicode.ReplacementChar
			}
		}
		if unicode.IsSpace(r) {
			space = n > 0
			continue
		}
		if !xmlChar(r) || unicode.Is(unicode.Cc, r) {
			r = unicode.ReplacementChar
		}
		if space {
			if n+1 >= max {
				b.WriteString("…")
				return b.String()
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		if n >= max {
			b.WriteString("…")
			return b.String()
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// xmlChar reports whether r is a Char of XML 1.0.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// clip cuts s to at most max runes for error messages.
func clip(s string, max int) string { return clean(s, max) }

// truncate shortens cleaned text to at most max runes, ending in "…", and
// reports whether it cut. It does not cut a base letter from the marks that
// follow it (text in decomposed form), so no tone mark lands on the ellipsis.
func truncate(s string, max int) (string, bool) {
	if max < 2 {
		max = 2
	}
	if utf8.RuneCountInString(s) <= max {
		return s, false
	}
	runes := []rune(s)
	cut := max - 1
	for cut > 1 && unicode.Is(unicode.Mn, runes[cut]) {
		cut--
	}
	return strings.TrimRightFunc(string(runes[:cut]), unicode.IsSpace) + "…", true
}

// textWidth estimates the width of text set in a sans-serif font of the
// given size. Without a browser there is no measuring, so it errs wide:
// charEm a character, where Vietnamese names and figures in system-ui
// measure about 0.5em in Chromium.
func textWidth(s string, fontSize int) float64 {
	return float64(utf8.RuneCountInString(s)) * charEm * float64(fontSize)
}

// charEm is the width textWidth assumes for a character, in em.
const charEm = 0.56

// runesIn is how many characters fit in width at fontSize, by textWidth's
// estimate.
func runesIn(width float64, fontSize int) int {
	return int(width / (charEm * float64(fontSize)))
}

// ratio returns num/den as a decimal, clamped to [0, max]; a non-positive
// denominator or numerator gives zero.
func ratio(num, den decimal.Decimal, max decimal.Decimal) decimal.Decimal {
	if den.Sign() <= 0 || num.Sign() <= 0 {
		return decimal.Zero
	}
	r := num.DivRound(den, ratioDecimals)
	if r.Cmp(max) > 0 {
		return max
	}
	return r
}

// coord renders a length or position in user units: at most
// coordinateDecimals decimals, trailing zeros trimmed ("100", "12.5").
func coord(d decimal.Decimal) string {
	s := d.StringFixed(coordinateDecimals)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

func dec(n int) decimal.Decimal { return decimal.NewFromInt(int64(n)) }

// niceStep returns the smallest 1, 2 or 5 times a power of ten, in whole
// đồng, that is at least span/parts: the gap between gridlines.
func niceStep(span domain.Amount, parts int) decimal.Decimal {
	raw := span.Decimal().DivRound(dec(parts), 0)
	if raw.Cmp(decimal.NewFromInt(1)) < 0 {
		return decimal.NewFromInt(1)
	}
	// 10^k with k the number of digits of raw minus one.
	k := len(raw.BigInt().String()) - 1
	p := decimal.NewFromBigInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil), 0)
	for _, m := range []int64{1, 2, 5, 10} {
		if s := p.Mul(decimal.NewFromInt(m)); s.Cmp(raw) >= 0 {
			return s
		}
	}
	panic("chart: no step of 10^(k+1) covers a number of k+1 digits")
}

// amountOf turns a whole decimal back into an Amount for the formatter.
func amountOf(d decimal.Decimal) domain.Amount {
	a, err := domain.ParseTotal(d.Round(0).BigInt().String())
	if err != nil {
		panic(fmt.Sprintf("chart: tick %s has no machine form: %v", d, err))
	}
	return a
}
