package record

import (
	"errors"
	"os"
	"path/filepath"

	"roadlog/record/drive"
)

// RepairUnfinished repairs every drive under root whose manifest still says recording
// (left by a crash) and returns their reports. roadlog record and serve run it before
// they start.
func RepairUnfinished(root string, sw drive.Software) ([]*drive.RepairReport, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*drive.RepairReport
	var errs []error
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		m, err := drive.ReadManifest(dir)
		if errors.Is(err, drive.ErrNotDrive) || (err == nil && m.Status != drive.StatusRecording) {
			continue
		}
		if err != nil && !drive.IsDrive(dir) {
			continue
		}
		rep, err := drive.Repair(dir, sw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, rep)
	}
	return out, errors.Join(errs...)
}
