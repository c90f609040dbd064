package drive

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"roadlog/rig"
)

// Where a camera's calibration comes from (CameraCalibration.Source).
const (
	CalibrationFromManifest = "manifest" // the manifest's extra.calibration (simulated rigs)
	CalibrationFromRig      = "rig.yaml" // the drive's copy of the rig file (real rigs)
)

// CameraCalibration is one camera's calibration as a drive keeps it.
type CameraCalibration struct {
	Index uint8
	Name  string // the camera's name where the calibration gives one
	// Width and Height are the image size, px, that the intrinsics refer to: the
	// calibration's own, else the size the manifest says the camera recorded at (0
	// when neither says).
	Width, Height int
	// Calibration holds the pinhole intrinsics (px) and the mounting on the vehicle:
	// x forward, y left, z up (m), origin at the centre of the front bumper on the
	// road; yaw left positive, pitch down positive (degrees).
	rig.Calibration
	Source string // CalibrationFromManifest or CalibrationFromRig
}

// manifestCalibration is one entry of a simulated drive's extra.calibration
// (acquire/sim.Camera as the recorder writes it).
type manifestCalibration struct {
	Index  uint8  `json:"index"`
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	rig.Calibration
}

// ReadCalibration returns the calibration of the cameras of the drive in dir (m is its
// manifest; nil when it has none), sorted by index: the simulated rig's from the
// manifest's extra.calibration, a real rig's from the drive's rig.yaml; a camera in
// both takes rig.yaml's. Cameras without a calibration are left out. A drive with
// neither has none (no error). A rig.yaml that cannot be read or parsed is an error
// (a *rig.Error with the key and line when it parses badly), and so is an
// extra.calibration that cannot be decoded (a *CorruptionError).
func ReadCalibration(dir string, m *Manifest) ([]CameraCalibration, error) {
	byIndex := map[uint8]CameraCalibration{}
	if m != nil && len(m.Extra) > 0 {
		var extra struct {
			Calibration []manifestCalibration `json:"calibration"`
		}
		if err := json.Unmarshal(m.Extra, &extra); err != nil {
			return nil, fmt.Errorf("read calibration: %w", &CorruptionError{Path: filepath.Join(dir, ManifestFile),
				Err: fmt.Errorf("extra.calibration: %w", err)})
		}
		for _, c := range extra.Calibration {
			byIndex[c.Index] = CameraCalibration{Index: c.Index, Name: c.Name, Width: c.Width, Height: c.Height,
				Source: CalibrationFromManifest, Calibration: c.Calibration}
		}
	}
	path := filepath.Join(dir, RigFile)
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read calibration: %w", err)
	}
	if err == nil {
		r, err := rig.Parse(raw, path)
		if err != nil {
			return nil, fmt.Errorf("read calibration: %w", err)
		}
		for _, c := range r.Cameras {
			if c.Calibration == nil || c.Index < 0 || c.Index > 255 {
				continue
			}
			byIndex[uint8(c.Index)] = CameraCalibration{Index: uint8(c.Index), Name: c.Name, Width: c.Width, Height: c.Height,
				Calibration: *c.Calibration, Source: CalibrationFromRig}
		}
	}
	out := make([]CameraCalibration, 0, len(byIndex))
	for _, k := range byIndex {
		if k.Width == 0 && m != nil { // the size the camera recorded at
			for _, c := range m.Cameras {
				if c.Index == k.Index {
					k.Width, k.Height = c.Width, c.Height
				}
			}
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}
