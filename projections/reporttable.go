package projections

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kcledger/kcledger/domain"
)

// Languages of a report's headings; figures are vi-VN in both.
const (
	LangVI = "vi"
	LangEN = "en"
)

var regionNames = map[domain.Region][2]string{
	domain.RegionNorth:            {"tỉnh phía Bắc", "northern provinces"},
	domain.RegionCentralHighlands: {"tỉnh miền Trung – Tây Nguyên", "central and Central Highlands provinces"},
	domain.RegionSouth:            {"tỉnh phía Nam", "southern provinces"},
}

func pick(lang string, vi, en string) string {
	if lang == LangEN {
		return en
	}
	return vi
}

// Title says year, scope, scheme, period and unit, as a ministry table's
// title does.
func (r PlanReport) Title(lang string) string {
	l := 0
	if lang == LangEN {
		l = 1
	}
	var scope string
	switch r.Scope.Kind {
	case "province":
		scope = r.Scope.Province.Name
	case "region":
		scope = fmt.Sprintf("%d %s", len(r.Provinces), regionNames[r.Scope.Region][l])
	default:
		scope = pick(lang, "cả nước", "whole country") + fmt.Sprintf(" (%d %s)", len(r.Provinces), pick(lang, "tỉnh, thành phố", "provinces"))
	}
	src := pick(lang, "KCQG và KCĐP", "KCQG and KCĐP")
	if r.Source != "both" {
		src = domain.Source(r.Source).Label()
	}
	period := pick(lang, "cả năm", "whole year")
	if r.EffectiveUntil != nil {
		period = pick(lang, "đến ngày ", "until ") + viDate(*r.EffectiveUntil)
	}
	return fmt.Sprintf("%s %d — %s — %s — %s — %s: %s — %s: %s",
		pick(lang, "Kế hoạch và thực hiện kinh phí khuyến công năm", "Khuyến công plan and execution,"), r.FiscalYear,
		scope, src, period,
		pick(lang, "danh mục tỉnh", "province scheme"), r.Scheme,
		pick(lang, "đơn vị", "unit"), unitLabel(lang, r.Presentation.Unit))
}

func unitLabel(lang string, u Unit) string {
	if lang == LangEN {
		return map[Unit]string{UnitDong: "đồng", UnitTrieu: "million đồng (triệu)", UnitTy: "billion đồng (tỷ)"}[u]
	}
	return u.Label()
}

func viDate(d domain.Date) string { return fmt.Sprintf("%02d/%02d/%d", d.Day, d.Month, d.Year) }

// Rules states the presentation rules in a line.
func (r PlanReport) Rules(lang string) string {
	p := r.Presentation
	rule := map[Rounding][2]string{RoundHalfUp: {"làm tròn", "rounded half up"}, RoundTruncate: {"cắt bớt", "truncated"}}
	den := map[Denominator][2]string{OfOwnPlan: {"kế hoạch của chính dòng", "the row's own plan"}, OfTotalPlan: {"tổng kế hoạch của phạm vi", "the scope's total plan"}}
	l := 0
	if lang == LangEN {
		l = 1
	}
	rules := fmt.Sprintf(pick(lang,
		"Số tiền: %s, %s, %s; tỷ lệ: %s, %s; tỷ lệ so với kế hoạch tính trên %s; tỷ trọng tính trên tổng thực hiện của phạm vi",
		"Amounts: %s, %s, %s; percentages: %s, %s; percentage of plan over %s; share over the scope's execution"),
		unitLabel(lang, p.Unit), decimalsLabel(lang, p.Decimals), rule[p.AmountRounding][l], decimalsLabel(lang, p.PercentDecimals), rule[p.PercentRounding][l], den[p.ShareOf][l])
	if r.Moves() {
		rules += pick(lang,
			"; kế hoạch = dự toán giao + nhận chuyển giao − chuyển giao + năm trước chuyển sang − chuyển sang năm sau; còn lại = kế hoạch − thực hiện − hủy dự toán; kinh phí chuyển nguồn tính vào kế hoạch năm nhận và trừ khỏi kế hoạch năm chuyển",
			"; plan = allocated + transferred in − transferred out + carried in − carried over; available = plan − executed − lapsed; a carry-over counts in the plan of the year it goes to and leaves the plan of the year it comes from")
		if r.Scheme == domain.Scheme34 {
			rules += pick(lang,
				"; chuyển giao giữa tỉnh cũ và tỉnh kế thừa trong cùng một dòng là luân chuyển nội bộ, không tính",
				"; a succession between a former province and its successor within one row is a move inside it, counted in neither column")
		}
	}
	return rules
}

