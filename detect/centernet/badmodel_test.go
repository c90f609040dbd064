package centernet_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/model"
	"roadlog/models"
)

// loadDetector is the whole path from a TF.js model folder on disk to a detector:
// import, cut and prepare for CenterNet, compile on the CPU engine.
func loadDetector(dir string) (*centernet.Detector, error) {
	g, err := model.LoadTFJS(os.DirFS(dir), models.CenterNetModelJSON, model.TFJSLimits{})
	if err != nil {
		return nil, err
	}
	if err := centernet.Prepare(g, 1); err != nil {
		return nil, err
	}
	e, err := cpu.New(g, cpu.Options{Threads: 1})
	if err != nil {
		return nil, err
	}
	return centernet.New(e, centernet.Config{Thresholds: detect.RoadThresholds()})
}

// TestBadModelFiles damages copies of the default model on disk — a truncated weight
// shard, a truncated model.json, an operation the engine lacks, a weight of the wrong
// shape, a graph without the heat-map output — and loads each all the way to a
// detector: each must fail with the typed error that names what and where, never
// panic; the undamaged copy must load.
func TestBadModelFiles(t *testing.T) {
	js, err := fs.ReadFile(models.CenterNet(), models.CenterNetModelJSON)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := fs.ReadFile(models.CenterNet(), "centernet.bin")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		damage func(js, bin []byte) ([]byte, []byte)
		check  func(err error) bool
	}{
		{"intact", func(js, bin []byte) ([]byte, []byte) { return js, bin }, func(err error) bool { return err == nil }},
		{"truncated weights", func(js, bin []byte) ([]byte, []byte) { return js, bin[:len(bin)*2/3] }, func(err error) bool {
			var fe *model.FileError
			return errors.Is(err, model.ErrTruncated) && errors.As(err, &fe) && filepath.Base(fe.File) == "centernet.bin" && fe.Offset > 0
		}},
		{"truncated model.json", func(js, bin []byte) ([]byte, []byte) { return js[:len(js)/3], bin }, func(err error) bool {
			var fe *model.FileError
			return errors.Is(err, model.ErrFormat) && errors.As(err, &fe) && filepath.Base(fe.File) == models.CenterNetModelJSON
		}},
		{"unknown op", func(js, bin []byte) ([]byte, []byte) {
			return bytes.Replace(js, []byte(`"op":"Relu6"`), []byte(`"op":"Relu7"`), 1), bin
		}, func(err error) bool {
			var ue *model.UnsupportedOpError
			return errors.As(err, &ue) && ue.Op == "Relu7" && ue.Node != ""
		}},
		{"wrong weight shape", func(js, bin []byte) ([]byte, []byte) {
			return bytes.Replace(js, []byte(`"shape":[3,3,3,16]`), []byte(`"shape":[3,3,16,3]`), 1), bin
		}, func(err error) bool {
			var ne *model.NodeError
			return errors.Is(err, model.ErrShape) && errors.As(err, &ne) && strings.Contains(ne.Node, "Conv")
		}},
		{"no heat map", func(js, bin []byte) ([]byte, []byte) {
			return bytes.ReplaceAll(js, []byte(`"tower_0/keypoints"`), []byte(`"tower_0/elsewhere"`)), bin
		}, func(err error) bool { return errors.Is(err, model.ErrNotFound) || errors.Is(err, centernet.ErrModel) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dj, db := c.damage(bytes.Clone(js), bytes.Clone(bin))
			if c.name != "intact" && bytes.Equal(dj, js) && bytes.Equal(db, bin) {
				t.Fatal("the damage changed nothing: the model file is not as the test expects")
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, models.CenterNetModelJSON), dj, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "centernet.bin"), db, 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := loadDetector(dir)
			if d != nil {
				d.Close()
			}
			t.Logf("%v", err)
			if !c.check(err) {
				t.Errorf("got %v", err)
			}
		})
	}
}
