package projections_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
)

const tr = 1_000_000 // a triệu

// northern2022 is a realistic year of four northern provinces, with
// movements in the south and in 2021 and 2023 that the northern 2022
// table must not count.
func northern2022(t *testing.T) *ledger {
	nat, loc := domain.SourceNational, domain.SourceLocal
	l := newLedger()
	l.add(t,
		// Hà Nội, KCQG: two projects assigned in late December 2021, one
		// cut by 300 triệu; a refund; the last payment in the settlement
		// period, January 2023.
		movement{kind: domain.Allocate, year: 2022, province: "01", source: nat, project: "DA-HN1", category: domain.CategoryTraining, amount: 1200 * tr, date: day(2021, time.December, 28)},
		movement{kind: domain.Allocate, year: 2022, province: "01", source: nat, project: "DA-HN2", category: domain.CategoryMachineryTechnologyTransfer, amount: 2500 * tr, date: day(2021, time.December, 28)},
		movement{kind: domain.Adjust, year: 2022, province: "01", source: nat, project: "DA-HN2", amount: -300 * tr, date: day(2022, time.June, 15)},
		movement{kind: domain.Disburse, year: 2022, province: "01", source: nat, project: "DA-HN1", amount: 1150 * tr, date: day(2022, time.October, 10)},
		movement{kind: domain.Disburse, year: 2022, province: "01", source: nat, project: "DA-HN2", amount: 2000 * tr, date: day(2022, time.November, 20)},
		movement{kind: domain.Refund, year: 2022, province: "01", source: nat, project: "DA-HN1", amount: 50 * tr, date: day(2022, time.December, 20)},
		movement{kind: domain.Disburse, year: 2022, province: "01", source: nat, project: "DA-HN2", amount: 150 * tr, date: day(2023, time.January, 20)},
		// Hà Nội, KCĐP.
		movement{kind: domain.Allocate, year: 2022, province: "01", source: loc, project: "DA-HN3", category: domain.CategoryTradePromotion, amount: 800 * tr, date: day(2022, time.January, 15)},
		movement{kind: domain.Disburse, year: 2022, province: "01", source: loc, project: "DA-HN3", amount: 640 * tr, date: day(2022, time.September, 1)},
		// Quảng Ninh: a KCQG model, and KCĐP management money raised.
		movement{kind: domain.Allocate, year: 2022, province: "22", source: nat, project: "DA-QN1", category: domain.CategoryDemonstrationModel, amount: 1500 * tr, date: day(2022, time.February, 10)},
		movement{kind: domain.Disburse, year: 2022, province: "22", source: nat, project: "DA-QN1", amount: 1500 * tr, date: day(2022, time.December, 15)},
		movement{kind: domain.Allocate, year: 2022, province: "22", source: loc, category: domain.CategoryProgrammeManagement, amount: 300 * tr, date: day(2022, time.January, 20)},
		movement{kind: domain.Adjust, year: 2022, province: "22", source: loc, category: domain.CategoryProgrammeManagement, amount: 200 * tr, date: day(2022, time.July, 1)},
		movement{kind: domain.Disburse, year: 2022, province: "22", source: loc, category: domain.CategoryProgrammeManagement, amount: 250 * tr, date: day(2022, time.December, 30)},
		// Thanh Hóa: an industrial cluster paid on the last day of the
		// settlement period, part refunded after an audit in March.
		movement{kind: domain.Allocate, year: 2022, province: "38", source: loc, project: "DA-TH1", category: domain.CategoryIndustrialCluster, amount: 4000 * tr, date: day(2022, time.March, 1)},
		movement{kind: domain.Disburse, year: 2022, province: "38", source: loc, project: "DA-TH1", amount: 3600 * tr, date: day(2023, time.January, 31)},
		movement{kind: domain.Refund, year: 2022, province: "38", source: loc, project: "DA-TH1", amount: 100 * tr, date: day(2023, time.March, 15)},
		// Vĩnh Phúc: a project stopped, its plan taken back.
		movement{kind: domain.Allocate, year: 2022, province: "26", source: nat, project: "DA-VP1", category: domain.CategoryConsulting, amount: 700 * tr, date: day(2022, time.April, 1)},
		movement{kind: domain.Adjust, year: 2022, province: "26", source: nat, project: "DA-VP1", amount: -700 * tr, date: day(2022, time.August, 1)},
		// Not counted: the south, 2021 (but the comparison), 2023.
		movement{kind: domain.Allocate, year: 2022, province: "79", source: nat, project: "DA-HCM", amount: 5000 * tr},
		movement{kind: domain.Disburse, year: 2022, province: "79", source: nat, project: "DA-HCM", amount: 1000 * tr},
		movement{kind: domain.Allocate, year: 2021, province: "01", source: nat, amount: 900 * tr},
		movement{kind: domain.Disburse, year: 2021, province: "01", source: nat, amount: 900 * tr},
		movement{kind: domain.Allocate, year: 2023, province: "01", source: loc, amount: 600 * tr, date: day(2023, time.January, 5)},
	)
	return l
}

