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
	"encoding/json"
	"errors"

	"roadlog/detect/obs"
	"roadlog/detect/pipeline"
	"roadlog/record/drive"
	"roadlog/schema"
)

// The frame sets, detections and results of detect/pipeline: a re-run goes through
// the same detector and pipeline types as the live recorder.
type (
	Frame     = pipeline.Frame
	FrameSet  = pipeline.FrameSet
	Detection = obs.Detection
	Result    = pipeline.Result
	Detector  = pipeline.Detector
)

// Pipeline turns detections into objects, targets and events: tracking, ranging and
// the ADAS assessment (*pipeline.Pipeline). Called from one goroutine.
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
	// More are further detectors like Detector (e.g. more GPU pipelines): frame sets
	// are detected on all of them at once and tracked in order, so the run's tables do
	// not depend on how many there are.
	More     []Detector
	Pipeline Pipeline
	// NeedImages: the detector looks at pictures, so frames are read and decoded;
	// without it frame sets carry sizes only (a truth-fed detector).
	NeedImages bool
	// JPEG: the detector decodes MJPEG frames itself (the GPU engine, through nvJPEG),
	// so they are handed over as bytes, not decoded on the CPU first.
	JPEG bool
	// SetsPerCall is how many consecutive frame sets go to the detector in one call
	// when it is a pipeline.SetsDetector (one batch of all their frames on the GPU);
	// 0 or 1: one set per call. The grouping depends only on the drive, so the tables
	// stay the same run to run.
	SetsPerCall int
	Model       Model
	Device      string       // cpu, gpu, none
	Config      any          // detector and pipeline configuration, written to run.json
	Close       func() error // releases the detector's engine (nil: nothing to release)
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
