package domain

import (
	"embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Reference data: calendar dates, provinces and their regions, fund sources
// and content categories. The province tables are the CSV files under
// reference/, embedded at build time so that a running ledger can never
// disagree with the code it was built from.

// ---------------------------------------------------------------- dates

// Date is a calendar date without time zone (effective dates of decisions and vouchers).
// The zero Date means "no date"; it is not a valid date and does not marshal.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// Limits on dates read from outside.
const (
	minDateYear = 1900
	maxDateYear = 2200
	// dateLayoutHint is quoted in error messages.
	dateLayoutHint = `YYYY-MM-DD, e.g. "2025-07-01"`
	// maxQuotedInputBytes bounds how much of a rejected input an error
	// message repeats, so that a huge bad value cannot make a huge error.
	maxQuotedInputBytes = 64
)

// ParseDate parses a strict "YYYY-MM-DD" date. The date must exist in the
// calendar (2025-02-30 does not) and its year must lie in 1900..2200. Errors
// have code CodeInvalidDate and an empty Field: callers that know the field
// name set it.
func ParseDate(s string) (Date, error) {
	if len(s) != len("2006-01-02") || s[4] != '-' || s[7] != '-' {
		return Date{}, Errorf(CodeInvalidDate, "", "date %s is not in the format %s", quoteBounded(s), dateLayoutHint)
	}
	y, ok1 := atoiDigits(s[0:4])
	m, ok2 := atoiDigits(s[5:7])
	d, ok3 := atoiDigits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, Errorf(CodeInvalidDate, "", "date %s is not in the format %s", quoteBounded(s), dateLayoutHint)
	}
	if y < minDateYear || y > maxDateYear {
		return Date{}, Errorf(CodeInvalidDate, "", "date %s: the year must be between %d and %d (format %s)", quoteBounded(s), minDateYear, maxDateYear, dateLayoutHint)
	}
	date := Date{Year: y, Month: time.Month(m), Day: d}
	if !date.valid() {
		return Date{}, Errorf(CodeInvalidDate, "", "date %s is not a calendar date (format %s)", quoteBounded(s), dateLayoutHint)
	}
	return date, nil
}

// atoiDigits converts a string of ASCII digits only (no sign, no spaces).
func atoiDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// valid reports whether d is a real calendar date within the accepted years.
func (d Date) valid() bool {
	if d.Year < minDateYear || d.Year > maxDateYear || d.Month < time.January || d.Month > time.December || d.Day < 1 {
		return false
	}
	return DateOf(d.time()) == d
}

// time returns midnight UTC of d; time.Date normalises out-of-range fields.
func (d Date) time() time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// String formats d as "YYYY-MM-DD". The format is part of the event hash
// recipe: do not change it.
func (d Date) String() string {
	if d.Year < 0 || d.Year > 9999 || d.Month < 0 || d.Month > 99 || d.Day < 0 || d.Day > 99 {
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	}
	// On every event's hash and JSON: without fmt.
	b := [10]byte{
		byte('0' + d.Year/1000), byte('0' + d.Year/100%10), byte('0' + d.Year/10%10), byte('0' + d.Year%10), '-',
		byte('0' + int(d.Month)/10), byte('0' + int(d.Month)%10), '-',
		byte('0' + d.Day/10), byte('0' + d.Day%10),
	}
	return string(b[:])
}

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int {
	switch {
	case d.Year != o.Year:
		return cmpInt(d.Year, o.Year)
	case d.Month != o.Month:
		return cmpInt(int(d.Month), int(o.Month))
	default:
		return cmpInt(d.Day, o.Day)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Before reports whether d is strictly before o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is strictly after o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// IsZero reports whether d is the zero Date (no date). It also lets
// encoding/json's omitzero option omit absent dates.
func (d Date) IsZero() bool { return d == Date{} }

// AddDays returns d moved by n days (n may be negative), across month and
// year ends.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 0, 0, 0, 0, time.UTC))
}

// MarshalJSON encodes d as a "YYYY-MM-DD" string. An invalid or zero Date
// is an error (code CodeInvalidDate) rather than a made-up date; use the
// omitzero option for optional dates.
func (d Date) MarshalJSON() ([]byte, error) {
	if !d.valid() {
		return nil, Errorf(CodeInvalidDate, "", "cannot encode date %s: not a calendar date between %d and %d", d.String(), minDateYear, maxDateYear)
	}
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON decodes a "YYYY-MM-DD" string with ParseDate's rules. As
// encoding/json's convention asks, null is a no-op: callers check IsZero for
// required dates. Errors are *Error with code CodeInvalidDate.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) == 0 || b[0] != '"' {
		return Errorf(CodeInvalidDate, "", "date must be a JSON string in the format %s, not %s", dateLayoutHint, quoteBounded(string(b)))
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(CodeInvalidDate, "", "date must be a JSON string in the format %s", dateLayoutHint)
	}
	parsed, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}

