// Package rerun runs a recorded drive through perception again — decode the video,
// detect, track, range, assess targets — and writes the result as a new run under
// the drive: runs/<run-id>/objects.arrow, targets.arrow, events.arrow and run.json
// (model identity, configuration, software version, figures). The recorded data is
// never touched.
//
// A run is deterministic: frame sets go through the detector and the pipeline one at
// a time in reference-time order (no latest-wins dropping as live), decoding is a
// pure function of the recorded bytes, batches are cut every FlushSets frame sets,
// and nothing of the wall clock goes into the tables — the same drive, detector and
// configuration give byte-identical tables.
package rerun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"roadlog/record/drive"
	"roadlog/replay"
	"roadlog/schema"
)

// Frame is one camera's frame of a frame set, as a detector needs it.
type Frame struct {
	Camera        uint8
	Seq           int64
	Width, Height int
	Image         image.Image // the decoded picture (nil when the detector needs none)
}

// FrameSet is one trigger's frames, and in simulated drives the truth of that
// instant.
type FrameSet struct {
	T         int64
	TriggerID int64
	Frames    []Frame
	Truth     []schema.Truth
}

// Detection is one object a detector found in one camera image.
type Detection struct {
	Camera         uint8
	X1, Y1, X2, Y2 float32 // box, px
	Class          uint16  // COCO class index
	Label          string
	Score          float32
}

// Result is what a pipeline made of one frame set; the rows are the caller's.
type Result struct {
	Objects []*schema.Object
	Target  *schema.Target
	Events  []*schema.Event
}

// Detector finds objects in a frame set. Called from one goroutine.
type Detector interface {
	Detect(ctx context.Context, fs *FrameSet) ([]Detection, error)
}

// Pipeline turns detections into objects, targets and events: tracking, ranging and
// the ADAS assessment, as the live recorder runs them. Called from one goroutine.
type Pipeline interface {
	Ego(e *schema.Ego)
	Process(fs *FrameSet, dets []Detection) Result
}

// Model identifies what detects, for run.json.
type Model struct {
	Name   string `json:"name"`             // e.g. "centernet-mobilenetv3", "truth"
	Source string `json:"source,omitempty"` // file or folder it was loaded from
	SHA256 string `json:"sha256,omitempty"` // of the model's files
	Input  string `json:"input,omitempty"`  // input size, e.g. "512x512"
	Labels string `json:"labels,omitempty"` // label set, e.g. "coco80"
}

// Perception is a detector and a pipeline with what run.json says about them.
type Perception struct {
	Detector Detector
	Pipeline Pipeline
	// NeedImages: the detector looks at pictures, so frames are read and decoded;
	// without it frame sets carry sizes only (a truth-fed detector).
	NeedImages bool
	Model      Model
	Device     string // cpu, gpu, none
	Config     any    // detector and pipeline configuration, written to run.json
}

// Errors.
var (
	ErrRunExists = errors.New("run already exists")
	ErrBadRunID  = errors.New("invalid run id")
	ErrNoDecoder = errors.New("no decoder for this codec")
	ErrNoTruth   = errors.New("drive has no truth table (not a simulated drive)")
)

// Info is run.json.
type Info struct {
	RunID    string                      `json:"run_id"`
	DriveID  string                      `json:"drive_id"`
	Created  string                      `json:"created"` // UTC, RFC 3339
	Software drive.Software              `json:"software"`
	Model    Model                       `json:"model"`
	Device   string                      `json:"device"`
	Config   json.RawMessage             `json:"config,omitempty"`
	From     int64                       `json:"from,omitempty"`
	To       int64                       `json:"to,omitempty"`
	Cameras  []uint8                     `json:"cameras,omitempty"`
	Stats    Stats                       `json:"stats"`
	Tables   map[string]drive.TableStats `json:"tables"`
}

// Stats are a run's figures.
type Stats struct {
	FrameSets    int64   `json:"frame_sets"`
	Frames       int64   `json:"frames"`
	Detections   int64   `json:"detections"`
	Objects      int64   `json:"objects"`
	Targets      int64   `json:"targets"`
	Events       int64   `json:"events"`
	DecodeErrors int64   `json:"decode_errors"`
	Damage       int64   `json:"damage"` // damaged parts of the drive skipped
	MediaSeconds float64 `json:"media_s"`
	WallSeconds  float64 `json:"wall_s"`
	RealTime     float64 `json:"real_time_factor"` // media seconds per wall second
	FramesPerSec float64 `json:"frames_per_s"`
}

// InfoFile is the name of a run's description.
const InfoFile = "run.json"

// Model names Select knows.
const (
	ModelTruth = "truth" // the truth-fed perception (simulated drives)
)

// Devices.
const (
	DeviceCPU = "cpu"
	DeviceGPU = "gpu"
)

// ErrNoEngine reports a model or device this build cannot run.
var ErrNoEngine = errors.New("detection engine not available")

// Select returns the perception for a model and device: "truth" (the default on a
// simulated drive) feeds the simulator's truth through the pipeline; image models run
// on the CPU engine or the GPU engine when this build has them.
func Select(d *replay.Drive, model, device string) (Perception, error) {
	switch device {
	case "", DeviceCPU, DeviceGPU:
	default:
		return Perception{}, fmt.Errorf("select device %q: %w (want cpu or gpu)", device, ErrBadDevice)
	}
	if model == "" && d.Manifest != nil && d.Manifest.Simulated {
		model = ModelTruth
	}
	switch model {
	case ModelTruth:
		if !hasTruth(d) {
			return Perception{}, fmt.Errorf("select model truth for %s: %w", d.Dir, ErrNoTruth)
		}
		return Truth(), nil
	case "":
		return Perception{}, fmt.Errorf("select model: %w: no image model in this build yet; re-run simulated drives with --model truth", ErrNoEngine)
	}
	return Perception{}, fmt.Errorf("select model %q on %s: %w: this build has the truth-fed perception only", model, orCPU(device), ErrNoEngine)
}

// ErrBadDevice reports an unknown device name.
var ErrBadDevice = errors.New("unknown device")

func orCPU(device string) string {
	if device == "" {
		return DeviceCPU
	}
	return device
}

func hasTruth(d *replay.Drive) bool {
	for _, s := range d.Segments {
		if _, err := os.Stat(filepath.Join(s.Dir, drive.TableFile(schema.TableTruth))); err == nil {
			return true
		}
	}
	return false
}
