package model

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
)

// TFJSLimits cap what the TF.js importer accepts, so that a hostile model.json cannot
// make it allocate without bound.
type TFJSLimits struct {
	MaxModelJSON int64 // bytes of model.json (default 64 MiB)
	MaxWeights   int64 // bytes of all weight shards together (default 1 GiB)
}

func (l TFJSLimits) withDefaults() TFJSLimits {
	if l.MaxModelJSON <= 0 {
		l.MaxModelJSON = 64 << 20
	}
	if l.MaxWeights <= 0 {
		l.MaxWeights = 1 << 30
	}
	return l
}

// LoadTFJS imports a TF.js graph model: name is the model.json inside fsys; the weight
// shards its manifest lists are read relative to it, concatenated in manifest order.
func LoadTFJS(fsys fs.FS, name string, lim TFJSLimits) (*Graph, error) {
	lim = lim.withDefaults()
	js, err := readLimited(fsys, name, lim.MaxModelJSON)
	if err != nil {
		return nil, fmt.Errorf("load tfjs model: %w", err)
	}
	var m tfjsModel
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("load tfjs model: %w", jsonErr(name, js, err))
	}
	dir := path.Dir(name)
	var shards []shard
	var total int64
	for _, g := range m.WeightsManifest {
		for _, p := range g.Paths {
			f := path.Join(dir, p)
			b, err := readLimited(fsys, f, lim.MaxWeights-total)
			if err != nil {
				return nil, fmt.Errorf("load tfjs model: %w", err)
			}
			shards = append(shards, shard{name: f, start: total, size: int64(len(b))})
			total += int64(len(b))
			if shards[len(shards)-1].data = b; total > lim.MaxWeights {
				return nil, fmt.Errorf("load tfjs model: %w", &FileError{File: f, Offset: -1, Err: fmt.Errorf("%w: weights exceed %d bytes", ErrFormat, lim.MaxWeights)})
			}
		}
	}
	g, err := buildTFJS(name, &m, shards)
	if err != nil {
		return nil, fmt.Errorf("load tfjs model: %w", err)
	}
	return g, nil
}

// ParseTFJS imports a TF.js graph model from the bytes of model.json and of its weight
// shards concatenated in manifest order (what TF.js itself loads).
func ParseTFJS(modelJSON, weights []byte) (*Graph, error) {
	var m tfjsModel
	if err := json.Unmarshal(modelJSON, &m); err != nil {
		return nil, fmt.Errorf("parse tfjs model: %w", jsonErr("model.json", modelJSON, err))
	}
	g, err := buildTFJS("model.json", &m, []shard{{name: "weights", size: int64(len(weights)), data: weights}})
	if err != nil {
		return nil, fmt.Errorf("parse tfjs model: %w", err)
	}
	return g, nil
}

func readLimited(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open model file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &FileError{File: name, Offset: int64(len(b)), Err: err}
	}
	if int64(len(b)) > limit {
		return nil, &FileError{File: name, Offset: limit, Err: fmt.Errorf("%w: larger than the %d-byte limit", ErrFormat, limit)}
	}
	return b, nil
}

// jsonErr turns a JSON error into a FileError with line and column.
func jsonErr(file string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	where := ""
	if off >= 0 && off <= int64(len(data)) {
		line := bytes.Count(data[:off], []byte("\n")) + 1
		col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
		where = fmt.Sprintf("line %d column %d", line, col)
	}
	return &FileError{File: file, Offset: off, Where: where, Err: fmt.Errorf("%w: %v", ErrFormat, err)}
}

type shard struct {
	name        string
	start, size int64
	data        []byte
}

type tfjsModel struct {
	Format          string          `json:"format"`
	ModelTopology   *tfGraphDef     `json:"modelTopology"`
	WeightsManifest []tfjsGroup     `json:"weightsManifest"`
	Signature       *tfjsSignature  `json:"signature"`
	GeneratedBy     json.RawMessage `json:"generatedBy"`
}

type tfjsSignature struct {
	Inputs  map[string]tfjsTensorInfo `json:"inputs"`
	Outputs map[string]tfjsTensorInfo `json:"outputs"`
}

type tfjsTensorInfo struct {
	Name string `json:"name"`
}

type tfjsGroup struct {
	Paths   []string     `json:"paths"`
	Weights []tfjsWeight `json:"weights"`
}

type tfjsWeight struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	DType        string `json:"dtype"`
	Quantization *struct {
		DType string `json:"dtype"`
		Scale jfloat `json:"scale"`
		Min   jfloat `json:"min"`
		Orig  string `json:"original_dtype"`
	} `json:"quantization"`
}

type tfGraphDef struct {
	Node []tfNode `json:"node"`
}

type tfNode struct {
	Name  string            `json:"name"`
	Op    string            `json:"op"`
	Input []string          `json:"input"`
	Attr  map[string]tfAttr `json:"attr"`
}

