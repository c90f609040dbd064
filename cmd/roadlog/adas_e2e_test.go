package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"roadlog/acquire/sim"
	"roadlog/internal/shared"
	"roadlog/record/drive"
	"roadlog/schema"
)

// recorded is what a drive's tables say, read back from disk.
type recorded struct {
	t0      int64 // reference time of scenario time 0 (the first IMU row)
	truth   map[int64][]schema.Truth
	objects map[int64][]schema.Object
	targets []schema.Target // by time
	events  []schema.Event
	frames  int
	sets    map[int64]int64 // trigger id → time
}

func readTable[R any](t *testing.T, dir string, table *schema.Table[R], fn func(*R)) {
	t.Helper()
	segs, err := drive.Segments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		p := filepath.Join(dir, drive.SegmentDir(s), drive.TableFile(table.Name))
		if _, err := drive.ReadRows(p, table, func(r *R) error { fn(r); return nil }); err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
	}
}

func readDrive(t *testing.T, dir string) *recorded {
	rec := &recorded{truth: map[int64][]schema.Truth{}, objects: map[int64][]schema.Object{}, sets: map[int64]int64{}, t0: math.MaxInt64}
	readTable(t, dir, schema.IMUTable, func(r *schema.IMU) { rec.t0 = min(rec.t0, r.T) })
	readTable(t, dir, schema.TruthTable, func(r *schema.Truth) { rec.truth[r.TriggerID] = append(rec.truth[r.TriggerID], *r) })
	readTable(t, dir, schema.ObjectsTable, func(r *schema.Object) { rec.objects[r.TriggerID] = append(rec.objects[r.TriggerID], *r) })
	readTable(t, dir, schema.TargetsTable, func(r *schema.Target) { rec.targets = append(rec.targets, *r) })
	readTable(t, dir, schema.EventsTable, func(r *schema.Event) { rec.events = append(rec.events, *r) })
	readTable(t, dir, schema.FramesTable, func(r *schema.Frame) { rec.frames++; rec.sets[r.TriggerID] = r.T })
	slices.SortFunc(rec.targets, func(a, b schema.Target) int { return int(a.T - b.T) })
	return rec
}

// s is scenario time of reference time t.
func (rec *recorded) s(t int64) float64 { return float64(t-rec.t0) / 1e9 }

// iou of two boxes.
func iou(a, b [4]float32) float64 {
	w := math.Min(float64(a[2]), float64(b[2])) - math.Max(float64(a[0]), float64(b[0]))
	h := math.Min(float64(a[3]), float64(b[3])) - math.Max(float64(a[1]), float64(b[1]))
	if w <= 0 || h <= 0 {
		return 0
	}
	i := w * h
	area := func(x [4]float32) float64 { return float64((x[2] - x[0]) * (x[3] - x[1])) }
	return i / (area(a) + area(b) - i)
}

// actorTracks maps each actor to the track ids whose boxes overlapped its true box
// (same camera, same frame set, IoU ≥ 0.3).
func (rec *recorded) actorTracks() map[int32]map[int64]bool {
	out := map[int32]map[int64]bool{}
	for trig, rows := range rec.truth {
		for _, tr := range rows {
			if tr.Camera == schema.TruthNoCamera {
				continue
			}
			for _, o := range rec.objects[trig] {
				if o.Camera == tr.Camera && o.TrackID >= 0 && iou([4]float32{tr.X1, tr.Y1, tr.X2, tr.Y2}, [4]float32{o.X1, o.Y1, o.X2, o.Y2}) >= 0.3 {
					if out[tr.ActorID] == nil {
						out[tr.ActorID] = map[int64]bool{}
					}
					out[tr.ActorID][o.TrackID] = true
				}
			}
		}
	}
	return out
}

// due returns when a flag that the bar wants within d seconds of t must be on: t+d,
// or, when the detector dropped frame sets meanwhile, the time of the last of the
// first d·30 frame sets it processed from t on (the bar counted in frames the
// detector saw: the cameras run at 30 Hz).
func (rec *recorded) due(t int64, d float64) int64 {
	times := make([]int64, len(rec.targets))
	for i, g := range rec.targets {
		times[i] = g.T
	}
	return dueAmong(times, t, d)
}

