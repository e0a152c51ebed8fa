package customize

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// schemaJSON is the JSON schema user-data is checked against, written from
// Ubuntu's autoinstall reference (top-level keys and their value types).
//
//go:embed autoinstall.schema.json
var schemaJSON []byte

const schemaURL = "https://novasphere.invalid/schemas/autoinstall-user-data.json"

// CloudConfigHeader must be the first line of user-data: cloud-init ignores
// user-data without it.
const CloudConfigHeader = "#cloud-config"

// printer renders the validator's messages.
var printer = message.NewPrinter(language.English)

// maxReported limits how many problems one error lists.
const maxReported = 10

// ErrInvalidUserData marks user-data that Ubuntu's installer would reject or
// misread. Every *UserDataError wraps it.
var ErrInvalidUserData = errors.New("invalid autoinstall user-data")

// UserDataError is one problem in a user-data file: where it is and what is
// wrong.
type UserDataError struct {
	// Path is the file as given to ValidateUserData.
	Path string
	// Line is the 1-based line of the offending key or value (0 if unknown).
	Line int
	// Key is the offending key as a dotted path, for example
	// "autoinstall.ssh.allow-pw" or "autoinstall.late-commands[2]"; empty
	// for problems with the whole file.
	Key string
	// Problem says what is wrong.
	Problem string
}

// Error reads "<path>:<line>: <key>: <problem>".
func (e *UserDataError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString("key " + e.Key + ": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap returns ErrInvalidUserData.
func (e *UserDataError) Unwrap() error { return ErrInvalidUserData }

// ValidateUserData checks a NoCloud user-data file that carries an
// autoinstall configuration, the way Customize and Verify both do: valid
// YAML, "#cloud-config" as the first line, an "autoinstall" mapping with
// "version: 1", and only the keys and value types of Ubuntu's autoinstall
// reference (the embedded autoinstall.schema.json). Keys beside
// "autoinstall" are left to cloud-init. path is used in messages only.
//
// The error joins one *UserDataError per problem (at most ten), each naming
// the file, the line and the key.
func ValidateUserData(path string, data []byte) error {
	if err := checkHeader(path, data); err != nil {
		return err
	}
	doc, err := parseYAML(path, data)
	if err != nil {
		return err
	}
	value, err := toJSONValue(path, doc)
	if err != nil {
		return err
	}
	if m, ok := value.(map[string]any); !ok || m["autoinstall"] == nil {
		return &UserDataError{Path: path, Line: lineOf(doc, nil), Key: "autoinstall",
			Problem: "missing: user-data must have an \"autoinstall:\" mapping with \"version: 1\" at the top level"}
	}
	sch, err := compiledSchema()
	if err != nil {
		return fmt.Errorf("autoinstall schema: %w", err)
	}
	if err := sch.Validate(value); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return fmt.Errorf("%s: %w", path, err)
		}
		return schemaProblems(path, doc, ve)
	}
	return nil
}

// ValidateMetaData checks a NoCloud meta-data file: empty, or a YAML
// mapping (such as "instance-id: ...").
func ValidateMetaData(path string, data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	doc, err := parseYAML(path, data)
	if err != nil {
		return err
	}
	if n := root(doc); n != nil && n.Kind != yaml.MappingNode {
		return &UserDataError{Path: path, Line: n.Line, Problem: "meta-data must be a YAML mapping (for example \"instance-id: novasphere\")"}
	}
	return nil
}

var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
})

func checkHeader(path string, data []byte) error {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if strings.TrimRight(string(first), " \t\r") != CloudConfigHeader {
		return &UserDataError{Path: path, Line: 1,
			Problem: fmt.Sprintf("the first line must be %q (found %q); without it cloud-init ignores the file", CloudConfigHeader, truncate(string(first), 40))}
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func parseYAML(path string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := splitYAMLError(err)
		line = offendingLine(data, line, msg)
		return nil, &UserDataError{Path: path, Line: line, Problem: "invalid YAML: " + msg}
	}
	return &doc, nil
}

// splitYAMLError splits yaml.v3's "yaml: line 12: found …" into the line
// (0 when none) and the problem.
func splitYAMLError(err error) (int, string) {
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = yamlLineRE.ReplaceAllString(msg, "")
	return line, strings.TrimLeft(msg, ": ")
}

// maxLineSearch bounds offendingLine's work on huge files.
const maxLineSearch = 2000

// offendingLine finds the line that makes data invalid YAML. yaml.v3 names
// the line where the construct in progress began (often the line before the
// offending one: a tab on line 13 is reported at 12), so the first lines of
// data are parsed again, one more each time from the reported line on, until
// the same problem appears: the last line added is the offending one. When
// that never happens the reported line is kept.
func offendingLine(data []byte, reported int, msg string) int {
	if reported <= 0 {
		return reported
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	for n := reported; n <= len(lines) && n < reported+maxLineSearch; n++ {
		var doc yaml.Node
		err := yaml.Unmarshal(bytes.Join(lines[:n], nil), &doc)
		if err == nil {
			continue
		}
		if _, m := splitYAMLError(err); m == msg {
			return n
		}
	}
	return reported
}

// root is the top node of a parsed document (nil for an empty one).
func root(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		return doc.Content[0]
	}
	return doc
}

// pyYAMLBools are the plain scalars that cloud-init's YAML 1.1 parser reads
// as booleans although YAML 1.2 (and yaml.v3) reads them as strings.
var pyYAMLBools = map[string]bool{
	"yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

// toJSONValue converts a YAML node into the values the schema validator
// takes, reading scalars as cloud-init does. Duplicate keys are refused:
// cloud-init silently keeps the last one.
func toJSONValue(path string, n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return toJSONValue(path, n.Content[0])
	case yaml.AliasNode:
		return toJSONValue(path, n.Alias)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := toJSONValue(path, c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return mappingValue(path, n)
	case yaml.ScalarNode:
		return scalarValue(n), nil
	}
	return nil, &UserDataError{Path: path, Line: n.Line, Problem: "unsupported YAML node"}
}

func mappingValue(path string, n *yaml.Node) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
			if err := mergeInto(path, out, v); err != nil {
				return nil, err
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, &UserDataError{Path: path, Line: k.Line, Problem: "mapping keys must be plain strings"}
		}
		if _, dup := out[k.Value]; dup {
			return nil, &UserDataError{Path: path, Line: k.Line, Key: k.Value,
				Problem: "defined twice in the same mapping; cloud-init would silently use the last one"}
		}
		val, err := toJSONValue(path, v)
		if err != nil {
			return nil, err
		}
		out[k.Value] = val
	}
	return out, nil
}