// quoteBounded quotes s for an error message, cutting it (on a rune
// boundary) after maxQuotedInputBytes.
func quoteBounded(s string) string {
	if len(s) <= maxQuotedInputBytes {
		return fmt.Sprintf("%q", s)
	}
	cut := maxQuotedInputBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", s[:cut])
}

// ------------------------------------------------------------ provinces

// Region is a khuyến công regional conference group. Its values are the
// region column of the reference CSVs and are persisted: append-only.
type Region string

// The three regional conference groups.
const (
	RegionNorth            Region = "north"
	RegionCentralHighlands Region = "central_highlands"
	RegionSouth            Region = "south"
)

// Regions lists the regions in conference order (north to south).
func Regions() []Region {
	return []Region{RegionNorth, RegionCentralHighlands, RegionSouth}
}

// Scheme identifies a set of province codes. Its values are persisted.
type Scheme string

// The province schemes.
const (
	// Scheme63 is the 63 provinces in force until 30 June 2025.
	Scheme63 Scheme = "63"
	// Scheme34 is the 34 provinces in force from 1 July 2025.
	Scheme34 Scheme = "34"
)

// Scheme34Start is the first day of the 34-province scheme (Resolution
// 202/2025/QH15; codes by Decision 19/2025/QĐ-TTg).
var Scheme34Start = Date{2025, time.July, 1}

// Province is one province of one scheme. The same code can name different
// provinces in the two schemes ("15" is Yên Bái in 63, Lào Cai in 34), so a
// code means nothing without its scheme.
type Province struct {
	Code      string `json:"code"`
	Name      string `json:"name"`       // Vietnamese name, e.g. "Thanh Hóa"
	NameASCII string `json:"name_ascii"` // without diacritics, e.g. "Thanh Hoa"
	Region    Region `json:"region"`
	Scheme    Scheme `json:"scheme"`
}

// SchemeOn returns the scheme in force on d: 63 before 2025-07-01, 34 from
// then on.
func SchemeOn(d Date) Scheme {
	if d.Before(Scheme34Start) {
		return Scheme63
	}
	return Scheme34
}

// Provinces returns the provinces of scheme s in CSV order, or nil for an
// unknown scheme. The slice is the caller's own.
func Provinces(s Scheme) []Province { return slices.Clone(reference.provinces[s]) }

// LookupProvince returns the province with code in scheme s.
func LookupProvince(s Scheme, code string) (Province, bool) {
	p, ok := reference.byCode[s][code]
	return p, ok
}

// ProvinceOn validates a movement's province: the code must be two ASCII
// digits and exist in the scheme in force on d, the movement's (already
// validated) effective date. An empty code is CodeMissingField; a code
// unknown in every scheme is CodeUnknownProvince; a code that exists only in
// the other scheme is CodeProvinceNotInForce, with a message naming the
// province, the scheme in force on d and, for an old code, its successor.
// The field is "province".
func ProvinceOn(code string, d Date) (Province, error) { return reference.provinceOn(code, d) }

// Successor maps an old (63-scheme) code to the 34-scheme province it
// became part of (from provinces-63-to-34.csv).
func Successor(oldCode string) (Province, bool) {
	newCode, ok := reference.successor[oldCode]
	if !ok {
		return Province{}, false
	}
	return LookupProvince(Scheme34, newCode)
}

