package chart_test

import (
	"bytes"
	"html/template"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/chart"
)

// Two charts of each kind on one page, from their HTML, inside a page's own
// html/template: every id is unique, and every aria-labelledby names ids
// that exist on the page.
func TestChartsShareAPage(t *testing.T) {
	var parts []template.HTML
	for _, id := range []string{"plan-region", "plan-province"} {
		b := bars(t, chart.Item{Label: "Hà Nội", Plan: amount(t, "1 tỷ")})
		b.ID = id
		h, err := b.HTML()
		require.NoError(t, err)
		parts = append(parts, h)
	}
	for _, id := range []string{"months-kcqg", "months-kcdp"} {
		c := columns([12]domain.Amount{})
		c.ID = id
		h, err := c.HTML()
		require.NoError(t, err)
		parts = append(parts, h)
	}
	page := template.Must(template.New("page").Parse(`<div>{{range .}}<figure>{{.}}</figure>{{end}}</div>`))
	var buf bytes.Buffer
	require.NoError(t, page.Execute(&buf, parts))
	root := parse(t, buf.Bytes())

	ids := map[string]int{}
	var walk func(n *node)
	walk = func(n *node) {
		if id, ok := n.Attr["id"]; ok {
			ids[id]++
		}
		for _, k := range n.Kids {
			walk(k)
		}
	}
	walk(root)
	for id, n := range ids {
		assert.Equal(t, 1, n, "id %q", id)
	}
	svgs := root.all("svg")
	require.Len(t, svgs, 4)
	for _, svg := range svgs {
		assert.Equal(t, "img", svg.Attr["role"])
		refs := strings.Fields(svg.Attr["aria-labelledby"])
		require.Len(t, refs, 2)
		// The ids are the svg's own <title> and <desc>.
		assert.Equal(t, refs[0], svg.Kids[0].Attr["id"])
		assert.Equal(t, "title", svg.Kids[0].Name)
		assert.Equal(t, refs[1], svg.Kids[1].Attr["id"])
		assert.Equal(t, "desc", svg.Kids[1].Name)
		assert.NotEmpty(t, svg.Attr["viewBox"])
		assert.Equal(t, "100%", svg.Attr["width"])
	}
	assert.Len(t, ids, 8)
}

// Nothing that a strict Content-Security-Policy blocks: no style attribute
// or element, no script, no event handler, no link to elsewhere.
func TestChartsNeedNoInlineStyleOrScript(t *testing.T) {
	b := bars(t,
		chart.Item{Label: "A", Plan: amount(t, "1 tỷ"), Executed: amount(t, "3 tỷ")},
		chart.Item{Label: "B", Plan: amount(t, "1 tỷ"), Executed: amount(t, "-3 tỷ")},
	)
	c := columns(monthly(t, "1 tỷ", "-2 tỷ"))
	c.Cumulative, c.Plan = true, amount(t, "5 tỷ")
	var buf bytes.Buffer
	require.NoError(t, b.Render(&buf))
	require.NoError(t, c.Render(&buf))
	out := buf.String()
	for _, banned := range []string{"style", "<script", "href", "javascript:", " on", "url("} {
		assert.NotContains(t, out, banned)
	}
}

// The package is pure: the standard library, the domain and its decimal.
func TestDependencies(t *testing.T) {
	const pkg = "github.com/kcledger/kcledger/web/chart"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	require.NoError(t, err)
	for _, dep := range strings.Fields(string(out)) {
		assert.Contains(t, []string{pkg, "github.com/kcledger/kcledger/domain", "github.com/shopspring/decimal"}, dep)
	}
	std, err := exec.Command("go", "list", "-deps", "-f", "{{if .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	require.NoError(t, err)
	assert.NotContains(t, strings.Fields(string(std)), "net/http")
}

// Without a description, <desc> starts with the first row's figures.
func TestDescWithoutDescription(t *testing.T) {
	b := bars(t, chart.Item{Label: "Hà Nội", Plan: amount(t, "1 tỷ")})
	b.Description = ""
	svg, _ := renderBars(t, b)
	assert.Equal(t, "Hà Nội: 0 ₫ / 1 tỷ · 0,00%", svg.all("desc")[0].Text)

	c := columns(monthly(t, "1 tỷ"))
	c.Description = ""
	svg, _, _ = renderColumns(t, c)
	assert.True(t, strings.HasPrefix(svg.all("desc")[0].Text, "T1: 1 tỷ\nT2: 0 ₫"), "%q", svg.all("desc")[0].Text)
}