type tfAttr struct {
	S      *string   `json:"s"`
	I      *jint     `json:"i"`
	F      *jfloat   `json:"f"`
	B      *bool     `json:"b"`
	Type   string    `json:"type"`
	Shape  *tfShape  `json:"shape"`
	List   *tfList   `json:"list"`
	Tensor *tfTensor `json:"tensor"`
}

type tfList struct {
	S    []string `json:"s"`
	I    []jint   `json:"i"`
	F    []jfloat `json:"f"`
	Type []string `json:"type"`
}

type tfShape struct {
	Dim []struct {
		Size jint `json:"size"`
	} `json:"dim"`
	UnknownRank bool `json:"unknownRank"`
}

type tfTensor struct {
	DType         string   `json:"dtype"`
	TensorShape   *tfShape `json:"tensorShape"`
	TensorContent string   `json:"tensorContent"`
	FloatVal      []jfloat `json:"floatVal"`
	IntVal        []jint   `json:"intVal"`
	BoolVal       []bool   `json:"boolVal"`
}

// jint is a protobuf-JSON int64: a string or a number.
type jint int64

func (j *jint) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: integer %s", ErrFormat, b)
	}
	*j = jint(v)
	return nil
}

// jfloat is a protobuf-JSON float: a number, or "NaN"/"Infinity"/"-Infinity".
type jfloat float64

func (j *jfloat) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	switch s {
	case "NaN":
		*j = jfloat(math.NaN())
		return nil
	case "Infinity":
		*j = jfloat(math.Inf(1))
		return nil
	case "-Infinity":
		*j = jfloat(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%w: number %s", ErrFormat, b)
	}
	*j = jfloat(v)
	return nil
}

func tfDType(s string) (DType, bool) {
	switch s {
	case "DT_FLOAT", "DT_HALF", "float32", "float16":
		return Float32, true
	case "DT_INT32", "DT_INT64", "DT_INT16", "DT_INT8", "DT_UINT8", "int32":
		return Int32, true
	case "DT_BOOL", "bool":
		return Bool, true
	}
	return 0, false
}

