package rerun

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"

	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/gpu"
	"roadlog/detect/live"
	"roadlog/detect/model"
	"roadlog/detect/pipeline"
	"roadlog/detect/ranging"
	"roadlog/detect/truthdet"
	"roadlog/models"
	"roadlog/record/drive"
	"roadlog/replay"
	"roadlog/schema"
)

// Model names Select knows; any other name is a folder holding a CenterNet-style
// TF.js graph model (model.json and its weight shards).
const (
	ModelTruth     = "truth"     // the truth-fed detector (simulated drives)
	ModelCenterNet = "centernet" // the embedded COCO CenterNet/MobileNetV3
)

// GPUPipelines is how many GPU engines a re-run drives at once by default.
const GPUPipelines = 4

// GPUSetsPerCall is how many consecutive frame sets a GPU engine detects in one batch
// by default (8 cameras x 4 = 32 images): larger batches keep the GPU busier.
const GPUSetsPerCall = 4

// GPU is how a re-run drives the GPU.
type GPU struct {
	Pipelines   int    // engines working on frame sets at once (0: GPUPipelines)
	SetsPerCall int    // frame sets per batch (0: GPUSetsPerCall)
	Conv        string // convolutions: "cudnn", "own", or "" (cuDNN when the library has it, else own)
}

// GPU convolution back ends of a re-run. Both are deterministic (cuDNN's algorithms
// are picked by its heuristics, not by timing, and only deterministic ones); the
// timing-tuned "auto" of the live recorder is not, as whichever back end wins a
// layer's timing race changes the last bits of its output.
const (
	ConvCuDNN = "cudnn"
	ConvOwn   = "own"
)

// Devices.
const (
	DeviceCPU = "cpu"
	DeviceGPU = "gpu"
)

// Errors of Select.
var (
	ErrNoEngine  = errors.New("detection engine not available")
	ErrBadDevice = errors.New("unknown device")
)

// Select returns the perception for a model on a device, configured as the live
// recorder configures it: the truth-fed detector with its edge-noise model (the
// default on simulated drives, as live), or the CenterNet model with the road-class
// thresholds (the default on real drives), each feeding detect/pipeline with the
// cameras' calibration from the drive (the simulated rig's in the manifest, or
// rig.yaml). Close the perception's engine with Perception.Close.
func Select(d *replay.Drive, name, device string) (Perception, error) {
	return SelectGPU(d, name, device, GPU{})
}

