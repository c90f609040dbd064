package model_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"roadlog/detect/internal/onnxcase"
	"roadlog/detect/model"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpora from the real model")

// FuzzParseTFJS feeds model.json and weight bytes to the TF.js importer and the passes:
// whatever the input, an error and never a panic. Seeds: testdata/fuzz/FuzzParseTFJS
// (the default model's first block, cut out of the real file; TestFuzzSeeds checks it
// still imports).
func FuzzParseTFJS(f *testing.F) {
	f.Fuzz(func(t *testing.T, js, weights []byte) {
		g, err := model.ParseTFJS(js, weights)
		if err != nil {
			return
		}
		_ = g.Prepare(model.PrepareOptions{})
	})
}

// FuzzParseONNX does the same for ONNX protobufs. Seeds: testdata/fuzz/FuzzParseONNX (the
// common-op model of detect/internal/onnxcase).
func FuzzParseONNX(f *testing.F) {
	f.Add(onnxcase.Build(1).Model)
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := model.ParseONNX(data)
		if err != nil {
			return
		}
		_ = g.Prepare(model.PrepareOptions{})
	})
}

// TestFuzzSeeds checks that the committed seeds are valid models, so that fuzzing starts
// from inputs that reach the passes.
func TestFuzzSeeds(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzParseTFJS", "centernet-first-block"))
	if err != nil {
		t.Fatal(err)
	}
	var args [2][]byte
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := range args {
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[i+1], "[]byte("), ")"))
		if err != nil {
			t.Fatal(err)
		}
		args[i] = []byte(s)
	}
	g, err := model.ParseTFJS(args[0], args[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Prepare(model.PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) < 3 {
		t.Errorf("seed model has %d nodes", len(g.Nodes))
	}
}

// TestUpdateFuzzSeeds rewrites the committed seeds with -update.
func TestUpdateFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz")
	}
	js, w := centerNet(t)
	sj, sw, err := firstBlock(js, w, "tower_0/MobilenetV3/expanded_conv/add")
	if err != nil {
		t.Fatal(err)
	}
	writeSeed(t, "FuzzParseTFJS", "centernet-first-block", sj, sw)
	writeSeed(t, "FuzzParseONNX", "onnxcase-1", onnxcase.Build(1).Model)
}

func writeSeed(t *testing.T, target, name string, args ...[]byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := "go test fuzz v1\n"
	for _, a := range args {
		s += fmt.Sprintf("[]byte(%q)\n", a)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// firstBlock cuts a real TF.js model down to the nodes an output depends on, with their
// weights (manifest entries and bytes) in the original order.
func firstBlock(js, w []byte, output string) ([]byte, []byte, error) {
	var m struct {
		Format        string `json:"format"`
		ModelTopology struct {
			Node []map[string]any `json:"node"`
		} `json:"modelTopology"`
		WeightsManifest []struct {
			Paths   []string         `json:"paths"`
			Weights []map[string]any `json:"weights"`
		} `json:"weightsManifest"`
	}
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, nil, err
	}
	byName := map[string]map[string]any{}
	for _, n := range m.ModelTopology.Node {
		byName[n["name"].(string)] = n
	}
	need := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if need[name] {
			return
		}
		need[name] = true
		if n, ok := byName[name]; ok {
			if ins, ok := n["input"].([]any); ok {
				for _, in := range ins {
					visit(in.(string))
				}
			}
		}
	}
	visit(output)
	var nodes []map[string]any
	for _, n := range m.ModelTopology.Node {
		if need[n["name"].(string)] {
			nodes = append(nodes, n)
		}
	}
	var kept []map[string]any
	var out []byte
	off := 0
	for _, e := range m.WeightsManifest[0].Weights {
		size := 4
		if q, ok := e["quantization"].(map[string]any); ok && q["dtype"] == "float16" {
			size = 2
		}
		for _, d := range e["shape"].([]any) {
			size *= int(d.(float64))
		}
		if need[e["name"].(string)] {
			kept = append(kept, e)
			out = append(out, w[off:off+size]...)
		}
		off += size
	}
	small := map[string]any{
		"format":          m.Format,
		"modelTopology":   map[string]any{"node": nodes},
		"weightsManifest": []any{map[string]any{"paths": []string{"weights.bin"}, "weights": kept}},
	}
	b, err := json.Marshal(small)
	return b, out, err
}