// mergeInto applies a YAML merge key ("<<: *anchor"): keys already present win.
func mergeInto(path string, out map[string]any, v *yaml.Node) error {
	sources := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		sources = v.Content
	}
	for _, s := range sources {
		val, err := toJSONValue(path, s)
		if err != nil {
			return err
		}
		m, ok := val.(map[string]any)
		if !ok {
			return &UserDataError{Path: path, Line: s.Line, Problem: "a merge key (<<) must refer to a mapping"}
		}
		for k, x := range m {
			if _, have := out[k]; !have {
				out[k] = x
			}
		}
	}
	return nil
}

func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	case "!!str":
		if b, ok := pyYAMLBools[n.Value]; ok && n.Style == 0 {
			return b
		}
	}
	return n.Value
}

// schemaProblems turns a validation error into UserDataErrors with lines.
func schemaProblems(path string, doc *yaml.Node, ve *jsonschema.ValidationError) error {
	var problems []*UserDataError
	seen := map[string]bool{}
	for _, leaf := range leaves(ve) {
		for _, p := range describe(path, doc, leaf) {
			if k := p.Error(); !seen[k] {
				seen[k] = true
				problems = append(problems, p)
			}
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	if len(problems) > maxReported {
		problems = problems[:maxReported]
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// leaves are the innermost errors; an anyOf or oneOf whose alternatives all
// failed for missing keys is kept whole so that it reads as one problem.
func leaves(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 || alternativesOfRequired(ve) {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func alternativesOfRequired(ve *jsonschema.ValidationError) bool {
	switch ve.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
	default:
		return false
	}
	for _, c := range ve.Causes {
		if _, ok := c.ErrorKind.(*kind.Required); !ok || len(c.Causes) > 0 {
			return false
		}
	}
	return len(ve.Causes) > 0
}

// describe makes UserDataErrors out of one schema violation: one per
// unknown key, else one.
func describe(path string, doc *yaml.Node, ve *jsonschema.ValidationError) []*UserDataError {
	loc := ve.InstanceLocation
	e := &UserDataError{Path: path, Line: lineOf(doc, loc), Key: keyPath(loc)}
	switch k := ve.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		var out []*UserDataError
		for _, prop := range k.Properties {
			child := append(append([]string{}, loc...), prop)
			out = append(out, &UserDataError{Path: path, Line: lineOf(doc, child), Key: keyPath(child),
				Problem: "not a key of " + describeParent(loc) + " in Ubuntu's autoinstall reference (check the spelling)"})
		}
		return out
	case *kind.Required:
		e.Problem = "missing required key(s): " + strings.Join(k.Missing, ", ")
	case *kind.AnyOf, *kind.OneOf:
		var names []string
		for _, c := range ve.Causes {
			if r, ok := c.ErrorKind.(*kind.Required); ok {
				names = append(names, r.Missing...)
			}
		}
		e.Problem = "needs one of these keys: " + strings.Join(names, ", ")
		if len(names) == 0 {
			e.Problem = ve.ErrorKind.LocalizedString(printer)
		}
	case *kind.Type:
		e.Problem = fmt.Sprintf("has the wrong type: got %s, want %s", yamlTypeName(k.Got), strings.Join(mapStrings(k.Want, yamlTypeName), " or "))
	default:
		e.Problem = ve.ErrorKind.LocalizedString(printer)
	}
	return []*UserDataError{e}
}

func describeParent(loc []string) string {
	if len(loc) == 0 {
		return "the document"
	}
	return keyPath(loc)
}

// yamlTypeName names JSON schema types the way a YAML author thinks of them.
func yamlTypeName(t string) string {
	switch t {
	case "object":
		return "mapping"
	case "array":
		return "list"
	case "null":
		return "null (empty)"
	}
	return t
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// keyPath renders an instance location as autoinstall.ssh.allow-pw or
// autoinstall.late-commands[2].
func keyPath(loc []string) string {
	var b strings.Builder
	for _, seg := range loc {
		if _, err := strconv.Atoi(seg); err == nil && b.Len() > 0 {
			b.WriteString("[" + seg + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// lineOf finds the line of the key (or list item) at loc; it falls back to
// the nearest ancestor that exists.
func lineOf(doc *yaml.Node, loc []string) int {
	n := root(doc)
	if n == nil {
		return 1
	}
	line := n.Line
	for _, seg := range loc {
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		next, keyLine := child(n, seg)
		if next == nil {
			return line
		}
		line, n = keyLine, next
	}
	return line
}

// child returns the node under seg and the line that names it.
func child(n *yaml.Node, seg string) (*yaml.Node, int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