// SelectGPU is Select with the GPU engines' settings.
func SelectGPU(d *replay.Drive, name, device string, gs GPU) (Perception, error) {
	if gs.Pipelines <= 0 {
		gs.Pipelines = GPUPipelines
	}
	if gs.SetsPerCall <= 0 {
		gs.SetsPerCall = GPUSetsPerCall
	}
	if gs.Conv != "" && gs.Conv != ConvCuDNN && gs.Conv != ConvOwn {
		return Perception{}, fmt.Errorf("select GPU convolutions %q: %w (want cudnn or own)", gs.Conv, ErrBadDevice)
	}
	switch device {
	case "", DeviceCPU:
		device = DeviceCPU
	case DeviceGPU:
	default:
		return Perception{}, fmt.Errorf("select device %q: %w (want cpu or gpu)", device, ErrBadDevice)
	}
	simulated := d.Manifest != nil && d.Manifest.Simulated
	if name == "" {
		name = ModelCenterNet
		if simulated {
			name = ModelTruth
		}
	}
	calib, err := Calibrations(d)
	if err != nil {
		return Perception{}, err
	}
	if name == ModelTruth {
		if !hasTruth(d) {
			return Perception{}, fmt.Errorf("select model truth for %s: %w", d.Dir, ErrNoTruth)
		}
		det := truthdet.New(truthdet.Config{Seed: simSeed(d)})
		es, ef := det.EdgeNoise()
		cfg := pipeline.Config{Cameras: calib, Ranging: ranging.Config{EdgeSigma: es, EdgeFraction: ef}}
		return Perception{Detector: det, Pipeline: pipeline.New(cfg), Device: "none",
			Model:  Model{Name: ModelTruth, Labels: "coco80"},
			Config: map[string]any{"detector": "truth", "seed": simSeed(d), "pipeline": cfg}}, nil
	}
	calibN := max(len(calib), 1)
	if device == DeviceGPU {
		if name != ModelCenterNet {
			return Perception{}, fmt.Errorf("select model %s on gpu: %w: the GPU runs the embedded CenterNet model; use --device cpu for other models", name, ErrNoEngine)
		}
		// gs.Pipelines detectors, each its own engine (CUDA stream, graph, arena), so frame
		// sets are decoded and detected on the GPU while others are tracked on the CPU;
		// each takes gs.SetsPerCall frame sets in one batch.
		// The convolutions run on one fixed back end (cuDNN, else the library's own
		// kernels), not the per-layer fastest chosen by timing at start: a re-run must
		// give the same tables every time, whichever back end would have won.
		dcfg := centernet.Config{Thresholds: detect.RoadThresholds()}
		var dets []*centernet.Detector
		closeAll := func() error {
			var errs []error
			for _, d := range dets {
				errs = append(errs, d.Close())
			}
			return errors.Join(errs...)
		}
		batch := calibN * gs.SetsPerCall
		conv := gs.Conv
		for i := 0; i < gs.Pipelines; i++ {
			o := gpu.DetectorOptions{Device: gpu.DeviceGPU, Batch: batch, GPU: gpu.Options{Conv: gpu.ConvCuDNN}}
			if conv == ConvOwn {
				o.GPU.Conv = gpu.ConvOwn
			}
			det, err := gpu.NewDetector(dcfg, o)
			if err != nil && conv == "" && i == 0 {
				// a library built without cuDNN (or no cuDNN at run time): own kernels
				o.GPU.Conv = gpu.ConvOwn
				det, err = gpu.NewDetector(dcfg, o)
			}
			if err != nil {
				closeAll()
				return Perception{}, fmt.Errorf("select model %s on gpu: %w", name, err)
			}
			if conv == "" {
				conv = ConvCuDNN
				if o.GPU.Conv == gpu.ConvOwn {
					conv = ConvOwn
				}
			}
			dets = append(dets, det)
		}
		sum, _ := hashFS(models.CenterNet())
		cfg := pipeline.Config{Cameras: calib}
		p := Perception{Detector: live.Images(dets[0]), Pipeline: pipeline.New(cfg), NeedImages: true, JPEG: true, Device: DeviceGPU,
			SetsPerCall: gs.SetsPerCall,
			Model:       Model{Name: "centernet-mobilenetv3", Labels: "coco80", Input: "512x512", Source: "embedded", SHA256: sum}, Close: closeAll,
			Config: map[string]any{"detector": "centernet", "thresholds": "road", "fit": "letterbox", "batch": batch, "sets_per_call": gs.SetsPerCall,
				"gpu_pipelines": gs.Pipelines, "gpu_conv": conv, "pipeline": cfg}}
		for _, d := range dets[1:] {
			p.More = append(p.More, live.Images(d))
		}
		return p, nil
	}
	var g *model.Graph
	m := Model{Name: "centernet-mobilenetv3", Labels: "coco80", Input: "512x512"}
	if name == ModelCenterNet {
		m.Source = "embedded"
		m.SHA256, _ = hashFS(models.CenterNet())
		if g, err = centernet.LoadDefault(); err != nil {
			return Perception{}, err
		}
	} else {
		m.Name, m.Source = filepath.Base(name), name
		dir := os.DirFS(name)
		if m.SHA256, err = hashFS(dir); err != nil {
			return Perception{}, fmt.Errorf("select model %s: %w", name, err)
		}
		if g, err = model.LoadTFJS(dir, "model.json", model.TFJSLimits{}); err != nil {
			return Perception{}, fmt.Errorf("select model %s: %w", name, err)
		}
	}
	if err := centernet.Prepare(g, 1); err != nil {
		return Perception{}, fmt.Errorf("select model %s: %w", name, err)
	}
	eng, err := cpu.New(g, cpu.Options{})
	if err != nil {
		return Perception{}, fmt.Errorf("select model %s: %w", name, err)
	}
	dcfg := centernet.Config{Thresholds: detect.RoadThresholds()}
	det, err := centernet.New(eng, dcfg)
	if err != nil {
		eng.Close()
		return Perception{}, fmt.Errorf("select model %s: %w", name, err)
	}
	cfg := pipeline.Config{Cameras: calib}
	return Perception{Detector: live.Images(det), Pipeline: pipeline.New(cfg), NeedImages: true, Device: DeviceCPU + " (" + eng.Name() + ")",
		Model: m, Close: det.Close,
		Config: map[string]any{"detector": "centernet", "thresholds": "road", "fit": "letterbox", "pipeline": cfg}}, nil
}

func hasTruth(d *replay.Drive) bool {
	for _, s := range d.Segments {
		if _, err := os.Stat(filepath.Join(s.Dir, drive.TableFile(schema.TableTruth))); err == nil {
			return true
		}
	}
	return false
}

// simSeed is the simulation seed the manifest records (the truth-fed detector's noise
// is seeded with it, as live).
func simSeed(d *replay.Drive) uint64 {
	var extra struct {
		Seed uint64 `json:"seed"`
	}
	if d.Manifest != nil && len(d.Manifest.Extra) > 0 && json.Unmarshal(d.Manifest.Extra, &extra) == nil && extra.Seed != 0 {
		return extra.Seed
	}
	return 1
}

// hashFS returns the SHA-256 of the files of a model folder (names and contents, in
// name order).
func hashFS(fsys fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Calibrations returns the cameras' calibration for ranging, read as the export reads
// it (drive.ReadCalibration): the manifest's (the simulated rig's), then the drive's
// rig.yaml, a camera in both taking rig.yaml's. Cameras without one are tracked but not
// ranged (the pipeline says so in an event).
func Calibrations(d *replay.Drive) (map[uint8]ranging.Calibration, error) {
	cals, err := drive.ReadCalibration(d.Dir, d.Manifest)
	if err != nil {
		return nil, fmt.Errorf("read calibration: %w", err)
	}
	out := make(map[uint8]ranging.Calibration, len(cals))
	for _, c := range cals {
		out[c.Index] = ranging.Calibration{Width: c.Width, Height: c.Height, Fx: c.FX, Fy: c.FY, Cx: c.CX, Cy: c.CY,
			MountHeight: c.HeightM, Pitch: c.PitchDeg * math.Pi / 180, Yaw: c.YawDeg * math.Pi / 180, X: c.XM, Y: c.YM}
	}
	return out, nil
}