// seen returns the times of the frame sets the detector processed in which it found
// actor id (an object row overlapping one of the actor's true boxes at IoU ≥ 0.3), in
// order.
func (rec *recorded) seen(id int32) []int64 {
	var out []int64
	for trig, rows := range rec.truth {
		for _, tr := range rows {
			if tr.ActorID != id || tr.Camera == schema.TruthNoCamera {
				continue
			}
			if slices.ContainsFunc(rec.objects[trig], func(o schema.Object) bool {
				return o.Camera == tr.Camera && iou([4]float32{tr.X1, tr.Y1, tr.X2, tr.Y2}, [4]float32{o.X1, o.Y1, o.X2, o.Y2}) >= 0.3
			}) {
				out = append(out, rec.sets[trig])
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// dueAmong is due counted in the frame sets at times (in order): t+d, or the time of
// the last of the first d·30 of them from t on when that is later.
func dueAmong(times []int64, t int64, d float64) int64 {
	i, _ := slices.BinarySearch(times, t)
	k := i + int(math.Round(d*30)) - 1
	if k >= len(times) {
		return math.MaxInt64
	}
	return max(t+int64(d*1e9), times[k])
}

// TestRecordedDriveMeetsTheADASBars records a minute of the simulated drive — the
// whole scenario — with the truth-fed detector at three times real time (--speed 3;
// --static-frames, since the truth-fed detector does not look at pixels), and holds
// the bars on the tables read back from disk: every scripted cut-in flagged within
// 0.5 s (an object of the cut-in actor's track with manner cut_in in objects.arrow,
// and a cut_in event naming that track), FCW in targets.arrow and events.arrow no
// later than 0.3 s after the true in-path TTC crosses 2.7 s, no FCW in the scenario's
// quiet stretches.
//
// The live runner's latest-wins mailbox drops the frame sets the detector cannot take
// when the machine is busy (as fast as possible, --speed 0, it takes about a third of
// them here, and the bars are then missed by 0.1–0.3 s: the filters see a third of the
// frames; at --speed 3 it takes 90–98 % of them). So the drops are part of what is
// checked: the recorder itself must not lose a frame, the drops must be written as
// events and add up to the frame sets not processed, and the bars' delays are counted
// in frames the detector saw — a flag due 0.5 s after an event is in time when it is on
// within 0.5 s, or within the first 15 frame sets the detector processed from the
// event on (0.5 s of them at 30 Hz). A cut-in's flag is likewise counted in the frame
// sets in which the detector found the cut-in vehicle: the truth-fed detector misses
// objects in 0.2 s bursts, keyed to the recording's own clock, so that each recording
// has its own pattern, and a burst in the half second after the onset (1 run in 20
// here) leaves nothing to flag. TestCutInsAcrossSeeds in detect/pipeline holds the bar
// in plain seconds over 16 fixed seeds.
//
// ROADLOG_JUDGE_DRIVE=DIR judges a drive recorded beforehand instead (to judge many
// recordings made under load, say).
func TestRecordedDriveMeetsTheADASBars(t *testing.T) {
	if testing.Short() {
		t.Skip("records a minute of simulated drive")
	}
	var rec *recorded
	if d := os.Getenv("ROADLOG_JUDGE_DRIVE"); d != "" {
		rec = readDrive(t, d)
	} else {
		out := t.TempDir()
		b, err := exec.Command(roadlogBin, "record", "--sim", "--duration", "60s", "--speed", "3", "--static-frames",
			"--detector", "truth", "--out", out, "--quiet").Output()
		if err != nil {
			t.Fatalf("record: %v", err)
		}
		rec = readDrive(t, strings.TrimSpace(string(b)))
	}

	// The recorder lost nothing; the detector's drops are counted and add up.
	if rec.frames != 4*len(rec.sets) || len(rec.sets) < 1790 {
		t.Fatalf("%d frames in %d frame sets: the recorder lost frames", rec.frames, len(rec.sets))
	}
	var submitted, processed, dropped, dropEvents, looms int64
	var loomNIS float64
	camLooms, camNIS := map[uint8]int{}, map[uint8]float64{}
	for _, e := range rec.events {
		switch {
		case e.Code == schema.EvDetectorStats:
			var st struct {
				Submitted, Processed, Dropped int64
				LoomUpdates                   int64   `json:"loom_updates"`
				LoomNIS                       float64 `json:"loom_nis"`
				Loom                          []struct {
					Camera  uint8
					Updates int
					NIS     float64
				}
			}
			if err := json.Unmarshal([]byte(e.Detail), &st); err != nil {
				t.Fatalf("detector_stats detail %q: %v", e.Detail, err)
			}
			submitted, processed, dropped = submitted+st.Submitted, processed+st.Processed, dropped+st.Dropped
			looms, loomNIS = looms+st.LoomUpdates, loomNIS+st.LoomNIS*float64(st.LoomUpdates)
			for _, l := range st.Loom {
				camLooms[l.Camera] += l.Updates
				camNIS[l.Camera] += l.NIS * float64(l.Updates)
			}
		case e.Code == schema.EvDrop && e.Category == "detector_busy":
			dropEvents += e.Count
		case e.Code == schema.EvDrop:
			t.Errorf("the recorder dropped samples: %+v", e)
		}
	}
	t.Logf("frame sets: %d recorded, %d submitted to the detector, %d processed (%d targets rows), %d dropped (drop events: %d)",
		len(rec.sets), submitted, processed, len(rec.targets), dropped, dropEvents)
	if submitted != int64(len(rec.sets)) || processed != int64(len(rec.targets)) || submitted != processed+dropped || dropEvents != dropped {
		t.Errorf("the detector's counts do not add up: %d frame sets, %d submitted = %d processed (%d targets rows) + %d dropped (%d in drop events)",
			len(rec.sets), submitted, processed, len(rec.targets), dropped, dropEvents)
	}
	if processed < int64(len(rec.sets))/10 {
		t.Fatalf("the detector processed %d of %d frame sets: too few to judge the bars", processed, len(rec.sets))
	}
	// the filters weigh looming as noisy as the truth-fed detector makes it: over the
	// drive, and for the front camera, which measures it for the cars ahead (the rear
	// camera sees no actor in this scenario; the side ones measure it for the
	// pedestrian only, a few dozen times, and count the lateral motion they cannot see
	// as noise: well under 1)
	if nis := loomNIS / float64(looms); looms < 1000 || !(nis >= 0.5 && nis <= 2) {
		t.Errorf("detector_stats: %d looming measurements, mean normalised innovation squared %.2f; want ≥ 1000 and 0.5–2", looms, nis)
	} else {
		t.Logf("detector_stats: %d looming measurements, mean normalised innovation squared %.2f", looms, nis)
	}
	sum := 0
	for cam, n := range camLooms {
		sum += n
		t.Logf("detector_stats: camera %d: %d looming measurements, mean normalised innovation squared %.2f", cam, n, camNIS[cam]/float64(n))
	}
	if nis := camNIS[0] / float64(camLooms[0]); camLooms[0] < 1000 || !(nis >= 0.5 && nis <= 2) {
		t.Errorf("detector_stats: front camera: %d looming measurements, mean normalised innovation squared %.2f; want ≥ 1000 and 0.5–2", camLooms[0], nis)
	}
	if int64(sum) != looms {
		t.Errorf("detector_stats: the cameras' looming measurements add up to %d, the drive's to %d", sum, looms)
	}

	// Cut-ins: onset from the truth's cut-in flag, per actor.
	onset := map[int32]int64{}
	var cross []int64 // times the true in-path TTC falls below 2.7 s (after ≥ 1 s above)
	var lastBelow int64 = math.MinInt64 / 2
	trigs := make([]int64, 0, len(rec.truth))
	for trig := range rec.truth {
		trigs = append(trigs, trig)
	}
	slices.Sort(trigs)
	for _, trig := range trigs {
		below := false
		for _, tr := range rec.truth[trig] {
			if tr.Camera != schema.TruthNoCamera {
				continue
			}
			if _, ok := onset[tr.ActorID]; tr.CutIn && !ok {
				onset[tr.ActorID] = tr.T
			}
			edge := math.Abs(float64(tr.Lateral)) - float64(tr.Width)/2
			if tr.Distance > 0 && edge < 1.15 && tr.TTC < 2.7 { // overlaps the ego's width + 0.2 m
				below = true
			}
		}
		if t := rec.sets[trig]; below {
			if t-lastBelow > 1e9 {
				cross = append(cross, t)
			}
			lastBelow = t
		}
	}
	tracks := rec.actorTracks()
	cutEvents := map[int64]int64{} // track → time of its cut_in event
	for _, e := range rec.events {
		if e.Code == schema.EvCutIn {
			var d struct{ Track int64 }
			if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
				t.Fatalf("cut_in detail %q: %v", e.Detail, err)
			}
			cutEvents[d.Track] = e.T
		}
	}
	for _, id := range []int32{sim.Events.CutInLeftID, sim.Events.CutInRightID} {
		on, ok := onset[id]
		if !ok {
			t.Fatalf("actor %d: no cut-in in the truth table", id)
		}
		flagged := int64(math.MaxInt64)
		for trig, objs := range rec.objects {
			for _, o := range objs {
				if tracks[id][o.TrackID] && o.Manner == schema.MannerCutIn && o.T >= on-1e9 {
					flagged = min(flagged, rec.sets[trig])
				}
			}
		}
		event := int64(math.MaxInt64)
		for tk, et := range cutEvents {
			if tracks[id][tk] && et >= on-1e9 {
				event = min(event, et)
			}
		}
		due := dueAmong(rec.seen(id), on, 0.5) // in frame sets where the detector found the car
		t.Logf("cut-in of actor %d at %.2f s: flagged at %.2f s, event at %.2f s (due by %.2f s)", id, rec.s(on), rec.s(flagged), rec.s(event), rec.s(due))
		if flagged > due || event > due {
			t.Errorf("cut-in of actor %d at %.2f s: objects flag it at %.2f s, its event at %.2f s; want by %.2f s", id, rec.s(on), rec.s(flagged), rec.s(event), rec.s(due))
		}
	}
	// False cut-in events: tracks of no cut-in actor.
	for tk, et := range cutEvents {
		if !tracks[sim.Events.CutInLeftID][tk] && !tracks[sim.Events.CutInRightID][tk] {
			t.Errorf("cut_in event at %.2f s for track %d, which is no scripted cut-in", rec.s(et), tk)
		}
	}

	// FCW: each time the true in-path TTC falls below 2.7 s.
	if len(cross) < 2 {
		t.Fatalf("the true in-path TTC fell below 2.7 s %d times; the scenario scripts the lead's braking and the braking cut-in", len(cross))
	}
	fcwEvents := []int64{}
	for _, e := range rec.events {
		if e.Code == schema.EvFCW {
			fcwEvents = append(fcwEvents, e.T)
		}
	}
	for _, c := range cross {
		on := int64(math.MaxInt64)
		for _, g := range rec.targets {
			if g.FCW && g.T >= c-1e9 {
				on = g.T
				break
			}
		}
		ev := int64(math.MaxInt64)
		for _, et := range fcwEvents {
			if et >= c-3e9 && et < ev {
				ev = et
			}
		}
		due := rec.due(c, 0.3)
		t.Logf("true in-path TTC below 2.7 s at %.2f s: FCW on at %.2f s, fcw event at %.2f s (due by %.2f s)", rec.s(c), rec.s(on), rec.s(ev), rec.s(due))
		if on > due || ev > due {
			t.Errorf("true in-path TTC below 2.7 s at %.2f s: FCW on at %.2f s, event at %.2f s; want by %.2f s", rec.s(c), rec.s(on), rec.s(ev), rec.s(due))
		}
	}

	// No FCW (nor AEB) in the quiet stretches.
	quiet := func(t int64) bool {
		s := math.Mod(rec.s(t), sim.Period)
		for _, q := range sim.Quiet {
			if s >= q[0] && s < q[1] {
				return true
			}
		}
		return false
	}
	n := 0
	for _, g := range rec.targets {
		if quiet(g.T) && (g.FCW || g.AEB) {
			n++
		}
	}
	for _, e := range rec.events {
		if quiet(e.T) && (e.Code == schema.EvFCW || e.Code == schema.EvAEB) {
			t.Errorf("%s event in a quiet stretch at %.2f s", e.Kind, rec.s(e.T))
		}
	}
	if n > 0 {
		t.Errorf("FCW or AEB on in %d targets rows of the quiet stretches %v", n, sim.Quiet)
	}
}

// TestRecordRigWithoutCalibration records a rig whose one camera (a file camera playing
// an MJPEG stream of a nuScenes street, in real time at 1 frame/s) has no calibration,
// with the default live detector of rigs (the CNN). Detection must run — objects and
// targets rows, unranged — with one ranging_disabled warning; one frame of the stream
// does not decode (a 12-bit JPEG): the recorder keeps it like any other, and the
// detector counts it as an error with a bad_frame event unless the latest-wins queue
// dropped it first; the detector's counts add up.
func TestRecordRigWithoutCalibration(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CNN on the CPU")
	}
	jpg, err := os.ReadFile(shared.Path(t, "testdata/images/nuscenes/samples/n015-2018-07-24-11-22-45+0800__CAM_FRONT__1532402927612460.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	sof := bytes.Index(jpg, []byte{0xff, 0xc0})
	if sof < 0 {
		t.Fatal("no baseline SOF in the test image")
	}
	bad := bytes.Clone(jpg)
	bad[sof+4] = 12 // sample precision: 12 bits, which no live decoder here reads
	dir := t.TempDir()
	var stream []byte
	const frames = 6
	for i := 0; i < frames; i++ {
		if i == 2 {
			stream = append(stream, bad...)
		} else {
			stream = append(stream, jpg...)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "front.mjpeg"), stream, 0o644); err != nil {
		t.Fatal(err)
	}
	rigFile := filepath.Join(dir, "rig.yaml")
	if err := os.WriteFile(rigFile, []byte(`vehicle: testcar
cameras:
  - index: 0
    name: front
    kind: file
    file: front.mjpeg
    codec: mjpeg
    width: 1600
    height: 900
    fps: 1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(roadlogBin, "record", "--rig", rigFile, "--out", filepath.Join(dir, "drives"), "--quiet").Output()
	if err != nil {
		t.Fatalf("record --rig: %v", err)
	}
	rec := readDrive(t, strings.TrimSpace(string(b)))
	if rec.frames != frames {
		t.Fatalf("%d frames recorded, the stream has %d", rec.frames, frames)
	}
	var submitted, processed, dropped, errs int64
	var warnings, badFrames int
	for _, e := range rec.events {
		switch {
		case e.Code == schema.EvDetectorStats:
			var st struct{ Submitted, Processed, Dropped, Errors int64 }
			if err := json.Unmarshal([]byte(e.Detail), &st); err != nil {
				t.Fatal(err)
			}
			submitted, processed, dropped, errs = submitted+st.Submitted, processed+st.Processed, dropped+st.Dropped, errs+st.Errors
		case e.Code == schema.EvConfig && e.Category == "ranging_disabled":
			warnings++
			if e.Severity != schema.SevWarn || e.Detail != `{"camera":0}` {
				t.Errorf("ranging_disabled event %+v", e)
			}
		case e.Code == schema.EvSourceError && e.Category == "bad_frame":
			badFrames++
		}
	}
	objects, ranged := 0, 0
	for _, os := range rec.objects {
		for _, o := range os {
			objects++
			if !math.IsNaN(float64(o.Distance)) || !math.IsNaN(float64(o.TTC)) {
				ranged++
			}
		}
	}
	t.Logf("frame sets %d: submitted %d, processed %d (targets rows %d), dropped %d, errors %d; objects %d; warnings %d; bad_frame events %d",
		len(rec.sets), submitted, processed, len(rec.targets), dropped, errs, objects, warnings, badFrames)
	// a frame set whose only frame does not decode is processed with no detections
	// (its tracks coast) and counts one error
	if submitted != frames || submitted != processed+dropped || processed != int64(len(rec.targets)) {
		t.Errorf("counts do not add up: %d frames, %d submitted, %d processed (%d targets rows), %d dropped", frames, submitted, processed, len(rec.targets), dropped)
	}
	if errs > 1 || int64(badFrames) != errs {
		t.Errorf("%d detector errors and %d bad_frame events: want the same, at most 1", errs, badFrames)
	}
	if warnings != 1 || processed == 0 || objects == 0 || ranged != 0 {
		t.Errorf("%d ranging_disabled warnings (want 1); %d frame sets processed, %d objects of which %d ranged: want detection without ranging", warnings, processed, objects, ranged)
	}
}