// decodeWeights reads every manifest entry from the concatenated shards.
func decodeWeights(file string, m *tfjsModel, shards []shard) (map[string]*Tensor, error) {
	buf := shards
	var off int64
	var total int64
	for _, s := range shards {
		total += s.size
	}
	read := func(n int64, w string) ([]byte, error) {
		if n < 0 || off+n > total {
			// locate the shard where data ran out
			sh := shards[len(shards)-1].name
			var at int64 = off
			for _, s := range shards {
				if off < s.start+s.size {
					sh, at = s.name, off-s.start
					break
				}
			}
			return nil, &FileError{File: sh, Offset: at, Where: fmt.Sprintf("weight %q", w),
				Err: fmt.Errorf("%w: need %d bytes, %d left (weights total %d bytes)", ErrTruncated, n, total-off, total)}
		}
		out := make([]byte, 0, n)
		need := n
		pos := off
		for _, s := range buf {
			if need == 0 {
				break
			}
			if pos >= s.start+s.size {
				continue
			}
			from := pos - s.start
			k := min(need, s.size-from)
			out = append(out, s.data[from:from+k]...)
			need -= k
			pos += k
		}
		off += n
		return out, nil
	}
	ws := map[string]*Tensor{}
	for gi, g := range m.WeightsManifest {
		for wi, w := range g.Weights {
			where := fmt.Sprintf("weightsManifest[%d].weights[%d] %q", gi, wi, w.Name)
			count := int64(1)
			for _, d := range w.Shape {
				if d < 0 || (d > 0 && count > math.MaxInt32/int64(d)) {
					return nil, &FileError{File: file, Offset: -1, Where: where, Err: fmt.Errorf("%w: shape %v", ErrFormat, w.Shape)}
				}
				count *= int64(d)
			}
			dt, ok := tfDType(w.DType)
			if !ok {
				return nil, &FileError{File: file, Offset: -1, Where: where, Err: fmt.Errorf("%w: weight dtype %q", ErrUnsupported, w.DType)}
			}
			t := &Tensor{DType: dt, Shape: Shape(slices.Clone(w.Shape))}
			if t.Shape == nil {
				t.Shape = Shape{}
			}
			q := w.Quantization
			switch {
			case q == nil && dt == Float32:
				b, err := read(4*count, w.Name)
				if err != nil {
					return nil, err
				}
				t.F32 = make([]float32, count)
				for i := range t.F32 {
					t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				}
			case q == nil && dt == Bool:
				b, err := read(count, w.Name)
				if err != nil {
					return nil, err
				}
				t.I32 = make([]int32, count)
				for i := range t.I32 {
					t.I32[i] = b2i(b[i] != 0)
				}
			case q == nil:
				b, err := read(4*count, w.Name)
				if err != nil {
					return nil, err
				}
				t.I32 = make([]int32, count)
				for i := range t.I32 {
					t.I32[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
				}
			case q.DType == "float16":
				b, err := read(2*count, w.Name)
				if err != nil {
					return nil, err
				}
				h := make([]uint16, count)
				for i := range h {
					h[i] = binary.LittleEndian.Uint16(b[2*i:])
				}
				if dt == Float32 {
					t.F16 = h
				} else {
					t.I32 = make([]int32, count)
					for i := range h {
						t.I32[i] = saturate32(float64(HalfToFloat(h[i])))
					}
				}
			case q.DType == "uint8" || q.DType == "uint16":
				size := int64(1)
				if q.DType == "uint16" {
					size = 2
				}
				b, err := read(size*count, w.Name)
				if err != nil {
					return nil, err
				}
				deq := func(i int) float64 {
					var v uint16
					if size == 1 {
						v = uint16(b[i])
					} else {
						v = binary.LittleEndian.Uint16(b[2*i:])
					}
					return float64(v)*float64(q.Scale) + float64(q.Min)
				}
				if dt == Float32 {
					t.F32 = make([]float32, count)
					for i := range t.F32 {
						t.F32[i] = float32(deq(i))
					}
				} else {
					t.I32 = make([]int32, count)
					for i := range t.I32 {
						t.I32[i] = saturate32(math.Round(deq(i)))
					}
				}
			default:
				return nil, &FileError{File: file, Offset: -1, Where: where, Err: fmt.Errorf("%w: quantization %q", ErrUnsupported, q.DType)}
			}
			ws[w.Name] = t
		}
	}
	if off != total {
		sh := shards[len(shards)-1]
		return nil, &FileError{File: sh.name, Offset: off - sh.start, Err: fmt.Errorf("%w: %d bytes after the last weight", ErrFormat, total-off)}
	}
	return ws, nil
}

func buildTFJS(file string, m *tfjsModel, shards []shard) (*Graph, error) {
	if m.Format != "" && m.Format != "graph-model" {
		return nil, &FileError{File: file, Offset: -1, Err: fmt.Errorf("%w: format %q (only graph-model)", ErrUnsupported, m.Format)}
	}
	if m.ModelTopology == nil || len(m.ModelTopology.Node) == 0 {
		return nil, &FileError{File: file, Offset: -1, Where: "modelTopology", Err: fmt.Errorf("%w: no nodes", ErrFormat)}
	}
	ws, err := decodeWeights(file, m, shards)
	if err != nil {
		return nil, err
	}
	b := &tfBuilder{g: &Graph{Format: "tfjs", aliases: map[string]*Value{}}, vals: map[string]*Value{}, nodes: map[string]*tfNode{}, weights: ws}
	for i := range m.ModelTopology.Node {
		n := &m.ModelTopology.Node[i]
		if n.Name == "" {
			return nil, &FileError{File: file, Offset: -1, Where: fmt.Sprintf("modelTopology.node[%d]", i), Err: fmt.Errorf("%w: node without name", ErrFormat)}
		}
		if _, dup := b.nodes[n.Name]; dup {
			return nil, &FileError{File: file, Offset: -1, Where: fmt.Sprintf("modelTopology.node[%d]", i), Err: fmt.Errorf("%w: duplicate node name %q", ErrFormat, n.Name)}
		}
		b.nodes[n.Name] = n
	}
	for i := range m.ModelTopology.Node {
		n := &m.ModelTopology.Node[i]
		if err := b.node(n); err != nil {
			return nil, err
		}
	}
	// outputs: the signature's, else every value nobody reads
	if m.Signature != nil && len(m.Signature.Outputs) > 0 {
		var names []string
		for k, o := range m.Signature.Outputs {
			name := o.Name
			if name == "" {
				name = k
			}
			names = append(names, strings.TrimSuffix(name, ":0"))
		}
		slices.Sort(names)
		for _, name := range names {
			v, err := b.value(name, "signature")
			if err != nil {
				return nil, err
			}
			b.g.Outputs = append(b.g.Outputs, v)
		}
	} else {
		read := map[*Value]bool{}
		for _, n := range b.g.Nodes {
			for _, v := range n.In {
				read[v] = true
			}
		}
		for _, n := range b.g.Nodes {
			for _, v := range n.Out {
				if !read[v] {
					b.g.Outputs = append(b.g.Outputs, v)
				}
			}
		}
	}
	if len(b.g.Outputs) == 0 {
		return nil, &FileError{File: file, Offset: -1, Err: fmt.Errorf("%w: graph has no outputs", ErrFormat)}
	}
	b.g.RemoveDead()
	return b.g, nil
}

type tfBuilder struct {
	g       *Graph
	vals    map[string]*Value
	nodes   map[string]*tfNode
	weights map[string]*Tensor
	busy    map[string]bool
}

// value returns the value called ref ("node", "node:k"), translating its node first.
func (b *tfBuilder) value(ref, user string) (*Value, error) {
	ref = strings.TrimPrefix(ref, "^")
	if v, ok := b.vals[ref]; ok {
		return v, nil
	}
	name, idx := ref, ""
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		name, idx = ref[:i], ref[i+1:]
	}
	if v, ok := b.vals[name]; ok && (idx == "0" || idx == "") {
		return v, nil
	}
	n, ok := b.nodes[name]
	if !ok {
		return nil, &NodeError{Op: "input", Node: user, Err: fmt.Errorf("%w: input %q names no node", ErrFormat, ref)}
	}
	if b.busy == nil {
		b.busy = map[string]bool{}
	}
	if b.busy[name] {
		return nil, &NodeError{Op: n.Op, Node: name, Err: fmt.Errorf("%w: graph has a cycle", ErrFormat)}
	}
	if err := b.node(n); err != nil {
		return nil, err
	}
	if v, ok := b.vals[ref]; ok {
		return v, nil
	}
	if v, ok := b.vals[name]; ok && (idx == "0" || idx == "") {
		return v, nil
	}
	return nil, &NodeError{Op: n.Op, Node: user, Err: fmt.Errorf("%w: input %q: node %q has no such output", ErrFormat, ref, name)}
}

