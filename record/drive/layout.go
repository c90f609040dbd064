// Package drive is the reader side of roadlog's on-disk contract: the layout of a
// drive folder, its manifest, reading tables (with or without their footer), walking
// fragmented MP4 files, and the verify and repair steps. Replay and the tools import
// this package; the recorder (package record) writes what it describes.
package drive

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"roadlog/schema"
)

// Names inside a drive folder.
const (
	ManifestFile = "manifest.json"
	RigFile      = "rig.yaml"
	DBCDir       = "dbc"
	DamagedDir   = "damaged"  // repair moves damaged originals here, same relative paths
	RunsDir      = "runs"     // replay runs: runs/<run-id>/objects.arrow …
	ReserveFile  = ".reserve" // space the recorder holds back to close a drive cleanly when the disk fills
	segPrefix    = "seg-"
)

// SegmentDir returns the folder name of segment i, e.g. "seg-000042".
func SegmentDir(i int) string { return fmt.Sprintf("%s%06d", segPrefix, i) }

// ParseSegmentDir returns the index of a segment folder name.
func ParseSegmentDir(name string) (int, bool) {
	if !strings.HasPrefix(name, segPrefix) || len(name) != len(segPrefix)+6 {
		return 0, false
	}
	n, err := strconv.Atoi(name[len(segPrefix):])
	return n, err == nil && n >= 0
}

// TableFile returns the file name of a table inside a segment, e.g. "can.arrow".
func TableFile(t schema.TableName) string { return string(t) + ".arrow" }

// VideoFile returns the file name of a camera's video inside a segment: "cam3.mp4",
// or "cam3_1.mp4", "cam3_2.mp4" … when the camera changed format within the segment.
func VideoFile(camera uint8, part int) string {
	if part == 0 {
		return fmt.Sprintf("cam%d.mp4", camera)
	}
	return fmt.Sprintf("cam%d_%d.mp4", camera, part)
}

// ParseVideoFile returns the camera index and part of a video file name.
func ParseVideoFile(name string) (camera uint8, part int, ok bool) {
	if !strings.HasPrefix(name, "cam") || !strings.HasSuffix(name, ".mp4") {
		return 0, 0, false
	}
	s := strings.TrimSuffix(strings.TrimPrefix(name, "cam"), ".mp4")
	c, p, hasPart := strings.Cut(s, "_")
	n, err := strconv.Atoi(c)
	if err != nil || n < 0 || n > 255 {
		return 0, 0, false
	}
	if hasPart {
		part, err = strconv.Atoi(p)
		if err != nil || part < 1 {
			return 0, 0, false
		}
	}
	return uint8(n), part, true
}

// Segments lists the segment folders present on disk in dir, in index order.
func Segments(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var out []int
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if i, ok := ParseSegmentDir(e.Name()); ok {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out, nil
}

// IsDrive reports whether dir looks like a drive: it has a manifest or segment folders.
func IsDrive(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return true
	}
	segs, err := Segments(dir)
	return err == nil && len(segs) > 0
}