// Moves says whether the report has transfers, carry-overs or lapses to
// show: its table then has their columns.
func (r PlanReport) Moves() bool {
	moved := func(row PlanRow) bool {
		for _, m := range []Money{row.TransferredIn, row.TransferredOut, row.CarriedIn, row.CarriedOut, row.Lapsed} {
			if !m.exact.IsZero() {
				return true
			}
		}
		return false
	}
	if moved(r.Total) {
		return true
	}
	for _, rows := range [][]PlanRow{r.Rows, r.Sources} {
		for _, row := range rows {
			if moved(row) {
				return true
			}
		}
	}
	return false
}

// MoveHeadings are the headings of the columns Table adds when the
// report Moves, in their order.
func MoveHeadings(lang string) []string {
	return []string{pick(lang, "Dự toán giao", "Allocated"),
		pick(lang, "Nhận chuyển giao", "Transferred in"), pick(lang, "Chuyển giao", "Transferred out"),
		pick(lang, "Năm trước chuyển sang", "Carried in"), pick(lang, "Chuyển sang năm sau", "Carried over"),
		pick(lang, "Hủy dự toán", "Lapsed")}
}

// MoveFigures are a row's figures under MoveHeadings.
func (row PlanRow) MoveFigures() []Money {
	return []Money{row.Allocated, row.TransferredIn, row.TransferredOut, row.CarriedIn, row.CarriedOut, row.Lapsed}
}

// decimalsLabel says how many decimals: "2 chữ số thập phân", "1 decimal".
func decimalsLabel(lang string, n int) string {
	if lang != LangEN {
		return fmt.Sprintf("%d chữ số thập phân", n)
	}
	if n == 1 {
		return "1 decimal"
	}
	return fmt.Sprintf("%d decimals", n)
}

// Table renders the report as a person reads it: a header, the rows, the
// subtotals per source (when both sources count) and the total. Figures
// are vi-VN in every language.
func (r PlanReport) Table(lang string) [][]string {
	first := map[Breakdown][2]string{
		ByProvince: {"Tỉnh, thành phố", "Province"}, BySource: {"Nguồn", "Source"},
		ByCategory: {"Nội dung", "Content"}, ByProject: {"Đề án", "Project"},
	}[r.By]
	l := 0
	if lang == LangEN {
		l = 1
	}
	header := []string{pick(lang, "Mã", "Code"), first[l],
		pick(lang, "Kế hoạch", "Plan"), pick(lang, "Thực hiện", "Executed"), pick(lang, "Còn lại", "Available"),
		pick(lang, "Tỷ lệ so với kế hoạch", "% of plan"), pick(lang, "Tỷ trọng", "Share"),
		pick(lang, "Số đề án", "Projects"), pick(lang, "Vốn đối ứng", "Counterpart")}
	moves := r.Moves()
	if moves {
		header = append(header, MoveHeadings(lang)...)
	}
	prev := r.Total.Previous != nil
	if prev {
		y := strconv.Itoa(r.FiscalYear - 1)
		header = append(header, pick(lang, "Kế hoạch "+y, "Plan "+y), pick(lang, "Thực hiện "+y, "Executed "+y),
			pick(lang, "Tăng kế hoạch", "Plan growth"), pick(lang, "Tăng thực hiện", "Execution growth"))
	}
	events := r.Total.Seqs != nil
	if events {
		header = append(header, pick(lang, "Sự kiện (seq)", "Events (seq)"))
	}
	out := [][]string{header}
	line := func(code, label string, row PlanRow) {
		cells := []string{code, label, row.Plan.Text, row.Executed.Text, row.Available.Text,
			row.PercentOfPlan.Text, row.Share.Text, strconv.Itoa(row.Projects), row.Counterpart.Text}
		if moves {
			for _, m := range row.MoveFigures() {
				cells = append(cells, m.Text)
			}
		}
		if prev {
			p := row.Previous
			cells = append(cells, p.Plan.Text, p.Executed.Text, p.PlanGrowth.Text, p.ExecutedGrowth.Text)
		}
		if events {
			seqs := make([]string, len(row.Seqs))
			for i, s := range row.Seqs {
				seqs[i] = strconv.FormatUint(s, 10)
			}
			cells = append(cells, strings.Join(seqs, " "))
		}
		out = append(out, cells)
	}
	for _, row := range r.Rows {
		label := row.Label
		if r.By == ByCategory && row.Key != "" && lang == LangEN {
			label = row.Key
		}
		line(row.Key, label, row)
	}
	if r.Source == "both" && r.By != BySource {
		for _, row := range r.Sources {
			line("", pick(lang, "Cộng ", "Subtotal ")+row.Label, row)
		}
	}
	line("", pick(lang, "Tổng cộng", "Total"), r.Total)
	return out
}