func (n *tfNode) str(k string) string {
	a, ok := n.Attr[k]
	if !ok || a.S == nil {
		return ""
	}
	d, err := base64.StdEncoding.DecodeString(*a.S)
	if err != nil {
		return *a.S
	}
	return string(d)
}

func (n *tfNode) ints(k string) []int {
	a, ok := n.Attr[k]
	if !ok || a.List == nil {
		return nil
	}
	out := make([]int, len(a.List.I))
	for i, v := range a.List.I {
		out[i] = clampInt(int64(v))
	}
	return out
}

func (n *tfNode) integer(k string, def int) int {
	if a, ok := n.Attr[k]; ok && a.I != nil {
		return clampInt(int64(*a.I))
	}
	return def
}

func (n *tfNode) boolean(k string) bool {
	a, ok := n.Attr[k]
	return ok && a.B != nil && *a.B
}

func (n *tfNode) float(k string, def float32) float32 {
	if a, ok := n.Attr[k]; ok && a.F != nil {
		return float32(*a.F)
	}
	return def
}

func clampInt(v int64) int {
	return int(max(min(v, math.MaxInt32), math.MinInt32))
}

func (b *tfBuilder) unsupported(n *tfNode, detail string) error {
	return &UnsupportedOpError{Op: n.Op, Node: n.Name, Detail: detail}
}

func (b *tfBuilder) bad(n *tfNode, format string, a ...any) error {
	return &NodeError{Op: n.Op, Node: n.Name, Err: fmt.Errorf("%w: "+format, append([]any{ErrFormat}, a...)...)}
}

// add appends a node with one output named after the source node.
func (b *tfBuilder) add(src *tfNode, op Op, in []*Value, outName string) *Node {
	n := &Node{Name: src.Name, Op: op, In: in}
	v := &Value{Name: outName, Producer: n}
	n.Out = []*Value{v}
	b.g.Nodes = append(b.g.Nodes, n)
	return n
}

func (b *tfBuilder) constValue(name string, t *Tensor) *Value {
	return &Value{Name: name, DType: t.DType, Shape: t.Shape.Clone(), Const: t}
}