// ProvinceName returns a display name for a code used in fiscal year fy: the
// province in the newest scheme in force during that year that contains the
// code (so for 2025, "15" is Lào Cai (34) and "10" is Lào Cai (63)). ok is
// false if no scheme in force during fy has the code.
func ProvinceName(code string, fy int) (Province, bool) {
	if d := (Date{fy, time.December, 31}); !d.Before(Scheme34Start) {
		if p, ok := LookupProvince(Scheme34, code); ok {
			return p, true
		}
	}
	if d := (Date{fy, time.January, 1}); d.Before(Scheme34Start) {
		if p, ok := LookupProvince(Scheme63, code); ok {
			return p, true
		}
	}
	return Province{}, false
}

// LineCode returns the province a budget line of fiscal year fy under
// code belongs to: the code must have been in force on a day a movement of
// that line may be dated, from 1 January of the year before (allocations
// are often assigned in advance) to 31 December of fy. So a 2026 line
// allocated in the first half of 2025 under a 63-province code is a line
// of that code, which its refunds, lapse and succession keep. The newest
// scheme wins, as in ProvinceName. ok is false for a code no such day had.
func LineCode(code string, fy int) (Province, bool) {
	if d := (Date{fy, time.December, 31}); !d.Before(Scheme34Start) {
		if p, ok := LookupProvince(Scheme34, code); ok {
			return p, true
		}
	}
	if d := (Date{fy - 1, time.January, 1}); d.Before(Scheme34Start) {
		if p, ok := LookupProvince(Scheme63, code); ok {
			return p, true
		}
	}
	return Province{}, false
}

// schemeCodes names a scheme's codes in messages.
func schemeCodes(s Scheme) string { return "the " + string(s) + "-province codes" }

func (r *referenceData) provinceOn(code string, d Date) (Province, error) {
	const field = "province"
	if code == "" {
		return Province{}, Errorf(CodeMissingField, field, `province is required: a two-digit code such as "01" (Hà Nội)`)
	}
	if !isTwoDigits(code) {
		return Province{}, Errorf(CodeUnknownProvince, field, `province %s is not a province code: codes are two digits, such as "01" (Hà Nội)`, quoteBounded(code))
	}
	inForce := SchemeOn(d)
	if p, ok := r.byCode[inForce][code]; ok {
		return p, nil
	}
	switch inForce {
	case Scheme34:
		if p, ok := r.byCode[Scheme63][code]; ok {
			next := r.byCode[Scheme34][r.successor[code]]
			return Province{}, Errorf(CodeProvinceNotInForce, field,
				"province %q (%s) was merged into %q (%s) on %s; movements dated %s use %s",
				p.Code, p.Name, next.Code, next.Name, Scheme34Start, d, schemeCodes(Scheme34))
		}
	case Scheme63:
		if p, ok := r.byCode[Scheme34][code]; ok {
			return Province{}, Errorf(CodeProvinceNotInForce, field,
				"province %q (%s) exists only from %s (%s); movements dated %s use %s",
				p.Code, p.Name, Scheme34Start, schemeCodes(Scheme34), d, schemeCodes(Scheme63))
		}
	}
	return Province{}, Errorf(CodeUnknownProvince, field, "province %q is in neither the 63-province nor the 34-province codes", code)
}

func isTwoDigits(s string) bool {
	return len(s) == 2 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9'
}

// ------------------------------------------------- embedded province data

//go:embed reference/*.csv
var referenceFS embed.FS

// Names of the embedded files.
const (
	provinces63File = "reference/provinces-63.csv"
	provinces34File = "reference/provinces-34.csv"
	successorsFile  = "reference/provinces-63-to-34.csv"
)

// referenceData is the parsed province tables.
type referenceData struct {
	provinces map[Scheme][]Province
	byCode    map[Scheme]map[string]Province
	successor map[string]string // old code → new code
}

// reference is parsed once at init. A malformed embedded file is a build
// defect, so it panics; a test proves the files parse.
var reference = mustLoadReference(referenceFS)

func mustLoadReference(fsys fs.FS) *referenceData {
	r, err := loadReference(fsys)
	if err != nil {
		panic("domain: embedded reference data: " + err.Error())
	}
	return r
}