func TestNorthern2022Table(t *testing.T) {
	l := northern2022(t)
	p := l.plans(t, projections.Cut{})
	rep := report(t, p, projections.PlanQuery{FiscalYear: 2022, Region: domain.RegionNorth})
	assert.Equal(t, "Kế hoạch và thực hiện kinh phí khuyến công năm 2022 — 28 tỉnh phía Bắc — KCQG và KCĐP — cả năm — danh mục tỉnh: 63 — đơn vị: triệu đồng", rep.Title(projections.LangVI))
	assert.Equal(t, "Số tiền: triệu đồng, 0 chữ số thập phân, làm tròn; tỷ lệ: 2 chữ số thập phân, làm tròn; tỷ lệ so với kế hoạch tính trên kế hoạch của chính dòng; tỷ trọng tính trên tổng thực hiện của phạm vi", rep.Rules(projections.LangVI))
	require.Len(t, rep.Provinces, 28)
	assert.Equal(t, [][]string{
		{"Mã", "Tỉnh, thành phố", "Kế hoạch", "Thực hiện", "Còn lại", "Tỷ lệ so với kế hoạch", "Tỷ trọng", "Số đề án", "Vốn đối ứng"},
		{"01", "Hà Nội", "4.200", "3.890", "310", "92,62%", "42,56%", "3", "0"},
		{"22", "Quảng Ninh", "2.000", "1.750", "250", "87,50%", "19,15%", "1", "0"},
		{"26", "Vĩnh Phúc", "0", "0", "0", "—", "0,00%", "0", "0"},
		{"38", "Thanh Hóa", "4.000", "3.500", "500", "87,50%", "38,29%", "1", "0"},
		{"", "Cộng KCQG", "4.900", "4.750", "150", "96,94%", "51,97%", "3", "0"},
		{"", "Cộng KCĐP", "5.300", "4.390", "910", "82,83%", "48,03%", "2", "0"},
		{"", "Tổng cộng", "10.200", "9.140", "1.060", "89,61%", "100,00%", "5", "0"},
	}, rep.Table(projections.LangVI))
	assert.Equal(t, 19, rep.Total.Events)
	assert.Equal(t, "10200000000", rep.Total.Plan.Dong)
	assert.Equal(t, "9140000000", rep.Total.Executed.Dong)

	// By content: the stopped consulting project has no plan left.
	cats := report(t, p, projections.PlanQuery{FiscalYear: 2022, Region: domain.RegionNorth, By: projections.ByCategory})
	assert.Equal(t, [][]string{
		{"Mã", "Nội dung", "Kế hoạch", "Thực hiện", "Còn lại", "Tỷ lệ so với kế hoạch", "Tỷ trọng", "Số đề án", "Vốn đối ứng"},
		{"training", "Đào tạo nghề, truyền nghề", "1.200", "1.100", "100", "91,67%", "12,04%", "1", "0"},
		{"demonstration_model", "Xây dựng mô hình trình diễn", "1.500", "1.500", "0", "100,00%", "16,41%", "1", "0"},
		{"machinery_technology_transfer", "Hỗ trợ máy móc thiết bị, chuyển giao công nghệ", "2.200", "2.150", "50", "97,73%", "23,52%", "1", "0"},
		{"trade_promotion", "Xúc tiến thương mại, hội chợ triển lãm", "800", "640", "160", "80,00%", "7,00%", "1", "0"},
		{"consulting", "Tư vấn", "0", "0", "0", "—", "0,00%", "0", "0"},
		{"industrial_cluster", "Hạ tầng cụm công nghiệp", "4.000", "3.500", "500", "87,50%", "38,29%", "1", "0"},
		{"programme_management", "Quản lý chương trình", "500", "250", "250", "50,00%", "2,74%", "0", "0"},
		{"", "Cộng KCQG", "4.900", "4.750", "150", "96,94%", "51,97%", "3", "0"},
		{"", "Cộng KCĐP", "5.300", "4.390", "910", "82,83%", "48,03%", "2", "0"},
		{"", "Tổng cộng", "10.200", "9.140", "1.060", "89,61%", "100,00%", "5", "0"},
	}, cats.Table(projections.LangVI))

	// The first nine months against 2021's, in tỷ with one decimal.
	pr := projections.DefaultPresentation()
	pr.Unit, pr.Decimals = projections.UnitTy, 1
	nine := report(t, p, projections.PlanQuery{FiscalYear: 2022, Region: domain.RegionNorth, EffectiveUntil: day(2022, time.September, 30), ComparePrevious: true, Presentation: pr})
	table := nine.Table(projections.LangEN)
	assert.Equal(t, []string{"Code", "Province", "Plan", "Executed", "Available", "% of plan", "Share", "Projects", "Counterpart", "Plan 2021", "Executed 2021", "Plan growth", "Execution growth"}, table[0])
	assert.Equal(t, []string{"01", "Hà Nội", "4,2", "0,6", "3,6", "15,24%", "100,00%", "3", "0,0", "0,9", "0,9", "366,67%", "-28,89%"}, table[1])
	assert.Equal(t, []string{"22", "Quảng Ninh", "2,0", "0,0", "2,0", "0,00%", "0,00%", "1", "0,0", "0,0", "0,0", "—", "—"}, table[2])
	assert.Equal(t, []string{"", "Total", "10,2", "0,6", "9,6", "6,27%", "100,00%", "5", "0,0", "0,9", "0,9", "1.033,33%", "-28,89%"}, table[len(table)-1])
	assert.Contains(t, nine.Title(projections.LangEN), "until 30/09/2022")

	// Until the end of the settlement period: Thanh Hóa's refund of
	// March 2023 is not yet in.
	settled := report(t, p, projections.PlanQuery{FiscalYear: 2022, Region: domain.RegionNorth, EffectiveUntil: day(2023, time.January, 31)})
	assert.Equal(t, "9240000000", settled.Total.Executed.Dong)
	// And what the ledger knew before the refund was recorded.
	known := l.plans(t, projections.Cut{UntilSeq: l.recs[15].Seq})
	before := report(t, known, projections.PlanQuery{FiscalYear: 2022, Region: domain.RegionNorth})
	assert.Equal(t, "9240000000", before.Total.Executed.Dong)
}
