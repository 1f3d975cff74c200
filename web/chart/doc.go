// Package chart draws the console's overview charts as inline SVG,
// rendered on the server so that they need no JavaScript and pass a strict
// Content-Security-Policy: no script, no style attribute, no <style>; only
// SVG presentation attributes (fill, stroke, font-size) as defaults, and a
// class on every mark so that the console's stylesheet can restyle it.
//
// Two charts:
//
//   - Bars: plan against execution, one horizontal row per item (province,
//     region or source) in the order given: the plan as a light bar, the
//     executed amount as a darker bar over it, the item's name and its
//     figures ("1,2 tỷ / 3,4 tỷ · 35%") above the bars.
//   - Columns: execution month by month of a fiscal year, twelve columns,
//     optionally with the running total and the year's plan as a line.
//
// Both are built with this package's own embedded html/template, so every
// label (project and province names come from outside) is escaped as text,
// and the output is also well-formed XML. Money stays domain.Amount until a
// ratio becomes a coordinate: widths and heights are decimal ratios rounded
// to coordinateDecimals places at rendering, never float arithmetic on
// đồng. The figures are rendered by formatters the caller passes, so that
// the charts speak the page's language.
//
// Each chart takes an id prefix: its <title> and <desc> get the ids
// PREFIX-title and PREFIX-desc, and the <svg> is role="img" labelled by
// both, so that two charts on one page never share an id. Text inside a
// role="img" is not read by screen readers, so <desc> carries the caller's
// description followed by every row's figures; the page's data table
// remains the accessible source of the numbers.
//
// The <svg> has a viewBox and width="100%", so it shrinks with its
// container; the console's stylesheet should cap its width on wide screens
// (for instance .chart { max-width: 40rem; }), since text in an SVG scales
// with it.
package chart