// loadReference parses and cross-checks the three province files.
func loadReference(fsys fs.FS) (*referenceData, error) {
	r := &referenceData{
		provinces: map[Scheme][]Province{},
		byCode:    map[Scheme]map[string]Province{},
		successor: map[string]string{},
	}
	for _, f := range []struct {
		name   string
		scheme Scheme
	}{{provinces63File, Scheme63}, {provinces34File, Scheme34}} {
		rows, err := readCSV(fsys, f.name, []string{"code", "name_vi", "name_ascii", "region"})
		if err != nil {
			return nil, err
		}
		byCode := map[string]Province{}
		for i, row := range rows {
			p := Province{Code: row[0], Name: row[1], NameASCII: row[2], Region: Region(row[3]), Scheme: f.scheme}
			if err := checkProvince(p); err != nil {
				return nil, fmt.Errorf("%s row %d: %w", f.name, i+2, err)
			}
			if _, dup := byCode[p.Code]; dup {
				return nil, fmt.Errorf("%s row %d: duplicate code %q", f.name, i+2, p.Code)
			}
			byCode[p.Code] = p
			r.provinces[f.scheme] = append(r.provinces[f.scheme], p)
		}
		r.byCode[f.scheme] = byCode
	}

	rows, err := readCSV(fsys, successorsFile, []string{"old_code", "old_name_vi", "new_code", "new_name_vi"})
	if err != nil {
		return nil, err
	}
	for i, row := range rows {
		oldCode, oldName, newCode, newName := row[0], row[1], row[2], row[3]
		old, ok := r.byCode[Scheme63][oldCode]
		if !ok || old.Name != oldName {
			return nil, fmt.Errorf("%s row %d: old province %q (%s) is not in %s", successorsFile, i+2, oldCode, oldName, provinces63File)
		}
		next, ok := r.byCode[Scheme34][newCode]
		if !ok || next.Name != newName {
			return nil, fmt.Errorf("%s row %d: new province %q (%s) is not in %s", successorsFile, i+2, newCode, newName, provinces34File)
		}
		if _, dup := r.successor[oldCode]; dup {
			return nil, fmt.Errorf("%s row %d: old code %q mapped twice", successorsFile, i+2, oldCode)
		}
		r.successor[oldCode] = newCode
	}
	for _, p := range r.provinces[Scheme63] {
		if _, ok := r.successor[p.Code]; !ok {
			return nil, fmt.Errorf("%s: old province %q (%s) has no successor", successorsFile, p.Code, p.Name)
		}
	}
	isSuccessor := map[string]bool{}
	for _, newCode := range r.successor {
		isSuccessor[newCode] = true
	}
	for _, p := range r.provinces[Scheme34] {
		if !isSuccessor[p.Code] {
			return nil, fmt.Errorf("%s: new province %q (%s) succeeds no old province", successorsFile, p.Code, p.Name)
		}
	}
	return r, nil
}

