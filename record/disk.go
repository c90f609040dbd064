package record

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"roadlog/record/drive"
	"roadlog/schema"
)

// FreeBytes returns the bytes available to an unprivileged writer on the file system
// holding dir.
func FreeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// diskGuard checks free space; it returns a stop reason when the drive must stop.
// In loop mode it first deletes the oldest closed segments that hold no driver mark.
func (r *recording) diskGuard() string {
	free, err := r.opt.FreeSpace(r.dir)
	if err != nil {
		r.opt.Log.Warn("disk guard", "err", err)
		return ""
	}
	if free < r.opt.MinFreeBytes && r.opt.Loop {
		var deleted []string
		for free < r.opt.MinFreeBytes {
			seg, ok := r.oldestUnmarked()
			if !ok {
				break
			}
			if err := os.RemoveAll(filepath.Join(r.dir, drive.SegmentDir(seg))); err != nil {
				r.opt.Log.Error("loop mode: delete segment", "err", err)
				break
			}
			deleted = append(deleted, drive.SegmentDir(seg))
			r.man.Deleted = append(r.man.Deleted, seg)
			for i, s := range r.man.Segments {
				if s.Index == seg {
					r.man.Segments = append(r.man.Segments[:i], r.man.Segments[i+1:]...)
					break
				}
			}
			if free, err = r.opt.FreeSpace(r.dir); err != nil {
				break
			}
		}
		if len(deleted) > 0 {
			ev := schema.NewEvent(r.e.Now(), schema.EvRetention, schema.SevWarn, "recorder",
				"loop mode deleted the oldest segments without driver marks: "+strings.Join(deleted, ", "))
			ev.Count = int64(len(deleted))
			r.publish(ev)
			if err := drive.WriteManifest(r.dir, r.man); err != nil {
				r.opt.Log.Error("write manifest", "err", err)
			}
		}
	}
	if free < r.opt.MinFreeBytes {
		return fmt.Sprintf("disk full: %d MiB free, below the %d MiB stop threshold", free>>20, r.opt.MinFreeBytes>>20)
	}
	if free < r.opt.WarnFreeBytes && !r.diskWarned {
		r.diskWarned = true
		ev := schema.NewEvent(r.e.Now(), schema.EvDiskLow, schema.SevWarn, "recorder",
			fmt.Sprintf("disk space low: %d MiB free", free>>20))
		ev.Value = float64(free)
		r.publish(ev)
	}
	return ""
}

func (r *recording) oldestUnmarked() (int, bool) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	for _, s := range r.man.Segments {
		if !r.marks[s.Index] {
			return s.Index, true
		}
	}
	return 0, false
}

// writeEmptyTable writes a valid Arrow file with the table's schema and no rows.
func writeEmptyTable(fs drive.FS, path string, t schema.AnyTable, codec drive.Codec) error {
	f, err := fs.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return drive.WriteEmpty(f, t, codec)
}

// makeReserve fills the reserve file (see Options.ReserveBytes).
func (r *recording) makeReserve() error {
	if r.opt.ReserveBytes <= 0 {
		return nil
	}
	f, err := r.opt.FS.Create(filepath.Join(r.dir, drive.ReserveFile))
	if err != nil {
		return fmt.Errorf("create reserve: %w", err)
	}
	zero := make([]byte, 1<<20)
	for left := r.opt.ReserveBytes; left > 0; left -= int64(len(zero)) {
		if _, err := f.Write(zero[:min(left, int64(len(zero)))]); err != nil {
			f.Close()
			r.opt.FS.Remove(filepath.Join(r.dir, drive.ReserveFile))
			return fmt.Errorf("create reserve: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("create reserve: %w", err)
	}
	return f.Close()
}

// releaseReserve frees the reserve.
func (r *recording) releaseReserve() {
	if r.opt.ReserveBytes <= 0 {
		return
	}
	if err := r.opt.FS.Remove(filepath.Join(r.dir, drive.ReserveFile)); err != nil && !os.IsNotExist(err) {
		r.opt.Log.Warn("release reserve", "err", err)
	}
}