// node translates one source node (once) and registers its outputs.
func (b *tfBuilder) node(n *tfNode) error {
	if _, done := b.vals[n.Name]; done {
		return nil
	}
	if b.busy == nil {
		b.busy = map[string]bool{}
	}
	b.busy[n.Name] = true
	defer delete(b.busy, n.Name)
	var in []*Value
	for _, ref := range n.Input {
		if strings.HasPrefix(ref, "^") {
			continue // control dependency
		}
		v, err := b.value(ref, n.Name)
		if err != nil {
			return err
		}
		in = append(in, v)
	}
	need := func(k int) error {
		if len(in) < k {
			return b.bad(n, "%d inputs, want %d", len(in), k)
		}
		return nil
	}
	out := func(node *Node) { b.vals[n.Name] = node.Out[0] }
	switch n.Op {
	case "Const":
		t, err := b.constTensor(n)
		if err != nil {
			return err
		}
		b.vals[n.Name] = b.constValue(n.Name, t)
		return nil
	case "Placeholder", "PlaceholderWithDefault":
		dt, ok := tfDType(n.Attr["dtype"].Type)
		if !ok {
			return b.unsupported(n, "input dtype "+n.Attr["dtype"].Type)
		}
		v := &Value{Name: n.Name, DType: dt}
		if a, ok := n.Attr["shape"]; ok && a.Shape != nil && !a.Shape.UnknownRank {
			v.Shape = Shape{}
			for _, d := range a.Shape.Dim {
				v.Shape = append(v.Shape, clampInt(int64(d.Size)))
			}
		}
		b.g.Inputs = append(b.g.Inputs, v)
		b.vals[n.Name] = v
		return nil
	case "Identity", "StopGradient", "Snapshot":
		if err := need(1); err != nil {
			return err
		}
		b.vals[n.Name] = in[0]
		b.g.aliases[n.Name] = in[0]
		if in[0].Producer != nil && !in[0].IsConst() {
			b.g.aliases[in[0].Name] = in[0]
			in[0].Name = n.Name // the more public name
		}
		return nil
	case "NoOp":
		return nil
	case "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative":
		return b.conv(n, in)
	case "MatMul", "_FusedMatMul":
		return b.matmul(n, in)
	case "BiasAdd", "Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "FloorDiv", "FloorMod",
		"Maximum", "Minimum", "Pow", "Equal", "Greater", "Less":
		if err := need(2); err != nil {
			return err
		}
		if n.Op == "BiasAdd" && n.str("data_format") == "NCHW" {
			return b.unsupported(n, "data_format NCHW")
		}
		op := map[string]Op{"BiasAdd": OpAdd, "Add": OpAdd, "AddV2": OpAdd, "Sub": OpSub, "Mul": OpMul,
			"RealDiv": OpDiv, "Div": OpDiv, "FloorDiv": OpFloorDiv, "FloorMod": OpFloorMod,
			"Maximum": OpMaximum, "Minimum": OpMinimum, "Pow": OpPow, "Equal": OpEqual,
			"Greater": OpGreater, "Less": OpLess}[n.Op]
		out(b.add(n, op, in[:2], n.Name))
	case "AddN":
		if err := need(1); err != nil {
			return err
		}
		acc := in[0]
		for i, v := range in[1:] {
			name := n.Name
			if i < len(in)-2 {
				name = fmt.Sprintf("%s/addn%d", n.Name, i)
			}
			acc = b.add(n, OpAdd, []*Value{acc, v}, name).Out[0]
		}
		b.vals[n.Name] = acc
	case "Relu", "Relu6", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "Neg", "Exp", "Sqrt", "Abs", "Softmax":
		if err := need(1); err != nil {
			return err
		}
		var node *Node
		switch n.Op {
		case "Neg":
			node = b.add(n, OpNeg, in[:1], n.Name)
		case "Exp":
			node = b.add(n, OpExp, in[:1], n.Name)
		case "Sqrt":
			node = b.add(n, OpSqrt, in[:1], n.Name)
		case "Abs":
			node = b.add(n, OpAbs, in[:1], n.Name)
		case "Softmax":
			node = b.add(n, OpSoftmax, in[:1], n.Name)
			node.Axis = -1
		case "Elu", "Selu":
			return b.unsupported(n, "")
		default:
			act := map[string]Activation{"Relu": ActRelu, "Relu6": ActRelu6, "Sigmoid": ActSigmoid, "Tanh": ActTanh, "LeakyRelu": ActLeakyRelu}[n.Op]
			node = b.add(n, OpActivation, in[:1], n.Name)
			node.Act = act
			node.Alpha = n.float("alpha", 0.2)
		}
		out(node)
	case "Mean":
		if err := need(2); err != nil {
			return err
		}
		node := b.add(n, OpMean, in[:2], n.Name)
		node.KeepDims = n.boolean("keep_dims")
		node.nData, node.bind = 1, func(nd *Node, p []*Tensor) error { nd.Axes = p[0].Ints(); return nil }
		out(node)
	case "ConcatV2":
		if err := need(2); err != nil {
			return err
		}
		k := len(in) - 1
		node := b.add(n, OpConcat, in, n.Name)
		node.nData, node.bind = k, func(nd *Node, p []*Tensor) error {
			a := p[0].Ints()
			if len(a) != 1 {
				return fmt.Errorf("%w: axis %v", ErrFormat, a)
			}
			nd.Axis = a[0]
			return nil
		}
		out(node)
	case "ResizeBilinear", "ResizeNearestNeighbor":
		if err := need(2); err != nil {
			return err
		}
		node := b.add(n, OpResize, in[:2], n.Name)
		r := &node.Resize
		align, half := n.boolean("align_corners"), n.boolean("half_pixel_centers")
		if n.Op == "ResizeBilinear" {
			r.Mode, r.Coord = ResizeBilinear, CoordAsymmetric
			if half {
				r.Coord = CoordHalfPixel
			}
		} else {
			r.Mode, r.Coord, r.Nearest = ResizeNearest, CoordAsymmetric, RoundFloor
			if half {
				r.Coord = CoordTFHalfPixelNN
			}
			if align {
				r.Nearest = RoundPreferCeil
			}
		}
		if align {
			r.Coord = CoordAlignCorners
		}
		node.nData, node.bind = 1, func(nd *Node, p []*Tensor) error {
			s := p[0].Ints()
			if len(s) != 2 || s[0] <= 0 || s[1] <= 0 {
				return fmt.Errorf("%w: size %v", ErrShape, s)
			}
			nd.Resize.SizeH, nd.Resize.SizeW = s[0], s[1]
			return nil
		}
		out(node)
	case "MaxPool", "AvgPool":
		if err := need(1); err != nil {
			return err
		}
		op := OpMaxPool
		if n.Op == "AvgPool" {
			op = OpAvgPool
		}
		node := b.add(n, op, in[:1], n.Name)
		if err := b.window(n, &node.Conv, "ksize"); err != nil {
			return err
		}
		out(node)
	case "Reshape":
		if err := need(2); err != nil {
			return err
		}
		node := b.add(n, OpReshape, in[:2], n.Name)
		node.nData, node.bind = 1, func(nd *Node, p []*Tensor) error { nd.NewShape = Shape(p[0].Ints()); return nil }
		out(node)
	case "ExpandDims":
		if err := need(2); err != nil {
			return err
		}
		node := b.add(n, OpExpandDims, in[:2], n.Name)
		node.nData, node.bind = 1, func(nd *Node, p []*Tensor) error { nd.Axes = p[0].Ints(); return nil }
		out(node)
	case "Squeeze":
		if err := need(1); err != nil {
			return err
		}
		node := b.add(n, OpSqueeze, in[:1], n.Name)
		node.Axes = n.ints("squeeze_dims")
		out(node)
	case "Transpose":
		if err := need(2); err != nil {
			return err
		}
		node := b.add(n, OpTranspose, in[:2], n.Name)
		node.nData, node.bind = 1, func(nd *Node, p []*Tensor) error { nd.Perm = p[0].Ints(); return nil }
		out(node)
	case "Pad", "PadV2", "MirrorPad":
		if err := need(2); err != nil {
			return err
		}
		node := b.add(n, OpPad, in, n.Name)
		switch n.str("mode") {
		case "REFLECT":
			node.Pad.Mode = FillReflect
		case "SYMMETRIC":
			node.Pad.Mode = FillSymmetric
		}
		node.nData, node.bind = 1, func(nd *Node, p []*Tensor) error {
			pads := p[0].Ints()
			if len(pads)%2 != 0 {
				return fmt.Errorf("%w: paddings %v", ErrShape, pads)
			}
			for i := 0; i < len(pads); i += 2 {
				nd.Pad.Begin = append(nd.Pad.Begin, pads[i])
				nd.Pad.End = append(nd.Pad.End, pads[i+1])
			}
			if len(p) > 1 && p[1] != nil {
				if f := p[1].Float32s(); len(f) > 0 {
					nd.Pad.Value = f[0]
				} else if len(p[1].I32) > 0 {
					nd.Pad.Value = float32(p[1].I32[0])
				}
			}
			return nil
		}
		out(node)
	case "Cast":
		if err := need(1); err != nil {
			return err
		}
		dt, ok := tfDType(n.Attr["DstT"].Type)
		if !ok {
			return b.unsupported(n, "DstT "+n.Attr["DstT"].Type)
		}
		node := b.add(n, OpCast, in[:1], n.Name)
		node.To = dt
		out(node)
	case "StridedSlice":
		if err := need(4); err != nil {
			return err
		}
		node := b.add(n, OpSlice, in[:4], n.Name)
		s := &node.Slice
		s.BeginMask, s.EndMask = n.integer("begin_mask", 0), n.integer("end_mask", 0)
		s.ShrinkMask, s.NewAxisMask = n.integer("shrink_axis_mask", 0), n.integer("new_axis_mask", 0)
		s.EllipsisMask = n.integer("ellipsis_mask", 0)
		node.nData, node.bind = 1, func(nd *Node, p []*Tensor) error {
			nd.Slice.Begin, nd.Slice.End, nd.Slice.Strides = p[0].Ints(), p[1].Ints(), p[2].Ints()
			if len(nd.Slice.Begin) != len(nd.Slice.End) || len(nd.Slice.Begin) != len(nd.Slice.Strides) {
				return fmt.Errorf("%w: begin/end/strides lengths differ", ErrShape)
			}
			return nil
		}
		out(node)
	case "TopKV2":
		if err := need(2); err != nil {
			return err
		}
		node := b.add(n, OpTopK, in[:2], n.Name)
		node.Out = append(node.Out, &Value{Name: n.Name + ":1", Producer: node})
		node.nData, node.bind = 1, func(nd *Node, p []*Tensor) error {
			k := p[0].Ints()
			if len(k) != 1 {
				return fmt.Errorf("%w: k %v", ErrShape, k)
			}
			nd.K = k[0]
			return nil
		}
		b.vals[n.Name] = node.Out[0]
		b.vals[n.Name+":0"] = node.Out[0]
		b.vals[n.Name+":1"] = node.Out[1]
	case "GatherV2":
		if err := need(3); err != nil {
			return err
		}
		if n.integer("batch_dims", 0) != 0 {
			return b.unsupported(n, "batch_dims ≠ 0")
		}
		node := b.add(n, OpGather, in[:3], n.Name)
		node.nData, node.bind = 2, func(nd *Node, p []*Tensor) error {
			a := p[0].Ints()
			if len(a) != 1 {
				return fmt.Errorf("%w: axis %v", ErrShape, a)
			}
			nd.Axis = a[0]
			return nil
		}
		out(node)
	case "Shape":
		if err := need(1); err != nil {
			return err
		}
		out(b.add(n, OpShape, in[:1], n.Name))
	case "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3":
		if err := need(5); err != nil {
			return err
		}
		if n.str("data_format") == "NCHW" {
			return b.unsupported(n, "data_format NCHW")
		}
		scale, shift, err := bnConsts(in[1:5], n.float("epsilon", 1e-3))
		if err != nil {
			return &NodeError{Op: n.Op, Node: n.Name, Err: err}
		}
		m := b.add(n, OpMul, []*Value{in[0], b.constValue(n.Name+"/scale", scale)}, n.Name+"/scaled")
		out(b.add(n, OpAdd, []*Value{m.Out[0], b.constValue(n.Name+"/shift", shift)}, n.Name))
	default:
		return b.unsupported(n, "")
	}
	return nil
}

