package ring

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"roadlog/record/drive"
)

// extraKey marks a drive's manifest as a ring window ("extra" object); retention
// deletes only drives that carry it.
const extraKey = "ring_window"

// withRingExtra adds the window's description to the manifest's extra object.
func withRingExtra(extra json.RawMessage, detail []byte) json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(extra) > 0 {
		if err := json.Unmarshal(extra, &m); err != nil {
			m = map[string]json.RawMessage{"context": extra} // not an object: keep it beside
		}
	}
	m[extraKey] = detail
	b, err := json.Marshal(m)
	if err != nil {
		return extra
	}
	return b
}

// IsWindow reports whether the manifest describes a kept ring window.
func IsWindow(m *drive.Manifest) bool {
	var x map[string]json.RawMessage
	if json.Unmarshal(m.Extra, &x) != nil {
		return false
	}
	_, ok := x[extraKey]
	return ok
}

// retain deletes the oldest closed ring windows while the windows under the root
// take more than MaxDiskBytes; the window just closed (keep) stays.
func (r *Ring) retain(keep string) {
	if r.opt.MaxDiskBytes <= 0 {
		return
	}
	r.retainMu.Lock()
	defer r.retainMu.Unlock()
	root := r.opt.Engine.Root
	ents, err := os.ReadDir(root)
	if err != nil {
		r.opt.Log.Warn("ring capture: retention", "err", err)
		return
	}
	type win struct {
		id   string
		size int64
	}
	var wins []win
	var total int64
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		m, err := drive.ReadManifest(dir)
		if err != nil || !IsWindow(m) {
			continue
		}
		n := dirSize(dir)
		total += n
		if m.Status == drive.StatusRecording || e.Name() == keep {
			continue // open, or the one just kept
		}
		wins = append(wins, win{e.Name(), n})
	}
	sort.Slice(wins, func(i, j int) bool { return wins[i].id < wins[j].id }) // ids start with the UTC start time
	for _, w := range wins {
		if total <= r.opt.MaxDiskBytes {
			break
		}
		if err := os.RemoveAll(filepath.Join(root, w.id)); err != nil {
			r.opt.Log.Error("ring capture: delete old window", "drive", w.id, "err", err)
			continue
		}
		total -= w.size
		r.deleted.Add(1)
		r.opt.Log.Info("ring capture: deleted the oldest window (disk budget)", "drive", w.id)
	}
	if err := drive.SyncDir(root); err != nil {
		r.opt.Log.Warn("ring capture: retention", "err", err)
	}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
