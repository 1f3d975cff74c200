package chart_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/i18n"
)

func tỷ(n int64) domain.Amount { return domain.AmountFromInt64(n * 1_000_000_000) }

// percent is the page's percentage: own plan, two decimals, in the
// language's separators.
func percent(lang i18n.Lang) func(num, den domain.Amount) string {
	return func(num, den domain.Amount) string {
		text := projections.Presentation{PercentDecimals: 2, PercentRounding: projections.RoundHalfUp}.Percent(num, den, "own_plan").Text
		if lang == i18n.English {
			text = strings.NewReplacer(".", ",", ",", ".").Replace(text)
		}
		return text
	}
}

// node is a parsed XML element.
type node struct {
	Name  string
	Attr  map[string]string
	Text  string
	Kids  []*node
	Depth int
}

// parse reads b strictly as XML and returns its root.
func parse(t testing.TB, b []byte) *node {
	t.Helper()
	root, err := parseXML(b)
	require.NoError(t, err, "not well-formed XML:\n%s", b)
	return root
}

func requireWellFormed(t testing.TB, b []byte) { parse(t, b) }

func parseXML(b []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var stack []*node
	var root *node
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{Name: tok.Name.Local, Attr: map[string]string{}, Depth: len(stack)}
			for _, a := range tok.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Kids = append(p.Kids, n)
			} else if root != nil {
				return nil, errors.New("more than one root element")
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tok)
			} else if strings.TrimSpace(string(tok)) != "" {
				return nil, errors.New("text outside the root")
			}
		}
	}
	if root == nil {
		return nil, errors.New("no element")
	}
	return root, nil
}

// all returns every element under n (n included) named name, in order.
func (n *node) all(name string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		if m.Name == name {
			out = append(out, m)
		}
		for _, k := range m.Kids {
			walk(k)
		}
	}
	walk(n)
	return out
}

// withClass returns the elements under n whose class list holds class.
func (n *node) withClass(class string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		for _, c := range strings.Fields(m.Attr["class"]) {
			if c == class {
				out = append(out, m)
				break
			}
		}
		for _, k := range m.Kids {
			walk(k)
		}
	}
	walk(n)
	return out
}