// bnConsts folds batch-norm parameters (scale, offset, mean, variance) into a per-channel
// multiply and add.
func bnConsts(p []*Value, eps float32) (scale, shift *Tensor, err error) {
	for _, v := range p {
		if !v.IsConst() || v.DType != Float32 {
			return nil, nil, fmt.Errorf("%w: batch-norm parameter %s is not a float constant", ErrUnsupported, v.Name)
		}
	}
	g, b, m, vr := p[0].Const.Float32s(), p[1].Const.Float32s(), p[2].Const.Float32s(), p[3].Const.Float32s()
	c := len(g)
	if len(b) != c || len(m) != c || len(vr) != c {
		return nil, nil, fmt.Errorf("%w: batch-norm parameters of %d/%d/%d/%d channels", ErrShape, len(g), len(b), len(m), len(vr))
	}
	scale = &Tensor{DType: Float32, Shape: Shape{c}, F32: make([]float32, c)}
	shift = &Tensor{DType: Float32, Shape: Shape{c}, F32: make([]float32, c)}
	for i := range c {
		s := g[i] / float32(math.Sqrt(float64(vr[i])+float64(eps)))
		scale.F32[i] = s
		shift.F32[i] = b[i] - m[i]*s
	}
	return scale, shift, nil
}

func (b *tfBuilder) constTensor(n *tfNode) (*Tensor, error) {
	if t, ok := b.weights[n.Name]; ok {
		return t, nil
	}
	a, ok := n.Attr["value"]
	if !ok || a.Tensor == nil {
		return nil, b.bad(n, "constant has neither a weight nor a value")
	}
	tp := a.Tensor
	dt, ok := tfDType(tp.DType)
	if !ok {
		return nil, b.unsupported(n, "constant dtype "+tp.DType)
	}
	t := &Tensor{DType: dt, Shape: Shape{}}
	if tp.TensorShape != nil {
		for _, d := range tp.TensorShape.Dim {
			if d.Size < 0 || d.Size > math.MaxInt32 {
				return nil, b.bad(n, "constant dimension %d", d.Size)
			}
			t.Shape = append(t.Shape, int(d.Size))
		}
	}
	count := t.Shape.Size()
	if count < 0 || count > 1<<28 {
		return nil, b.bad(n, "constant shape %v", t.Shape)
	}
	raw, err := base64.StdEncoding.DecodeString(tp.TensorContent)
	if err != nil {
		return nil, b.bad(n, "tensorContent: %v", err)
	}
	if dt == Float32 {
		t.F32 = make([]float32, count)
		switch {
		case len(raw) > 0:
			if tp.DType != "DT_FLOAT" || len(raw) != 4*count {
				return nil, b.bad(n, "tensorContent of %d bytes for %s%v", len(raw), tp.DType, t.Shape)
			}
			for i := range t.F32 {
				t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		case len(tp.FloatVal) > 0:
			for i := range t.F32 {
				t.F32[i] = float32(tp.FloatVal[min(i, len(tp.FloatVal)-1)])
			}
		}
		return t, nil
	}
	t.I32 = make([]int32, count)
	switch {
	case len(raw) > 0:
		if tp.DType != "DT_INT32" || len(raw) != 4*count {
			return nil, b.bad(n, "tensorContent of %d bytes for %s%v", len(raw), tp.DType, t.Shape)
		}
		for i := range t.I32 {
			t.I32[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case len(tp.IntVal) > 0:
		for i := range t.I32 {
			t.I32[i] = int32(clampInt(int64(tp.IntVal[min(i, len(tp.IntVal)-1)])))
		}
	case len(tp.BoolVal) > 0:
		for i := range t.I32 {
			t.I32[i] = b2i(tp.BoolVal[min(i, len(tp.BoolVal)-1)])
		}
	}
	return t, nil
}

// window reads strides, dilations, padding (and kernel size from attr ksize for pools).
func (b *tfBuilder) window(n *tfNode, p *ConvParams, ksize string) error {
	if f := n.str("data_format"); f != "" && f != "NHWC" {
		return b.unsupported(n, "data_format "+f)
	}
	four := func(k string, def int) (int, int, error) {
		v := n.ints(k)
		if v == nil {
			return def, def, nil
		}
		if len(v) != 4 || v[1] <= 0 || v[2] <= 0 {
			return 0, 0, b.bad(n, "%s %v", k, v)
		}
		return v[1], v[2], nil
	}
	var err error
	if p.StrideH, p.StrideW, err = four("strides", 1); err != nil {
		return err
	}
	if p.DilationH, p.DilationW, err = four("dilations", 1); err != nil {
		return err
	}
	if ksize != "" {
		if p.KH, p.KW, err = four(ksize, 0); err != nil {
			return err
		}
	}
	switch pad := n.str("padding"); pad {
	case "SAME":
		p.Mode = PadSame
	case "VALID", "":
		p.Mode = PadValid
	case "EXPLICIT":
		e := n.ints("explicit_paddings")
		if len(e) != 8 {
			return b.bad(n, "explicit_paddings %v", e)
		}
		p.Mode = PadExplicit
		p.Pads = [4]int{e[2], e[4], e[3], e[5]}
	default:
		return b.unsupported(n, "padding "+pad)
	}
	return nil
}

func (b *tfBuilder) conv(n *tfNode, in []*Value) error {
	if len(in) < 2 {
		return b.bad(n, "%d inputs, want 2", len(in))
	}
	op := OpConv
	if strings.Contains(n.Op, "Depthwise") {
		op = OpDepthwiseConv
	}
	if !in[1].IsConst() {
		return b.unsupported(n, "weights computed at run time")
	}
	node := b.add(n, op, in[:2], n.Name)
	if err := b.window(n, &node.Conv, ""); err != nil {
		return err
	}
	node.Conv.Groups = 1
	return b.fusedTail(n, node, in[2:])
}

// fusedTail applies a _Fused* node's fused_ops (BiasAdd or FusedBatchNorm, then an
// activation) to node.
func (b *tfBuilder) fusedTail(n *tfNode, node *Node, args []*Value) error {
	a, ok := n.Attr["fused_ops"]
	if !ok || a.List == nil || len(a.List.S) == 0 {
		b.vals[n.Name] = node.Out[0]
		return nil
	}
	var ops []string
	for _, s := range a.List.S {
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			d = []byte(s)
		}
		ops = append(ops, string(d))
	}
	cur := node
	for i, op := range ops {
		switch op {
		case "BiasAdd":
			if i != 0 || len(args) < 1 || !args[0].IsConst() {
				return b.unsupported(n, "fused_ops "+strings.Join(ops, ","))
			}
			node.In = append(node.In, args[0])
		case "FusedBatchNorm":
			if i != 0 || len(args) < 4 {
				return b.unsupported(n, "fused_ops "+strings.Join(ops, ","))
			}
			// TF's fused batch norm takes (scale, offset, mean, variance)
			scale, shift, err := bnConsts(args[:4], n.float("epsilon", 1e-3))
			if err != nil {
				return &NodeError{Op: n.Op, Node: n.Name, Err: err}
			}
			node.Out[0].Name = n.Name + "/conv"
			m := b.add(n, OpMul, []*Value{node.Out[0], b.constValue(n.Name+"/bn_scale", scale)}, n.Name+"/bn_scaled")
			cur = b.add(n, OpAdd, []*Value{m.Out[0], b.constValue(n.Name+"/bn_shift", shift)}, n.Name)
		case "Relu", "Relu6", "LeakyRelu", "Sigmoid", "Tanh":
			if i != len(ops)-1 {
				return b.unsupported(n, "fused_ops "+strings.Join(ops, ","))
			}
			act := map[string]Activation{"Relu": ActRelu, "Relu6": ActRelu6, "Sigmoid": ActSigmoid, "Tanh": ActTanh, "LeakyRelu": ActLeakyRelu}[op]
			if cur == node {
				node.Act, node.Alpha = act, n.float("leakyrelu_alpha", 0.2)
			} else {
				cur.Out[0].Name = n.Name + "/bn"
				cur = b.add(n, OpActivation, []*Value{cur.Out[0]}, n.Name)
				cur.Act, cur.Alpha = act, n.float("leakyrelu_alpha", 0.2)
			}
		default:
			return b.unsupported(n, "fused_ops "+strings.Join(ops, ","))
		}
	}
	b.vals[n.Name] = cur.Out[0]
	return nil
}

func (b *tfBuilder) matmul(n *tfNode, in []*Value) error {
	if len(in) < 2 {
		return b.bad(n, "%d inputs, want 2", len(in))
	}
	if n.boolean("transpose_a") {
		return b.unsupported(n, "transpose_a")
	}
	w := in[1]
	if !w.IsConst() || len(w.Shape) != 2 {
		return b.unsupported(n, "second operand is not a constant matrix")
	}
	if n.boolean("transpose_b") {
		t := NewTensor(Float32, Shape{w.Shape[1], w.Shape[0]})
		if err := evalTranspose([]int{1, 0}, w.Const, t); err != nil {
			return err
		}
		w = b.constValue(w.Name+"/T", t)
	}
	node := b.add(n, OpMatMul, []*Value{in[0], w}, n.Name)
	return b.fusedTail(n, node, in[2:])
}
