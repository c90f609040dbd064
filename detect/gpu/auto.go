package gpu

import (
	"errors"
	"fmt"
	"log"

	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/model"
)

// Devices a detector can run on.
const (
	DeviceAuto = "auto" // the GPU when it can run the model, else the CPU (said in the log)
	DeviceGPU  = "gpu"  // the GPU or an error
	DeviceCPU  = "cpu"  // the pure-Go engine
)

// ErrDevice is returned for a device name other than auto, gpu and cpu.
var ErrDevice = errors.New("unknown device")

// DetectorOptions configure NewDetector.
type DetectorOptions struct {
	// Device is DeviceAuto (the default), DeviceGPU or DeviceCPU.
	Device string
	// Batch is the number of images one run takes: the cameras of a frame set
	// (default 1).
	Batch int
	// GPU configures the GPU engine.
	GPU Options
	// CPU configures the CPU engine.
	CPU cpu.Options
	// Logf says why the GPU is not used when Device is auto (default log.Printf).
	Logf func(format string, args ...any)
}

// NewDetector builds the default CenterNet detector on the chosen device. With
// DeviceAuto, a GPU that cannot run the model (no library, no device, a driver the
// library does not match, an op the GPU path lacks, too little memory) is logged with
// the reason and the CPU engine runs the whole model; with DeviceGPU that is an error.
func NewDetector(cfg centernet.Config, o DetectorOptions) (*centernet.Detector, error) {
	switch o.Device {
	case "", DeviceAuto, DeviceGPU, DeviceCPU:
	default:
		return nil, fmt.Errorf("new detector: %w %q (want auto, gpu or cpu)", ErrDevice, o.Device)
	}
	g, err := centernet.LoadDefault()
	if err != nil {
		return nil, err
	}
	if err := centernet.Prepare(g, max(o.Batch, 1)); err != nil {
		return nil, err
	}
	if o.Device != DeviceCPU {
		e, err := New(g, o.GPU)
		if err == nil {
			return centernet.New(e, cfg)
		}
		if o.Device == DeviceGPU {
			return nil, fmt.Errorf("new detector: %w", err)
		}
		logf := o.Logf
		if logf == nil {
			logf = log.Printf
		}
		logf("detect: GPU engine not used, running the CPU engine for the whole model: %s", why(err))
	}
	e, err := cpu.New(g, o.CPU)
	if err != nil {
		return nil, fmt.Errorf("new detector: %w", err)
	}
	return centernet.New(e, cfg)
}

// why turns a GPU engine error into the short reason the log gives.
func why(err error) string {
	switch {
	case errors.Is(err, ErrNoLibrary):
		return fmt.Sprintf("the library %s is not installed or cannot load (%v)", LibraryName, err)
	case errors.Is(err, ErrABI):
		return fmt.Sprintf("the library does not match this roadlog (%v)", err)
	case errors.Is(err, ErrNoDevice):
		return fmt.Sprintf("no CUDA device (%v)", err)
	case errors.Is(err, ErrDriver):
		return fmt.Sprintf("the CUDA driver does not match the library (%v)", err)
	case errors.Is(err, model.ErrUnsupported):
		return fmt.Sprintf("the model has an op the GPU path lacks (%v)", err)
	case errors.Is(err, ErrOutOfMemory):
		return fmt.Sprintf("not enough GPU memory (%v)", err)
	}
	return err.Error()
}
