package rig

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Sentinel errors; every problem is an *Error wrapping one of them.
var (
	ErrSyntax       = errors.New("yaml syntax error")
	ErrUnknownKey   = errors.New("unknown key")
	ErrMissingKey   = errors.New("missing required key")
	ErrDuplicateKey = errors.New("key given twice")
	ErrInvalid      = errors.New("invalid value")
)

// Error is one problem of a rig file, with its place.
type Error struct {
	File   string // "" when the rig was not read from a file
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; 0 when unknown
	Key    string // key path, e.g. "cameras[3].calibration.fx"
	Err    error  // a sentinel above, possibly wrapped with detail
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
		if e.Column > 0 {
			b.WriteString(strconv.Itoa(e.Column))
			b.WriteByte(':')
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Load reads, decodes and validates the rig file at path.
func Load(path string) (*Rig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rig file: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes and validates a rig file's contents; name is used in errors.
func Parse(data []byte, name string) (*Rig, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 syntax errors carry their line only in their text ("yaml: line 7: …").
		return nil, &Error{File: name, Err: fmt.Errorf("%w: %v", ErrSyntax, err)}
	}
	r := &Rig{file: name, pos: map[string]Pos{}}
	d := &decoder{file: name, pos: r.pos}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == 0 || root.Kind == yaml.DocumentNode {
		return nil, &Error{File: name, Line: 1, Key: "vehicle", Err: fmt.Errorf("%w (the file is empty)", ErrMissingKey)}
	}
	d.value(root, reflect.ValueOf(r).Elem(), "")
	if err := errors.Join(d.errs...); err != nil {
		return nil, err
	}
	r.SetDefaults()
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// nodeUnmarshaler is implemented by types that accept more than one YAML shape.
type nodeUnmarshaler interface {
	unmarshalNode(d *decoder, n *yaml.Node, path string)
}

// decoder walks yaml nodes into Go values by their `yaml` tags, recording every
// problem with its place instead of stopping at the first.
type decoder struct {
	file string
	pos  map[string]Pos
	errs []error
}

func (d *decoder) fail(n *yaml.Node, path string, err error) {
	e := &Error{File: d.file, Key: path, Err: err}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if path != "" {
		d.pos[path] = Pos{n.Line, n.Column}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value leaves the zero value (and its default)
	}
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(nodeUnmarshaler); ok {
			u.unmarshalNode(d, n, path)
			return
		}
	}
	switch {
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	case v.Kind() == reflect.Struct:
		d.structure(n, v, path)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, fmt.Errorf("%w: want a list, got %s", ErrInvalid, kindName(n)))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.value(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case v.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, fmt.Errorf("%w: want a mapping, got %s", ErrInvalid, kindName(n)))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			kp := join(path, kn.Value)
			k := reflect.New(v.Type().Key()).Elem()
			if !d.scalar(kn, k, kp) {
				continue
			}
			if m.MapIndex(k).IsValid() {
				d.fail(kn, kp, ErrDuplicateKey)
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(vn, e, kp)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		d.scalar(n, v, path)
	}
}

// scalar decodes a scalar node into v with yaml.v3's own rules (durations as "1.5s").
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) bool {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, fmt.Errorf("%w: want a %s, got %s", ErrInvalid, typeName(v.Type()), kindName(n)))
		return false
	}
	if v.Kind() == reflect.String && n.Tag != "!!str" && n.Tag != "!!null" && v.Type() != durationType {
		v.SetString(n.Value) // numbers and booleans written where text is wanted: keep the text
		return true
	}
	p := reflect.New(v.Type())
	if err := n.Decode(p.Interface()); err != nil {
		d.fail(n, path, fmt.Errorf("%w: %q is not a %s", ErrInvalid, n.Value, typeName(v.Type())))
		return false
	}
	v.Set(p.Elem())
	return true
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, fmt.Errorf("%w: want a mapping, got %s", ErrInvalid, kindName(n)))
		return
	}
	t := v.Type()
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		kp := join(path, kn.Value)
		f, ok := fieldByKey(t, kn.Value)
		if !ok {
			d.fail(kn, kp, fmt.Errorf("%w (known keys: %s)", ErrUnknownKey, strings.Join(keys(t), ", ")))
			continue
		}
		if seen[kn.Value] {
			d.fail(kn, kp, ErrDuplicateKey)
			continue
		}
		seen[kn.Value] = true
		d.value(vn, v.FieldByIndex(f.Index), kp)
	}
	for i := range t.NumField() {
		f := t.Field(i)
		k := yamlKey(f)
		if k != "" && f.Tag.Get("rig") == "required" && !seen[k] {
			d.fail(n, join(path, k), ErrMissingKey)
		}
	}
}

func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return k
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlKey(f) == key && key != "" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func keys(t reflect.Type) []string {
	var ks []string
	for i := range t.NumField() {
		if k := yamlKey(t.Field(i)); k != "" {
			ks = append(ks, k)
		}
	}
	return ks
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration (e.g. 500ms, 60s)"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "whole number"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		return "non-negative whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.String:
		return "text"
	}
	return t.String()
}

// unmarshalNode accepts "MESSAGE.SIGNAL" or a mapping {signal, scale, offset, values}.
func (s *EgoSignal) unmarshalNode(d *decoder, n *yaml.Node, path string) {
	s.Scale = 1
	if n.Kind == yaml.ScalarNode {
		s.Signal = n.Value
		return
	}
	d.structure(n, reflect.ValueOf(s).Elem(), path)
}
