package chart_test

import (
	"html/template"
	"os"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/chart"
	"github.com/kcledger/kcledger/web/i18n"
)

// A page's handler draws the charts and hands them to its own template as
// template.HTML.
func Example() {
	loc := i18n.New(i18n.Vietnamese)
	pres := projections.DefaultPresentation()
	plan, _ := domain.ParseHumanAmount("10 tỷ")
	executed, _ := domain.ParseHumanAmount("2,5 tỷ")

	bars, err := chart.Bars{
		ID:          "overview-provinces",
		Title:       "Kế hoạch và thực hiện 2024",
		Description: "Thực hiện so với kế hoạch của từng tỉnh.",
		Items:       []chart.Item{{Label: "Hà Nội", Plan: plan, Executed: executed}},
		Amount:      loc.Short,
		Percent: func(executed, plan domain.Amount) string {
			return pres.Percent(executed, plan, "own_plan").Text
		},
	}.HTML()
	if err != nil {
		panic(err)
	}

	var monthly [12]domain.Amount
	monthly[2] = executed
	months, err := chart.Columns{
		ID:          "overview-months",
		Title:       "Thực hiện theo tháng",
		Description: "Thực hiện từng tháng của năm 2024.",
		Months:      [12]string{"T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12"},
		Executed:    monthly,
		Cumulative:  true,
		Plan:        plan,
		PlanLabel:   "Kế hoạch", CumulativeLabel: "Lũy kế",
		Amount: loc.Short,
	}.HTML()
	if err != nil {
		panic(err)
	}

	page := template.Must(template.New("overview").Parse(`<figure>{{.Bars}}</figure><figure>{{.Months}}</figure>`))
	if err := page.Execute(os.Stdout, map[string]template.HTML{"Bars": bars, "Months": months}); err != nil {
		panic(err)
	}
}