func checkProvince(p Province) error {
	switch {
	case !isTwoDigits(p.Code):
		return fmt.Errorf("code %q is not two digits", p.Code)
	case p.Name == "" || !utf8.ValidString(p.Name):
		return fmt.Errorf("code %q: empty or invalid name", p.Code)
	case p.NameASCII == "" || !isPrintableASCII(p.NameASCII):
		return fmt.Errorf("code %q: ASCII name %q is empty or not ASCII", p.Code, p.NameASCII)
	case !slices.Contains(Regions(), p.Region):
		return fmt.Errorf("code %q: unknown region %q", p.Code, p.Region)
	}
	return nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// readCSV reads a CSV file whose first row must be exactly header and
// returns the other rows.
func readCSV(fsys fs.FS, name string, header []string) ([][]string, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = len(header)
	got, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	if !slices.Equal(got, header) {
		return nil, fmt.Errorf("%s: header is %q, want %q", name, got, header)
	}
	var rows [][]string
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// ------------------------------------------------------------- sources

// Source is where a budget line's money comes from. Values are persisted:
// append-only.
type Source string

// The two fund sources.
const (
	// SourceNational is KCQG (khuyến công quốc gia): central budget, managed
	// by the Ministry of Industry and Trade.
	SourceNational Source = "national"
	// SourceLocal is KCĐP (khuyến công địa phương): a province's own budget.
	SourceLocal Source = "local"
)

// Sources lists the valid sources.
func Sources() []Source { return []Source{SourceNational, SourceLocal} }

// ParseSource accepts the persisted values exactly ("national", "local") and,
// as aliases people type, "kcqg" and "kcdp"/"kcđp" in any case. Anything else
// is CodeUnknownSource on field "source".
func ParseSource(s string) (Source, error) {
	switch {
	case s == string(SourceNational), strings.EqualFold(s, "kcqg"):
		return SourceNational, nil
	case s == string(SourceLocal), strings.EqualFold(s, "kcdp"), strings.EqualFold(s, "kcđp"):
		return SourceLocal, nil
	}
	return "", Errorf(CodeUnknownSource, "source", `source %s is not valid: use "national" (KCQG) or "local" (KCĐP)`, quoteBounded(s))
}

// Label is the abbreviation officials use: "KCQG" or "KCĐP".
func (s Source) Label() string {
	switch s {
	case SourceNational:
		return "KCQG"
	case SourceLocal:
		return "KCĐP"
	}
	return string(s)
}

// ----------------------------------------------------------- categories

// Category is a content category of khuyến công work. Values are persisted:
// append-only, never renamed or reused.
type Category string

// The content categories.
const (
	CategoryTraining                    Category = "training"
	CategoryDemonstrationModel          Category = "demonstration_model"
	CategoryMachineryTechnologyTransfer Category = "machinery_technology_transfer"
	CategoryProductDevelopment          Category = "product_development"
	CategoryTradePromotion              Category = "trade_promotion"
	CategoryConsulting                  Category = "consulting"
	CategoryInformation                 Category = "information"
	CategoryIndustrialCluster           Category = "industrial_cluster"
	CategoryDigitalGreenTransformation  Category = "digital_green_transformation"
	CategoryProgrammeManagement         Category = "programme_management"
)

// categoryLabels holds every category, in display order, with its label.
var categoryLabels = []struct {
	category Category
	label    string
}{
	{CategoryTraining, "Đào tạo nghề, truyền nghề"},
	{CategoryDemonstrationModel, "Xây dựng mô hình trình diễn"},
	{CategoryMachineryTechnologyTransfer, "Hỗ trợ máy móc thiết bị, chuyển giao công nghệ"},
	{CategoryProductDevelopment, "Phát triển sản phẩm CNNT tiêu biểu"},
	{CategoryTradePromotion, "Xúc tiến thương mại, hội chợ triển lãm"},
	{CategoryConsulting, "Tư vấn"},
	{CategoryInformation, "Thông tin tuyên truyền"},
	{CategoryIndustrialCluster, "Hạ tầng cụm công nghiệp"},
	{CategoryDigitalGreenTransformation, "Chuyển đổi số, chuyển đổi xanh"},
	{CategoryProgrammeManagement, "Quản lý chương trình"},
}

// Categories lists every category in display order.
func Categories() []Category {
	cs := make([]Category, len(categoryLabels))
	for i, c := range categoryLabels {
		cs[i] = c.category
	}
	return cs
}

// ParseCategory accepts a persisted category value exactly. The empty string
// is not accepted here: callers treat an empty category as absent before
// calling. Anything else is CodeUnknownCategory on field "category".
func ParseCategory(s string) (Category, error) {
	for _, c := range categoryLabels {
		if string(c.category) == s {
			return c.category, nil
		}
	}
	valid := make([]string, len(categoryLabels))
	for i, c := range categoryLabels {
		valid[i] = string(c.category)
	}
	return "", Errorf(CodeUnknownCategory, "category", "category %s is not valid: use one of %s", quoteBounded(s), strings.Join(valid, ", "))
}

// Label is the category's Vietnamese name, e.g. "Tư vấn" for consulting.
func (c Category) Label() string {
	for _, l := range categoryLabels {
		if l.category == c {
			return l.label
		}
	}
	return string(c)
}
