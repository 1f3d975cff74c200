// Package docs holds the API's contract, docs/openapi.yaml, embedded in
// the binary: the server answers it as JSON at GET /v1/openapi.json, and
// the API tests check every answer against it (web/api/apitest).
package docs

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"go.yaml.in/yaml/v3"
)

// OpenAPIYAML is docs/openapi.yaml as written.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

var openAPIJSON = sync.OnceValues(func() ([]byte, error) { return YAMLToJSON(OpenAPIYAML) })

// OpenAPIJSON is docs/openapi.yaml converted to JSON, its keys in the
// order the YAML writes them. It is converted once.
func OpenAPIJSON() ([]byte, error) { return openAPIJSON() }

// YAMLToJSON converts one YAML document to indented JSON, keeping the
// order of mapping keys. It takes the YAML that JSON can say: string
// keys, no anchors or aliases.
func YAMLToJSON(y []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(y, &doc); err != nil {
		return nil, fmt.Errorf("docs: reading YAML: %w", err)
	}
	var b bytes.Buffer
	if err := writeJSON(&b, &doc); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("docs: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("docs: line %d: want one YAML document", n.Line)
		}
		return writeJSON(b, n.Content[0])
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int") {
				return fmt.Errorf("docs: line %d: a key JSON cannot say (%s)", k.Line, k.Tag)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			key, _ := json.Marshal(k.Value)
			b.Write(key)
			b.WriteByte(':')
			if err := writeJSON(b, v); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, v := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, v); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalar(b, n)
	default:
		return fmt.Errorf("docs: line %d: an anchor or alias JSON cannot say", n.Line)
	}
	return nil
}

func writeScalar(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Tag {
	case "!!str":
		s, _ := json.Marshal(n.Value)
		b.Write(s)
	case "!!null":
		b.WriteString("null")
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("docs: line %d: %w", n.Line, err)
		}
		if n.Tag == "!!int" {
			// Big integers (2^64-1) in their digits, not as a float.
			if _, err := strconv.ParseUint(n.Value, 10, 64); err == nil {
				b.WriteString(n.Value)
				return nil
			}
		}
		s, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("docs: line %d: %w", n.Line, err)
		}
		b.Write(s)
	default:
		return fmt.Errorf("docs: line %d: a value JSON cannot say (%s)", n.Line, n.Tag)
	}
	return nil
}
